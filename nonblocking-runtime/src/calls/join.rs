//! A call's outcome straight from its tokio task: the task's output *is* the outcome, so a
//! plain call is one `tokio::spawn` and nothing else. The shared state machine is made only
//! when something needs it before the call finishes (a handler, a timeout, a handle dropped
//! while the call runs); it then takes the `JoinHandle` and becomes the task's join waker
//! (see `handshake.rs`), so tokio's completion wake-up delivers the outcome and runs the
//! handlers on the worker that finished the call, with no extra task or hop.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};

use tokio::task::{JoinError, JoinHandle};

use super::handshake::{self, Join, Source};
use super::state::{Outcome, Shared};
use crate::errors::{CallError, panic_message};
use crate::sync::Arc;

/// The state machine of a call whose outcome comes from a tokio task.
pub(crate) type CallState<T> = Shared<T, Join<JoinHandle<Outcome<T>>>>;

/// The outcome a task's output stands for: tokio caught a panic, or the task was aborted
/// (`cancel()`, a timeout) or dropped by its runtime's shutdown.
#[inline]
pub(crate) fn outcome_of<T>(output: Result<Outcome<T>, JoinError>) -> Outcome<T> {
    match output {
        Ok(outcome) => outcome,
        Err(error) if error.is_panic() => Err(CallError::Panicked(panic_message(&*error.into_panic()))),
        Err(_) => Err(CallError::Cancelled),
    }
}

/// Polls `handle` outside tokio's cooperative budget: a wake-up or a `status()` that ran out of
/// budget would otherwise see a finished task as pending (and a wake-up would wake itself).
fn poll_unbudgeted<T>(handle: &mut JoinHandle<Outcome<T>>, cx: &mut Context<'_>) -> Poll<Outcome<T>> {
    let mut unbudgeted = tokio::task::unconstrained(handle);
    Pin::new(&mut unbudgeted).poll(cx).map(outcome_of)
}

/// The outcome, if the task finished; leaves no waker behind.
pub(crate) fn take_finished<T>(handle: &mut JoinHandle<Outcome<T>>) -> Option<Outcome<T>> {
    if !handle.is_finished() {
        return None;
    }
    match poll_unbudgeted(handle, &mut Context::from_waker(Waker::noop())) {
        Poll::Ready(outcome) => Some(outcome),
        Poll::Pending => None,
    }
}

impl<T: Send + 'static> Source<T> for JoinHandle<Outcome<T>> {
    fn poll_outcome(&mut self, state: &Arc<CallState<T>>) -> Poll<Outcome<T>> {
        // Woken by the completion, as usual: the output is there and needs no waker.
        if let Some(outcome) = take_finished(self) {
            return Poll::Ready(outcome);
        }
        let waker = Waker::from(Arc::clone(state));
        poll_unbudgeted(self, &mut Context::from_waker(&waker))
    }
}

/// Tokio's completion wake-up.
impl<T: Send + 'static> Wake for CallState<T> {
    fn wake(self: Arc<Self>) {
        handshake::deliver(&self);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        handshake::deliver(self);
    }
}

/// A state watching the task.
pub(crate) fn watch<T: Send + 'static>(handle: JoinHandle<Outcome<T>>, span: tracing::Span) -> Arc<CallState<T>> {
    handshake::watch(handle, span)
}

/// A state for an outcome the handle already holds.
pub(crate) fn finished<T: Send + 'static>(outcome: Outcome<T>, span: tracing::Span) -> Arc<CallState<T>> {
    handshake::finished(outcome, span)
}

/// Aborts the task the state waits for, if it still runs.
pub(crate) fn abort<T>(state: &CallState<T>) {
    state.join.with_source(JoinHandle::abort);
}

/// The task's id, while the state waits for it.
pub(crate) fn id<T>(state: &CallState<T>) -> Option<tokio::task::Id> {
    state.join.with_source(JoinHandle::id)
}
