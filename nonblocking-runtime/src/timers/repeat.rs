//! [`repeat`], [`repeat_with`] and [`repeat_async`]: call something every interval until
//! cancelled (Anvil's `repeat`, the `setInterval` of tokio).
//!
//! Each repeat is one task on the runtime it was created on, driven by a tokio `Interval` with
//! `MissedTickBehavior::Skip`, so it keeps that type's well-known schedule:
//!
//! * calls never overlap: the task runs them one after the other;
//! * no drift: while calls are shorter than the interval, call k starts at
//!   `start + k * interval`, however long each call took;
//! * when a call overruns (by more than tokio's 5 ms grace), the next call starts as soon as it
//!   returns and the other ticks it missed are dropped, never fired in a burst; the calls after
//!   that are back on the original grid.
//!
//! ```text
//! interval 10 ms, first call takes 25 ms:
//!   grid:   10  20  30  40  50  60
//!   calls:  [10------35)
//!                      [35)[40)[50)[60)
//! ```

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::{Instant, MissedTickBehavior, interval_at};
use tracing::{Instrument, Span};

use crate::calls::cancel::{Cancel, CancelOnDrop};
use crate::panic::{catching, catching_async};
use crate::runtime;

/// The handle to a running [`repeat`]. Cloning it gives another handle to the same repeat.
///
/// Dropping every handle does **not** stop the repeat (it would be unreachable otherwise only
/// if you meant it: use [`cancel_on_drop`](Self::cancel_on_drop) for that).
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::repeat;
/// use std::time::Duration;
///
/// let beat = repeat(|| {}, Duration::from_millis(1));
/// let handle = beat.clone();
/// handle.cancel();
/// assert!(beat.is_cancelled());
/// ```
#[derive(Clone)]
pub struct RepeatRef {
    shared: Arc<RepeatShared>,
}

struct RepeatShared {
    cancelled: AtomicBool,
    wake: Notify,
    calls: AtomicU64,
}

impl RepeatRef {
    /// Stops the repeat: no call starts after this returns. A call already running (including
    /// the one calling `cancel` on its own ref) finishes normally. Idempotent.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::repeat;
    /// # use std::time::Duration;
    /// let beat = repeat(|| {}, Duration::from_millis(1));
    /// beat.cancel();
    /// let calls = beat.calls();
    /// std::thread::sleep(Duration::from_millis(20));
    /// assert_eq!(beat.calls(), calls, "no call starts after cancel");
    /// ```
    pub fn cancel(&self) {
        if !self.shared.cancelled.swap(true, Ordering::AcqRel) {
            self.shared.wake.notify_waiters();
        }
    }

    /// `true` once [`cancel`](Self::cancel) was called, or the repeat's runtime shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::repeat;
    /// # use std::time::Duration;
    /// let beat = repeat(|| {}, Duration::from_secs(1));
    /// assert!(!beat.is_cancelled());
    /// beat.cancel();
    /// assert!(beat.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.shared.cancelled.load(Ordering::Acquire)
    }

    /// How many calls have started so far.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::repeat;
    /// # use std::time::Duration;
    /// let beat = repeat(|| {}, Duration::from_millis(1));
    /// while beat.calls() < 3 {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// beat.cancel();
    /// ```
    pub fn calls(&self) -> u64 {
        self.shared.calls.load(Ordering::Acquire)
    }

    /// Turns the handle into a guard that cancels the repeat when dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::repeat;
    /// # use std::time::Duration;
    /// let beat = repeat(|| {}, Duration::from_millis(1)).cancel_on_drop();
    /// let observer = (*beat).clone();
    /// drop(beat);
    /// assert!(observer.is_cancelled());
    /// ```
    pub fn cancel_on_drop(self) -> CancelOnDrop<Self> {
        CancelOnDrop::new(self)
    }
}

impl Cancel for RepeatRef {
    fn cancel(&self) {
        RepeatRef::cancel(self);
    }
}

impl fmt::Debug for RepeatRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RepeatRef")
            .field("calls", &self.calls())
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// Calls `f` every `interval` until cancelled; the first call comes after one interval.
///
/// `f` runs as part of a task on the runtime's async workers (keep it short, or hand slow work
/// to [`call_blocking`](crate::call_blocking)). A panicking call is logged through `tracing` and
/// the repeat goes on.
///
/// Calls never overlap and do not drift: while calls are shorter than the interval, call k
/// starts at `start + k * interval`. A call that overruns (by more than tokio's 5 ms grace) is
/// followed at once by one call, and the other ticks it missed are dropped, never fired in a
/// burst; later calls are back on the grid (tokio's `MissedTickBehavior::Skip`).
///
/// A zero `interval` is taken as the shortest one: a call on every tick of the runtime's timer
/// (each millisecond), never a busy loop. An interval so long that the clock cannot represent
/// its first deadline (`Duration::MAX`) means "not in this process's lifetime": no call comes,
/// and the repeat runs until cancelled. When the repeat's runtime shuts down, the repeat ends
/// and [`RepeatRef::is_cancelled`] says so; on a runtime built without tokio's time driver it
/// ends at once, and one error naming `enable_time` is reported.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::repeat;
/// use std::time::Duration;
///
/// let beat = repeat(|| println!("da dum"), Duration::from_millis(5));
/// std::thread::sleep(Duration::from_millis(30));
/// beat.cancel();
/// assert!(beat.calls() >= 1);
/// ```
pub fn repeat(mut f: impl FnMut() + Send + 'static, interval: Duration) -> RepeatRef {
    repeat_with(move |_| f(), interval)
}

/// [`repeat`] with the repeat's own [`RepeatRef`] passed to each call, so a body can stop
/// itself without a global.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::repeat_with;
/// use std::time::Duration;
///
/// let beats = repeat_with(
///     |me| {
///         if me.calls() == 3 {
///             me.cancel();
///         }
///     },
///     Duration::from_millis(1),
/// );
/// while !beats.is_cancelled() {
///     std::thread::sleep(Duration::from_millis(1));
/// }
/// assert_eq!(beats.calls(), 3);
/// ```
pub fn repeat_with(
    mut f: impl FnMut(&RepeatRef) + Send + 'static,
    interval: Duration,
) -> RepeatRef {
    start(interval, move |me| {
        if let Err(message) = catching(|| f(me)) {
            report_panic(&message);
        }
        std::future::ready(())
    })
}

/// [`repeat_with`] for an async body: each call gets the repeat's [`RepeatRef`] and is awaited
/// before the next tick is considered, so calls never overlap.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::repeat_async;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let poll = repeat_async(
///     |me| async move {
///         tokio::task::yield_now().await;
///         if me.calls() == 2 {
///             me.cancel();
///         }
///     },
///     Duration::from_millis(1),
/// );
/// while !poll.is_cancelled() {
///     tokio::time::sleep(Duration::from_millis(1)).await;
/// }
/// assert_eq!(poll.calls(), 2);
/// # }
/// ```
pub fn repeat_async<F, Fut>(mut f: F, interval: Duration) -> RepeatRef
where
    F: FnMut(RepeatRef) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    start(interval, move |me| {
        let call = f(me.clone());
        async move {
            if let Err(message) = catching_async(call).await {
                report_panic(&message);
            }
        }
    })
}

fn report_panic(message: &str) {
    tracing::error!(panic = %message, "a repeat's call panicked; the repeat goes on");
}

/// The shortest interval: the resolution of tokio's timer. A zero interval means this, a call
/// on every tick of the timer, never a busy loop.
const SHORTEST: Duration = Duration::from_millis(1);

fn start<B, Fut>(interval: Duration, mut body: B) -> RepeatRef
where
    B: FnMut(&RepeatRef) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let interval = interval.max(SHORTEST);
    let me = RepeatRef {
        shared: Arc::new(RepeatShared {
            cancelled: AtomicBool::new(false),
            wake: Notify::new(),
            calls: AtomicU64::new(0),
        }),
    };
    let runtime = runtime::handle();
    if !crate::runtime::has_time_driver(&runtime) {
        // No tick could ever come: the repeat ends at once (the misuse is reported).
        me.cancel();
        return me;
    }
    // The first deadline is read on the runtime's own clock, so a paused test clock rules it.
    // One the clock cannot represent is never reached: the repeat waits for its cancel.
    let first = {
        let _clock = runtime.enter();
        Instant::now().checked_add(interval)
    };
    let task_ref = me.clone();
    // However the task ends (cancelled, or dropped with its runtime, even unpolled), the
    // repeat reports that it ended.
    let ended = EndOnDrop(me.clone());
    drop(
        runtime.spawn(
            async move {
                let _ended = ended;
                let mut ticks = first.map(|first| {
                    let mut ticks = interval_at(first, interval);
                    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
                    ticks
                });
                while next_tick(&task_ref, ticks.as_mut()).await {
                    task_ref.shared.calls.fetch_add(1, Ordering::AcqRel);
                    body(&task_ref).await;
                }
            }
            .instrument(Span::current()),
        ),
    );
    me
}

/// Marks the repeat ended when its task goes away, by cancel or with its runtime.
struct EndOnDrop(RepeatRef);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// Waits for the next tick (`None`: a tick that never comes); `false` once the repeat is
/// cancelled.
async fn next_tick(me: &RepeatRef, mut ticks: Option<&mut tokio::time::Interval>) -> bool {
    // Created before the check, so a cancel between the check and the wait still wakes us.
    let mut cancelled = pin!(me.shared.wake.notified());
    if me.is_cancelled() {
        return false;
    }
    poll_fn(|cx| {
        if cancelled.as_mut().poll(cx).is_ready() {
            return Poll::Ready(false);
        }
        match ticks.as_deref_mut() {
            Some(ticks) => ticks.poll_tick(cx).map(|_| !me.is_cancelled()),
            None => Poll::Pending,
        }
    })
    .await
}
