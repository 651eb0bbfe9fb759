//! The arguments of one call by name, and the future that runs the function.
//!
//! The rule, shared with the HTTP transport: a JSON array is positional, an object is by
//! keyword, `null` means no arguments, and any other value is the single argument. A missing
//! argument is read as `null`, so a trailing `Option` parameter may be left out.

use std::future::Future;
use std::pin::Pin;
use std::vec;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::function::ServerFunction;
use crate::errors::{BoxError, CallError};
use crate::panic::catching;

/// The future of one started call by name: the function's result encoded as JSON.
pub type Invocation = Pin<Box<dyn Future<Output = Result<Value, CallError>> + Send>>;

/// The arguments of one call by name, read one parameter at a time by the generated handler.
pub struct Arguments {
    function: &'static ServerFunction,
    values: Values,
    next: usize,
}

enum Values {
    Positional(vec::IntoIter<Value>),
    Keyword(Map<String, Value>),
}

impl Arguments {
    /// Reads `args` by the rule above, rejecting surplus positional arguments and unknown
    /// keywords before anything is decoded.
    pub(crate) fn new(function: &'static ServerFunction, args: Value) -> Result<Self, CallError> {
        let params = function.params();
        let values = match args {
            Value::Null => Values::Positional(Vec::new().into_iter()),
            Value::Array(values) => {
                if values.len() > params.len() {
                    return Err(invalid(
                        function,
                        None,
                        format!(
                            "expected {} at most, got {} positional arguments",
                            count(params.len()),
                            values.len()
                        ),
                    ));
                }
                Values::Positional(values.into_iter())
            }
            Value::Object(map) => {
                if let Some(unknown) = map
                    .keys()
                    .find(|key| !params.iter().any(|p| p.name == key.as_str()))
                {
                    let expected = params.iter().map(|p| p.name).collect::<Vec<_>>().join(", ");
                    return Err(invalid(
                        function,
                        Some(unknown),
                        format!("unknown keyword argument (the parameters are: {expected})"),
                    ));
                }
                Values::Keyword(map)
            }
            single => {
                if params.len() != 1 {
                    return Err(invalid(
                        function,
                        None,
                        format!(
                            "a single argument was given, but it takes {}",
                            count(params.len())
                        ),
                    ));
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

    /// Decodes the next parameter's argument.
    #[allow(clippy::should_implement_trait)] // not an iterator: each call decodes another type
    pub fn next<T: DeserializeOwned>(&mut self) -> Result<T, CallError> {
        let param = self.function.params().get(self.next).ok_or_else(|| {
            invalid(
                self.function,
                None,
                "the handler read more arguments than there are parameters".into(),
            )
        })?;
        self.next += 1;
        let value = match &mut self.values {
            Values::Positional(values) => values.next(),
            Values::Keyword(map) => map.remove(param.name),
        };
        match value {
            Some(value) => T::deserialize(value)
                .map_err(|error| invalid(self.function, Some(param.name), error.to_string())),
            // Missing: fine for an `Option` (it reads `null` as `None`), an error otherwise.
            None => T::deserialize(Value::Null).map_err(|_| {
                invalid(
                    self.function,
                    Some(param.name),
                    format!("missing argument of type `{}`", param.ty),
                )
            }),
        }
    }

    /// Runs an async function's future, encoding its value.
    pub fn run_async<F>(self, future: F) -> Invocation
    where
        F: Future + Send + 'static,
        F::Output: Serialize,
    {
        let function = self.function;
        Box::pin(async move { encode(function, &future.await) })
    }

    /// Runs an async function's future whose `Err` is the call's failure.
    pub fn run_try_async<F, T, E>(self, future: F) -> Invocation
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Serialize,
        E: Into<BoxError>,
    {
        let function = self.function;
        Box::pin(async move {
            match future.await {
                Ok(value) => encode(function, &value),
                Err(error) => Err(CallError::Failed(error.into())),
            }
        })
    }

    /// Runs a sync function on the async worker (`#[server_function(inline)]`).
    pub fn run_inline<F, R>(self, f: F) -> Invocation
    where
        F: FnOnce() -> R + Send + 'static,
        R: Serialize,
    {
        let function = self.function;
        Box::pin(async move { encode(function, &f()) })
    }

    /// Runs a sync function on the async worker, its `Err` being the call's failure.
    pub fn run_try_inline<F, T, E>(self, f: F) -> Invocation
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Serialize,
        E: Into<BoxError>,
    {
        self.run_try_async(async move { f() })
    }

    /// Runs a sync function on tokio's blocking pool.
    pub fn run_blocking<F, R>(self, f: F) -> Invocation
    where
        F: FnOnce() -> R + Send + 'static,
        R: Serialize + Send + 'static,
    {
        let function = self.function;
        Box::pin(async move { encode(function, &on_blocking_pool(f).await?) })
    }

    /// Runs a sync function on tokio's blocking pool, its `Err` being the call's failure.
    pub fn run_try_blocking<F, T, E>(self, f: F) -> Invocation
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Serialize + Send + 'static,
        E: Into<BoxError> + Send + 'static,
    {
        let function = self.function;
        Box::pin(async move {
            match on_blocking_pool(f).await? {
                Ok(value) => encode(function, &value),
                Err(error) => Err(CallError::Failed(error.into())),
            }
        })
    }
}

async fn on_blocking_pool<F, R>(f: F) -> Result<R, CallError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    match tokio::task::spawn_blocking(move || catching(f)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(message)) => Err(CallError::Panicked(message)),
        // The blocking task never ran: its runtime is shutting down.
        Err(_) => Err(CallError::Cancelled),
    }
}

fn encode<T: Serialize>(function: &ServerFunction, value: &T) -> Result<Value, CallError> {
    serde_json::to_value(value).map_err(|error| {
        CallError::invalid_result(function.name(), format!("its value could not be encoded as JSON: {error}"))
    })
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
