//! Where a server function runs once its arguments are read: an async function in the
//! caller's task, a sync one on the blocking pool (or, opted in with `inline`, on the async
//! worker), each giving the same [`Invocation`]: its value encoded as JSON (or its items,
//! each encoded as read), or the call's error.

use std::future::Future;
use std::pin::Pin;

use super::arguments::Arguments;
use crate::context::Context;
use crate::errors::{BoxError, CallError};
use crate::items::Returned;
use crate::panic::catching;

/// The future of one started call by name: the function's result encoded as JSON.
pub type Invocation = Pin<Box<dyn Future<Output = Result<Returned, CallError>> + Send>>;

impl Arguments<'_> {
    /// Runs an async function's future; `encode` encodes its value (the return type's
    /// `ReturnValue::encode`, named by the generated code for the same reason as in `next`).
    pub fn run_async<F>(mut self, future: F, encode: Encode<F::Output>) -> Invocation
    where
        F: Future + Send + 'static,
    {
        let name = self.name();
        in_context(self.take_context(), async move { encode(future.await, name) })
    }

    /// Runs an async function's future whose `Err` is the call's failure.
    pub fn run_try_async<F, T>(mut self, future: F, encode: Encode<T>) -> Invocation
    where
        F: Future<Output = Result<T, BoxError>> + Send + 'static,
        T: 'static,
    {
        let name = self.name();
        in_context(self.take_context(), async move {
            match future.await {
                Ok(value) => encode(value, name),
                Err(error) => Err(CallError::Failed(error.into())),
            }
        })
    }

    /// Runs a sync function on the async worker (`#[server_function(inline)]`): no thread hop,
    /// but a run cannot be preempted or timed out, and while it blocks, every other call on
    /// that worker waits.
    pub fn run_inline<F, R>(mut self, f: F, encode: Encode<R>) -> Invocation
    where
        F: FnOnce() -> R + Send + 'static,
        R: 'static,
    {
        let name = self.name();
        in_context(self.take_context(), async move { encode(f(), name) })
    }

    /// Runs a sync function on the async worker, its `Err` being the call's failure.
    pub fn run_try_inline<F, T>(self, f: F, encode: Encode<T>) -> Invocation
    where
        F: FnOnce() -> Result<T, BoxError> + Send + 'static,
        T: 'static,
    {
        self.run_try_async(async move { f() }, encode)
    }

    /// Runs a sync function on the blocking pool, so that however long it blocks, it never
    /// holds up an async worker and the caller's timeout still answers at its deadline.
    pub fn run_blocking<F, R>(mut self, f: F, encode: Encode<R>) -> Invocation
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let name = self.name();
        let context = self.take_context();
        let f = within(context.clone(), f);
        in_context(context, async move { encode(on_blocking_pool(f).await?, name) })
    }

    /// [`run_blocking`](Self::run_blocking) for a function whose `Err` is the call's failure.
    pub fn run_try_blocking<F, T>(mut self, f: F, encode: Encode<T>) -> Invocation
    where
        F: FnOnce() -> Result<T, BoxError> + Send + 'static,
        T: Send + 'static,
    {
        let name = self.name();
        let context = self.take_context();
        let f = within(context.clone(), f);
        in_context(context, async move {
            match on_blocking_pool(f).await? {
                Ok(value) => encode(value, name),
                Err(error) => Err(CallError::Failed(error.into())),
            }
        })
    }
}

/// The invocation of `future`, run with `context` as the current one (so the function, and
/// the stubs it calls, see it); a call without a context pays nothing for it.
fn in_context<F>(context: Context, future: F) -> Invocation
where
    F: Future<Output = Result<Returned, CallError>> + Send + 'static,
{
    if context.is_empty() { Box::pin(future) } else { Box::pin(context.scope(future)) }
}

/// `f`, run with `context` as the current one, for the blocking pool (whose thread has no
/// task-locals of the call's task).
fn within<F: FnOnce() -> R, R>(context: Context, f: F) -> impl FnOnce() -> R {
    move || if context.is_empty() { f() } else { context.sync_scope(f) }
}

/// Encodes a function's value as JSON (or its items, one by one), naming `function` if it
/// cannot.
pub type Encode<T> = fn(T, &'static str) -> Result<Returned, CallError>;

/// Runs `f` on the blocking pool. Dropping the future (a timeout, a cancel) leaves a run
/// that already started to finish there in the background: a thread cannot be stopped.
async fn on_blocking_pool<F, R>(f: F) -> Result<R, CallError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    // The call's span (a served call's `nonblocking.call`) follows it onto the pool.
    let span = tracing::Span::current();
    match crate::runtime::spawn_blocking(move || span.in_scope(|| catching(f))).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(message)) => Err(CallError::Panicked(message.into())),
        // The blocking task never ran: its runtime is shutting down.
        Err(_) => Err(CallError::Cancelled),
    }
}
