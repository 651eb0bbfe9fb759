//! Server functions: the entries `#[server_function]` submits, the registry built from them,
//! and calls by name.

mod arguments;
mod by_name;
mod depth;
mod function;
// Only the HTTP transport reads arguments straight from a body.
#[cfg_attr(not(any(feature = "http", feature = "nats")), allow(dead_code))]
mod raw;
mod suggest;
mod table;

#[doc(hidden)]
pub use self::arguments::{Arg, Arguments, Invocation};
#[cfg(any(feature = "http", feature = "nats"))]
pub(crate) use self::by_name::invoke_raw;
#[cfg(any(feature = "http", feature = "nats"))]
pub(crate) use self::raw::{RawArgs, RawError};
pub use self::by_name::call_async_by_name;
pub use self::function::{Param, ServerFunction, ServerFunctionParts};
pub use self::table::{Registry, register, registry};
