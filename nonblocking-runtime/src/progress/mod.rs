//! Progress: a long server function tells its caller how far it got while it runs.
//!
//! The function takes a [`Progress`] as a `#[context]` parameter (never sent as an argument)
//! and [`report`](Progress::report)s any serialisable value; the caller attaches
//! [`on_progress`](crate::AsyncCall::on_progress) to its call. Progress is lossy by design: a
//! handler that is slower than the reports sees the latest value, never a queue, and the last
//! value reaches the handlers before the call's result handlers run.
//!
//! ```
//! use nonblocking_runtime::progress::Progress;
//! use nonblocking_runtime::server_function;
//! use std::sync::{Arc, Mutex};
//!
//! #[server_function]
//! async fn import(rows: u32, #[context] progress: Progress<f32>) -> u32 {
//!     for row in 1..=rows {
//!         tokio::task::yield_now().await; // the work
//!         progress.report(row as f32 / rows as f32);
//!     }
//!     rows
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let bar = Arc::clone(&seen);
//! let imported = call_async_import(100).on_progress(move |done: f32| bar.lock().unwrap().push(done));
//! assert_eq!(imported.await.unwrap(), 100);
//! let seen = seen.lock().unwrap();
//! assert_eq!(seen.last(), Some(&1.0), "the last value arrives before the result");
//! assert!(seen.windows(2).all(|pair| pair[0] < pair[1]), "in order: {seen:?}");
//! # }
//! ```
//!
//! Progress reaches every caller: in this process (typed stubs, calls by name,
//! [`InProcess`](crate::remote::InProcess)), over HTTP and NATS (`call_remote_<name>(&remote,
//! ..).on_progress(..)`: the server sends it as frames, see the guide), and the browser
//! client's `onProgress`.

mod cell;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub(crate) use self::cell::Cell;
use crate::calls::AsyncCall;

/// Reports a running call's progress to its caller: a `#[context]` parameter of a server
/// function. `P` is what it reports (a fraction, a message, a struct of both). Cheap to clone;
/// a report with nobody listening costs a check.
pub struct Progress<P> {
    reporter: Option<Arc<Reporter>>,
    _value: PhantomData<fn(P)>,
}

impl<P: Serialize> Progress<P> {
    /// Sends `value` to the caller's progress handlers, replacing a value they have not seen
    /// yet. A value that cannot be encoded as JSON is dropped (and logged).
    pub fn report(&self, value: P) {
        let Some(reporter) = &self.reporter else { return };
        match serde_json::to_value(&value) {
            Ok(value) => reporter.cell.report(value),
            Err(error) => tracing::warn!(%error, "a progress value could not be encoded as JSON"),
        }
    }

    /// Whether anyone can see the reports (a caller that may attach a handler): a function
    /// may skip computing a costly progress value when not.
    pub fn is_watched(&self) -> bool {
        self.reporter.is_some()
    }

    /// A reporter that reports to nobody: for calling the function directly, in a test.
    pub fn none() -> Self {
        Progress { reporter: None, _value: PhantomData }
    }

    pub(crate) fn from_context(context: &crate::Context) -> Self {
        Progress { reporter: context.progress().cloned(), _value: PhantomData }
    }
}

impl<P> Clone for Progress<P> {
    fn clone(&self) -> Self {
        Progress { reporter: self.reporter.clone(), _value: PhantomData }
    }
}

impl<P> fmt::Debug for Progress<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Progress").field("watched", &self.reporter.is_some()).finish()
    }
}

/// The function's side of a call's progress. When the last one is dropped (the function,
/// its context and every `Progress` handle are done) the last value is delivered: before the
/// call's outcome, which the task publishes after dropping its future.
pub(crate) struct Reporter {
    cell: Arc<Cell>,
}

#[cfg_attr(not(any(feature = "http", feature = "nats")), allow(dead_code))]
impl Reporter {
    /// A value already encoded (a remote function's, arriving in a frame).
    pub(crate) fn report(&self, value: serde_json::Value) {
        self.cell.report(value);
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.cell.close();
    }
}

/// A new progress channel: the reporter for the function's context, the cell for its call.
pub(crate) fn channel() -> (Arc<Reporter>, Arc<Cell>) {
    let cell = Arc::new(Cell::default());
    (Arc::new(Reporter { cell: Arc::clone(&cell) }), cell)
}

/// A call whose function's progress arrives from elsewhere (a transport's frames): `start`
/// gets the reporter to hand them to, and drops it when the call ends.
#[cfg_attr(not(any(feature = "http", feature = "nats")), allow(dead_code))]
pub(crate) fn tracked<T: Send + 'static>(start: impl FnOnce(Arc<Reporter>) -> AsyncCall<T>) -> AsyncCall<T> {
    let (reporter, cell) = channel();
    start(reporter).with_progress(cell)
}

impl<T: Send + 'static> AsyncCall<T> {
    /// Runs `handler` with the call's progress while it runs, on the call's runtime: each value
    /// its function [`report`](Progress::report)s, decoded as `P`, or only the latest when
    /// reports come faster than the handler takes them. The last value arrives before the
    /// call's result and error handlers run. A handler attached while the call runs gets the
    /// latest value reported so far. Attached after the function finished (a quick call can
    /// finish before its caller attaches anything), it runs once, at once in this method, with
    /// the last value, so the result handlers attached after it still run after it. To a call
    /// whose function takes no [`Progress`], or reported nothing, it never runs. A value that
    /// does not decode as `P` is skipped (and logged).
    pub fn on_progress<P, F>(self, mut handler: F) -> Self
    where
        P: DeserializeOwned,
        F: FnMut(P) + Send + 'static,
    {
        if let Some(cell) = self.progress_cell() {
            cell.attach(Box::new(move |value: &serde_json::Value| match P::deserialize(value) {
                Ok(progress) => handler(progress),
                Err(error) => tracing::warn!(%error, "a progress value does not decode as the handler's type"),
            }));
        }
        self
    }
}
