//! What the timer suites share: a call counter, and a way to let spawned bodies run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A counter to move into a body, and a reader of it.
pub fn counter() -> (Arc<AtomicUsize>, impl Fn() -> usize) {
    let count = Arc::new(AtomicUsize::new(0));
    let read = Arc::clone(&count);
    (count, move || read.load(Ordering::SeqCst))
}

/// Lets spawned bodies run without moving the paused clock.
pub async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}
