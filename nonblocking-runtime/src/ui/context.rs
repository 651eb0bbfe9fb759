//! [`UiContext`]: the UI thread's end of the queue, which its loop pumps.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;

use super::pending::Pending;
use super::queue::{Job, Queue, UiHandle};
use super::table::Table;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::errors::panic_message;

/// The UI thread's context: handlers attached with [`on_result_ui`](crate::AsyncCall::on_result_ui)
/// and [`on_error_ui`](crate::AsyncCall::on_error_ui), and the bodies of
/// [`repeat`](Self::repeat) and [`defer`](Self::defer), run here, on the thread that owns it,
/// when its loop calls [`pump`](Self::pump). They need not be `Send`: they may capture
/// `Rc<RefCell<AppState>>`.
///
/// Make it on the UI thread with a *wake* callback, which any thread may call when work is
/// queued: egui's `ctx.request_repaint()`, winit's `EventLoopProxy::send_event`, a glib
/// channel. It is called once per batch: while the loop has not pumped since the last wake-up,
/// more work joins that batch without calling it again.
///
/// The context is `!Send`, so it cannot be pumped from another thread; what other threads
/// need goes through its [`handle`](Self::handle).
///
/// Dropping it (the window closed) cancels its timers and drops whatever is queued or kept,
/// unrun, on this thread. Calls keep their own fate: they run on, and their other handlers
/// still run.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::call_async;
/// use nonblocking_runtime::ui::UiContext;
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let ui = UiContext::new(|| { /* egui: ctx.request_repaint() */ });
/// let status = Rc::new(RefCell::new(String::new()));
///
/// let shown = Rc::clone(&status);
/// let call = call_async(async { 6 * 7 })
///     .on_result_ui(&ui, move |answer| *shown.borrow_mut() = format!("got {answer}"));
/// call.wait().unwrap(); // the call is done; its UI handler waits for the pump
///
/// assert_eq!(*status.borrow(), "");
/// ui.pump(); // the loop does this on each turn
/// assert_eq!(*status.borrow(), "got 42");
/// ```
pub struct UiContext {
    queue: Arc<Queue>,
    /// Behind an `Rc`: what makes the context `!Send`, in one place (one clear compile error).
    local: Rc<Local>,
}

/// The live timers of a context, by id, each with what cancels it.
pub(crate) type Timers = HashMap<u64, Box<dyn Fn()>>;

/// What only the UI thread touches.
pub(crate) struct Local {
    pub(crate) table: Table,
    /// Live timers, cancelled when the context goes.
    pub(crate) timers: RefCell<Timers>,
    /// The emptied deque of the last pump, kept for its capacity: pumping allocates nothing.
    spare: RefCell<VecDeque<Job>>,
    pumping: Cell<bool>,
}

impl UiContext {
    /// A context for the current thread; `wake` is called (from any thread) when work is
    /// queued for it. An async loop driving it with [`run`](Self::run) can pass `|| {}`.
    pub fn new(wake: impl Fn() + Send + Sync + 'static) -> Self {
        UiContext {
            queue: Queue::new(Box::new(wake)),
            local: Rc::new(Local {
                table: Table::default(),
                timers: RefCell::new(HashMap::new()),
                spare: RefCell::new(VecDeque::new()),
                pumping: Cell::new(false),
            }),
        }
    }

    /// The `Send` handle: other threads post work and wake the loop through it.
    pub fn handle(&self) -> UiHandle {
        UiHandle {
            queue: Arc::clone(&self.queue),
        }
    }

    /// Runs everything queued so far, in the order it was queued, and returns how many of the
    /// app's own closures ran (handlers, timer bodies, posted closures): zero when the pump
    /// only cleaned up after handlers that will never run, so an app that repaints on a
    /// non-zero count repaints only for real work. Work queued while it runs (a handler attached by a handler) waits for the next
    /// pump, whose wake-up it has already asked for: one pump never runs forever.
    ///
    /// Called from inside a handler or timer body it runs nothing and returns 0: handlers never
    /// run inside one another.
    ///
    /// A panicking handler is logged through `tracing`, like any handler's, and the pump goes
    /// on with the next.
    pub fn pump(&self) -> usize {
        let local = &*self.local;
        if local.pumping.replace(true) {
            return 0;
        }
        let _done = Reset(&local.pumping);
        self.queue.rearm();
        let mut batch = local.spare.take();
        std::mem::swap(&mut batch, &mut *self.queue.jobs());
        let mut ran = 0;
        for job in batch.drain(..) {
            match catch_unwind(AssertUnwindSafe(|| job(self))) {
                Ok(true) => ran += 1,
                Ok(false) => {}
                Err(payload) => {
                    ran += 1;
                    tracing::error!(
                        panic = %panic_message(&*payload),
                        "a closure run by UiContext::pump panicked (a `_ui` handler or a `UiHandle::post` closure); the pump goes on"
                    );
                }
            }
        }
        *local.spare.borrow_mut() = batch;
        ran
    }

    /// Drives the context from an async loop on this thread (a tokio `LocalSet`, a `futures`
    /// local executor): pumps whenever work is queued, forever. Drop the future to stop.
    ///
    /// # Examples
    ///
    /// ```
    /// use nonblocking_runtime::call_async;
    /// use nonblocking_runtime::ui::UiContext;
    /// use std::rc::Rc;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let ui = Rc::new(UiContext::new(|| {}));
    /// let local = tokio::task::LocalSet::new();
    /// local.spawn_local({
    ///     let ui = Rc::clone(&ui);
    ///     async move { ui.run().await }
    /// });
    /// let (tx, rx) = tokio::sync::oneshot::channel();
    /// let _call = call_async(async { "saved" }).on_result_ui(&ui, move |message| {
    ///     tx.send(message.to_string()).unwrap();
    /// });
    /// assert_eq!(local.run_until(rx).await.unwrap(), "saved");
    /// # }
    /// ```
    pub async fn run(&self) {
        loop {
            self.pump();
            poll_fn(|cx| {
                self.queue.register(cx.waker());
                if self.queue.jobs().is_empty() {
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await;
        }
    }

    /// Keeps `f` here until the job that runs (or forgets) it arrives.
    pub(crate) fn keep<F: 'static>(&self, f: F) -> Pending<F> {
        Pending::new(self.local.table.insert(f), Arc::clone(&self.queue))
    }

    pub(crate) fn table(&self) -> &Table {
        &self.local.table
    }

    pub(crate) fn timers(&self) -> &RefCell<Timers> {
        &self.local.timers
    }

    pub(crate) fn queue(&self) -> &Arc<Queue> {
        &self.queue
    }
}

impl Drop for UiContext {
    fn drop(&mut self) {
        // Closed first, so nothing queued from here on; then dropped unrun, on this thread.
        drop(self.queue.close());
        for (_, cancel) in self.local.timers.take() {
            cancel();
        }
        self.local.table.clear();
    }
}

impl fmt::Debug for UiContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UiContext")
            .field("queued", &self.queue.jobs().len())
            .field("timers", &self.local.timers.borrow().len())
            .field("pumping", &self.local.pumping.get())
            .finish()
    }
}

/// Ends a pump, even one a panicking job left (the panic is caught, but be sure).
struct Reset<'a>(&'a Cell<bool>);

impl Drop for Reset<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}
