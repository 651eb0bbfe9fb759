//! Defers whose bodies run on the UI thread. The runtime's timer keeps the time and the queue
//! delivers the call; between the two, `cancel` and `reset` still hold, so a debounce survives
//! a slow frame.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::UiContext;
use super::queue::Queue;
use crate::calls::cancel::{Cancel, CancelOnDrop};
use crate::panic::catching;
use crate::timers::DeferRef;

/// The handle to a defer made with [`UiContext::defer`]. It is `Send` and `Sync`: any thread
/// may cancel or reset it. Cloning it gives another handle to the same defer; dropping every
/// handle does not cancel it.
#[derive(Clone)]
pub struct UiDeferRef {
    shared: Arc<Shared>,
}

struct Shared {
    id: u64,
    queue: Arc<Queue>,
    /// Runs (or skips) the body, whose type only the defer's maker knows.
    run: fn(&UiDeferRef, &UiContext, u64) -> bool,
    forget: fn(&UiContext, u64),
    state: Mutex<State>,
}

struct State {
    stage: Stage,
    /// Counts the timers armed: a call queued by an earlier one is stale.
    generation: u64,
    timer: Option<DeferRef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The timer runs.
    Waiting,
    /// The timer fired; the call waits for the pump.
    Queued,
    Ran,
    Cancelled,
}

impl UiDeferRef {
    fn state(&self) -> MutexGuard<'_, State> {
        // No user code runs under the lock.
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops the call if it has not run: also after the timer fired but before the UI thread
    /// pumped. The closure is dropped at the next pump. A no-op once it ran or was cancelled.
    pub fn cancel(&self) {
        let mut state = self.state();
        if !matches!(state.stage, Stage::Waiting | Stage::Queued) {
            return;
        }
        state.stage = Stage::Cancelled;
        let timer = state.timer.take();
        drop(state);
        timer.cancel();
        let (id, forget) = (self.shared.id, self.shared.forget);
        self.shared
            .queue
            .post_quietly(Box::new(move |ui: &UiContext| {
                ui.forget_timer(id, forget);
                false
            }));
    }

    /// Moves the call to `delay` from now, also after the timer fired but before the UI thread
    /// pumped (the queued call is then skipped). Returns `false`, and does nothing, once it ran
    /// or was cancelled.
    pub fn reset(&self, delay: Duration) -> bool {
        let mut state = self.state();
        match state.stage {
            Stage::Ran | Stage::Cancelled => return false,
            Stage::Waiting if state.timer.as_ref().is_some_and(|timer| timer.reset(delay)) => {
                return true;
            }
            // The timer fired (or is firing now): arm a new one; the old call is stale.
            Stage::Waiting | Stage::Queued => {}
        }
        state.generation += 1;
        state.stage = Stage::Waiting;
        let timer = self.arm(state.generation, delay);
        let stale = state.timer.replace(timer);
        drop(state);
        stale.cancel();
        true
    }

    /// `true` while the call is still to come (its timer runs, or it waits for the pump).
    pub fn is_pending(&self) -> bool {
        let state = self.state();
        match state.stage {
            Stage::Waiting => !state.timer.as_ref().is_some_and(DeferRef::is_cancelled),
            Stage::Queued => true,
            Stage::Ran | Stage::Cancelled => false,
        }
    }

    /// `true` once the call ran on the UI thread.
    pub fn has_fired(&self) -> bool {
        self.state().stage == Stage::Ran
    }

    /// `true` once cancelled, by [`cancel`](Self::cancel), by the context being dropped, or by
    /// the timer's runtime shutting down.
    pub fn is_cancelled(&self) -> bool {
        let state = self.state();
        match state.stage {
            Stage::Cancelled => true,
            Stage::Waiting => state.timer.as_ref().is_some_and(DeferRef::is_cancelled),
            Stage::Queued | Stage::Ran => false,
        }
    }

    /// A guard that cancels the defer when dropped.
    pub fn cancel_on_drop(self) -> CancelOnDrop<Self> {
        CancelOnDrop::new(self)
    }

    fn arm(&self, generation: u64, delay: Duration) -> DeferRef {
        let me = self.clone();
        crate::timers::defer(move || me.fire(generation), delay)
    }

    /// On the timer's worker: queues the call, unless the defer moved on since.
    fn fire(&self, generation: u64) {
        let mut state = self.state();
        if state.stage != Stage::Waiting || state.generation != generation {
            return;
        }
        state.stage = Stage::Queued;
        drop(state);
        let me = self.clone();
        self.shared
            .queue
            .post(Box::new(move |ui: &UiContext| (me.shared.run)(&me, ui, generation)));
    }

    /// On the UI thread: runs the body, unless cancelled or reset since it was queued.
    /// Whether the body ran.
    fn run_body<F: FnOnce() + 'static>(&self, ui: &UiContext, generation: u64) -> bool {
        let mut state = self.state();
        if state.stage != Stage::Queued || state.generation != generation {
            return false;
        }
        state.stage = Stage::Ran;
        state.timer = None;
        drop(state);
        let canceller = ui.timers().borrow_mut().remove(&self.shared.id);
        drop(canceller);
        let Some(f) = ui.table().take::<F>(self.shared.id) else { return false };
        if let Err(message) = catching(f) {
            tracing::error!(panic = %message, "a UI defer's call panicked");
        }
        true
    }
}

impl Cancel for UiDeferRef {
    fn cancel(&self) {
        UiDeferRef::cancel(self);
    }
}

impl fmt::Debug for UiDeferRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UiDeferRef")
            .field("stage", &self.state().stage)
            .finish()
    }
}

impl UiContext {
    /// Calls `f` once on this thread after `delay`, as [`defer`](crate::defer) does on the
    /// runtime: the runtime's timer keeps the time and the call is queued for the next pump.
    /// [`reset`](UiDeferRef::reset) moves it (the debounce of an autosave) and
    /// [`cancel`](UiDeferRef::cancel) stops it, both also after the timer fired but before the
    /// loop pumped.
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
    /// let saves = Rc::new(Cell::new(0));
    /// let counter = Rc::clone(&saves);
    /// let save = ui.defer(move || counter.set(counter.get() + 1), Duration::from_millis(20));
    /// for _keystroke in 0..5 {
    ///     save.reset(Duration::from_millis(20)); // typing moves the save
    /// }
    /// while !save.has_fired() {
    ///     ui.pump();
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// assert_eq!(saves.get(), 1);
    /// ```
    pub fn defer<F: FnOnce() + 'static>(&self, f: F, delay: Duration) -> UiDeferRef {
        let me = UiDeferRef {
            shared: Arc::new(Shared {
                id: self.table().insert(f),
                queue: Arc::clone(self.queue()),
                run: |me, ui, generation| me.run_body::<F>(ui, generation),
                forget: |ui, id| drop(ui.table().take::<F>(id)),
                state: Mutex::new(State {
                    stage: Stage::Waiting,
                    generation: 0,
                    timer: None,
                }),
            }),
        };
        let timer = me.arm(0, delay);
        me.state().timer = Some(timer);
        let canceller = me.clone();
        self.timers()
            .borrow_mut()
            .insert(me.shared.id, Box::new(move || canceller.cancel()));
        me
    }
}
