//! Catching panics of user code, sync or async, as the message `CallError::Panicked` keeps.

use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::task::Poll;

use crate::errors::panic_message;

/// Runs `f`, turning a panic into its message.
pub(crate) fn catching<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    // Unwind safety: after a panic the closure and everything it captured are dropped, never
    // observed again, so no broken invariant can be seen.
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panic_message(&*payload))
}

/// Awaits `future`, turning a panic in any of its polls into its message.
pub(crate) async fn catching_async<F: Future>(future: F) -> Result<F::Output, String> {
    let mut future = pin!(future);
    poll_fn(|cx| match catching(|| future.as_mut().poll(cx)) {
        Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
        Ok(Poll::Pending) => Poll::Pending,
        Err(message) => Poll::Ready(Err(message)),
    })
    .await
}
