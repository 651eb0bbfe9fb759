//! [`Mock`]: a transport that answers chosen names with closures and records every call, for
//! testing code that calls server functions without running them.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

use serde_json::Value;

use super::{Body, Decode, ReadProgress, Transport, sealed};
use crate::items::{CallValue, Reply};
use crate::calls::{AsyncCall, call_with_outcome};
use crate::errors::CallError;

type Answerer = Arc<dyn Fn(Value) -> Result<Value, CallError> + Send + Sync>;

/// A transport whose answers you write: each name answers with a closure of the call's
/// arguments (as JSON, in the form they travel: an array for positional arguments, an object by
/// keyword), and every call is recorded, answered or not. A name without an answer fails with
/// [`CallError::NotFound`]. Clones share the answers and the record.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::remote::{Mock, Transport};
/// use serde_json::json;
///
/// /// The code under test: it only knows a transport.
/// async fn total(remote: &impl Transport) -> i64 {
///     remote.call_async_by_name::<i64>("add", (40, 2)).await.unwrap()
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mock = Mock::new();
/// mock.answer("add", |args| {
///     let (a, b): (i64, i64) = serde_json::from_value(args).unwrap();
///     Ok(a + b)
/// });
/// assert_eq!(total(&mock).await, 42);
/// assert_eq!(mock.calls()[0].args, json!([40, 2]));
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Mock {
    answers: Arc<Mutex<HashMap<String, Answerer>>>,
    calls: Arc<Mutex<Vec<MockCall>>>,
}

/// One call a [`Mock`] got.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MockCall {
    /// The function's name.
    pub name: String,
    /// Its arguments as they travel (`null` for none).
    pub args: Value,
}

impl Mock {
    /// A mock with no answers.
    pub fn new() -> Self {
        Mock::default()
    }

    /// Answers calls of `name` with `answer` (replacing an earlier answer): its `Ok` value is
    /// the call's value, its `Err` the call's error (such as a [`CallError::Rejected`] to stand
    /// for a refusal).
    pub fn answer<T: Serialize>(&self, name: &str, answer: impl Fn(Value) -> Result<T, CallError> + Send + Sync + 'static) -> &Self {
        let owned = name.to_owned();
        let answerer: Answerer = Arc::new(move |args| {
            let value = answer(args)?;
            serde_json::to_value(value).map_err(|error| CallError::invalid_result(&owned, error.to_string()))
        });
        lock(&self.answers).insert(name.to_owned(), answerer);
        self
    }

    /// Every call so far, in the order they were made.
    pub fn calls(&self) -> Vec<MockCall> {
        lock(&self.calls).clone()
    }

    /// The calls of `name` so far.
    pub fn calls_of(&self, name: &str) -> Vec<MockCall> {
        lock(&self.calls).iter().filter(|call| call.name == name).cloned().collect()
    }

    /// Calls `name` without waiting; see [`Transport::call_async_by_name`].
    pub fn call_async_by_name<R: CallValue>(&self, name: &str, args: impl Serialize) -> AsyncCall<R> {
        Transport::call_async_by_name(self, name, args)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for Mock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<String> = lock(&self.answers).keys().cloned().collect();
        names.sort();
        f.debug_struct("Mock").field("answers", &names).field("calls", &lock(&self.calls).len()).finish()
    }
}

impl sealed::Sealed for Mock {}

impl Transport for Mock {
    fn call_json<R: Send + 'static>(&self, name: &str, body: Result<Body, CallError>, decode: Decode<R>, _progress: ReadProgress) -> AsyncCall<R> {
        // Recorded and answered now, in the caller: the record is complete as soon as the call
        // is made, and a test needs no runtime tick to see it.
        let outcome = body.and_then(|body| {
            let args = match body {
                Body::Json(body) if body.is_empty() => Value::Null,
                Body::Json(body) => serde_json::from_slice(&body).unwrap_or(Value::Null),
                // A bytes argument is recorded as the JSON it would be: a list of its numbers.
                Body::Bytes(bytes) => Value::Array(vec![bytes.into()]),
            };
            lock(&self.calls).push(MockCall { name: name.to_owned(), args: args.clone() });
            let answer = lock(&self.answers).get(name).cloned();
            match answer {
                Some(answer) => answer(args),
                None => Err(CallError::not_found(name, None)),
            }
        });
        let name = name.to_owned();
        call_with_outcome(async move {
            // An array answers a call read as items, one item per element.
            decode(Reply::Value(outcome?), &name)
        })
    }
}
