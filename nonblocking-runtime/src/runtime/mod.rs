//! Which tokio runtime a call, repeat or defer runs on.
//!
//! Inside a runtime, the current one. Outside any (a plain `fn main`, a GUI thread), the runtime
//! pinned with [`set_runtime`], or else one shared background runtime started on first use.

mod driver_check;

pub(crate) use self::driver_check::has_time_driver;

use std::cell::Cell;
use std::sync::OnceLock;

use std::future::Future;

use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;

/// Where calls made outside any runtime go: decided once, by `set_runtime` or by the first
/// such call (which picks the background runtime), whichever comes first. One `OnceLock`, so
/// the decision and its first use are one atomic step.
static CHOSEN: OnceLock<Handle> = OnceLock::new();
static BACKGROUND: OnceLock<Runtime> = OnceLock::new();

/// Why [`set_runtime`] refused.
///
/// # Examples
///
/// ```standalone_crate
/// use nonblocking_runtime::calls::SetRuntimeError;
/// use nonblocking_runtime::{call_async, set_runtime};
///
/// // Once something ran outside a runtime, the choice is made.
/// call_async(async {}).wait().unwrap();
/// let late = tokio::runtime::Runtime::new().unwrap();
/// assert!(matches!(set_runtime(late.handle().clone()), Err(SetRuntimeError::AlreadyInUse)));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetRuntimeError {
    /// A runtime was already pinned, or the background runtime already started.
    #[error(
        "set_runtime must be called before the first call made outside a runtime: a runtime is already in use there"
    )]
    AlreadyInUse,
}

/// Pins the runtime that calls, repeats and defers made *outside* any tokio runtime run on,
/// instead of the background runtime this crate would otherwise start on first use.
///
/// Code running inside a runtime always uses that runtime, pinned or not, so that a test's
/// paused clock or an app's own runtime is never bypassed.
///
/// Call it once, before the first such call; afterwards it returns
/// [`SetRuntimeError::AlreadyInUse`].
///
/// # Examples
///
/// ```standalone_crate
/// let runtime = tokio::runtime::Builder::new_multi_thread()
///     .worker_threads(1)
///     .enable_time()
///     .build()
///     .unwrap();
/// nonblocking_runtime::set_runtime(runtime.handle().clone()).unwrap();
///
/// // From a thread with no runtime of its own, the call runs on `runtime`.
/// let call = nonblocking_runtime::call_async(async { tokio::runtime::Handle::current().id() });
/// assert_eq!(call.wait().unwrap(), runtime.handle().id());
/// ```
pub fn set_runtime(handle: Handle) -> Result<(), SetRuntimeError> {
    let mut pinned = false;
    CHOSEN.get_or_init(|| {
        pinned = true;
        handle
    });
    if pinned {
        Ok(())
    } else {
        Err(SetRuntimeError::AlreadyInUse)
    }
}

/// The runtime a call made here runs on.
pub(crate) fn handle() -> Handle {
    Handle::try_current().unwrap_or_else(|_| fallback().clone())
}

/// Spawns on the runtime a call made here runs on. Inside a task this is `tokio::spawn`, which
/// reaches the runtime without cloning its handle (a contended reference count).
#[inline]
pub(crate) fn spawn<F>(task: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if tokio::task::try_id().is_some() {
        tokio::spawn(task)
    } else {
        handle().spawn(task)
    }
}

/// [`spawn`] for the blocking pool. The closure runs marked as on the blocking pool, where
/// `wait()` may block even under a current-thread runtime.
pub(crate) fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let f = move || {
        let _marked = BlockingMark::enter();
        f()
    };
    if tokio::task::try_id().is_some() {
        tokio::task::spawn_blocking(f)
    } else {
        handle().spawn_blocking(f)
    }
}

thread_local! {
    static ON_BLOCKING_POOL: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as running one of our blocking closures, until dropped.
struct BlockingMark(bool);

impl BlockingMark {
    fn enter() -> Self {
        BlockingMark(ON_BLOCKING_POOL.replace(true))
    }
}

impl Drop for BlockingMark {
    fn drop(&mut self) {
        ON_BLOCKING_POOL.set(self.0);
    }
}

/// Whether this thread is one of a runtime's blocking-pool threads, where blocking is safe, as
/// opposed to the thread that drives a current-thread runtime (tokio answers neither question
/// publicly: both have the runtime's handle). Our own blocking closures are marked; a closure
/// given to tokio's `spawn_blocking` directly is recognised by the name tokio gives its threads
/// unless the runtime's builder set another.
pub(crate) fn on_blocking_pool() -> bool {
    ON_BLOCKING_POOL.get()
        || matches!(
            std::thread::current().name(),
            Some("tokio-rt-worker" | "tokio-runtime-worker")
        )
}

/// The background runtime, started on first use.
fn background() -> &'static Handle {
    BACKGROUND.get_or_init(start_background).handle()
}

/// Runs `task` on the background runtime, starting it if need be: where work goes that its own
/// runtime dropped unrun while shutting down (a handler's delivery, a watcher), so that every
/// handler still runs exactly once, in a task. However many are rescued at once, they share
/// the background runtime's two threads: never a thread each.
pub(crate) fn rescue<F>(task: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let background = match BACKGROUND.get() {
        Some(runtime) => runtime.handle(),
        // Rescues come from drops that tokio's shutdown runs, where this thread's runtime
        // context is in use and building a runtime here would panic: build it on a thread of
        // its own, once per process.
        None => std::thread::spawn(background)
            .join()
            .unwrap_or_else(|_| panic!("nonblocking: could not start the background runtime")),
    };
    drop(background.spawn(task));
}

fn fallback() -> &'static Handle {
    CHOSEN.get_or_init(|| background().clone())
}

fn start_background() -> Runtime {
    // Two workers: enough to keep handlers and timers moving while one worker runs a slow body,
    // without competing with the application for every core.
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2).thread_name("nonblocking-background").enable_time();
    // Remote calls open connections from the background runtime too.
    #[cfg(any(feature = "http", feature = "nats"))]
    builder.enable_io();
    builder
        .build()
        .unwrap_or_else(|error| {
            // Only fails when the OS refuses threads; nothing sensible can continue.
            panic!("nonblocking: could not start the background runtime: {error}")
        })
}
