//! Repeats whose bodies run on the UI thread: the runtime's timer keeps the time, the queue
//! delivers each tick.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::UiContext;
use super::queue::Queue;
use crate::calls::cancel::{Cancel, CancelOnDrop};
use crate::panic::catching;
use crate::timers::RepeatRef;

/// The handle to a repeat made with [`UiContext::repeat`] or [`UiContext::repeat_with`]. It is
/// `Send` and `Sync`: any thread may cancel the repeat. Cloning it gives another handle to the
/// same repeat; dropping every handle does not stop it.
#[derive(Clone)]
pub struct UiRepeatRef {
    shared: Arc<Shared>,
}

struct Shared {
    id: u64,
    queue: Arc<Queue>,
    cancelled: AtomicBool,
    /// A tick waits in the queue: the next one due is skipped, so a loop that stops pumping
    /// holds at most one.
    queued: AtomicBool,
    calls: AtomicU64,
    /// Drops the body, whose type only the repeat's maker knows.
    forget: fn(&UiContext, u64),
    timer: OnceLock<RepeatRef>,
}

impl UiRepeatRef {
    /// Stops the repeat: no body runs after this returns, not even one whose tick is already
    /// queued. A body running now (the one calling `cancel` on its own ref) finishes.
    /// Idempotent; any thread may call it.
    pub fn cancel(&self) {
        let shared = &self.shared;
        if shared.cancelled.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(timer) = shared.timer.get() {
            timer.cancel();
        }
        let (id, forget) = (shared.id, shared.forget);
        shared
            .queue
            .post_quietly(Box::new(move |ui: &UiContext| {
                ui.forget_timer(id, forget);
                false
            }));
    }

    /// `true` once cancelled, by [`cancel`](Self::cancel), by the context being dropped, or by
    /// the timer's runtime shutting down.
    pub fn is_cancelled(&self) -> bool {
        self.shared.cancelled.load(Ordering::Acquire)
            || self.shared.timer.get().is_some_and(RepeatRef::is_cancelled)
    }

    /// How many times the body has run (started) so far.
    pub fn calls(&self) -> u64 {
        self.shared.calls.load(Ordering::Acquire)
    }

    /// A guard that cancels the repeat when dropped.
    pub fn cancel_on_drop(self) -> CancelOnDrop<Self> {
        CancelOnDrop::new(self)
    }
}

impl Cancel for UiRepeatRef {
    fn cancel(&self) {
        UiRepeatRef::cancel(self);
    }
}

impl fmt::Debug for UiRepeatRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UiRepeatRef")
            .field("calls", &self.calls())
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl UiContext {
    /// Calls `f` on this thread every `interval` until cancelled, as
    /// [`repeat`](crate::repeat) does on the runtime: the first call after one interval, no
    /// overlap, no drift (the runtime's timer keeps the time; each tick is queued for the next
    /// pump). A tick that comes due while the previous one still waits for the pump is
    /// skipped, like tokio's `MissedTickBehavior::Skip`. A panicking call is logged and the
    /// repeat goes on.
    ///
    /// # Examples
    ///
    /// ```
    /// use nonblocking_runtime::ui::UiContext;
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    ///
    /// let ui = UiContext::new(|| {});
    /// let beats = Rc::new(Cell::new(0));
    /// let counter = Rc::clone(&beats);
    /// let heartbeat = ui.repeat(move || counter.set(counter.get() + 1), Duration::from_millis(1));
    /// while beats.get() < 3 {
    ///     ui.pump();
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// heartbeat.cancel();
    /// ```
    pub fn repeat(&self, mut f: impl FnMut() + 'static, interval: Duration) -> UiRepeatRef {
        self.repeat_with(move |_| f(), interval)
    }

    /// [`repeat`](Self::repeat) with the repeat's own [`UiRepeatRef`] passed to each call, so a
    /// body can stop itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use nonblocking_runtime::ui::UiContext;
    /// use std::time::Duration;
    ///
    /// let ui = UiContext::new(|| {});
    /// let countdown = ui.repeat_with(
    ///     |me| {
    ///         if me.calls() == 3 {
    ///             me.cancel();
    ///         }
    ///     },
    ///     Duration::from_millis(1),
    /// );
    /// while !countdown.is_cancelled() {
    ///     ui.pump();
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// assert_eq!(countdown.calls(), 3);
    /// ```
    pub fn repeat_with<F>(&self, f: F, interval: Duration) -> UiRepeatRef
    where
        F: FnMut(&UiRepeatRef) + 'static,
    {
        let me = UiRepeatRef {
            shared: Arc::new(Shared {
                id: self.table().insert(f),
                queue: Arc::clone(self.queue()),
                cancelled: AtomicBool::new(false),
                queued: AtomicBool::new(false),
                calls: AtomicU64::new(0),
                forget: |ui, id| drop(ui.table().take::<F>(id)),
                timer: OnceLock::new(),
            }),
        };
        let ticker = me.clone();
        let timer = crate::timers::repeat(move || ticker.send_tick::<F>(), interval);
        let _ = me.shared.timer.set(timer);
        let canceller = me.clone();
        self.timers()
            .borrow_mut()
            .insert(me.shared.id, Box::new(move || canceller.cancel()));
        me
    }
}

impl UiRepeatRef {
    /// On the timer's worker: queues a tick unless one already waits.
    fn send_tick<F: FnMut(&UiRepeatRef) + 'static>(&self) {
        let shared = &self.shared;
        if shared.cancelled.load(Ordering::Acquire) || shared.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        shared.queue.post(Box::new(move |ui: &UiContext| me.run_tick::<F>(ui)));
    }

    /// On the UI thread: runs the body, unless cancelled since the tick was queued.
    /// Whether the body ran.
    fn run_tick<F: FnMut(&UiRepeatRef) + 'static>(&self, ui: &UiContext) -> bool {
        let shared = &self.shared;
        shared.queued.store(false, Ordering::Release);
        if shared.cancelled.load(Ordering::Acquire) {
            return false;
        }
        let Some(mut f) = ui.table().take::<F>(shared.id) else { return false };
        shared.calls.fetch_add(1, Ordering::AcqRel);
        if let Err(message) = catching(|| f(self)) {
            tracing::error!(panic = %message, "a UI repeat's call panicked; the repeat goes on");
        }
        // Cancelled meanwhile: the job that forgets it is queued behind this one.
        ui.table().put_back(shared.id, f);
        true
    }
}

impl UiContext {
    /// A timer is gone: its canceller and its body go too.
    pub(crate) fn forget_timer(&self, id: u64, forget: fn(&UiContext, u64)) {
        let canceller = self.timers().borrow_mut().remove(&id);
        drop(canceller);
        forget(self, id);
    }
}
