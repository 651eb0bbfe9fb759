//! Waiting for a call: as a future (`.await`) or by blocking the thread (`wait()`).

use std::future::Future;
use std::mem;
use std::pin::{Pin, pin};
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Wake, Waker, ready};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use std::sync::{Mutex, PoisonError};

use tokio::runtime::{Handle, Id, RuntimeFlavor};

use tokio::task::JoinHandle;

use super::join::{CallState, outcome_of};
use super::local::Local;
use super::state::{Outcome, TaskOutcome};
use crate::errors::CallError;
use crate::sync::Arc;

/// The future of an [`AsyncCall`](crate::AsyncCall): resolves to the call's value or error
/// once the call finished and every handler attached before awaiting has run.
///
/// Dropping it detaches from the call; the call itself goes on.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::calls::CallFuture;
/// use nonblocking_runtime::call_async;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let future: CallFuture<u8> = call_async(async { 1 }).await_result();
/// assert_eq!(future.await.unwrap(), 1);
/// # }
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct CallFuture<T> {
    source: Source<T>,
}

/// Where the outcome comes from. What a `CancelOnDrop` guard's future does when dropped early
/// lives in the variant it applies to: a plain call's future is its `JoinHandle` and a flag.
enum Source<T> {
    /// A plain call: the task's output is the outcome. `abort_on_drop`: the future of a
    /// `CancelOnDrop` guard, which aborts the task if dropped before it resolves.
    Task { task: JoinHandle<TaskOutcome<T>>, abort_on_drop: bool },
    /// The handle already held the outcome.
    Ready(Outcome<T>),
    /// Finished, with handlers attached after: ready once the last of them ran.
    AfterLate(JoinHandle<()>, Local<T>),
    /// A call with handlers or a timeout: ready once it settles. `cancel_on_drop`: the future
    /// of a `CancelOnDrop` guard, which cancels the call if dropped before it resolves.
    Shared {
        shared: Arc<CallState<T>>,
        local: Local<T>,
        cancel_on_drop: Option<Box<dyn FnOnce() + Send>>,
    },
    Done,
}

// The value is never pinned: it is moved out once the call settles.
impl<T> Unpin for CallFuture<T> {}

impl<T> CallFuture<T> {
    #[inline]
    pub(super) fn task(task: JoinHandle<TaskOutcome<T>>) -> Self {
        CallFuture { source: Source::Task { task, abort_on_drop: false } }
    }

    pub(super) fn ready(outcome: Outcome<T>) -> Self {
        CallFuture { source: Source::Ready(outcome) }
    }

    pub(super) fn after_late(late: JoinHandle<()>, local: Local<T>) -> Self {
        CallFuture { source: Source::AfterLate(late, local) }
    }

    pub(super) fn shared(shared: Arc<CallState<T>>, local: Local<T>) -> Self {
        CallFuture { source: Source::Shared { shared, local, cancel_on_drop: None } }
    }

    /// Stops the call if this future is dropped before it resolves: `cancel` for a call with a
    /// state machine, an abort of the task for a plain call. A finished call stays as it is.
    pub(super) fn cancelling_on_drop(mut self, cancel: impl FnOnce() + Send + 'static) -> Self {
        match &mut self.source {
            Source::Task { abort_on_drop, .. } => *abort_on_drop = true,
            Source::Shared { cancel_on_drop, .. } => *cancel_on_drop = Some(Box::new(cancel)),
            Source::Ready(_) | Source::AfterLate(..) | Source::Done => {}
        }
        self
    }
}

impl<T> Drop for CallFuture<T> {
    fn drop(&mut self) {
        match &mut self.source {
            Source::Task { task, abort_on_drop: true } => task.abort(),
            Source::Shared { cancel_on_drop, .. } => {
                if let Some(cancel) = cancel_on_drop.take() {
                    cancel();
                }
            }
            _ => {}
        }
    }
}

impl<T> std::fmt::Debug for CallFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallFuture").finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Future for CallFuture<T> {
    type Output = Outcome<T>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome<T>> {
        let this = &mut *self;
        let outcome = match &mut this.source {
            Source::Task { task, abort_on_drop } => {
                let output = ready!(Pin::new(task).poll(cx));
                // Nothing left to abort. The spent `JoinHandle` stays until this future is
                // dropped, which spares the hottest path a move (polled again, tokio panics
                // as for any `JoinHandle` polled after it completed).
                *abort_on_drop = false;
                return Poll::Ready(outcome_of(output));
            }
            Source::Ready(_) => match mem::replace(&mut this.source, Source::Done) {
                Source::Ready(outcome) => return Poll::Ready(outcome),
                _ => unreachable!("matched above"),
            },
            Source::AfterLate(late, local) => {
                if Pin::new(late).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                local.take_held().expect("a finished call holds its outcome")
            }
            Source::Shared { shared, local, .. } => {
                if shared.poll_settled(cx).is_pending() {
                    return Poll::Pending;
                }
                local.take(shared)
            }
            Source::Done => panic!("CallFuture polled after it completed"),
        };
        // Finished: nothing left to cancel.
        this.source = Source::Done;
        Poll::Ready(outcome)
    }
}

/// Blocks the current thread until `future` resolves; the `wait()` behind `AsyncCall`.
///
/// Refuses on the thread that drives a current-thread runtime: that thread may be the one that
/// must drive the call (and blocking it stalls every task of that runtime regardless). That
/// runtime's blocking-pool threads may block.
pub(super) fn block_on<T: Send + 'static>(future: CallFuture<T>) -> Outcome<T> {
    match Handle::try_current() {
        Ok(current) => match current.runtime_flavor() {
            // Only the thread that drives the runtime must not block; its blocking pool may.
            RuntimeFlavor::CurrentThread if crate::runtime::on_blocking_pool() => park_on(future),
            RuntimeFlavor::CurrentThread => Err(CallError::WouldDeadlock),
            // Multi-thread flavours: hand this worker's queued tasks to another worker first,
            // and give up if the runtime stops running anything (see `park_watching`).
            _ => tokio::task::block_in_place(|| park_watching(future, &current)),
        },
        Err(_) => park_on(future),
    }
}

struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: StdArc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &StdArc<Self>) {
        self.0.unpark();
    }
}

/// How long a wait goes before it checks that the runtime still runs tasks.
const CHECK_AFTER: Duration = Duration::from_secs(1);
/// How long a probe task may stay unrun before the runtime counts as stalled.
const STALLED_AFTER: Duration = Duration::from_secs(3);

/// Threads waiting in [`park_watching`], per runtime: the count that tells a deadlock of waits
/// from workers that are merely busy.
static WAITING: Mutex<Vec<(Id, usize)>> = Mutex::new(Vec::new());

/// Counts this thread among `runtime`'s waiters while it lives.
struct Waiting(Id);

impl Waiting {
    fn enter(runtime: Id) -> Self {
        let mut waiting = WAITING.lock().unwrap_or_else(PoisonError::into_inner);
        match waiting.iter_mut().find(|(id, _)| *id == runtime) {
            Some((_, count)) => *count += 1,
            None => waiting.push((runtime, 1)),
        }
        Waiting(runtime)
    }

    /// How many threads wait on this runtime now, this one included.
    fn count(&self) -> usize {
        let waiting = WAITING.lock().unwrap_or_else(PoisonError::into_inner);
        waiting.iter().find(|(id, _)| *id == self.0).map_or(0, |(_, count)| *count)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut waiting = WAITING.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = waiting.iter().position(|(id, _)| *id == self.0) {
            waiting[at].1 -= 1;
            if waiting[at].1 == 0 {
                waiting.swap_remove(at);
            }
        }
    }
}

/// [`park_on`], watching that `runtime` still makes progress: a wait on a multi-thread
/// runtime can hang for good when every worker blocks in `wait()` and none can hand its tasks
/// over (`block_in_place` needs a free blocking thread, and the pool may be full). After
/// [`CHECK_AFTER`] of waiting, a trivial probe task is spawned. If it has not run after
/// [`STALLED_AFTER`] *and* at least as many threads as the runtime has workers are waiting in
/// `wait()`, nothing can run the call: `WouldDeadlock`, and the call goes on. Workers that are
/// merely busy (fewer waiters than workers) are waited for, however long they take.
fn park_watching<T>(future: CallFuture<T>, runtime: &Handle) -> Outcome<T>
where
    T: Send + 'static,
{
    let waiting = Waiting::enter(runtime.id());
    let workers = runtime.metrics().num_workers();
    let waker = Waker::from(StdArc::new(Unparker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    let started = Instant::now();
    let mut probe: Option<(Instant, StdArc<AtomicBool>)> = None;
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park_timeout(CHECK_AFTER);
        match &probe {
            None if started.elapsed() >= CHECK_AFTER => {
                let ran = StdArc::new(AtomicBool::new(false));
                let flag = StdArc::clone(&ran);
                drop(runtime.spawn(async move { flag.store(true, Ordering::Release) }));
                probe = Some((Instant::now(), ran));
            }
            Some((_, ran)) if ran.load(Ordering::Acquire) => probe = None,
            Some((sent, _)) if sent.elapsed() >= STALLED_AFTER && waiting.count() >= workers => {
                return Err(CallError::WouldDeadlock);
            }
            _ => {}
        }
    }
}

fn park_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(StdArc::new(Unparker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}
