//! The state machine behind one [`AsyncCall`](crate::AsyncCall), free of tokio so that loom
//! can check it.
//!
//! A call moves from pending to finished exactly once ([`Shared::finish`]); whoever finishes it
//! first (the task, `cancel()`, a timeout, or the task being dropped by a runtime shutdown)
//! decides the outcome and receives the handlers attached so far as one [`Delivery`]. Handlers
//! attached later get a delivery of their own. An awaiter is woken only once the outcome is set
//! *and* every delivery handed out so far has run, so `call.on_result(h).await` sees `h` done.
//!
//! The common call has no handlers, so its path takes no lock: the outcome's `OnceLock`
//! decides who finishes, one atomic state word says whether anyone attached anything, and the
//! awaiter waits on an `AtomicWaker`. Attaching a handler sets `SLOW` before it locks, and the
//! finisher sets `FINISHED` with one sequentially consistent read-modify-write: whichever comes
//! second sees the other, so a handler is either in the list the finisher takes or delivered
//! by the attacher itself, never both and never neither.
//!
//! The outcome lives in a `OnceLock` so that `result()` can lend `&T` for as long as the handle
//! is borrowed.

use std::mem;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::task::{Context, Poll};

use crate::errors::{CallError, panic_message};
use crate::sync::{Arc, AtomicBool, AtomicUsize, AtomicWaker, Mutex, Ordering};

/// What a finished call produced.
pub(crate) type Outcome<T> = Result<T, CallError>;

/// A handler attached with `on_result` or `on_error`.
pub(crate) enum Handler<T> {
    Result(Box<dyn FnOnce(&T) + Send>),
    Error(Box<dyn FnOnce(&CallError) + Send>),
}

/// The outcome is set.
const FINISHED: usize = 1;
/// Something was attached (a handler, or a hook to run on finishing): the finisher must lock.
const SLOW: usize = 1 << 1;
/// The finisher has taken the handlers attached before it finished.
const TAKEN: usize = 1 << 2;
/// `TAKEN` and no delivery is running: an awaiter may go.
const SETTLED: usize = 1 << 3;

pub(crate) struct Shared<T> {
    outcome: OnceLock<Outcome<T>>,
    state: AtomicUsize,
    awaiter: AtomicWaker,
    /// Set once an error handler, an awaiter or `result()`/`error()` has looked: a failure
    /// nobody observed is logged when the state is dropped.
    observed: AtomicBool,
    /// Only touched on the slow path: by calls with handlers or a timeout.
    inner: Mutex<Inner<T>>,
}

struct Inner<T> {
    /// Handlers waiting for the outcome; empty once the finisher took them.
    handlers: Handlers<T>,
    /// Deliveries handed out and not yet finished running.
    deliveries: usize,
    /// Run once when the call finishes (stops a timeout's timer).
    on_finish: Option<Box<dyn FnOnce() + Send>>,
}

impl<T> Shared<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Shared {
            outcome: OnceLock::new(),
            state: AtomicUsize::new(0),
            awaiter: AtomicWaker::new(),
            observed: AtomicBool::new(false),
            inner: Mutex::new(Inner {
                handlers: Handlers::default(),
                deliveries: 0,
                on_finish: None,
            }),
        })
    }

    pub(crate) fn outcome(&self) -> Option<&Outcome<T>> {
        self.outcome.get()
    }

    pub(crate) fn mark_observed(&self) {
        self.observed.store(true, Ordering::Relaxed);
    }

    /// Sets the outcome unless the call already finished, and hands back the handlers attached so
    /// far for the caller to run (inline or on the runtime). Takes the caller's reference so the
    /// final release happens in the right order for [`Shared::take_outcome`].
    pub(crate) fn finish(this: Arc<Self>, outcome: Outcome<T>) -> Option<Delivery<T>> {
        if let Err(lost) = this.outcome.set(outcome) {
            drop(this);
            // Dropping a `T` runs user code: nothing of ours is held here.
            drop(lost);
            return None;
        }
        let mut state = this.state.load(Ordering::Relaxed);
        loop {
            // Without anything attached, finishing also settles: no lock, no delivery.
            let next = if state & SLOW == 0 {
                state | FINISHED | TAKEN | SETTLED
            } else {
                state | FINISHED
            };
            match this
                .state
                .compare_exchange_weak(state, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        if state & SLOW == 0 {
            let awaiter = this.awaiter.take();
            // Drop our reference before waking, so the woken awaiter can own the state.
            drop(this);
            if let Some(waker) = awaiter {
                waker.wake();
            }
            return None;
        }

        let mut inner = this.inner.lock();
        let handlers = mem::take(&mut inner.handlers);
        let on_finish = inner.on_finish.take();
        this.state.fetch_or(TAKEN, Ordering::SeqCst);
        if handlers.is_empty() {
            let awaiter = this.settle_if_idle(&inner);
            drop(inner);
            drop(this);
            if let Some(stop) = on_finish {
                stop();
            }
            if let Some(waker) = awaiter {
                waker.wake();
            }
            None
        } else {
            inner.deliveries += 1;
            drop(inner);
            if let Some(stop) = on_finish {
                stop();
            }
            Some(Delivery {
                shared: Some(this),
                handlers,
            })
        }
    }

    /// Attaches a handler. Before the outcome it waits in the list; after, it comes back as a
    /// delivery of its own, which the caller must run elsewhere: never inside the attaching call.
    pub(crate) fn attach(this: &Arc<Self>, handler: Handler<T>) -> Option<Delivery<T>> {
        if matches!(handler, Handler::Error(_)) {
            this.mark_observed();
        }
        let mut inner = this.inner.lock();
        if this.enter_slow_path() {
            inner.handlers.push(handler);
            return None;
        }
        inner.deliveries += 1;
        this.state.fetch_and(!SETTLED, Ordering::SeqCst);
        drop(inner);
        Some(Delivery {
            shared: Some(Arc::clone(this)),
            handlers: Handlers::one(handler),
        })
    }

    /// Registers `on_finish` to run when the call finishes; `false` (and nothing registered) if
    /// it already did.
    pub(crate) fn set_on_finish(&self, on_finish: Box<dyn FnOnce() + Send>) -> bool {
        let mut inner = self.inner.lock();
        if self.enter_slow_path() {
            inner.on_finish = Some(on_finish);
            true
        } else {
            false
        }
    }

    /// Marks the state `SLOW`; `true` if the finisher has not finished yet and so will take
    /// what the caller (holding the lock) puts in the list.
    fn enter_slow_path(&self) -> bool {
        self.state.fetch_or(SLOW, Ordering::SeqCst) & FINISHED == 0
    }

    /// With the lock held: settles the call if the finisher took its handlers and no delivery
    /// runs, returning the awaiter to wake.
    fn settle_if_idle(&self, inner: &Inner<T>) -> Option<std::task::Waker> {
        if inner.deliveries == 0 && self.state.load(Ordering::SeqCst) & TAKEN != 0 {
            self.state.fetch_or(SETTLED, Ordering::SeqCst);
            self.awaiter.take()
        } else {
            None
        }
    }

    /// Ready once the outcome is set and every handler delivery handed out so far has run.
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

    /// Moves the outcome out once the call is settled. Gives the reference back while another
    /// holder (a delivery between releasing the lock and dropping its reference, or an aborted
    /// task not yet dropped) still has one, unless the outcome can be copied without the
    /// original (cancelled, timed out).
    pub(crate) fn take_outcome(this: Arc<Self>) -> Result<Outcome<T>, Arc<Self>> {
        match Arc::try_unwrap(this) {
            Ok(mut shared) => Ok(shared
                .outcome
                .take()
                .expect("take_outcome is only called once the call is settled")),
            Err(this) => match this.outcome.get() {
                Some(Err(error)) => error.copy_of_control().map(Err).ok_or(this),
                _ => Err(this),
            },
        }
    }

    fn release(this: Arc<Self>) {
        let mut inner = this.inner.lock();
        inner.deliveries -= 1;
        let awaiter = this.settle_if_idle(&inner);
        drop(inner);
        // Drop our reference before waking, so the woken awaiter can usually own the state.
        drop(this);
        if let Some(waker) = awaiter {
            waker.wake();
        }
    }
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        if let Some(Err(error)) = self.outcome.get() {
            if !error.is_cancelled() && !self.observed.load(Ordering::Relaxed) {
                crate::errors::report_unobserved(error);
            }
        }
    }
}

/// Handlers in attach order. Most calls have one or none, so the first is kept inline and a
/// call with one handler allocates no list.
pub(crate) struct Handlers<T> {
    first: Option<Handler<T>>,
    rest: Vec<Handler<T>>,
}

impl<T> Default for Handlers<T> {
    fn default() -> Self {
        Handlers {
            first: None,
            rest: Vec::new(),
        }
    }
}

impl<T> Handlers<T> {
    fn one(handler: Handler<T>) -> Self {
        Handlers {
            first: Some(handler),
            rest: Vec::new(),
        }
    }

    fn push(&mut self, handler: Handler<T>) {
        if self.first.is_none() {
            self.first = Some(handler);
        } else {
            self.rest.push(handler);
        }
    }

    fn is_empty(&self) -> bool {
        self.first.is_none()
    }
}

/// A batch of handlers that must run exactly once against a set outcome. Dropping it unrun
/// (a delivery task dropped by a runtime shutdown) runs it in place, so no handler is lost.
pub(crate) struct Delivery<T> {
    shared: Option<Arc<Shared<T>>>,
    handlers: Handlers<T>,
}

impl<T> Delivery<T> {
    pub(crate) fn run(mut self) {
        self.run_now();
    }

    fn run_now(&mut self) {
        let Some(shared) = self.shared.take() else {
            return;
        };
        let outcome = shared
            .outcome
            .get()
            .expect("a delivery exists only after the outcome is set");
        let handlers = mem::take(&mut self.handlers);
        for handler in handlers.first.into_iter().chain(handlers.rest) {
            run_handler(handler, outcome);
        }
        Shared::release(shared);
    }
}

impl<T> Drop for Delivery<T> {
    fn drop(&mut self) {
        self.run_now();
    }
}

fn run_handler<T>(handler: Handler<T>, outcome: &Outcome<T>) {
    let ran = match (handler, outcome) {
        (Handler::Result(handler), Ok(value)) => {
            catch_unwind(AssertUnwindSafe(move || handler(value)))
        }
        (Handler::Error(handler), Err(error)) => {
            catch_unwind(AssertUnwindSafe(move || handler(error)))
        }
        // A result handler of a failed call (or the reverse) is dropped unrun.
        _ => Ok(()),
    };
    if let Err(payload) = ran {
        tracing::error!(
            panic = %panic_message(&*payload),
            "a handler of an async call panicked; the call's outcome is unchanged"
        );
    }
}

/// Every interleaving of completing, cancelling, attaching handlers and awaiting, under loom.
/// Run with `RUSTFLAGS="--cfg nonblocking_loom" cargo test -p nonblocking-runtime --lib
/// --release --target-dir target-loom` (see the README's testing section).
#[cfg(all(test, nonblocking_loom))]
mod loom_tests {
    use std::future::poll_fn;

    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::thread;

    use super::*;

    /// Counts how often the result and error handlers ran.
    #[derive(Default)]
    struct Ran {
        results: AtomicUsize,
        errors: AtomicUsize,
    }

    fn model(test: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(test);
    }

    fn attach_both(shared: &Arc<Shared<u32>>, ran: &Arc<Ran>) -> Vec<Delivery<u32>> {
        let (on_ok, on_err) = (Arc::clone(ran), Arc::clone(ran));
        let result = Handler::Result(Box::new(move |value: &u32| {
            assert_eq!(*value, 7);
            on_ok.results.fetch_add(1, Ordering::SeqCst);
        }));
        let error = Handler::Error(Box::new(move |error: &CallError| {
            assert!(error.is_cancelled());
            on_err.errors.fetch_add(1, Ordering::SeqCst);
        }));
        [result, error]
            .into_iter()
            .filter_map(|handler| Shared::attach(shared, handler))
            .collect()
    }

    fn settle(shared: &Arc<Shared<u32>>) {
        loom::future::block_on(poll_fn(|cx| shared.poll_settled(cx)));
    }

    fn take(mut shared: Arc<Shared<u32>>) -> Outcome<u32> {
        loop {
            match Shared::take_outcome(shared) {
                Ok(outcome) => return outcome,
                Err(back) => {
                    shared = back;
                    thread::yield_now();
                }
            }
        }
    }

    #[test]
    fn complete_vs_attach_vs_await() {
        model(|| {
            let shared = Shared::<u32>::new();
            let ran = Arc::new(Ran::default());

            let task = Arc::clone(&shared);
            let completer = thread::spawn(move || {
                if let Some(delivery) = Shared::finish(task, Ok(7)) {
                    delivery.run();
                }
            });
            let (handle, handlers) = (Arc::clone(&shared), Arc::clone(&ran));
            let attacher = thread::spawn(move || {
                // Late deliveries run on "the runtime": here, this thread.
                attach_both(&handle, &handlers)
                    .into_iter()
                    .for_each(Delivery::run);
            });

            attacher.join().unwrap();
            // Every handler attached before awaiting has run once the await resolves.
            settle(&shared);
            assert_eq!(ran.results.load(Ordering::SeqCst), 1);
            assert_eq!(ran.errors.load(Ordering::SeqCst), 0);
            completer.join().unwrap();
            assert_eq!(take(shared).unwrap(), 7);
        });
    }

    #[test]
    fn complete_vs_cancel_vs_attach_sets_one_outcome() {
        model(|| {
            let shared = Shared::<u32>::new();
            let ran = Arc::new(Ran::default());

            let task = Arc::clone(&shared);
            let completer =
                thread::spawn(move || Shared::finish(task, Ok(7)).map(Delivery::run).is_some());
            let cancel = Arc::clone(&shared);
            let canceller = thread::spawn(move || {
                Shared::finish(cancel, Err(CallError::Cancelled))
                    .map(Delivery::run)
                    .is_some()
            });
            let deliveries = attach_both(&shared, &ran);
            deliveries.into_iter().for_each(Delivery::run);

            let completed = completer.join().unwrap();
            let cancelled = canceller.join().unwrap() || !completed;
            settle(&shared);
            let (results, errors) = (
                ran.results.load(Ordering::SeqCst),
                ran.errors.load(Ordering::SeqCst),
            );
            match take(shared) {
                Ok(value) => {
                    assert_eq!(value, 7);
                    assert_eq!((results, errors), (1, 0));
                }
                Err(error) => {
                    assert!(error.is_cancelled() && cancelled);
                    assert_eq!((results, errors), (0, 1));
                }
            }
        });
    }

    #[test]
    fn a_handler_attached_first_has_run_when_the_await_resolves() {
        model(|| {
            let shared = Shared::<u32>::new();
            let ran = Arc::new(Ran::default());
            assert!(attach_both(&shared, &ran).is_empty());

            let task = Arc::clone(&shared);
            let completer = thread::spawn(move || {
                if let Some(delivery) = Shared::finish(task, Ok(7)) {
                    delivery.run();
                }
            });
            settle(&shared);
            assert_eq!(ran.results.load(Ordering::SeqCst), 1);
            assert_eq!(ran.errors.load(Ordering::SeqCst), 0);
            completer.join().unwrap();
        });
    }

    #[test]
    fn on_finish_runs_once_whoever_finishes() {
        model(|| {
            let shared = Shared::<u32>::new();
            let stopped = Arc::new(AtomicUsize::new(0));
            let hook = Arc::clone(&stopped);
            let registered = shared.set_on_finish(Box::new(move || {
                hook.fetch_add(1, Ordering::SeqCst);
            }));
            assert!(registered);
            let task = Arc::clone(&shared);
            let completer = thread::spawn(move || Shared::finish(task, Ok(7)).map(Delivery::run));
            let cancel = Arc::clone(&shared);
            drop(Shared::finish(cancel, Err(CallError::Cancelled)).map(Delivery::run));
            completer.join().unwrap();
            assert_eq!(stopped.load(Ordering::SeqCst), 1);
            settle(&shared);
            assert!(!shared.set_on_finish(Box::new(|| unreachable!())));
        });
    }

    #[test]
    fn two_attachers_and_a_completer() {
        model(|| {
            let shared = Shared::<u32>::new();
            let ran = Arc::new(Ran::default());
            let task = Arc::clone(&shared);
            let completer = thread::spawn(move || Shared::finish(task, Ok(7)).map(Delivery::run));
            let (handle, handlers) = (Arc::clone(&shared), Arc::clone(&ran));
            let other = thread::spawn(move || {
                attach_both(&handle, &handlers)
                    .into_iter()
                    .for_each(Delivery::run);
            });
            attach_both(&shared, &ran)
                .into_iter()
                .for_each(Delivery::run);
            other.join().unwrap();
            settle(&shared);
            assert_eq!(ran.results.load(Ordering::SeqCst), 2);
            assert_eq!(ran.errors.load(Ordering::SeqCst), 0);
            completer.join().unwrap();
        });
    }

    #[test]
    fn an_unrun_delivery_runs_when_dropped() {
        model(|| {
            let shared = Shared::<u32>::new();
            let ran = Arc::new(Ran::default());
            assert!(attach_both(&shared, &ran).is_empty());
            let delivery = Shared::finish(Arc::clone(&shared), Err(CallError::Cancelled)).unwrap();
            // A delivery task dropped unpolled by a runtime shutdown, on another thread.
            thread::spawn(move || drop(delivery)).join().unwrap();
            assert_eq!(ran.errors.load(Ordering::SeqCst), 1);
            assert_eq!(ran.results.load(Ordering::SeqCst), 0);
            settle(&shared);
        });
    }
}
