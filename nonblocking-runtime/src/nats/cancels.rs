//! Cancellation across processes: a caller that cancels (or drops, or times out) a call
//! publishes the call's id on the prefix's cancel subject; every worker listens, and the one
//! running the call stops it. A cancel that arrives before its request (they travel on
//! different subjects) is remembered for a while, so the request is not started at all.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// How long a cancel for a call not (yet) running here is remembered.
const EARLY_CANCEL_MEMORY: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(crate) struct Cancels {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    running: HashMap<String, oneshot::Sender<()>>,
    early: HashMap<String, Instant>,
}

/// A running call's registration; removed when dropped.
pub(crate) struct Running<'a> {
    cancels: &'a Cancels,
    id: String,
}

impl Cancels {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers the call `id`: the receiver fires when it is cancelled. `None` when it was
    /// cancelled already.
    pub(crate) fn start(&self, id: &str) -> Option<(Running<'_>, oneshot::Receiver<()>)> {
        let mut inner = self.lock();
        if inner.early.remove(id).is_some() {
            return None;
        }
        let (cancel, cancelled) = oneshot::channel();
        inner.running.insert(id.to_owned(), cancel);
        Some((Running { cancels: self, id: id.to_owned() }, cancelled))
    }

    /// A cancel message for `id`: stops the call if it runs here, else remembers it briefly.
    pub(crate) fn cancel(&self, id: &str) {
        let mut inner = self.lock();
        match inner.running.remove(id) {
            Some(cancel) => {
                let _ = cancel.send(());
            }
            None => {
                let now = Instant::now();
                inner.early.retain(|_, at| now.duration_since(*at) < EARLY_CANCEL_MEMORY);
                inner.early.insert(id.to_owned(), now);
            }
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.cancels.lock().running.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::Cancels;

    #[test]
    fn a_cancel_stops_a_running_call_or_prevents_a_later_one() {
        let cancels = Cancels::default();
        let (running, mut cancelled) = cancels.start("a").unwrap();
        assert!(cancelled.try_recv().is_err());
        cancels.cancel("a");
        assert!(cancelled.try_recv().is_ok());
        drop(running);
        // Before its request: the request then never starts.
        cancels.cancel("b");
        assert!(cancels.start("b").is_none());
        // Finished calls leave nothing behind; a late cancel is remembered only briefly.
        let (running, _) = cancels.start("c").unwrap();
        drop(running);
        assert!(cancels.lock().running.is_empty());
    }
}
