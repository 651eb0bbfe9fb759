//! The handle's side of a published outcome: [`Local`] lends it to `result()`, moves it out for
//! `.await`, and shares it with handlers attached after the call finished.
//!
//! `result()` moves the outcome from the shared state into the handle, which then lends it for
//! as long as the handle is borrowed: so `AsyncCall<T>` is `Sync` exactly when `T` is. A
//! handler attached later runs on the runtime, concurrently with `result()`: the outcome is
//! then shared (see [`SharedOutcome`]).

use std::mem;
use std::sync::Arc as StdArc;
use std::sync::OnceLock;

use super::state::{Delivery, Handler, Kind, Outcome, Published, Shared, SharedOutcome, Sharer};
use crate::errors::CallError;
use crate::sync::Arc;

enum Held<T> {
    Owned(Outcome<T>),
    Shared(SharedOutcome<T>),
}

impl<T> From<Published<T>> for Held<T> {
    fn from(published: Published<T>) -> Self {
        match published {
            Published::Outcome(outcome) => Held::Owned(outcome),
            Published::Shared(outcome) => Held::Shared(outcome),
        }
    }
}

/// The outcome as the handle holds it, once taken from the shared state.
pub(crate) struct Local<T> {
    held: OnceLock<Held<T>>,
}

impl<T> Default for Local<T> {
    fn default() -> Self {
        Local {
            held: OnceLock::new(),
        }
    }
}

impl<T> Local<T> {
    /// Holds no outcome, owned or shared.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.held.get().is_none()
    }

    /// Keeps an outcome seen straight from the task (a call with no state machine). The first
    /// one kept stays: a later one is dropped.
    pub(crate) fn keep(&self, outcome: Outcome<T>) {
        let _ = self.held.set(Held::Owned(outcome));
    }

    /// Lends the outcome kept with [`keep`](Self::keep), if any (a shared one belongs to a
    /// state machine: see [`lend`](Self::lend)).
    pub(crate) fn lend_kept(&self) -> Option<Result<&T, &CallError>> {
        match self.held.get()? {
            Held::Owned(outcome) => Some(outcome.as_ref()),
            Held::Shared(_) => None,
        }
    }

    /// Moves out the outcome kept with [`keep`](Self::keep).
    #[inline]
    pub(crate) fn take_kept(&mut self) -> Option<Outcome<T>> {
        // The common case, an empty handle, without moving an empty cell around.
        self.held.get()?;
        match self.held.take()? {
            Held::Owned(outcome) => Some(outcome),
            shared @ Held::Shared(_) => {
                let _ = self.held.set(shared);
                None
            }
        }
    }
}

impl<T: Send + 'static> Local<T> {
    /// Lends the outcome the handle holds, owned or shared with late handlers (a call with
    /// no state machine).
    pub(crate) fn lend_held(&self) -> Option<Result<&T, &CallError>> {
        match self.held.get()? {
            Held::Owned(outcome) => Some(outcome.as_ref()),
            Held::Shared(outcome) => Some(outcome.lend()),
        }
    }

    /// Shares the held outcome with a handler attached after the call finished (a call with
    /// no state machine): its share, or `None` when it would never run (a result handler,
    /// `sharer` given, of a failed call, or an error handler of a completed one).
    pub(crate) fn share_for(&mut self, sharer: Option<Sharer<T>>) -> Option<SharedOutcome<T>> {
        let completed = self.lend_held()?.is_ok();
        if sharer.is_some() != completed {
            return None;
        }
        // Changed in place: through `&mut self` the cell needs no second `set`.
        let held = self.held.get_mut()?;
        let outcome = match mem::replace(held, Held::Owned(Err(CallError::NotFinished))) {
            Held::Shared(outcome) => outcome,
            Held::Owned(Ok(value)) => match sharer {
                Some(sharer) => sharer.share(value),
                None => unreachable!("checked above: a completed call's share has a sharer"),
            },
            Held::Owned(Err(error)) => SharedOutcome::Error(StdArc::new(error)),
        };
        let mine = outcome.share();
        *held = Held::Shared(outcome);
        Some(mine)
    }

    /// The outcome back from its shares, once every late handler has run.
    pub(crate) fn take_held(&mut self) -> Option<Outcome<T>> {
        match self.held.take()? {
            Held::Owned(outcome) => Some(outcome),
            Held::Shared(outcome) => Some(
                outcome
                    .into_outcome()
                    .expect("late handlers release their share before they end"),
            ),
        }
    }

    /// Lends the outcome; `None` while the call runs.
    pub(crate) fn lend<'a, J>(
        &'a self,
        shared: &Shared<T, J>,
    ) -> Option<Result<&'a T, &'a CallError>> {
        if self.held.get().is_none() {
            shared.kind()?;
        }
        // Two threads may lend at once (when `T: Sync`): the first takes, the other waits.
        Some(match self.held.get_or_init(|| taken(shared).into()) {
            Held::Owned(outcome) => outcome.as_ref(),
            Held::Shared(outcome) => outcome.lend(),
        })
    }

    /// Moves the outcome out; only once the call is settled, when no handler holds a share.
    pub(crate) fn take<J>(&mut self, shared: &mut Arc<Shared<T, J>>) -> Outcome<T> {
        let held = self.held.take().unwrap_or_else(|| {
            Shared::take_published_owned(shared)
                .expect("a published outcome is taken only by its handle, once")
                .into()
        });
        match held {
            Held::Owned(outcome) => outcome,
            Held::Shared(outcome) => outcome
                .into_outcome()
                .expect("handlers release their share before the call settles"),
        }
    }

    /// A handler attached after the call finished, as a delivery to run on the runtime; `None`
    /// (and the handler dropped) if it is for the other kind of outcome.
    pub(crate) fn late<J: 'static>(
        &mut self,
        shared: &Arc<Shared<T, J>>,
        handler: Handler<T>,
    ) -> Option<Delivery<T, J>> {
        let completed = shared.kind() == Some(Kind::Ok);
        if matches!(handler, Handler::Result(..)) != completed {
            // A result handler of a failed call, or the reverse: it never runs.
            return None;
        }
        let outcome = match self.held.take().unwrap_or_else(|| taken(shared).into()) {
            Held::Shared(outcome) => outcome,
            Held::Owned(Ok(value)) => match &handler {
                Handler::Result(_, sharer) => sharer.share(value),
                Handler::Error(_) => unreachable!("checked above"),
            },
            Held::Owned(Err(error)) => SharedOutcome::Error(StdArc::new(error)),
        };
        let mine = outcome.share();
        let _ = self.held.set(Held::Shared(outcome));
        Shared::deliver_late(shared, mine, handler)
    }
}

/// The published outcome, which only the handle's side takes, once.
fn taken<T, J>(shared: &Shared<T, J>) -> Published<T>
where
    T: 'static,
{
    shared
        .take_published()
        .expect("a published outcome is taken only by its handle, once")
}
