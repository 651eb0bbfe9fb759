//! What `#[server_function]` expands to refers to, by absolute path. Not public API: it may
//! change in any release, together with the macro (which is pinned to this exact version).
//!
//! Every check the macro cannot make from syntax ("this type must be serde-able", "this error
//! type must convert into a boxed error") is a trait here with `#[diagnostic::on_unimplemented]`,
//! and the generated code reaches serde and the error conversion only through those traits'
//! methods, spanned at the user's type. So a misuse is one error at the user's code, however
//! many places use the type: rustc reports an identical diagnostic once.

pub use inventory;

pub use crate::registry::arguments::{Arg, Arguments};
pub use crate::registry::run::Invocation;
pub use crate::binary::{is_bytes, is_bytes_stream};
pub use crate::registry::function::{Binary, ServerFunctionParts};
pub use crate::registry::{Param, ServerFunction};
pub use crate::{
    AsyncCall, CallError, call_async, call_blocking, try_call_async, try_call_blocking,
};
pub use core::result::Result;

pub use crate::context::Context;

#[cfg(any(feature = "http", feature = "nats"))]
pub use crate::remote::{Transport, call_typed as call_remote};

pub use crate::__nonblocking_if_remote as if_remote;
pub use crate::__nonblocking_signature as signature;

#[cfg(feature = "schema")]
pub use crate::schema::{
    ErrorHasSchema, ErrorOpenSchema, Generators, HasSchema, NoErrorSchema, OkHasSchema,
    OkOpenSchema, OpenSchema, SchemaOf, Signature,
};

pub use serde_json::Value;

use crate::errors::BoxError;
use crate::items::{CallValue, Items, Reply, Returned};

/// Picks, at compile time, whether a function's error type `E` can be encoded: through
/// [`EncodeError`] when `E: Serialize + Error`, [`EncodeText`] when `E` is text, else
/// [`NoErrorValue`] (autoref specialization).
pub struct ErrorValue<E>(core::marker::PhantomData<fn() -> E>);

impl<E> ErrorValue<E> {
    /// The one value.
    pub const NEW: Self = ErrorValue(core::marker::PhantomData);
}

/// Chosen when the error type is `Serialize` and an error type: the value, found again by its
/// type in the boxed failure.
pub trait EncodeError {
    /// The error's JSON value, if `error` is of the function's error type.
    fn encode(&self, error: &(dyn std::error::Error + 'static)) -> Option<Value>;
}

impl<E: serde::Serialize + std::error::Error + 'static> EncodeError for &&ErrorValue<E> {
    fn encode(&self, error: &(dyn std::error::Error + 'static)) -> Option<Value> {
        serde_json::to_value(error.downcast_ref::<E>()?).ok()
    }
}

/// Text that stands for an error (`Result<T, String>`): serialized as the string it is, which
/// is also what the boxed failure displays. Only the standard text types, whose `Into<BoxError>`
/// keeps their text as the message.
pub trait TextError {}

impl TextError for String {}
impl TextError for &'static str {}
impl TextError for Box<str> {}
impl TextError for std::borrow::Cow<'static, str> {}

/// Chosen when the error type is text: its value is the failure's message, the same string.
pub trait EncodeText {
    /// The message as a JSON string.
    fn encode(&self, error: &(dyn std::error::Error + 'static)) -> Option<Value>;
}

impl<E: TextError> EncodeText for &ErrorValue<E> {
    fn encode(&self, error: &(dyn std::error::Error + 'static)) -> Option<Value> {
        Some(Value::String(error.to_string()))
    }
}

/// Chosen otherwise: no value.
pub trait NoErrorValue {
    /// Always `None`.
    fn encode(&self, error: &(dyn std::error::Error + 'static)) -> Option<Value>;
}

impl<E> NoErrorValue for ErrorValue<E> {
    fn encode(&self, _: &(dyn std::error::Error + 'static)) -> Option<Value> {
        None
    }
}

/// The error encoder of functions that cannot fail.
pub fn no_error_value(_: &(dyn std::error::Error + 'static)) -> Option<Value> {
    None
}

/// Names the `Ok` type of a return type the macro cannot see through (an alias of `Result`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `Result`, so the server function cannot be `fallible`",
    label = "this return type",
    note = "remove `fallible` from #[server_function(..)], or return a `Result<T, E>`"
)]
pub trait Fallible {
    /// The call's value.
    type Ok;
    /// The call's failure.
    type Error;
    /// The `Result` it is.
    fn into_result(self) -> Result<Self::Ok, Self::Error>;
}

impl<T, E> Fallible for Result<T, E> {
    type Ok = T;
    type Error = E;

    fn into_result(self) -> Self {
        self
    }
}

/// What a parameter must be to cross a call by name.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a server function parameter: it must implement serde's `Serialize` and `Deserialize`, and be `Send + 'static`",
    label = "this parameter's type is not serde-able",
    note = "derive `Serialize` and `Deserialize` (serde, with its `derive` feature) for your types, including those inside `Vec<..>`, `Option<..>` and other containers, and use owned data (no references)"
)]
pub trait Argument: Sized {
    /// Decodes an argument.
    fn decode(arg: Arg<'_>) -> Result<Self, serde_json::Error>;
    /// Encodes an argument (the typed remote stub): its bytes for a bytes type, else JSON.
    #[cfg(any(feature = "http", feature = "nats"))]
    fn encode(&self) -> Result<crate::remote::Wire, serde_json::Error>;
}

// `do_not_recommend`: report the unmet `Argument` with the message above, at the user's type,
// instead of rustc's walk down to a serde bound deep inside this impl.
#[diagnostic::do_not_recommend]
impl<T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static> Argument for T {
    fn decode(arg: Arg<'_>) -> Result<Self, serde_json::Error> {
        match arg {
            Arg::Value(value) => serde_json::from_value(value),
            Arg::Raw(raw) => serde_json::from_str(raw.get()),
            Arg::Bytes(bytes) => crate::binary::from_bytes(bytes),
        }
    }

    #[cfg(any(feature = "http", feature = "nats"))]
    fn encode(&self) -> Result<crate::remote::Wire, serde_json::Error> {
        match crate::binary::bytes_of(self) {
            Some(bytes) => Ok(crate::remote::Wire::Bytes(bytes)),
            None => serde_json::to_value(self).map(crate::remote::Wire::Json),
        }
    }
}

/// What a return value must be to be kept in an `AsyncCall` and returned by name: a serde-able
/// value, or the [`Items`] of a function that streams them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned by a server function: it must implement serde's `Serialize` and `Deserialize`, and be `Send + 'static`",
    label = "this return type is not serde-able",
    note = "derive `Serialize` and `Deserialize` (serde, with its `derive` feature) for your types, including those inside `Vec<..>`, `Option<..>` and other containers, and return owned data; a stream of items is `Items<T>` of such a `T`"
)]
pub trait ReturnValue: Sized {
    /// Whether the function streams its items (returns [`Items`]).
    const STREAMS: bool;
    /// Encodes the value of a call by name of `function`.
    fn encode(self, function: &'static str) -> Result<Returned, CallError>;
    /// Decodes the value a remote call of `function` returned.
    fn decode(reply: Reply<'_>, function: &str) -> Result<Self, CallError>;
}

#[diagnostic::do_not_recommend]
impl<T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static> ReturnValue for T {
    const STREAMS: bool = false;

    fn encode(self, function: &'static str) -> Result<Returned, CallError> {
        // A bytes type travels as its bytes, never as a JSON array of numbers.
        let value = match crate::binary::into_bytes(self) {
            Ok(bytes) => return Ok(Returned::Bytes(bytes)),
            Err(value) => value,
        };
        match serde_json::to_value(&value) {
            Ok(value) => Ok(Returned::Value(value)),
            Err(error) => Err(CallError::invalid_result(function, format!("its value could not be encoded as JSON: {error}"))),
        }
    }

    fn decode(reply: Reply<'_>, function: &str) -> Result<Self, CallError> {
        <T as CallValue>::from_reply(reply, function)
    }
}

// Not recommended either: a type that is not serde-able is reported as such, without pointing
// at this impl.
#[diagnostic::do_not_recommend]
impl<T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static> ReturnValue for Items<T> {
    const STREAMS: bool = true;

    fn encode(self, function: &'static str) -> Result<Returned, CallError> {
        Ok(Returned::Items(self.encoded(function)))
    }

    fn decode(reply: Reply<'_>, function: &str) -> Result<Self, CallError> {
        <Self as CallValue>::from_reply(reply, function)
    }
}

/// What the error type `E` of a fallible server function must be.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the error type of a server function: it must convert into `Box<dyn Error + Send + Sync>`",
    label = "this return type's error is not an error type",
    note = "implement `std::error::Error` (thiserror's derive does it) for your error type, or use `String`, `std::io::Error` or `anyhow::Error`"
)]
pub trait Failure {
    /// The boxed error the call fails with.
    fn into_box(self) -> BoxError;
}

#[diagnostic::do_not_recommend]
impl<E: Into<BoxError>> Failure for E {
    fn into_box(self) -> BoxError {
        self.into()
    }
}

/// A fallible function's result with its error boxed: the one place the error type is checked.
pub fn failing<T, E: Failure>(result: Result<T, E>) -> Result<T, BoxError> {
    result.map_err(Failure::into_box)
}

/// What a `#[context]` parameter's type must be.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a `#[context]` parameter: it must be `Clone + Send + Sync + 'static`",
    label = "this context parameter's type",
    note = "a `#[context]` parameter is a copy of a value attached to the call (`caller.attach(..)`, `Context::with(..)`): derive `Clone`, or wrap it in an `Arc`"
)]
pub trait ContextValue: Clone + Send + Sync + 'static {}

#[diagnostic::do_not_recommend]
impl<T: Clone + Send + Sync + 'static> ContextValue for T {}

/// The value of a `#[context] parameter: T` of `function`: the whole context when `T` is
/// [`Context`], else the attached value of type `T`, or the call's failure naming what is
/// missing.
pub fn context_value<T: ContextValue>(context: &Context, function: &str, parameter: &str) -> Result<T, CallError> {
    if let Some(whole) = (context as &dyn core::any::Any).downcast_ref::<T>() {
        return Ok(whole.clone());
    }
    context
        .get::<T>()
        .cloned()
        .ok_or_else(|| CallError::missing_context(function, parameter, core::any::type_name::<T>()))
}

/// The value of a `#[context] parameter: Option<T>`: the attached `T`, if any.
pub fn context_optional<T: ContextValue>(context: &Context) -> Option<T> {
    context.get::<T>().cloned()
}

/// A call that has already failed with `error` (a typed stub whose context lacks a value).
pub fn failed_call<T: Send + 'static>(error: CallError) -> AsyncCall<T> {
    crate::calls::call_with_outcome(core::future::ready(Err(error)))
}

/// The `Progress` of a `#[context] progress: Progress<P>` parameter: reporting to the call's
/// caller when it can see it, else to nobody.
pub fn context_progress<P: serde::Serialize>(context: &Context) -> crate::progress::Progress<P> {
    crate::progress::Progress::from_context(context)
}

/// Starts a call whose function reports progress: `start` runs in a context that carries the
/// reporter (so the call's task, and the function's `Progress`, get it), and the call gets the
/// cell its `on_progress` handlers read.
pub fn with_progress<T: Send + 'static>(context: Context, start: impl FnOnce(&Context) -> AsyncCall<T>) -> AsyncCall<T> {
    let (reporter, cell) = crate::progress::channel();
    let context = context.with_progress(reporter);
    let call = context.clone().sync_scope(|| start(&context));
    call.with_progress(cell)
}
