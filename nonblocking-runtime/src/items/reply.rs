//! What a call's value is made from: a function's value or its items, as the caller receives
//! them (in this process, or from a transport).

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Items, RawItems};
use crate::errors::CallError;

/// What a server function gives a call by name: its value's JSON, or its items.
#[doc(hidden)]
pub enum Returned {
    Value(Value),
    Items(RawItems),
    /// The value of a bytes type (`Vec<u8>`, `bytes::Bytes`): its bytes.
    Bytes(Vec<u8>),
}

/// A call's reply as its caller reads it.
#[doc(hidden)]
pub enum Reply<'a> {
    /// The value, decoded already (a call in this process).
    Value(Value),
    /// The value's JSON text (a transport's reply).
    Json(&'a [u8]),
    /// The items of a function that streams them.
    Items(RawItems),
    /// The value's bytes (a function returning a bytes type).
    Bytes(&'a [u8]),
}

impl Returned {
    /// Reads what a function in this process gave as `R`, for a call by name of `function`.
    pub(crate) fn read<R: CallValue>(self, function: &str) -> Result<R, CallError> {
        match self {
            Returned::Value(value) => R::from_reply(Reply::Value(value), function),
            Returned::Items(items) => R::from_reply(Reply::Items(items), function),
            Returned::Bytes(bytes) => R::from_reply(Reply::Bytes(&bytes), function),
        }
    }
}

/// What a call by name may be read as: any type serde can decode (the function's value), or
/// [`Items<T>`] for a function that streams its items.
#[diagnostic::on_unimplemented(
    message = "a call by name cannot return `{Self}`: it must implement serde's `Deserialize` (or be `Items<T>` of such a `T`), and be `Send + 'static`",
    label = "the type the call is read as",
    note = "`serde_json::Value` takes any value"
)]
pub trait CallValue: Sized + Send + 'static {
    /// Reads the reply of `function`.
    #[doc(hidden)]
    fn from_reply(reply: Reply<'_>, function: &str) -> Result<Self, CallError>;
}

impl<T: DeserializeOwned + Send + 'static> CallValue for T {
    fn from_reply(reply: Reply<'_>, function: &str) -> Result<Self, CallError> {
        let decoded = match reply {
            Reply::Value(value) => T::deserialize(value),
            Reply::Json(json) => serde_json::from_slice(json),
            Reply::Bytes(bytes) => crate::binary::from_bytes(bytes),
            Reply::Items(_) => {
                return Err(CallError::invalid_result(
                    function,
                    format!("it streams items: read them as `Items<{}>`", std::any::type_name::<T>()),
                ));
            }
        };
        decoded.map_err(|error| CallError::invalid_result(function, error.to_string()))
    }
}

impl<T: DeserializeOwned + Send + 'static> CallValue for Items<T> {
    fn from_reply(reply: Reply<'_>, function: &str) -> Result<Self, CallError> {
        match reply {
            Reply::Items(items) => Ok(items.decoded(function.to_owned())),
            // A value that is a list (a mock's answer) is its items.
            Reply::Value(Value::Array(values)) => {
                let items = values
                    .into_iter()
                    .map(|value| super::WireItem::Json(serde_json::value::to_raw_value(&value).expect("a `Value` encodes")));
                Ok(Items::from_iter(items.collect::<Vec<_>>()).decoded(function.to_owned()))
            }
            Reply::Value(_) | Reply::Json(_) | Reply::Bytes(_) => {
                Err(CallError::invalid_result(function, "it returns one value, not items: read it as that value's type".to_owned()))
            }
        }
    }
}
