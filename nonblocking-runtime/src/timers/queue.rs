//! One shared timer queue per runtime, behind every [`defer`](crate::defer).
//!
//! A task per pending defer costs ~450 bytes and ~600 ns to create; an entry in a
//! `tokio_util::time::DelayQueue` costs a fraction of both (56 bytes, ~120 ns, measured on
//! our 2-core machine; see BENCHMARKS.md for the defer rows). Each runtime
//! gets one queue and one driver task that pops due entries and spawns their bodies as tasks of
//! their own, so a slow body never delays another timer.
//!
//! Every state change of an entry (pending, fired, cancelled) happens under the queue's lock,
//! so a slot that says "pending" always owns its `Key`: keys are reused once removed, and a stale
//! one must never cancel somebody else's entry. No step between taking an entry out and putting
//! it back can fail: every delay is checked against the queue's reach *before* anything moves.
//!
//! The queue's timer wheel reaches about 795 days past the queue's start; a `DelayQueue` panics
//! beyond. A delay past that reach (or past what the clock can represent, like
//! `Duration::MAX`) means "not in this process's lifetime": the defer is pending without an
//! entry, its body kept in its slot, until it is cancelled or reset within reach. It holds
//! nothing else, and once every handle is gone its body is freed.

use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::time::Instant;
use tokio_util::time::DelayQueue;
use tokio_util::time::delay_queue::Key;
use tracing::Span;

use crate::panic::catching;

/// Above this many vacant slots an emptied queue gives its memory back.
const SHRINK_ABOVE: usize = 64;
/// At most this many due entries are taken per lock, so one burst cannot starve the callers.
const FIRE_BATCH: usize = 256;
/// How far past its start a `DelayQueue` can schedule (its wheel: 6 levels of 64 slots of
/// 1 ms), less a day of margin for its rounding.
const QUEUE_REACH: Duration =
    Duration::from_millis((1 << 36) - 1).saturating_sub(Duration::from_secs(24 * 3600));

/// The queue of one runtime.
pub(crate) struct TimerQueue {
    runtime: Handle,
    /// `false` for a runtime built without the time driver: every defer is cancelled at once.
    has_time_driver: bool,
    /// The end of the `DelayQueue`'s reach, on the runtime's clock: [`QUEUE_REACH`] past its
    /// start. Kept as an instant so that checking a deadline is one comparison.
    reach_end: Instant,
    state: Mutex<QueueState>,
}

struct QueueState {
    /// `None` once the driver is gone with its runtime: the queue is closed, and a slot still
    /// marked pending is in fact cancelled.
    delays: Option<DelayQueue<Entry>>,
}

struct Entry {
    body: Box<dyn FnOnce() + Send>,
    slot: Arc<Slot>,
    /// The caller's span, boxed so that the common case (no subscriber) costs one pointer.
    span: Option<Box<Span>>,
}

/// One defer's side of its entry: where it stands and, while pending, its key in the queue.
pub(crate) struct Slot {
    queue: Arc<TimerQueue>,
    state: Mutex<SlotState>,
}

enum SlotState {
    Pending(Key),
    /// Pending with a deadline beyond the queue's reach: never due, until reset within reach.
    Waiting {
        body: Box<dyn FnOnce() + Send>,
        span: Option<Box<Span>>,
    },
    Fired,
    Cancelled,
}

/// What a defer is doing, as its handle reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    Pending,
    Fired,
    Cancelled,
}

thread_local! {
    /// The queue this thread used last. A queue whose runtime is gone stays here until the
    /// thread uses another runtime; it is closed by then, so it holds no entries.
    static LAST_QUEUE: std::cell::RefCell<Option<Arc<TimerQueue>>> = const { std::cell::RefCell::new(None) };
}

/// Every live queue, one per runtime. Few runtimes exist at once, so a list beats a map.
static QUEUES: Mutex<Vec<Arc<TimerQueue>>> = Mutex::new(Vec::new());

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No user code runs under our locks, so a poisoned one still holds consistent data.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TimerQueue {
    /// The queue of `runtime`, starting it (and its driver) on first use.
    pub(crate) fn of(runtime: &Handle) -> Arc<TimerQueue> {
        // Most defers come from the thread that made the last one, for the same runtime: a
        // per-thread cache spares them the process-wide lock.
        let id = runtime.id();
        let cached = LAST_QUEUE.with(|last| {
            let last = last.borrow();
            last.as_ref().filter(|queue| queue.runtime.id() == id).cloned()
        });
        if let Some(queue) = cached {
            return queue;
        }
        let queue = Self::lookup_or_start(runtime);
        LAST_QUEUE.with(|last| *last.borrow_mut() = Some(Arc::clone(&queue)));
        queue
    }

    fn lookup_or_start(runtime: &Handle) -> Arc<TimerQueue> {
        let id = runtime.id();
        let mut queues = lock(&QUEUES);
        if let Some(queue) = queues.iter().find(|queue| queue.runtime.id() == id) {
            return Arc::clone(queue);
        }
        let has_time_driver = crate::runtime::has_time_driver(runtime);
        let queue = {
            // The queue reads the runtime's clock, which may be a paused test clock.
            let _clock = runtime.enter();
            // An instant ~795 days on fits every clock tokio runs on.
            let started = Instant::now();
            Arc::new(TimerQueue {
                runtime: runtime.clone(),
                has_time_driver,
                reach_end: started.checked_add(QUEUE_REACH).unwrap_or(started),
                state: Mutex::new(QueueState {
                    delays: Some(DelayQueue::new()),
                }),
            })
        };
        queues.push(Arc::clone(&queue));
        drop(queues);
        // The guard is built out here so that even a driver dropped unpolled (a runtime already
        // shutting down) closes the queue and unregisters it.
        let close = CloseOnDrop(Arc::clone(&queue));
        drop(runtime.spawn(drive(close)));
        queue
    }

    /// Schedules `body` to run after `delay`.
    pub(crate) fn insert(
        self: &Arc<Self>,
        body: Box<dyn FnOnce() + Send>,
        delay: Duration,
    ) -> Arc<Slot> {
        let span = Span::current();
        let span = (!span.is_none()).then(|| Box::new(span));
        let slot = Arc::new(Slot {
            queue: Arc::clone(self),
            state: Mutex::new(SlotState::Cancelled),
        });
        let entry = Entry {
            body,
            slot: Arc::clone(&slot),
            span,
        };
        let _clock = self.runtime.enter();
        let deadline = self.deadline_within_reach(delay);
        let mut state = lock(&self.state);
        match (&mut state.delays, deadline) {
            // No time driver: nothing could ever fire it. The slot stays cancelled.
            (Some(_), _) if !self.has_time_driver => {
                drop(state);
                drop(entry);
            }
            (Some(delays), Some(deadline)) => {
                let key = delays.insert_at(entry, deadline);
                *lock(&slot.state) = SlotState::Pending(key);
            }
            (Some(_), None) => {
                *lock(&slot.state) = SlotState::Waiting {
                    body: entry.body,
                    span: entry.span,
                };
            }
            (None, _) => {
                drop(state);
                drop(entry);
            }
        }
        slot
    }

    /// The deadline `delay` from now, if it is within the queue's reach; call with the
    /// runtime's clock entered. The clock is read once: the queue is given the deadline, not
    /// the delay, so it does not read it again.
    fn deadline_within_reach(&self, delay: Duration) -> Option<Instant> {
        Instant::now()
            .checked_add(delay)
            .filter(|deadline| *deadline < self.reach_end)
    }

    fn poll_due(&self, cx: &mut Context<'_>, due: &mut Vec<Entry>) -> Poll<()> {
        let mut state = lock(&self.state);
        let Some(delays) = &mut state.delays else {
            return Poll::Pending;
        };
        while due.len() < FIRE_BATCH {
            match delays.poll_expired(cx) {
                Poll::Ready(Some(expired)) => {
                    let entry = expired.into_inner();
                    *lock(&entry.slot.state) = SlotState::Fired;
                    due.push(entry);
                }
                // Empty: the queue keeps our waker and an insert wakes us.
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        state.shrink_if_empty();
        if due.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }

    fn close(&self) {
        // Taken whole rather than emptied entry by entry: removing entries would reset the
        // queue's timer, which belongs to a runtime that is shutting down.
        let delays = lock(&self.state).delays.take();
        // Bodies are user closures: dropped without our lock held.
        drop(delays);
    }
}

impl QueueState {
    fn shrink_if_empty(&mut self) {
        if let Some(delays) = &mut self.delays {
            if delays.is_empty() && delays.capacity() > SHRINK_ABOVE {
                delays.shrink_to_fit();
            }
        }
    }
}

impl Slot {
    pub(crate) fn stage(&self) -> Stage {
        let state = lock(&self.queue.state);
        match *lock(&self.state) {
            SlotState::Pending(_) | SlotState::Waiting { .. } if state.delays.is_none() => {
                Stage::Cancelled
            }
            SlotState::Pending(_) | SlotState::Waiting { .. } => Stage::Pending,
            SlotState::Fired => Stage::Fired,
            SlotState::Cancelled => Stage::Cancelled,
        }
    }

    /// Removes the entry if it is still pending; `true` if it was.
    pub(crate) fn cancel(&self) -> bool {
        let queue = &self.queue;
        let _clock = queue.runtime.enter();
        let mut state = lock(&queue.state);
        let mut slot = lock(&self.state);
        let previous = std::mem::replace(&mut *slot, SlotState::Cancelled);
        drop(slot);
        let body: Option<Box<dyn std::any::Any + Send>> = match previous {
            SlotState::Pending(key) => match &mut state.delays {
                Some(delays) => {
                    let entry = delays.remove(&key).into_inner();
                    state.shrink_if_empty();
                    Some(Box::new(entry))
                }
                None => return false,
            },
            SlotState::Waiting { body, span } => Some(Box::new((body, span))),
            done @ (SlotState::Fired | SlotState::Cancelled) => {
                *lock(&self.state) = done;
                return false;
            }
        };
        drop(state);
        // The body is a user closure: dropped without our locks held.
        drop(body);
        true
    }

    /// Moves a pending entry to fire `delay` from now; `false` if it already fired or was
    /// cancelled. A delay beyond the queue's reach keeps it pending without a deadline.
    pub(crate) fn reset(self: &Arc<Self>, delay: Duration) -> bool {
        let queue = &self.queue;
        let _clock = queue.runtime.enter();
        // Decided before anything moves: nothing below can fail.
        let deadline = queue.deadline_within_reach(delay);
        let mut state = lock(&queue.state);
        let Some(delays) = &mut state.delays else {
            return false;
        };
        let mut slot = lock(&self.state);
        let previous = std::mem::replace(&mut *slot, SlotState::Cancelled);
        *slot = match (previous, deadline) {
            (SlotState::Pending(key), Some(deadline)) => {
                delays.reset_at(&key, deadline);
                SlotState::Pending(key)
            }
            (SlotState::Pending(key), None) => {
                let entry = delays.remove(&key).into_inner();
                SlotState::Waiting {
                    body: entry.body,
                    span: entry.span,
                }
            }
            (SlotState::Waiting { body, span }, Some(deadline)) => {
                let entry = Entry {
                    body,
                    slot: Arc::clone(self),
                    span,
                };
                SlotState::Pending(delays.insert_at(entry, deadline))
            }
            (waiting @ SlotState::Waiting { .. }, None) => waiting,
            (done @ (SlotState::Fired | SlotState::Cancelled), _) => {
                *slot = done;
                return false;
            }
        };
        true
    }
}

/// The driver: pops due entries and spawns each body as a task of its own.
async fn drive(close: CloseOnDrop) {
    let queue = &close.0;
    let mut due = Vec::new();
    loop {
        poll_fn(|cx| queue.poll_due(cx, &mut due)).await;
        for entry in due.drain(..) {
            drop(queue.runtime.spawn(run(entry.body, entry.span)));
        }
    }
}

async fn run(body: Box<dyn FnOnce() + Send>, span: Option<Box<Span>>) {
    let _entered = span.as_deref().map(Span::enter);
    if let Err(message) = catching(body) {
        tracing::error!(panic = %message, "a deferred call panicked");
    }
}

/// Closes and unregisters the queue when its driver goes away with its runtime.
struct CloseOnDrop(Arc<TimerQueue>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
        let mut queues = lock(&QUEUES);
        queues.retain(|queue| !Arc::ptr_eq(queue, &self.0));
    }
}
