//! A call's outcome straight from its task: the task's output *is* the outcome, so a plain call
//! is one `tokio::spawn` and nothing else. The shared state machine ([`Shared`]) is allocated
//! only when something needs it before the call finishes (a handler, a timeout, a handle
//! dropped while the call runs); it then takes the `JoinHandle` and registers itself as the
//! task's join waker, so tokio's completion wake-up delivers the outcome and runs the handlers
//! on the worker that finished the call, with no extra task or hop.
//!
//! The handshake: the state stores the `JoinHandle` and polls it *under its lock*; a completion
//! racing with that poll wakes the state, whose wake-up takes the same lock, so it waits for the
//! registration and then finds the output. If tokio ever woke later than the completion (or
//! spuriously), the wake-up polls again: the outcome is delivered late, never lost.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use tokio::task::{JoinError, JoinHandle};
use tracing::Span;

use super::state::{Outcome, Shared};
use crate::errors::{CallError, panic_message};
use crate::sync::Arc;

/// The state machine of a call whose outcome comes from a task.
pub(crate) type CallState<T> = Shared<T, Join<T>>;

/// The task a [`CallState`] waits for, and the span its handlers run in.
pub(crate) struct Join<T> {
    handle: Mutex<Option<JoinHandle<Outcome<T>>>>,
    span: Span,
}

/// The outcome a task's output stands for: tokio caught a panic, or the task was aborted
/// (`cancel()`, a timeout) or dropped by its runtime's shutdown.
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

impl<T: Send + 'static> Join<T> {
    /// A state for `handle`'s call, registered as its join waker. A task already finished is
    /// delivered at once (to no handler yet: the caller attaches them next).
    pub(crate) fn watch(handle: JoinHandle<Outcome<T>>, span: Span) -> Arc<CallState<T>> {
        let state = CallState::with_join(Join { handle: Mutex::new(Some(handle)), span });
        deliver(&state);
        state
    }

    /// A state for an outcome the handle already holds.
    pub(crate) fn finished(outcome: Outcome<T>, span: Span) -> Arc<CallState<T>> {
        let state = CallState::with_join(Join { handle: Mutex::new(None), span });
        // No handler is attached yet: nothing to run.
        drop(CallState::finish(Arc::clone(&state), outcome));
        state
    }

    /// Aborts the task, if it still runs.
    pub(crate) fn abort(&self) {
        if let Some(handle) = self.handle.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            handle.abort();
        }
    }

    /// The task's id, for `Debug`.
    pub(crate) fn id(&self) -> Option<tokio::task::Id> {
        self.handle.lock().unwrap_or_else(PoisonError::into_inner).as_ref().map(JoinHandle::id)
    }
}

/// Takes the task's output if it is there (and finishes the call with it, running the handlers
/// attached before, here), else registers the state to be woken when it is.
fn deliver<T: Send + 'static>(state: &Arc<CallState<T>>) {
    let outcome = {
        let mut slot = state.join.handle.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(handle) = slot.as_mut() else { return };
        let waker = Waker::from(Arc::clone(state));
        match poll_unbudgeted(handle, &mut Context::from_waker(&waker)) {
            Poll::Pending => return,
            Poll::Ready(outcome) => {
                // Dropped outside the lock: the task's last reference may go with it.
                let handle = slot.take();
                drop(slot);
                drop(handle);
                outcome
            }
        }
    };
    if let Some(delivery) = CallState::finish(Arc::clone(state), outcome) {
        let _entered = state.join.span.enter();
        delivery.run();
    }
}

impl<T: Send + 'static> Wake for CallState<T> {
    fn wake(self: Arc<Self>) {
        deliver(&self);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        deliver(self);
    }
}
