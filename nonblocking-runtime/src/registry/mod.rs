//! Server functions: the entries `#[server_function]` submits, the registry built from them,
//! and calls by name.
//!
//! What only the generated code uses is not public here:
//!
//! ```compile_fail
//! use nonblocking_runtime::registry::Arguments;
//! ```
//!
//! ```compile_fail
//! use nonblocking_runtime::registry::ServerFunctionParts;
//! ```

// Public items only the generated code uses: reachable as `__private::...`, never here.
pub(crate) mod arguments;
mod by_name;
mod depth;
pub(crate) mod function;
mod mixed;
// Only the HTTP transport reads arguments straight from a body.
#[cfg_attr(not(any(feature = "http", feature = "nats")), allow(dead_code))]
mod raw;
pub(crate) mod run;
mod suggest;
mod table;

#[cfg(any(feature = "http", feature = "nats"))]
pub(crate) use self::by_name::invoke_raw;
#[cfg(any(feature = "http", feature = "nats"))]
pub(crate) use self::raw::{RawArgs, RawError};
pub use self::by_name::call_async_by_name;
pub use self::arguments::Param;
pub use self::function::ServerFunction;
pub use self::mixed::Mixed;
pub use self::table::{Registry, register, registry};
