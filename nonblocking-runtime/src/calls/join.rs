//! A call's outcome straight from its tokio task: the task's output *is* the outcome, so a
//! plain call is one `tokio::spawn` and nothing else.
//!
//! The shared state machine is made only when something needs it before the call finishes (a
//! handler, a timeout, a handle dropped while the call runs). It then hands the task's
//! `JoinHandle` to a [`Watcher`], a task of its own that awaits it and delivers the outcome:
//! handlers attached before the call finished run there, inside a task's poll like any other
//! code, never inside tokio's wake-up of a join waker (where tokio promises nothing about the
//! thread, nor whether the runtime is shutting down).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use tokio::task::{AbortHandle, JoinError, JoinHandle};
use tracing::Span;

use super::state::{Outcome, Shared, TaskOutcome};
use crate::errors::{CallError, panic_message};
use crate::sync::{Arc, Mutex};

/// The state machine of a call whose outcome comes from a tokio task.
pub(crate) type CallState<T> = Shared<T, Join>;

/// What a state machine keeps of its call's task: the means to stop it, the span its handlers
/// run in, and the deadline of a timeout.
pub(crate) struct Join {
    /// Stops the task (`cancel()`, a timeout) and names it (`Debug`), until the call finishes.
    task: Mutex<Option<AbortHandle>>,
    span: Span,
    /// The deadline of the `timeout` in force, if any: kept here, since only a call with a
    /// state machine has one, and the plain handle stays small.
    pub(crate) deadline: Mutex<Option<tokio::time::Instant>>,
    /// Where the function's progress waits for `on_progress` handlers, for a call whose
    /// function reports progress (set once, when the call starts).
    pub(crate) progress: std::sync::OnceLock<std::sync::Arc<crate::progress::Cell>>,
}

impl Join {
    fn new(task: Option<AbortHandle>, span: Span) -> Self {
        Join {
            task: Mutex::new(task),
            span,
            deadline: Mutex::new(None),
            progress: std::sync::OnceLock::new(),
        }
    }
}

/// The outcome a task's output stands for: tokio caught a panic, or the task was aborted
/// (`cancel()`, a timeout) or dropped by its runtime's shutdown.
#[inline]
pub(crate) fn outcome_of<T>(output: Result<TaskOutcome<T>, JoinError>) -> Outcome<T> {
    match output {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(*error),
        Err(error) if error.is_panic() => Err(CallError::Panicked(panic_message(&*error.into_panic()).into())),
        Err(_) => Err(CallError::Cancelled),
    }
}

/// The outcome, if the task finished; leaves no waker behind.
pub(crate) fn take_finished<T>(handle: &mut JoinHandle<TaskOutcome<T>>) -> Option<Outcome<T>> {
    if !handle.is_finished() {
        return None;
    }
    // Outside tokio's cooperative budget: a `status()` that ran out of budget would otherwise
    // see a finished task as pending.
    let mut unbudgeted = tokio::task::unconstrained(handle);
    match Pin::new(&mut unbudgeted).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(outcome_of(output)),
        Poll::Pending => None,
    }
}

/// A state watching the task: a [`Watcher`] task delivers its outcome.
pub(crate) fn watch<T: Send + 'static>(task: JoinHandle<TaskOutcome<T>>, span: Span) -> Arc<CallState<T>> {
    let state = Shared::with_join(Join::new(Some(task.abort_handle()), span));
    let watcher = Watcher {
        task: Some(task),
        state: Some(Arc::clone(&state)),
        rescued: false,
    };
    drop(crate::runtime::spawn(watcher));
    state
}

/// A state for an outcome the handle already holds.
pub(crate) fn finished<T: Send + 'static>(outcome: Outcome<T>, span: Span) -> Arc<CallState<T>> {
    let state = Shared::with_join(Join::new(None, span));
    // No handler is attached yet: nothing to run.
    drop(Shared::finish(Arc::clone(&state), outcome));
    state
}

/// Aborts the task the state waits for, if it still runs.
pub(crate) fn abort<T>(state: &CallState<T>) {
    if let Some(task) = state.join.task.lock().take() {
        task.abort();
    }
}

/// The task's id, while the state waits for it.
pub(crate) fn id<T>(state: &CallState<T>) -> Option<tokio::task::Id> {
    state.join.task.lock().as_ref().map(AbortHandle::id)
}

/// Finishes the call with `outcome` and runs the handlers attached before, here, in the call's
/// span. A call already finished (cancelled, timed out) keeps its outcome: nothing runs.
fn deliver<T: Send + 'static>(state: Arc<CallState<T>>, outcome: Outcome<T>) {
    let span = state.join.span.clone();
    if let Some(delivery) = Shared::finish(state, outcome) {
        let _entered = span.enter();
        delivery.run();
    }
}

/// The task that awaits a watched call's task and delivers its outcome.
///
/// If it is dropped before the call's task finished (its runtime shut down, or was dropped on
/// another thread), the watching moves to the rescue runtime, which awaits the same
/// `JoinHandle` (a task dropped by its runtime resolves as cancelled): the handlers still run
/// exactly once, in a task, never in the thread that drops the runtime.
struct Watcher<T: Send + 'static> {
    task: Option<JoinHandle<TaskOutcome<T>>>,
    state: Option<Arc<CallState<T>>>,
    /// Already moved once: dropped again, it delivers in place rather than move for ever.
    rescued: bool,
}

// Nothing in it is pinned: the `JoinHandle` is `Unpin`.
impl<T: Send + 'static> Unpin for Watcher<T> {}

impl<T: Send + 'static> Future for Watcher<T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(task) = self.task.as_mut() else {
            return Poll::Ready(());
        };
        let output = ready!(Pin::new(task).poll(cx));
        self.task = None;
        if let Some(state) = self.state.take() {
            deliver(state, outcome_of(output));
        }
        Poll::Ready(())
    }
}

impl<T: Send + 'static> Drop for Watcher<T> {
    fn drop(&mut self) {
        let (Some(mut task), Some(state)) = (self.task.take(), self.state.take()) else {
            return;
        };
        // The call's task finished (or was dropped by the same shutdown, first): the outcome
        // is final now, so `status()` says so at once; only the handlers move.
        if let Some(outcome) = take_finished(&mut task) {
            let span = state.join.span.clone();
            if let Some(delivery) = Shared::finish(state, outcome) {
                crate::runtime::rescue(async move {
                    let _entered = span.enter();
                    delivery.run();
                });
            }
            return;
        }
        if self.rescued {
            // The rescue runtime itself let it go: the task is gone too, as far as anyone
            // can still observe.
            task.abort();
            return deliver(state, Err(CallError::Cancelled));
        }
        crate::runtime::rescue(Watcher {
            task: Some(task),
            state: Some(state),
            rescued: true,
        });
    }
}
