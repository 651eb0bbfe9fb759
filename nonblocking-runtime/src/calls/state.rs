//! The state machine behind one [`AsyncCall`](crate::AsyncCall), free of tokio so that loom
//! can check it.
//!
//! A call moves from pending to finished exactly once ([`Shared::finish`]): whoever finishes it
//! first (the task, `cancel()`, a timeout, or the task being dropped by a runtime shutdown)
//! sets and publishes the outcome in one step under the lock, so `status()` right after a
//! `cancel()` is final. From then on the outcome belongs to the handle's side
//! ([`Local`](super::local::Local)), which lends it to `result()`, moves it out for `.await`,
//! or shares it with handlers attached later.
//!
//! The value is owned by one place at a time, so a call needs only `T: Send`, like
//! `tokio::spawn`. Only while handlers read it on other threads is it *shared*, behind a
//! type-erased reference count ([`SharedOutcome`]); a result handler brings the means to share
//! ([`Sharer`]), which exist only where `T: Sync` is known, so the handle's own auto traits
//! never depend on `T: Sync`. An error carries no `T` and is always shareable.
//!
//! Handlers attached before the outcome come back to the finisher as one [`Delivery`], which it
//! runs in place (the task that watches the call) or on the runtime (`cancel()`, a timeout);
//! a handler attached after comes back to the handle as a delivery of its own, unless a
//! delivery is still out: then it waits in a queue that delivery runs next. One delivery at a
//! time, so handlers run in attach order. An awaiter is woken once
//! the call is `SETTLED`, published with no delivery running, so `call.on_result(h).await` sees
//! `h` done and owns the outcome alone.

use std::any::Any;
use std::collections::VecDeque;
use std::mem;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc as StdArc;
use std::task::{Context, Poll};

use crate::errors::{CallError, panic_message};
use crate::sync::{Arc, AtomicBool, AtomicUsize, AtomicWaker, Mutex, Ordering};

/// What a finished call produced.
pub(crate) type Outcome<T> = Result<T, CallError>;

/// What a call's task returns: its outcome with the error boxed. Tokio stores a task's output
/// beside its `JoinError` in the task's cell; a bare `CallError` would push the cell of a call
/// returning a small value out of tokio's smallest cell (128 bytes) into the next (256), an
/// `_int_memalign` of twice the size and a `malloc_consolidate` on every call. Failures,
/// the rare path, pay one allocation instead.
pub(crate) type TaskOutcome<T> = Result<T, Box<CallError>>;

/// A handler attached with `on_result` or `on_error`. A result handler brings the means to
/// share the value, which exist only where `T: Sync` is known.
pub(crate) enum Handler<T> {
    Result(ResultHandler<T>, Sharer<T>),
    Error(ErrorHandler),
}

pub(crate) type ResultHandler<T> = Box<dyn FnOnce(&T) + Send>;
pub(crate) type ErrorHandler = Box<dyn FnOnce(&CallError) + Send>;

/// Puts a value behind a type-erased reference count, and takes it back out: plain function
/// pointers, so that holding one never makes the holder's auto traits depend on `T`.
pub(crate) struct Sharer<T> {
    share: fn(T) -> StdArc<dyn Any + Send + Sync>,
    unwrap: fn(StdArc<dyn Any + Send + Sync>) -> Option<T>,
}

impl<T> Clone for Sharer<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Sharer<T> {}

impl<T: Send + Sync + 'static> Sharer<T> {
    pub(crate) fn new() -> Self {
        Sharer {
            share: |value| StdArc::new(value),
            unwrap: |value| StdArc::try_unwrap(value.downcast::<T>().ok()?).ok(),
        }
    }
}

impl<T> Sharer<T> {
    pub(crate) fn share(self, value: T) -> SharedOutcome<T> {
        SharedOutcome::Value {
            value: (self.share)(value),
            unwrap: self.unwrap,
        }
    }
}

/// An outcome shared with handlers that run on other threads.
pub(crate) enum SharedOutcome<T> {
    Value {
        value: StdArc<dyn Any + Send + Sync>,
        unwrap: fn(StdArc<dyn Any + Send + Sync>) -> Option<T>,
    },
    Error(StdArc<CallError>),
}

impl<T: 'static> SharedOutcome<T> {
    /// Another share of the same outcome.
    pub(crate) fn share(&self) -> Self {
        match self {
            SharedOutcome::Value { value, unwrap } => SharedOutcome::Value {
                value: StdArc::clone(value),
                unwrap: *unwrap,
            },
            SharedOutcome::Error(error) => SharedOutcome::Error(StdArc::clone(error)),
        }
    }

    pub(crate) fn lend(&self) -> Result<&T, &CallError> {
        match self {
            SharedOutcome::Value { value, .. } => Ok(value
                .downcast_ref::<T>()
                .expect("a shared value has the call's type")),
            SharedOutcome::Error(error) => Err(error),
        }
    }

    /// The outcome itself, once this is the last share.
    pub(crate) fn into_outcome(self) -> Option<Outcome<T>> {
        match self {
            SharedOutcome::Value { value, unwrap } => unwrap(value).map(Ok),
            SharedOutcome::Error(error) => StdArc::try_unwrap(error).ok().map(Err),
        }
    }
}

/// The outcome is set and published (both at once, under the lock): the handle may read it.
const DONE: usize = 1;
/// Published and no delivery of handlers runs: an awaiter may go.
const SETTLED: usize = 1 << 1;
/// With `DONE`: the outcome is a value.
const OK: usize = 1 << 2;
/// With `DONE`: the outcome is `Cancelled`.
const CANCELLED: usize = 1 << 3;
/// The handle is gone, so nobody will read the published outcome: the handlers attached
/// before read it where it is, not from a shared copy.
const DETACHED: usize = 1 << 4;

/// How a finished call ended, read without the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Ok,
    Cancelled,
    Failed,
}

pub(crate) struct Shared<T, J = ()> {
    state: AtomicUsize,
    awaiter: AtomicWaker,
    /// Set once an error handler, an awaiter or `result()`/`error()` has looked: a failure
    /// nobody observed is reported when the state is dropped.
    observed: AtomicBool,
    /// No user code ever runs while it is held: handlers and values are moved out first.
    inner: Mutex<Inner<T>>,
    /// Where the outcome comes from, for the caller's use (the task's join handle); the state
    /// machine never looks at it.
    pub(crate) join: J,
}

/// A published outcome: owned, or shared with handlers that are still running.
pub(crate) enum Published<T> {
    Outcome(Outcome<T>),
    Shared(SharedOutcome<T>),
}

impl<T: 'static> Published<T> {
    fn lend(&self) -> Result<&T, &CallError> {
        match self {
            Published::Outcome(outcome) => outcome.as_ref(),
            Published::Shared(outcome) => outcome.lend(),
        }
    }
}

/// Handlers attached late, each with its share of the outcome, waiting for the delivery out.
type Queued<T> = VecDeque<(Handler<T>, SharedOutcome<T>)>;

struct Inner<T> {
    /// The published outcome, until the handle's side takes it.
    published: Option<Published<T>>,
    /// Handlers waiting for the outcome.
    handlers: Handlers<T>,
    /// Deliveries of handlers handed out and not yet finished running: at most one, since a
    /// handler attached while one is out waits in `queued` for it.
    deliveries: usize,
    /// Handlers attached after the call finished while a delivery was out, each with its share
    /// of the outcome: that delivery runs them after its own, so handlers run in attach order.
    /// (Boxed: a thin pointer where a `VecDeque` would add 24 bytes to every state machine.)
    queued: Option<Box<Queued<T>>>,
    /// Run once when the call finishes (stops a timeout's timer).
    on_finish: Option<Box<dyn FnOnce() + Send>>,
}

#[cfg(nonblocking_loom)]
impl<T> Shared<T> {
    /// A state with nothing to join: the loom models of the protocol itself.
    pub(crate) fn new() -> Arc<Self> {
        Shared::with_join(())
    }
}

impl<T, J> Shared<T, J> {
    pub(crate) fn with_join(join: J) -> Arc<Self> {
        Arc::new(Shared {
            state: AtomicUsize::new(0),
            awaiter: AtomicWaker::new(),
            observed: AtomicBool::new(false),
            inner: Mutex::new(Inner {
                published: None,
                handlers: Handlers::default(),
                deliveries: 0,
                queued: None,
                on_finish: None,
            }),
            join,
        })
    }

    /// How the call ended; `None` while it runs.
    pub(crate) fn kind(&self) -> Option<Kind> {
        let state = self.state.load(Ordering::Acquire);
        if state & DONE == 0 {
            None
        } else if state & OK != 0 {
            Some(Kind::Ok)
        } else if state & CANCELLED != 0 {
            Some(Kind::Cancelled)
        } else {
            Some(Kind::Failed)
        }
    }

    pub(crate) fn mark_observed(&self) {
        self.observed.store(true, Ordering::Relaxed);
    }

    /// The handle is gone (dropped, not turned into a future): a finish from now on hands the
    /// outcome to the handlers as it is, with no shared copy to make.
    pub(crate) fn detach(&self) {
        self.state.fetch_or(DETACHED, Ordering::Release);
    }

    /// Attaches a handler. Until the call finishes it waits in the list; after, it comes back
    /// for the handle's side to deliver, never inside the attaching call.
    pub(crate) fn attach(&self, handler: Handler<T>) -> Option<Handler<T>> {
        if matches!(handler, Handler::Error(_)) {
            self.mark_observed();
        }
        let mut inner = self.inner.lock();
        if self.state.load(Ordering::Acquire) & DONE == 0 {
            inner.handlers.push(handler);
            None
        } else {
            Some(handler)
        }
    }

    /// Registers `on_finish` to run when the call finishes, in place of the one registered
    /// before, which is handed back (for the caller to run: it stops a replaced timer). If the
    /// call already finished, `on_finish` itself comes back, unregistered.
    pub(crate) fn set_on_finish(
        &self,
        on_finish: Box<dyn FnOnce() + Send>,
    ) -> Option<Box<dyn FnOnce() + Send>> {
        let mut inner = self.inner.lock();
        if self.state.load(Ordering::Acquire) & DONE != 0 {
            return Some(on_finish);
        }
        inner.on_finish.replace(on_finish)
    }

    /// Takes the published outcome (the handle's side, once).
    pub(crate) fn take_published(&self) -> Option<Published<T>> {
        self.inner.lock().published.take()
    }

    /// [`take_published`](Self::take_published) without the lock when this is the last
    /// reference, as it usually is by the time an awaiter takes the outcome.
    pub(crate) fn take_published_owned(this: &mut Arc<Self>) -> Option<Published<T>> {
        match Arc::get_mut(this) {
            Some(shared) => shared.inner.get_mut().published.take(),
            None => this.take_published(),
        }
    }

    /// The next queued handler for the delivery that just ran its own, or, with none left,
    /// the end of that delivery, which settles the call.
    fn next_or_release(this: Arc<Self>) -> Option<(Arc<Self>, Handler<T>, SharedOutcome<T>)> {
        let mut inner = this.inner.lock();
        if let Some((handler, outcome)) =
            inner.queued.as_mut().and_then(|queued| queued.pop_front())
        {
            drop(inner);
            return Some((this, handler, outcome));
        }
        inner.deliveries -= 1;
        let awaiter = if inner.deliveries == 0 {
            this.state.fetch_or(SETTLED, Ordering::SeqCst);
            this.awaiter.take()
        } else {
            None
        };
        drop(inner);
        drop(this);
        if let Some(waker) = awaiter {
            waker.wake();
        }
        None
    }

    /// Ready once the outcome is published and every delivery handed out so far has run.
    pub(crate) fn poll_settled(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.mark_observed();
        if self.state.load(Ordering::Acquire) & SETTLED != 0 {
            return Poll::Ready(());
        }
        self.awaiter.register(cx.waker());
        // Settled between the check and the registration: the settler may have found no waker.
        if self.state.load(Ordering::Acquire) & SETTLED != 0 {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl<T: 'static, J: 'static> Shared<T, J> {
    /// A handler attached after the call finished, with its share of the outcome: handed back
    /// as a delivery to run on the runtime, or, while another delivery is out, queued for that
    /// one to run after its own handlers, so that handlers run in the order they were attached.
    /// Either way the call is not settled until it ran.
    pub(crate) fn deliver_late(
        this: &Arc<Self>,
        outcome: SharedOutcome<T>,
        handler: Handler<T>,
    ) -> Option<Delivery<T, J>> {
        let mut inner = this.inner.lock();
        this.state.fetch_and(!SETTLED, Ordering::SeqCst);
        if inner.deliveries > 0 {
            inner
                .queued
                .get_or_insert_default()
                .push_back((handler, outcome));
            return None;
        }
        inner.deliveries += 1;
        drop(inner);
        Some(Delivery::new(
            Arc::clone(this),
            Published::Shared(outcome),
            Handlers::one(handler),
        ))
    }

    /// Sets and publishes the outcome unless the call already finished. When handlers were
    /// attached, the winner gets them back with a share of the outcome, to run where it stands
    /// (the task watching the call) or on the runtime (`cancel()`, which never runs handlers itself).
    pub(crate) fn finish(this: Arc<Self>, outcome: Outcome<T>) -> Option<Delivery<T, J>> {
        let mut inner = this.inner.lock();
        let state = this.state.load(Ordering::Acquire);
        if state & DONE != 0 {
            drop(inner);
            drop(this);
            // Dropping a `T` runs user code: nothing of ours is held here.
            drop(outcome);
            return None;
        }
        let on_finish = inner.on_finish.take();
        let handlers = mem::take(&mut inner.handlers);
        let kind = match &outcome {
            Ok(_) => OK,
            Err(CallError::Cancelled) => CANCELLED,
            Err(_) => 0,
        };
        let sharer = handlers.sharer;
        let has_error_handler = handlers.has_error_handler();
        let runs = match outcome {
            Ok(_) => sharer.is_some(),
            Err(_) => has_error_handler,
        };
        // Shared only when a handler will read it while the handle may too; otherwise it stays
        // owned, for the handle, or for the handlers once the handle is gone.
        let delivery = match (runs, sharer) {
            (false, _) => {
                inner.published = Some(Published::Outcome(outcome));
                None
            }
            (true, _) if state & DETACHED != 0 => Some(Published::Outcome(outcome)),
            (true, sharer) => {
                let shared_outcome = match outcome {
                    Ok(value) => sharer.expect("a result handler runs").share(value),
                    Err(error) => SharedOutcome::Error(StdArc::new(error)),
                };
                inner.published = Some(Published::Shared(shared_outcome.share()));
                Some(Published::Shared(shared_outcome))
            }
        };
        if delivery.is_some() {
            inner.deliveries += 1;
        }
        let settled = if inner.deliveries == 0 { SETTLED } else { 0 };
        this.state.fetch_or(DONE | kind | settled, Ordering::SeqCst);
        let awaiter = (settled != 0).then(|| this.awaiter.take()).flatten();
        drop(inner);
        let delivery = match delivery {
            Some(outcome) => Some(Delivery::new(this, outcome, handlers)),
            None => {
                // Before waking: the woken awaiter then usually owns the state alone, and
                // takes the outcome without the lock.
                drop(this);
                // Handlers of the other kind: dropped unrun, outside the lock.
                drop(handlers);
                None
            }
        };
        if let Some(stop) = on_finish {
            stop();
        }
        if let Some(waker) = awaiter {
            waker.wake();
        }
        delivery
    }
}

impl<T, J> Drop for Shared<T, J> {
    fn drop(&mut self) {
        if self.kind().is_none_or(|kind| kind != Kind::Failed)
            || self.observed.load(Ordering::Relaxed)
        {
            return;
        }
        let inner = self.inner.get_mut();
        let error = match &inner.published {
            Some(Published::Outcome(Err(error))) => error,
            Some(Published::Shared(SharedOutcome::Error(error))) => &**error,
            _ => return,
        };
        crate::errors::report_unobserved(error);
    }
}

/// Handlers waiting for the outcome. Only one kind ever runs (result handlers for a value,
/// error handlers for an error), so the order that matters is within a kind. Most calls have
/// none, one, or Anvil's pair (`on_result` and `on_error`): the first of each kind is kept
/// inline, and the rare others a box away, so that the state stays small.
pub(crate) struct Handlers<T> {
    result: Option<ResultHandler<T>>,
    error: Option<ErrorHandler>,
    /// Brought by the first result handler: the means to share a value, if one waits.
    sharer: Option<Sharer<T>>,
    /// The second and later of each kind, in attach order.
    #[expect(
        clippy::box_collection,
        reason = "a thin pointer where a `Vec` would add 16 bytes to every state machine"
    )]
    more: Option<Box<Vec<Handler<T>>>>,
}

impl<T> Default for Handlers<T> {
    fn default() -> Self {
        Handlers {
            result: None,
            error: None,
            sharer: None,
            more: None,
        }
    }
}

impl<T> Handlers<T> {
    fn push(&mut self, handler: Handler<T>) {
        match handler {
            Handler::Result(handler, sharer) if self.result.is_none() => {
                self.result = Some(handler);
                self.sharer = Some(sharer);
            }
            Handler::Error(handler) if self.error.is_none() => self.error = Some(handler),
            handler => self.more.get_or_insert_default().push(handler),
        }
    }

    fn has_error_handler(&self) -> bool {
        // The first error handler always takes the inline place.
        self.error.is_some()
    }

    /// Runs each handler of the outcome's kind, in attach order; the others are dropped unrun.
    fn run(self, outcome: Result<&T, &CallError>) {
        let more = self.more.map(|more| *more).unwrap_or_default();
        match outcome {
            Ok(value) => {
                let more = more.into_iter().filter_map(|handler| match handler {
                    Handler::Result(handler, _) => Some(handler),
                    Handler::Error(_) => None,
                });
                for handler in self.result.into_iter().chain(more) {
                    run_caught(|| handler(value));
                }
            }
            Err(error) => {
                let more = more.into_iter().filter_map(|handler| match handler {
                    Handler::Error(handler) => Some(handler),
                    Handler::Result(..) => None,
                });
                for handler in self.error.into_iter().chain(more) {
                    run_caught(|| handler(error));
                }
            }
        }
    }

    pub(crate) fn one(handler: Handler<T>) -> Self {
        let mut handlers = Handlers::default();
        handlers.push(handler);
        handlers
    }
}

/// Handlers with their share of a published outcome: the ones attached before the call
/// finished (run by the finisher), or one attached after (run as a task of its own). Dropping
/// it unrun (a task dropped by a runtime shutdown) runs it in place, so every handler runs
/// exactly once and the call always settles.
pub(crate) struct Delivery<T: 'static, J: 'static = ()> {
    shared: Option<Arc<Shared<T, J>>>,
    /// Owned once the handle is gone; else a share of what the handle reads.
    outcome: Option<Published<T>>,
    handlers: Handlers<T>,
}

impl<T: 'static, J: 'static> Delivery<T, J> {
    fn new(shared: Arc<Shared<T, J>>, outcome: Published<T>, handlers: Handlers<T>) -> Self {
        Delivery {
            shared: Some(shared),
            outcome: Some(outcome),
            handlers,
        }
    }

    pub(crate) fn run(mut self) {
        self.run_now();
    }

    fn run_now(&mut self) {
        let (Some(mut shared), Some(mut outcome)) = (self.shared.take(), self.outcome.take())
        else {
            return;
        };
        let mut handlers = mem::take(&mut self.handlers);
        loop {
            handlers.run(outcome.lend());
            // Our share goes before the call settles: `.await` then owns the outcome alone.
            drop(outcome);
            match Shared::next_or_release(shared) {
                Some((again, handler, next)) => {
                    shared = again;
                    handlers = Handlers::one(handler);
                    outcome = Published::Shared(next);
                }
                None => return,
            }
        }
    }
}

impl<T: 'static, J: 'static> Drop for Delivery<T, J> {
    fn drop(&mut self) {
        self.run_now();
    }
}

/// Runs a handler; a panic is logged and changes nothing else.
pub(crate) fn run_caught(handler: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(handler)) {
        tracing::error!(
            panic = %panic_message(&*payload),
            "a handler of an async call panicked; the call's outcome is unchanged"
        );
    }
}
