//! The `Send` half of a [`UiContext`](super::UiContext): the queue other threads post work to,
//! the wake-up that tells the UI loop to pump, and [`UiHandle`], which reaches both.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use atomic_waker::AtomicWaker;

use super::UiContext;

/// Work for the UI thread: it runs there, during a pump, with the context that owns the
/// `!Send` parts (handlers, timer bodies).
/// A job for the UI thread; it returns whether it ran the app's own code (a handler, a timer
/// body, a posted closure), which is what [`UiContext::pump`](super::UiContext::pump) counts.
pub(crate) type Job = Box<dyn FnOnce(&UiContext) -> bool + Send>;

pub(crate) struct Queue {
    jobs: Mutex<VecDeque<Job>>,
    /// A wake-up was sent since the last pump began: later posts join that batch instead of
    /// waking the loop again.
    awake: AtomicBool,
    /// The context is gone: posts are dropped, never queued.
    closed: AtomicBool,
    wake: Box<dyn Fn() + Send + Sync>,
    /// The task of [`UiContext::run`], when an async loop drives the context.
    waker: AtomicWaker,
}

impl Queue {
    pub(crate) fn new(wake: Box<dyn Fn() + Send + Sync>) -> Arc<Self> {
        Arc::new(Queue {
            jobs: Mutex::new(VecDeque::new()),
            awake: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            wake,
            waker: AtomicWaker::new(),
        })
    }

    pub(crate) fn jobs(&self) -> MutexGuard<'_, VecDeque<Job>> {
        // A job never runs under the lock, so a poisoned lock only means a panic elsewhere
        // between push and unlock, which cannot leave the deque half-changed.
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job` and wakes the loop if no wake-up is outstanding. `false` (and the job
    /// dropped here, outside the lock) once the context is gone.
    pub(crate) fn post(&self, job: Job) -> bool {
        let posted = self.post_quietly(job);
        if posted {
            self.wake_once();
        }
        posted
    }

    /// Queues `job` without waking the loop: housekeeping (forgetting a closure that will
    /// never run) that can wait for the next pump.
    pub(crate) fn post_quietly(&self, job: Job) -> bool {
        {
            let mut jobs = self.jobs();
            // Checked under the lock the context closes under: no job slips in after the
            // context drained the queue.
            if self.closed.load(Ordering::Acquire) {
                drop(jobs);
                drop(job);
                return false;
            }
            jobs.push_back(job);
        }
        true
    }

    fn wake_once(&self) {
        if !self.awake.swap(true, Ordering::AcqRel) {
            self.wake_now();
        }
    }

    pub(crate) fn wake_now(&self) {
        (self.wake)();
        self.waker.wake();
    }

    /// A pump begins: posts from now on wake the loop again.
    pub(crate) fn rearm(&self) {
        self.awake.store(false, Ordering::Release);
    }

    /// Closes the queue and hands back what was still queued, for the caller to drop.
    pub(crate) fn close(&self) -> VecDeque<Job> {
        let mut jobs = self.jobs();
        self.closed.store(true, Ordering::Release);
        std::mem::take(&mut *jobs)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn register(&self, waker: &std::task::Waker) {
        self.waker.register(waker);
    }
}

/// The `Send` handle to a [`UiContext`](super::UiContext): any thread may post work to the UI
/// thread with it, or wake the loop. Cloning it is cheap.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::ui::UiContext;
///
/// let ui = UiContext::new(|| {});
/// let handle = ui.handle();
/// std::thread::spawn(move || handle.post(|| println!("on the UI thread")))
///     .join()
///     .unwrap();
/// assert_eq!(ui.pump(), 1);
/// ```
#[derive(Clone)]
pub struct UiHandle {
    pub(crate) queue: Arc<Queue>,
}

impl UiHandle {
    /// Runs `f` on the UI thread at its next pump, after everything queued before it. Returns
    /// `false`, and drops `f` unrun, once the context is gone.
    pub fn post(&self, f: impl FnOnce() + Send + 'static) -> bool {
        self.queue.post(Box::new(move |_| {
            f();
            true
        }))
    }

    /// Calls the context's wake callback (and wakes [`UiContext::run`]), even when nothing is
    /// queued: for apps that change shared state by other means and want a repaint.
    pub fn wake(&self) {
        self.queue.wake_now();
    }

    /// `true` once the context was dropped: posts are then dropped unrun.
    pub fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }
}

impl fmt::Debug for UiHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UiHandle")
            .field("queued", &self.queue.jobs().len())
            .field("closed", &self.is_closed())
            .finish()
    }
}
