//! Calls started without waiting: [`call_async`], [`call_blocking`] and their `try_` forms
//! return an [`AsyncCall`] at once; attach handlers, ask its [`status`](AsyncCall::status),
//! await it, [`wait`](AsyncCall::wait) for it, or [`cancel`] it.
//!
//! # Which runtime, which thread
//!
//! A call runs on the tokio runtime current where it is made; outside any runtime (a plain
//! `fn main`, a GUI thread) on the runtime given to [`set_runtime`], or else on a shared
//! background runtime of two worker threads (`nonblocking-background`), started on first use.
//!
//! Handlers never run on the thread that attaches them, and never inside the call that
//! attaches them. They run in a task on the call's runtime, in attach order: those attached
//! before the call finished in a small task that awaits the call and then runs them (inside the
//! call's `tracing` span, the caller's span when the call was made), those attached later after
//! them, as a task of their own. So handlers must be `Send`, and must not block for long: they
//! share the workers with every other call. A handler may do anything a task may: await, spawn,
//! `wait()` for another call (on a multi-thread runtime), cancel its own call.
//!
//! If the runtime shuts down (or is dropped on another thread) before the handlers ran, they
//! run on the background runtime instead, each exactly once.
//!
//! # What a call costs
//!
//! A plain call (awaited, waited for, or asked for its `status()`) is one tokio task and
//! nothing else: the task's output is the outcome. The handle is 128 bytes on 64-bit targets
//! (it holds the task, the outcome once seen, the span; a timeout's deadline lives in the state
//! machine). A handler or a timeout attached while the call runs adds two allocations: the state
//! machine, and the task that awaits the call and delivers its outcome (plus a handler's own
//! box, unless it captures nothing); dropping the handle while the call runs adds that task
//! alone, to report a failure nobody observed. While the handle lives, a value that result handlers will read is
//! shared behind one more allocation, so that `result()` can lend it at the same time; once the
//! handle is dropped, the handlers read it where it is.

pub(crate) mod cancel;
mod join;
pub(crate) mod local;
mod spawn;
pub(crate) mod state;
mod wait;

use std::fmt;
use std::future::IntoFuture;
use std::mem;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::Span;

pub(crate) use self::spawn::call_with_outcome;
pub use self::spawn::{call_async, call_blocking, try_call_async, try_call_blocking};
use self::local::Local;
use self::join::{CallState, take_finished};
use self::state::{Delivery, Handler, Kind, Sharer, TaskOutcome};
pub use self::cancel::{Cancel, CancelOnDrop, cancel};
pub use self::wait::CallFuture;
pub use crate::runtime::{SetRuntimeError, set_runtime};
use crate::errors::CallError;
use crate::sync::Arc;

/// The handle to one call started with [`call_async`], [`call_blocking`], their `try_`
/// forms, a `call_async_<name>` stub or a call by name.
///
/// The call runs whether or not anyone holds the handle: dropping it detaches (Anvil's
/// fire-and-forget), it never cancels. Use [`cancel`](Self::cancel) or
/// [`cancel_on_drop`](Self::cancel_on_drop) to stop it.
///
/// The outcome is set exactly once. Handlers and [`result`](Self::result) borrow it, and
/// awaiting moves the value out, so `T` needs no `Clone`; and like `tokio::spawn`, a call needs
/// only `T: Send` to be started, awaited, waited for and cancelled. `AsyncCall<T>` is `Send`
/// when `T` is, and `Sync` when `T` is `Sync` too; a result handler needs `T: Sync`, because a
/// handler attached after the call finished runs on another thread while the handle can still
/// lend the value.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::{CallStatus, call_async};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let call = call_async(async { 6 * 7 })
///     .on_result(|answer| println!("got {answer}"))
///     .on_error(|error| eprintln!("failed: {error}"));
/// assert_eq!(call.await.unwrap(), 42);
/// # }
/// ```
pub struct AsyncCall<T> {
    /// The task, whose output is the outcome, until the handle takes the outcome from it or
    /// the state machine takes it over. Locked only by the `&self` methods that look at it.
    task: Mutex<Option<JoinHandle<TaskOutcome<T>>>>,
    /// The state machine, made only when something needs it before the call finishes: a
    /// handler, a timeout.
    shared: Option<Arc<CallState<T>>>,
    /// The outcome once the handle holds it.
    local: Local<T>,
    /// `result()` or `error()` looked (a state machine keeps its own flag).
    observed: AtomicBool,
    /// The span the call runs in, which its handlers run in too.
    span: Span,
    /// Watches a call whose handle is dropped while it runs, to report a failure nobody saw: a
    /// function made where `T: Send + 'static` is known, which `Drop` cannot ask for.
    watch: fn(JoinHandle<TaskOutcome<T>>, Span),
    /// The last of the handlers attached after the call finished, without a state machine:
    /// each runs as a task after the one before, and `.await` waits for the last.
    late: Option<JoinHandle<()>>,
}

/// Where a call stands. Anvil's `PENDING` / `FULFILLED` / `REJECTED`, plus cancellation.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::{CallStatus, call_async};
///
/// let call = call_async(std::future::pending::<()>());
/// assert_eq!(call.status(), CallStatus::Pending);
/// call.cancel();
/// assert_eq!(call.status(), CallStatus::Cancelled);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallStatus {
    /// Still running.
    Pending,
    /// Returned a value.
    Completed,
    /// Returned an error, panicked or timed out.
    Failed,
    /// Stopped by `cancel()`, or by its runtime shutting down.
    Cancelled,
}

/// The one not-finished error that `result()` and `error()` lend while a call runs.
static NOT_FINISHED: CallError = CallError::NotFinished;

impl<T: Send + 'static> AsyncCall<T> {
    #[inline]
    fn spawned(task: JoinHandle<TaskOutcome<T>>, span: Span) -> Self {
        AsyncCall {
            task: Mutex::new(Some(task)),
            shared: None,
            local: Local::default(),
            observed: AtomicBool::new(false),
            span,
            watch: watch_dropped::<T>,
            late: None,
        }
    }

    /// This call with its function's progress arriving in `cell`, kept by the state machine
    /// (made now): only a call whose function reports progress has one, so the plain handle
    /// stays small.
    pub(crate) fn with_progress(mut self, cell: Arc<crate::progress::Cell>) -> Self {
        let _ = self.state().join.progress.set(cell);
        self
    }

    /// Where its function's progress waits for `on_progress` handlers, if it reports any.
    pub(crate) fn progress_cell(&self) -> Option<&Arc<crate::progress::Cell>> {
        self.shared.as_ref()?.join.progress.get()
    }

    /// The state machine, made on first need: from the outcome the handle already holds, or
    /// watching the task.
    fn state(&mut self) -> Arc<CallState<T>> {
        if let Some(shared) = &self.shared {
            return Arc::clone(shared);
        }
        let span = mem::replace(&mut self.span, Span::none());
        let kept = self.local.take_kept();
        let task = self.task.get_mut().unwrap_or_else(PoisonError::into_inner).take();
        let state = match (kept, task) {
            (Some(outcome), _) => join::finished(outcome, span),
            // Finished already: no waker to register.
            (None, Some(mut task)) => match take_finished(&mut task) {
                Some(outcome) => join::finished(outcome, span),
                None => join::watch(task, span),
            },
            (None, None) => unreachable!("a call without an outcome still has its task"),
        };
        if *self.observed.get_mut() {
            state.mark_observed();
        }
        self.shared = Some(Arc::clone(&state));
        state
    }

    /// The outcome, if the call finished; taken from the task the first time it is seen.
    fn peek(&self) -> Option<Result<&T, &CallError>> {
        if let Some(shared) = &self.shared {
            return self.local.lend(shared);
        }
        if let Some(held) = self.local.lend_held() {
            return Some(held);
        }
        let mut task = self.task.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(outcome) = task.as_mut().and_then(take_finished) {
            *task = None;
            // Kept before the lock goes: a racing `peek` then finds it.
            self.local.keep(outcome);
        }
        drop(task);
        self.local.lend_held()
    }

    fn kind(&self) -> Option<Kind> {
        if let Some(shared) = &self.shared {
            return shared.kind();
        }
        Some(match self.peek()? {
            Ok(_) => Kind::Ok,
            Err(CallError::Cancelled) => Kind::Cancelled,
            Err(_) => Kind::Failed,
        })
    }

    fn mark_observed(&self) {
        match &self.shared {
            Some(shared) => shared.mark_observed(),
            None => self.observed.store(true, Ordering::Relaxed),
        }
    }

    /// Adds a handler for the call's value. It runs at most once, only if the call completes,
    /// never inside this method, even when the call already finished: in a task on the call's
    /// runtime, after every handler attached before it. Never on the thread that attaches it.
    ///
    /// Returns the handle, so `call_async(..).on_result(ok).on_error(err)` chains; that chain is
    /// Anvil's `on_result(ok, err)`. A panicking handler is logged through `tracing` and
    /// changes nothing else: other handlers still run, and error handlers do not see it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::call_async;
    /// # use std::sync::mpsc;
    /// let (tx, rx) = mpsc::channel();
    /// let _call = call_async(async { "saved" }).on_result(move |message| {
    ///     tx.send(message.to_string()).unwrap();
    /// });
    /// assert_eq!(rx.recv().unwrap(), "saved");
    /// ```
    ///
    /// Needs `T: Sync`: a handler attached after the call finished runs on the runtime while
    /// this handle may lend the same value through [`result`](Self::result).
    pub fn on_result(mut self, handler: impl FnOnce(&T) + Send + 'static) -> Self
    where
        T: Sync,
    {
        if self.finished_plain() {
            self.run_late(Some(Sharer::new()), move |outcome| {
                if let Ok(value) = outcome {
                    handler(value);
                }
            });
            return self;
        }
        self.attach(Handler::Result(Box::new(handler), Sharer::new()))
    }

    /// Adds a handler for the call's error: it runs at most once, if the call fails, panics,
    /// times out or is cancelled. Otherwise as [`on_result`](Self::on_result).
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::try_call_async;
    /// # use std::sync::mpsc;
    /// let (tx, rx) = mpsc::channel();
    /// let _call = try_call_async(async { Err::<(), _>("no network") })
    ///     .on_error(move |error| tx.send(error.to_string()).unwrap());
    /// assert_eq!(rx.recv().unwrap(), "no network");
    /// ```
    pub fn on_error(mut self, handler: impl FnOnce(&CallError) + Send + 'static) -> Self {
        if self.finished_plain() {
            *self.observed.get_mut() = true;
            self.run_late(None, move |outcome| {
                if let Err(error) = outcome {
                    handler(error);
                }
            });
            return self;
        }
        self.attach(Handler::Error(Box::new(handler)))
    }

    /// Finished, and no state machine: a handler attached now runs as a task of its own.
    fn finished_plain(&self) -> bool {
        self.shared.is_none() && self.peek().is_some()
    }

    /// Runs a handler attached after a plain call finished as a task of its own, over a share
    /// of the outcome, after any attached before it. The handler stays unboxed: the task holds
    /// it as it is. `sharer` is a result handler's (`None`: an error handler).
    fn run_late<F>(&mut self, sharer: Option<Sharer<T>>, handler: F)
    where
        F: FnOnce(Result<&T, &CallError>) + Send + 'static,
    {
        let Some(outcome) = self.local.share_for(sharer) else {
            // For the other kind of outcome: it never runs.
            return;
        };
        let before = self.late.take();
        let late = Late::new(outcome, handler);
        self.late = Some(crate::runtime::spawn(async move {
            if let Some(before) = before {
                let _ = before.await;
            }
            late.run();
        }));
    }

    fn attach(mut self, handler: Handler<T>) -> Self {
        let state = self.state();
        if let Some(late) = state.attach(handler) {
            if let Some(delivery) = self.local.late(&state, late) {
                deliver_later(delivery);
            }
        }
        self
    }

    /// Stops the call if it has not finished within `after`: it then fails with
    /// [`CallError::TimedOut`]. The timer counts from this call, on the clock of the runtime
    /// current here (the call's own when called where the call was made; so a paused test clock
    /// controls it).
    ///
    /// Called again, the earlier deadline wins, and the timer of the later one is stopped: no
    /// timer is left behind. A duration the clock cannot represent (`Duration::MAX`) sets no
    /// deadline. On a runtime built without tokio's time driver the call fails at once with
    /// [`CallError::NoTimeDriver`], whose message names `enable_time`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::{CallError, call_async};
    /// # use std::time::Duration;
    /// let call = call_async(std::future::pending::<()>()).timeout(Duration::from_millis(10));
    /// assert!(matches!(call.wait(), Err(CallError::TimedOut(_))));
    /// ```
    pub fn timeout(mut self, after: Duration) -> Self {
        if self.kind().is_some() {
            return self;
        }
        let runtime = crate::runtime::handle();
        if !crate::runtime::has_time_driver(&runtime) {
            // No timer can keep the deadline: the call fails now, naming the fix.
            let state = self.state();
            if let Some(delivery) = CallState::finish(Arc::clone(&state), Err(CallError::NoTimeDriver)) {
                deliver_later(delivery);
            }
            join::abort(&state);
            return self;
        }
        // On the clock of the runtime the timer runs on (a paused test clock rules it). A
        // deadline the clock cannot represent is never reached: no timer at all.
        let Some(deadline) = ({
            let _clock = runtime.enter();
            tokio::time::Instant::now().checked_add(after)
        }) else {
            return self;
        };
        let state = self.state();
        // The earlier deadline wins: a later one changes nothing.
        {
            let mut earlier = state.join.deadline.lock();
            if earlier.is_some_and(|earlier| earlier <= deadline) {
                return self;
            }
            *earlier = Some(deadline);
        }
        let weak = Arc::downgrade(&state);
        let timer = runtime.spawn(async move {
            tokio::time::sleep_until(deadline).await;
            if let Some(state) = weak.upgrade() {
                let delivery = CallState::finish(Arc::clone(&state), Err(CallError::TimedOut(after)));
                join::abort(&state);
                if let Some(delivery) = delivery {
                    delivery.run();
                }
            }
        });
        let stop = timer.abort_handle();
        // Stops the timer of an earlier `timeout` this one replaces, or this one's own if the
        // call finished meanwhile.
        if let Some(stale) = state.set_on_finish(Box::new(move || stop.abort())) {
            stale();
        }
        self
    }

    /// Where the call stands now.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::{CallStatus, try_call_async};
    /// let call = try_call_async(async { Err::<(), _>("no") }).on_error(|_| {});
    /// while !call.is_finished() {
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(call.status(), CallStatus::Failed);
    /// ```
    pub fn status(&self) -> CallStatus {
        status_of(self.kind())
    }

    /// `true` once the call has an outcome (its handlers may still be running).
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::call_async;
    /// let call = call_async(async { 1 });
    /// while !call.is_finished() {
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(call.result().ok(), Some(&1));
    /// ```
    pub fn is_finished(&self) -> bool {
        if self.shared.is_none() && self.local.is_empty() {
            // A plain call: its task says, and the outcome stays there until it is needed.
            let task = self.task.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(task) = task.as_ref() {
                return task.is_finished();
            }
        }
        self.kind().is_some()
    }

    /// Lends the call's value, or its error; [`CallError::NotFinished`] while it runs.
    /// Never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::{CallError, call_async};
    /// let call = call_async(std::future::pending::<u8>());
    /// assert!(matches!(call.result(), Err(CallError::NotFinished)));
    /// ```
    pub fn result(&self) -> Result<&T, &CallError> {
        self.mark_observed();
        self.peek().unwrap_or(Err(&NOT_FINISHED))
    }

    /// The call's error: `None` if it completed, the error if it did not, and
    /// [`CallError::NotFinished`] while it runs. Never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::{CallError, call_async, try_call_async};
    /// let pending = call_async(std::future::pending::<()>());
    /// assert!(matches!(pending.error(), Some(CallError::NotFinished)));
    ///
    /// let failed = try_call_async(async { Err::<(), _>("broken") }).on_error(|_| {});
    /// while !failed.is_finished() {
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(failed.error().unwrap().to_string(), "broken");
    /// ```
    pub fn error(&self) -> Option<&CallError> {
        self.mark_observed();
        match self.peek() {
            None => Some(&NOT_FINISHED),
            Some(outcome) => outcome.err(),
        }
    }

    /// Stops the call; its outcome becomes [`CallError::Cancelled`] and its error handlers run
    /// on the runtime. Idempotent, and a no-op once the call finished.
    ///
    /// An async call stops at its next `.await`. A `call_blocking` closure that has not started
    /// never does; one that already started runs to its end and its result is discarded.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::{CallError, call_async};
    /// let call = call_async(std::future::pending::<u8>())
    ///     .on_error(|error| assert!(error.is_cancelled()));
    /// call.cancel();
    /// call.cancel(); // idempotent
    /// assert!(matches!(call.wait(), Err(CallError::Cancelled)));
    /// ```
    pub fn cancel(&self) {
        if let Some(shared) = &self.shared {
            return cancel_state(shared);
        }
        let mut task = self.task.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(handle) = task.take() {
            // Finished already: that outcome stands. Else the task stops at its next `.await`
            // and the outcome is `Cancelled` from now on.
            let mut handle = handle;
            let outcome = take_finished(&mut handle).unwrap_or_else(|| {
                handle.abort();
                Err(CallError::Cancelled)
            });
            self.local.keep(outcome);
        }
    }

    /// Turns the handle into a guard that cancels the call when dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::{CallStatus, call_async};
    /// let call = call_async(std::future::pending::<()>());
    /// let observer = call.cancel_on_drop();
    /// assert_eq!(observer.status(), CallStatus::Pending);
    /// drop(observer); // cancels
    /// ```
    pub fn cancel_on_drop(self) -> CancelOnDrop<Self> {
        CancelOnDrop::new(self)
    }

    /// Waits for the call's value or error without blocking; the same as `.await`ing the handle.
    /// Resolves once every handler attached before it has run.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::call_async;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let value = call_async(async { "done" }).await_result().await.unwrap();
    /// assert_eq!(value, "done");
    /// # }
    /// ```
    pub fn await_result(self) -> CallFuture<T> {
        self.into_future()
    }

    /// Blocks the current thread until the call finishes (and every handler attached before this
    /// ran), then returns its value or error.
    ///
    /// Outside any runtime, and on a runtime's blocking pool (a [`call_blocking`] closure, a
    /// sync server function, tokio's `spawn_blocking`), this parks the thread. On a
    /// multi-thread runtime's worker it uses `block_in_place`. On the thread that drives a
    /// current-thread runtime, blocking could deadlock (that thread may be the one that runs
    /// the call), so it returns [`CallError::WouldDeadlock`] at once and the call goes on.
    /// (A closure given to tokio's `spawn_blocking` directly is recognised by tokio's default
    /// thread name; under a runtime built with another `thread_name`, start the blocking work
    /// with [`call_blocking`] instead.)
    ///
    /// A `wait()` never hangs on a deadlock of waits. On a multi-thread runtime, a wait that
    /// has lasted a second checks that the runtime still runs tasks; if a trivial probe task
    /// has not run three seconds later while at least as many threads as the runtime has
    /// workers wait in `wait()` (every worker blocked in `wait()` with no blocking thread free
    /// to take over, as with a small `max_blocking_threads`), it returns
    /// [`CallError::WouldDeadlock`] and the call goes on. Workers that are only busy (with
    /// fewer waits than workers) are waited for, however long they take: that is not a
    /// deadlock.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::{CallError, call_async};
    /// // From a plain thread: blocks until the value is there.
    /// assert_eq!(call_async(async { 2 }).wait().unwrap(), 2);
    ///
    /// // On the current-thread runtime the call needs, it refuses instead of hanging.
    /// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// runtime.block_on(async {
    ///     assert!(matches!(call_async(async { 2 }).wait(), Err(CallError::WouldDeadlock)));
    /// });
    /// ```
    pub fn wait(self) -> Result<T, CallError> {
        wait::block_on(self.into_future())
    }
}

impl<T: Send + 'static> IntoFuture for AsyncCall<T> {
    type Output = Result<T, CallError>;
    type IntoFuture = CallFuture<T>;

    #[inline]
    fn into_future(mut self) -> CallFuture<T> {
        if self.shared.is_none() && self.late.is_none() && self.local.is_empty() {
            if let Some(task) = self.task.get_mut().unwrap_or_else(PoisonError::into_inner).take() {
                // Without a subscriber the span is `Span::none()`, which holds nothing.
                if !self.span.is_none() {
                    drop(mem::replace(&mut self.span, Span::none()));
                }
                // A plain call, the hottest path: with the task and the span moved out, the
                // handle owns nothing, and its `Drop` (a task to watch, a failure nobody
                // observed) would have nothing to do.
                mem::forget(self);
                return CallFuture::task(task);
            }
        }
        // The handle is left empty: its `Drop` has nothing to do.
        if let Some(shared) = self.shared.take() {
            return CallFuture::shared(shared, mem::take(&mut self.local));
        }
        if let Some(late) = self.late.take() {
            return CallFuture::after_late(late, mem::take(&mut self.local));
        }
        let outcome = self.local.take_kept();
        CallFuture::ready(outcome.expect("a call without a task holds its outcome"))
    }
}

/// Awaiting the guard awaits the call; dropping that future before it resolves cancels the
/// call (a server handler whose client went away, a `select!` branch that lost).
///
/// # Examples
///
/// ```
/// # use nonblocking_runtime::{CallStatus, call_async};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(call_async(async { 3 }).cancel_on_drop().await.unwrap(), 3);
///
/// let slow = call_async(std::future::pending::<()>()).on_error(|error| assert!(error.is_cancelled()));
/// let waiting = slow.cancel_on_drop().into_future();
/// drop(waiting); // cancels
/// # }
/// ```
impl<T: Send + 'static> IntoFuture for CancelOnDrop<AsyncCall<T>> {
    type Output = Result<T, CallError>;
    type IntoFuture = CallFuture<T>;

    fn into_future(self) -> CallFuture<T> {
        let call = self.disarm();
        let state = call.shared.clone();
        let future = call.into_future();
        // A plain call's future aborts its task instead: `cancel` is for a state machine.
        future.cancelling_on_drop(move || {
            if let Some(state) = state {
                cancel_state(&state);
            }
        })
    }
}

/// Finishes the call as cancelled (its error handlers run on the runtime) and aborts its task.
fn cancel_state<T: Send + 'static>(state: &Arc<CallState<T>>) {
    if let Some(delivery) = CallState::finish(Arc::clone(state), Err(CallError::Cancelled)) {
        deliver_later(delivery);
    }
    join::abort(state);
}

/// A handler attached after a call with no state machine finished, with its share of the
/// outcome. If its task is dropped unrun (its runtime shut down), it goes to the background
/// runtime, as a state machine's deliveries do: never inline in the `on_result` that attached
/// it; and a rescued one runs where it is dropped. Every handler runs exactly once.
struct Late<T: Send + 'static, F: FnOnce(Result<&T, &CallError>) + Send + 'static> {
    job: Option<(state::SharedOutcome<T>, F)>,
    rescued: bool,
}

impl<T: Send + 'static, F: FnOnce(Result<&T, &CallError>) + Send + 'static> Late<T, F> {
    fn new(outcome: state::SharedOutcome<T>, handler: F) -> Self {
        Late { job: Some((outcome, handler)), rescued: false }
    }

    fn run(mut self) {
        self.run_now();
    }

    fn run_now(&mut self) {
        let Some((outcome, handler)) = self.job.take() else { return };
        state::run_caught(|| handler(outcome.lend()));
        // The share goes before the task ends: `.await` then owns the outcome alone.
        drop(outcome);
    }
}

impl<T: Send + 'static, F: FnOnce(Result<&T, &CallError>) + Send + 'static> Drop for Late<T, F> {
    fn drop(&mut self) {
        if self.rescued {
            return self.run_now();
        }
        let Some(job) = self.job.take() else { return };
        let rescued = Late { job: Some(job), rescued: true };
        crate::runtime::rescue(async move { rescued.run() });
    }
}

/// Watches a call whose handle is dropped while it runs, to report a failure nobody observed
/// when it ends: a task that awaits it (no state machine: nothing else can attach to it now).
fn watch_dropped<T: Send + 'static>(task: JoinHandle<TaskOutcome<T>>, span: Span) {
    drop(crate::runtime::spawn(async move {
        if let Err(error) = join::outcome_of(task.await) {
            if !error.is_cancelled() {
                let _entered = span.enter();
                crate::errors::report_unobserved(&error);
            }
        }
    }));
}

impl<T> Drop for AsyncCall<T> {
    #[inline]
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            // The state machine reports what nobody observed, and its handlers may now have
            // the outcome to themselves.
            shared.detach();
            return;
        }
        if let Some(task) = self.task.get_mut().unwrap_or_else(PoisonError::into_inner).take() {
            let span = mem::replace(&mut self.span, Span::none());
            (self.watch)(task, span);
            return;
        }
        if !*self.observed.get_mut() {
            if let Some(Err(error)) = self.local.lend_kept() {
                if !error.is_cancelled() {
                    crate::errors::report_unobserved(error);
                }
            }
        }
    }
}

impl<T: Send + 'static> Cancel for AsyncCall<T> {
    fn cancel(&self) {
        AsyncCall::cancel(self);
    }
}

impl<T: Send + 'static> fmt::Debug for AsyncCall<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let task = match &self.shared {
            Some(shared) => join::id(shared),
            None => self.task.lock().unwrap_or_else(PoisonError::into_inner).as_ref().map(JoinHandle::id),
        };
        f.debug_struct("AsyncCall")
            .field("status", &status_of(self.kind()))
            .field("task", &task)
            .finish()
    }
}

fn status_of(kind: Option<Kind>) -> CallStatus {
    match kind {
        None => CallStatus::Pending,
        Some(Kind::Ok) => CallStatus::Completed,
        Some(Kind::Cancelled) => CallStatus::Cancelled,
        Some(Kind::Failed) => CallStatus::Failed,
    }
}

/// Runs a delivery on the call's runtime, never where it stands (the call that attaches a
/// handler, a `cancel()`). If that runtime is gone or shutting down, the task is dropped
/// unpolled; the delivery then goes to the background runtime instead.
fn deliver_later<T: Send + 'static, J: Send + Sync + 'static>(delivery: Delivery<T, J>) {
    let rescue = Rescue(Some(delivery));
    drop(crate::runtime::spawn(async move { rescue.run() }));
}

/// A delivery on its way to a runtime: sent on to the background runtime if dropped unrun.
struct Rescue<T: Send + 'static, J: Send + Sync + 'static>(Option<Delivery<T, J>>);

impl<T: Send + 'static, J: Send + Sync + 'static> Rescue<T, J> {
    fn run(mut self) {
        if let Some(delivery) = self.0.take() {
            delivery.run();
        }
    }
}

impl<T: Send + 'static, J: Send + Sync + 'static> Drop for Rescue<T, J> {
    fn drop(&mut self) {
        if let Some(delivery) = self.0.take() {
            // The background runtime lives as long as the process; were its task dropped
            // anyway, the delivery would run where it is dropped, still exactly once.
            crate::runtime::rescue(async move { delivery.run() });
        }
    }
}

/// Blocks until `call` finishes; the free-function form of [`AsyncCall::wait`]
/// (Anvil's `wait_for(async_call)`).
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::{call_blocking, wait_for};
///
/// let call = call_blocking(|| std::fs::metadata(".").is_ok());
/// assert_eq!(wait_for(call).unwrap(), true);
/// ```
pub fn wait_for<T: Send + 'static>(call: AsyncCall<T>) -> Result<T, CallError> {
    call.wait()
}

#[cfg(all(test, not(nonblocking_loom), target_pointer_width = "64"))]
mod size {
    /// The size the module docs state; a change to the handle's fields must update them.
    #[test]
    fn a_handle_is_as_big_as_the_docs_say() {
        assert_eq!(std::mem::size_of::<super::AsyncCall<u64>>(), 128);
    }
}
