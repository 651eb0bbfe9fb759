//! The handshake between a call's task finishing and its state machine being made: free of
//! tokio (the task is any [`Source`]) so that loom checks it with a model task.
//!
//! The state stores the source and polls it *under its lock*. A completion that races with
//! that poll wakes the state, whose [`deliver`] takes the same lock, so it waits for the
//! registration and then finds the output. A wake-up that comes late, or twice, polls again:
//! the outcome is delivered late, never lost, never twice.

use std::task::Poll;

use tracing::Span;

use super::state::{Outcome, Shared};
use crate::sync::{Arc, Mutex};

/// A task whose output is a call's outcome.
pub(crate) trait Source<T>: Sized + Send + 'static {
    /// The outcome, if the task finished; else arranges for [`deliver`] to run on `state` when
    /// it does (tokio: the state becomes the task's join waker).
    fn poll_outcome(&mut self, state: &Arc<Shared<T, Join<Self>>>) -> Poll<Outcome<T>>;
}

/// The task a state waits for, and the span its handlers run in.
pub(crate) struct Join<S> {
    source: Mutex<Option<S>>,
    span: Span,
    /// The deadline of the `timeout` in force, if any: kept here, since only a call with a
    /// state machine has one, and the plain handle stays small.
    pub(crate) deadline: Mutex<Option<tokio::time::Instant>>,
}

impl<S> Join<S> {
    /// Runs `f` on the task, if the state still waits for it.
    pub(crate) fn with_source<R>(&self, f: impl FnOnce(&S) -> R) -> Option<R> {
        self.source.lock().as_ref().map(f)
    }
}

/// A state watching `source`. A task already finished is delivered at once (to no handler
/// yet: the caller attaches them next).
pub(crate) fn watch<T: Send + 'static, S: Source<T>>(
    source: S,
    span: Span,
) -> Arc<Shared<T, Join<S>>> {
    let state = Shared::with_join(Join {
        source: Mutex::new(Some(source)),
        span,
        deadline: Mutex::new(None),
    });
    deliver(&state);
    state
}

/// A state for an outcome the handle already holds.
pub(crate) fn finished<T: Send + 'static, S: Source<T>>(
    outcome: Outcome<T>,
    span: Span,
) -> Arc<Shared<T, Join<S>>> {
    let state = Shared::with_join(Join {
        source: Mutex::new(None),
        span,
        deadline: Mutex::new(None),
    });
    // No handler is attached yet: nothing to run.
    drop(Shared::finish(Arc::clone(&state), outcome));
    state
}

/// Takes the task's output if it is there, finishing the call with it and running the
/// handlers attached before, here; else leaves the state registered to be delivered again.
pub(crate) fn deliver<T: Send + 'static, S: Source<T>>(state: &Arc<Shared<T, Join<S>>>) {
    let outcome = {
        let mut slot = state.join.source.lock();
        let Some(source) = slot.as_mut() else { return };
        match source.poll_outcome(state) {
            Poll::Pending => return,
            Poll::Ready(outcome) => {
                // Dropped outside the lock: the task's last reference may go with it.
                let source = slot.take();
                drop(slot);
                drop(source);
                outcome
            }
        }
    };
    if let Some(delivery) = Shared::finish(Arc::clone(state), outcome) {
        let _entered = state.join.span.enter();
        delivery.run();
    }
}
