//! Starting calls: async futures on the workers, sync closures on the blocking pool.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tracing::{Instrument, Span};

use super::AsyncCall;
use super::state::{Outcome, TaskOutcome};
use crate::errors::{BoxError, CallError, SharedError};
use crate::runtime;

/// Runs `future` without blocking the caller and returns the handle to its outcome.
///
/// The future runs on the current tokio runtime, or outside any runtime on the pinned or
/// background one (see [`set_runtime`](crate::set_runtime)), inside the caller's `tracing` span
/// and its [`Context`](crate::Context) (what [`Context::current`](crate::Context::current) is where
/// `call_async` is called).
/// A panic becomes [`CallError::Panicked`]. For work that returns `Result`, use
/// [`try_call_async`] so that `Err` becomes the call's failure.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::call_async;
///
/// // Fire and forget: the handle may be dropped, the call goes on.
/// call_async(async { println!("saving in the background") });
///
/// // Or keep the handle for the outcome.
/// let call = call_async(async { 1 + 1 });
/// assert_eq!(call.wait().unwrap(), 2);
/// ```
#[inline]
pub fn call_async<F>(future: F) -> AsyncCall<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    spawn_task(IntoOutcome { future, kind: Value })
}

/// [`call_async`] for work that returns `Result<T, E>`: `Ok(v)` is the call's value and
/// `Err(e)` its failure, seen by error handlers as [`CallError::Failed`] (get `e` back with
/// [`CallError::downcast_ref`]).
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::try_call_async;
///
/// let call = try_call_async(async { "42".parse::<u32>() });
/// assert_eq!(call.wait().unwrap(), 42);
///
/// let call = try_call_async(async { "forty-two".parse::<u32>() });
/// let error = call.wait().unwrap_err();
/// assert!(error.downcast_ref::<std::num::ParseIntError>().is_some());
/// ```
pub fn try_call_async<F, T, E>(future: F) -> AsyncCall<T>
where
    F: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Into<BoxError>,
{
    spawn_task(IntoOutcome { future, kind: ValueOrFailure })
}

/// Runs a synchronous closure on tokio's blocking pool, so it never stalls the async workers,
/// and returns the handle to its outcome.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::call_blocking;
///
/// let call = call_blocking(|| std::thread::sleep(std::time::Duration::from_millis(5)));
/// call.wait().unwrap();
/// ```
pub fn call_blocking<F, T>(f: F) -> AsyncCall<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_closure(f, Ok)
}

/// [`call_blocking`] for work that returns `Result<T, E>`; see [`try_call_async`].
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::try_call_blocking;
///
/// let call = try_call_blocking(|| std::fs::read_to_string("/no/such/file"));
/// let error = call.wait().unwrap_err();
/// assert!(error.downcast_ref::<std::io::Error>().is_some());
/// ```
pub fn try_call_blocking<F, T, E>(f: F) -> AsyncCall<T>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: Into<BoxError> + 'static,
{
    spawn_closure(f, failure_of)
}

/// Runs a future whose `Err` is already the call's error (calls by name).
pub(crate) fn call_with_outcome<F, T>(future: F) -> AsyncCall<T>
where
    F: Future<Output = Outcome<T>> + Send + 'static,
    T: Send + 'static,
{
    spawn_task(IntoOutcome { future, kind: Outcomes })
}

/// What a call's work returns, and the outcome that stands for it.
trait OutcomeKind<O> {
    type Value;
    fn outcome(output: O) -> Outcome<Self::Value>;
}

/// Work that cannot fail: what it returns is the call's value.
struct Value;

impl<T> OutcomeKind<T> for Value {
    type Value = T;

    #[inline]
    fn outcome(output: T) -> Outcome<T> {
        Ok(output)
    }
}

/// Work that returns `Result<T, E>`: `Err(e)` is the call's failure.
struct ValueOrFailure;

impl<T, E: Into<BoxError>> OutcomeKind<Result<T, E>> for ValueOrFailure {
    type Value = T;

    #[inline]
    fn outcome(output: Result<T, E>) -> Outcome<T> {
        failure_of(output)
    }
}

pin_project_lite::pin_project! {
    /// A future whose output stands for a call's outcome as `K` says: a struct rather than an
    /// `async` block, so that the task polls it with no state of its own to check.
    struct IntoOutcome<F, K> {
        #[pin]
        future: F,
        kind: K,
    }
}

impl<F: Future, K: OutcomeKind<F::Output>> Future for IntoOutcome<F, K> {
    type Output = TaskOutcome<K::Value>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().future.poll(cx).map(|output| K::outcome(output).map_err(Box::new))
    }
}

/// A future of a call's outcome whose error is boxed for its task (see [`TaskOutcome`]).
struct Outcomes;

impl<T> OutcomeKind<Outcome<T>> for Outcomes {
    type Value = T;

    #[inline]
    fn outcome(output: Outcome<T>) -> Outcome<T> {
        output
    }
}

fn failure_of<T, E: Into<BoxError>>(output: Result<T, E>) -> Outcome<T> {
    output.map_err(|error| CallError::Failed(SharedError::from(error.into())))
}

/// Spawns a task whose output is the outcome; tokio catches a panic (see `join::outcome_of`).
/// The task runs in the caller's [`Context`](crate::Context), when it has one.
#[inline]
fn spawn_task<F, T>(task: F) -> AsyncCall<T>
where
    F: Future<Output = TaskOutcome<T>> + Send + 'static,
    T: Send + 'static,
{
    match crate::context::Context::current_if_set() {
        None => spawn_traced(task),
        Some(context) => spawn_traced(context.scope(task)),
    }
}

#[inline]
fn spawn_traced<F, T>(task: F) -> AsyncCall<T>
where
    F: Future<Output = TaskOutcome<T>> + Send + 'static,
    T: Send + 'static,
{
    // Entering a span on every poll costs time on the hottest path; without any subscriber
    // there is no span to enter.
    if tracing::dispatcher::has_been_set() {
        let span = Span::current();
        AsyncCall::spawned(runtime::spawn(task.instrument(span.clone())), span)
    } else {
        AsyncCall::spawned(runtime::spawn(task), Span::none())
    }
}

fn spawn_closure<F, R, T>(f: F, into_outcome: fn(R) -> Outcome<T>) -> AsyncCall<T>
where
    F: FnOnce() -> R + Send + 'static,
    R: 'static,
    T: Send + 'static,
{
    let span = Span::current();
    let inside = span.clone();
    let context = crate::context::Context::current_if_set();
    let task = runtime::spawn_blocking(move || {
        let _entered = inside.enter();
        into_outcome(match context {
            None => f(),
            Some(context) => context.sync_scope(f),
        })
        .map_err(Box::new)
    });
    AsyncCall::spawned(task, span)
}
