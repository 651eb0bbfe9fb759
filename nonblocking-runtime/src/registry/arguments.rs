//! The arguments of one call by name, and the future that runs the function.
//!
//! The rule, shared with the HTTP transport: a JSON array is positional, an object is by
//! keyword, `null` means no arguments, and any other value is the single argument. A missing
//! argument is read as `null`, so a trailing `Option` parameter may be left out.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::vec;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::depth::{MAX_DEPTH, drop_flat, too_deep};
use super::function::ServerFunction;
use super::raw::RawArgs;
use crate::errors::{BoxError, CallError};
use crate::panic::catching;

/// The future of one started call by name: the function's result encoded as JSON.
pub type Invocation = Pin<Box<dyn Future<Output = Result<Value, CallError>> + Send>>;

/// The arguments of one call by name, read one parameter at a time by the generated handler.
/// They are `Value`s (a call from Rust) or raw slices of a JSON body (a call over HTTP, which
/// then builds no `Value` tree).
pub struct Arguments<'a> {
    function: &'static ServerFunction,
    values: Values<'a>,
    next: usize,
}

// The raw variants are built only by the HTTP transport.
#[cfg_attr(not(any(feature = "http", feature = "nats")), allow(dead_code))]
enum Values<'a> {
    Positional(vec::IntoIter<Value>),
    Keyword(Map<String, Value>),
    RawPositional(vec::IntoIter<&'a RawValue>),
    RawKeyword(Vec<(Cow<'a, str>, &'a RawValue)>),
}

/// One argument, as the generated code's `Argument::decode` receives it.
pub enum Arg<'a> {
    /// From a call by name in Rust.
    Value(Value),
    /// A slice of a JSON body, already checked to be well-formed.
    Raw(&'a RawValue),
}

impl<'a> Arguments<'a> {
    /// Reads `args` by the rule above, rejecting surplus positional arguments and unknown
    /// keywords before anything is decoded.
    pub(crate) fn new(function: &'static ServerFunction, args: Value) -> Result<Self, CallError> {
        if too_deep(&args) {
            drop_flat(args);
            return Err(invalid(
                function,
                None,
                format!("the arguments nest deeper than {MAX_DEPTH} levels"),
            ));
        }
        let params = function.params();
        let values = match args {
            Value::Null => Values::Positional(Vec::new().into_iter()),
            Value::Array(values) => {
                surplus(function, values.len())?;
                Values::Positional(values.into_iter())
            }
            Value::Object(map) => {
                unknown_keyword(function, map.keys().map(String::as_str))?;
                Values::Keyword(map)
            }
            single => {
                if params.len() != 1 {
                    return Err(single_mismatch(function));
                }
                Values::Positional(vec![single].into_iter())
            }
        };
        Ok(Arguments {
            function,
            values,
            next: 0,
        })
    }

    /// Reads a split JSON body by the same rule and with the same refusals as [`new`](Self::new).
    #[cfg_attr(not(any(feature = "http", feature = "nats")), allow(dead_code))]
    pub(crate) fn from_raw(function: &'static ServerFunction, args: RawArgs<'a>) -> Result<Self, CallError> {
        let params = function.params();
        let values = match args {
            RawArgs::None => Values::RawPositional(Vec::new().into_iter()),
            RawArgs::Positional(values) => {
                surplus(function, values.len())?;
                Values::RawPositional(values.into_iter())
            }
            RawArgs::Keyword(members) => {
                unknown_keyword(function, members.iter().map(|(key, _)| key.as_ref()))?;
                Values::RawKeyword(members)
            }
            RawArgs::Single(single) => {
                if params.len() != 1 {
                    return Err(single_mismatch(function));
                }
                Values::RawPositional(vec![single].into_iter())
            }
        };
        Ok(Arguments { function, values, next: 0 })
    }

    /// Decodes the next parameter's argument with `decode` (the parameter type's
    /// `Argument::decode`, named by the generated code so that a type that is not serde-able is
    /// reported once, at the user's type).
    pub fn next<T>(&mut self, decode: fn(Arg<'a>) -> Result<T, serde_json::Error>) -> Result<T, CallError> {
        let param = self.function.params().get(self.next).ok_or_else(|| {
            invalid(
                self.function,
                None,
                "the handler read more arguments than there are parameters".into(),
            )
        })?;
        self.next += 1;
        let value = match &mut self.values {
            Values::Positional(values) => values.next().map(Arg::Value),
            Values::Keyword(map) => map.remove(param.name).map(Arg::Value),
            Values::RawPositional(values) => values.next().map(Arg::Raw),
            Values::RawKeyword(members) => members
                .iter()
                .position(|(key, _)| key == param.name)
                .map(|at| Arg::Raw(members.swap_remove(at).1)),
        };
        match value {
            Some(value) => decode(value)
                .map_err(|error| invalid(self.function, Some(param.name), error.to_string())),
            // Missing: fine for an `Option` (it reads `null` as `None`), an error otherwise.
            None => decode(Arg::Value(Value::Null)).map_err(|_| {
                invalid(
                    self.function,
                    Some(param.name),
                    format!("missing argument of type `{}`", param.ty),
                )
            }),
        }
    }

    /// Runs an async function's future; `encode` encodes its value (the return type's
    /// `ReturnValue::encode`, named by the generated code for the same reason as in `next`).
    pub fn run_async<F>(self, future: F, encode: Encode<F::Output>) -> Invocation
    where
        F: Future + Send + 'static,
    {
        let function = self.function;
        Box::pin(async move { encoded(function, encode(&future.await)) })
    }

    /// Runs an async function's future whose `Err` is the call's failure.
    pub fn run_try_async<F, T>(self, future: F, encode: Encode<T>) -> Invocation
    where
        F: Future<Output = Result<T, BoxError>> + Send + 'static,
        T: 'static,
    {
        let function = self.function;
        Box::pin(async move {
            match future.await {
                Ok(value) => encoded(function, encode(&value)),
                Err(error) => Err(CallError::Failed(error.into())),
            }
        })
    }

    /// Runs a sync function on the async worker (`#[server_function(inline)]`): no thread hop,
    /// but a run cannot be preempted or timed out, and while it blocks, every other call on
    /// that worker waits.
    pub fn run_inline<F, R>(self, f: F, encode: Encode<R>) -> Invocation
    where
        F: FnOnce() -> R + Send + 'static,
        R: 'static,
    {
        let function = self.function;
        Box::pin(async move { encoded(function, encode(&f())) })
    }

    /// Runs a sync function on the async worker, its `Err` being the call's failure.
    pub fn run_try_inline<F, T>(self, f: F, encode: Encode<T>) -> Invocation
    where
        F: FnOnce() -> Result<T, BoxError> + Send + 'static,
        T: 'static,
    {
        self.run_try_async(async move { f() }, encode)
    }

    /// Runs a sync function on the blocking pool, so that however long it blocks, it never
    /// holds up an async worker and the caller's timeout still answers at its deadline.
    pub fn run_blocking<F, R>(self, f: F, encode: Encode<R>) -> Invocation
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let function = self.function;
        Box::pin(async move { encoded(function, encode(&on_blocking_pool(f).await?)) })
    }

    /// [`run_blocking`](Self::run_blocking) for a function whose `Err` is the call's failure.
    pub fn run_try_blocking<F, T>(self, f: F, encode: Encode<T>) -> Invocation
    where
        F: FnOnce() -> Result<T, BoxError> + Send + 'static,
        T: Send + 'static,
    {
        let function = self.function;
        Box::pin(async move {
            match on_blocking_pool(f).await? {
                Ok(value) => encoded(function, encode(&value)),
                Err(error) => Err(CallError::Failed(error.into())),
            }
        })
    }
}

/// Encodes a function's value as JSON.
pub type Encode<T> = fn(&T) -> Result<Value, serde_json::Error>;

/// Runs `f` on the blocking pool. Dropping the future (a timeout, a cancel) leaves a run
/// that already started to finish there in the background: a thread cannot be stopped.
async fn on_blocking_pool<F, R>(f: F) -> Result<R, CallError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match crate::runtime::spawn_blocking(move || catching(f)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(message)) => Err(CallError::Panicked(message)),
        // The blocking task never ran: its runtime is shutting down.
        Err(_) => Err(CallError::Cancelled),
    }
}

fn encoded(function: &ServerFunction, value: Result<Value, serde_json::Error>) -> Result<Value, CallError> {
    value.map_err(|error| {
        CallError::invalid_result(function.name(), format!("its value could not be encoded as JSON: {error}"))
    })
}

/// More positional arguments than parameters.
fn surplus(function: &ServerFunction, given: usize) -> Result<(), CallError> {
    let params = function.params().len();
    if given <= params {
        return Ok(());
    }
    Err(invalid(
        function,
        None,
        format!("expected {} at most, got {given} positional arguments", count(params)),
    ))
}

/// A keyword that names no parameter.
fn unknown_keyword<'k>(function: &ServerFunction, mut keys: impl Iterator<Item = &'k str>) -> Result<(), CallError> {
    let params = function.params();
    let Some(unknown) = keys.find(|key| !params.iter().any(|p| p.name == *key)) else {
        return Ok(());
    };
    let expected = params.iter().map(|p| p.name).collect::<Vec<_>>().join(", ");
    Err(invalid(
        function,
        Some(unknown),
        format!("unknown keyword argument (the parameters are: {expected})"),
    ))
}

fn single_mismatch(function: &ServerFunction) -> CallError {
    invalid(
        function,
        None,
        format!("a single argument was given, but it takes {}", count(function.params().len())),
    )
}

fn invalid(function: &ServerFunction, parameter: Option<&str>, reason: String) -> CallError {
    CallError::invalid_arguments(function.name(), parameter, reason)
}

fn count(params: usize) -> String {
    match params {
        0 => "no arguments".to_owned(),
        1 => "1 argument".to_owned(),
        n => format!("{n} arguments"),
    }
}
