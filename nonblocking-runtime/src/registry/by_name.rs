//! [`call_async_by_name`]: call a server function by its registered name.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use serde::Serialize;

use serde_json::Value;

use super::arguments::Arguments;
use super::run::Invocation;
#[cfg(any(feature = "http", feature = "nats"))]
use super::raw::RawArgs;
use super::function::ServerFunction;
use super::table::registry;
use crate::calls::{AsyncCall, call_with_outcome};
use crate::errors::CallError;
use crate::items::CallValue;

/// Calls the server function registered as `name`, without waiting (Anvil's
/// `call_async("name", *args, **kws)`).
///
/// `args` is any `Serialize` value, read by one rule: a sequence (a tuple such as `("a", 3)`,
/// a `Vec`, a JSON array) is **positional**, a map or struct is **by keyword**
/// (`json!({"item": .., "count": 3})`), `()` or `null` means no arguments, and any other value
/// is the single argument. So a single struct, map, sequence or tuple argument is written as a
/// 1-tuple: `(item,)`. A missing argument is read as `null`, so trailing `Option` parameters may
/// be left out. [`Mixed`](crate::registry::Mixed) gives some arguments in order and the others
/// by keyword (Anvil's `call_async("update", item, flag=True)`).
///
/// `R` is the type to decode the result into; `serde_json::Value` takes anything. A function
/// that streams its items is read as [`Items<T>`](crate::items::Items) (`Items<Value>` takes
/// any items).
///
/// The lookup and the decoding of the arguments happen here, in the caller, so `args` may be
/// borrowed. Errors arrive as the call's failure: [`CallError::NotFound`],
/// [`CallError::InvalidArguments`], [`CallError::InvalidResult`] or
/// [`CallError::DuplicateName`], or the function's own.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::{call_async_by_name, server_function};
///
/// #[server_function]
/// async fn add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let positional = call_async_by_name::<i64>("add", (1, 2));
/// let keyword = call_async_by_name::<i64>("add", serde_json::json!({"a": 3, "b": 4}));
/// assert_eq!(positional.await.unwrap(), 3);
/// assert_eq!(keyword.await.unwrap(), 7);
///
/// let unknown = call_async_by_name::<i64>("sum", (1, 2)).await.unwrap_err();
/// assert!(unknown.to_string().contains("no server function named `sum`"));
/// # }
/// ```
pub fn call_async_by_name<R: CallValue>(name: &str, args: impl Serialize) -> AsyncCall<R> {
    let function = registry().get(name);
    let run = |_: &crate::Context| match function.clone().and_then(|function| start(function, &args)) {
        Ok((function, invocation)) => call_with_outcome(Running { invocation, function, read: PhantomData }),
        Err(error) => call_with_outcome(std::future::ready(Err(error))),
    };
    // A function that reports progress gets a channel for it (the call's `on_progress`).
    match &function {
        Ok(function) if function.reports_progress() => crate::__private::with_progress(crate::Context::current(), run),
        _ => run(&crate::Context::new()),
    }
}

/// A started call by name, as its task runs it: the function's future, then its value read as
/// `R`. Small on purpose (three words): with the outcome beside it, it fits tokio's smallest task
/// cell (128 bytes), as a typed call does.
struct Running<R> {
    invocation: Invocation,
    function: &'static ServerFunction,
    read: PhantomData<fn() -> R>,
}

impl<R: CallValue> Future for Running<R> {
    type Output = Result<R, CallError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let returned = ready!(self.invocation.as_mut().poll(cx))?;
        Poll::Ready(returned.read(self.function.name()))
    }
}

/// Decodes the arguments and creates (but does not poll) the function's future.
fn start(function: &'static ServerFunction, args: &impl Serialize) -> Result<(&'static ServerFunction, Invocation), CallError> {
    let args = serde_json::to_value(args).map_err(|error| {
        CallError::invalid_arguments(
            function.name(),
            None,
            format!("the arguments could not be encoded as JSON: {error}"),
        )
    })?;
    Ok((function, invoke(function, args)?))
}

/// Decodes `args` for `function` and creates (but does not poll) its future: a call by name
/// without a task of its own, for callers that already run in one (the HTTP server).
pub(crate) fn invoke(function: &'static ServerFunction, args: Value) -> Result<Invocation, CallError> {
    (function.handler())(Arguments::new(function.name(), function.params(), args, crate::Context::current())?)
}

/// [`invoke`] with the arguments read straight from a JSON body (no `Value` tree built). The
/// body has already been split: an argument can fail here only on its type.
#[cfg(any(feature = "http", feature = "nats"))]
pub(crate) fn invoke_raw(
    function: &'static ServerFunction,
    args: RawArgs<'_>,
    context: crate::Context,
) -> Result<Invocation, CallError> {
    (function.handler())(Arguments::from_raw(function.name(), function.params(), args, context)?)
}
