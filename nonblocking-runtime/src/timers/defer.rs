//! [`defer`]: call something once after a delay unless cancelled first (Anvil's `defer`,
//! the `setTimeout` of tokio).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::calls::cancel::{Cancel, CancelOnDrop};
use crate::runtime;
use crate::timers::queue::{Slot, Stage, TimerQueue};

/// The handle to a pending [`defer`]. Cloning it gives another handle to the same defer.
///
/// Dropping it does not cancel the defer: the call still happens (use
/// [`cancel_on_drop`](Self::cancel_on_drop) for the opposite).
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::defer;
/// use std::time::Duration;
///
/// let save = defer(|| println!("saved"), Duration::from_secs(60));
/// let other_handle = save.clone();
/// assert!(save.is_pending());
/// other_handle.cancel();
/// assert!(save.is_cancelled());
/// ```
#[derive(Clone)]
pub struct DeferRef {
    slot: Arc<Slot>,
}

impl DeferRef {
    /// Stops the call if it has not started; a no-op once it fired or was cancelled.
    /// The closure is dropped here, not when its time would have come.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::defer;
    /// # use std::time::Duration;
    /// let later = defer(|| unreachable!(), Duration::from_secs(60));
    /// later.cancel();
    /// later.cancel(); // a no-op the second time
    /// assert!(later.is_cancelled());
    /// ```
    pub fn cancel(&self) {
        self.slot.cancel();
    }

    /// Moves a pending defer to fire `delay` from now: the cheap way to debounce, with no new
    /// allocation. Returns `false`, and does nothing, if it already fired or was cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use nonblocking_runtime::defer;
    /// use std::time::Duration;
    ///
    /// let save = defer(|| println!("saved"), Duration::from_millis(20));
    /// for _keystroke in 0..5 {
    ///     assert!(save.reset(Duration::from_millis(20)));
    /// }
    /// ```
    pub fn reset(&self, delay: Duration) -> bool {
        self.slot.reset(delay)
    }

    /// `true` while the call is still to come.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::defer;
    /// # use std::time::Duration;
    /// let later = defer(|| {}, Duration::from_secs(60));
    /// assert!(later.is_pending());
    /// ```
    pub fn is_pending(&self) -> bool {
        self.slot.stage() == Stage::Pending
    }

    /// `true` once the call has been handed to the runtime to run.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::defer;
    /// # use std::time::Duration;
    /// let soon = defer(|| {}, Duration::from_millis(1));
    /// while !soon.has_fired() {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// assert!(!soon.reset(Duration::from_secs(1)), "a fired defer cannot be moved");
    /// ```
    pub fn has_fired(&self) -> bool {
        self.slot.stage() == Stage::Fired
    }

    /// `true` if it was cancelled (by `cancel()` or its runtime shutting down) before firing.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::defer;
    /// # use std::time::Duration;
    /// let later = defer(|| {}, Duration::from_secs(60));
    /// assert!(!later.is_cancelled());
    /// later.cancel();
    /// assert!(later.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.slot.stage() == Stage::Cancelled
    }

    /// Turns the handle into a guard that cancels the defer when dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::defer;
    /// # use std::time::Duration;
    /// let later = defer(|| unreachable!(), Duration::from_millis(1)).cancel_on_drop();
    /// assert!(later.is_pending());
    /// drop(later); // the closure never runs
    /// ```
    pub fn cancel_on_drop(self) -> CancelOnDrop<Self> {
        CancelOnDrop::new(self)
    }
}

impl Cancel for DeferRef {
    fn cancel(&self) {
        DeferRef::cancel(self);
    }
}

impl fmt::Debug for DeferRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferRef")
            .field("stage", &self.slot.stage())
            .finish()
    }
}

/// Calls `f` once, `delay` from now, unless the returned [`DeferRef`] is cancelled first.
///
/// Pending defers live in one timer queue per runtime (a few dozen bytes each, not a task
/// each); when one is due its closure runs as a task of its own on the runtime's async workers,
/// so a slow closure delays no other timer. A panicking closure is logged through `tracing`.
/// The delay runs on the clock of the runtime the defer was created on, so a paused test clock
/// controls it.
///
/// A delay of zero fires on the next tick of the timer. A delay beyond what the timer queue can
/// hold (about two years) or the clock can represent (`Duration::MAX`) means "not in this
/// process's lifetime": the defer stays pending until cancelled (or [reset](DeferRef::reset)
/// within reach), and never panics. On a runtime built without tokio's time driver a defer is
/// cancelled at once, and one error naming `enable_time` is reported.
///
/// # Examples
///
/// Anvil's debounced save: every change cancels the pending save and schedules a new one.
///
/// ```
/// use nonblocking_runtime::{DeferRef, cancel, defer};
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
///
/// let saves = Arc::new(Mutex::new(Vec::new()));
/// let mut pending: Option<DeferRef> = None;
/// for change in 1..=3 {
///     cancel(&pending);
///     let saves = Arc::clone(&saves);
///     pending = Some(defer(move || saves.lock().unwrap().push(change), Duration::from_millis(10)));
/// }
/// std::thread::sleep(Duration::from_millis(100));
/// assert_eq!(*saves.lock().unwrap(), vec![3]);
/// ```
pub fn defer(f: impl FnOnce() + Send + 'static, delay: Duration) -> DeferRef {
    let queue = TimerQueue::of(&runtime::handle());
    DeferRef {
        slot: queue.insert(Box::new(f), delay),
    }
}
