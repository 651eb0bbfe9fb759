//! The `#[server_function]` attribute of nonblocking. Use it through `nonblocking-runtime`,
//! which re-exports it and holds everything the generated code refers to.
//!
//! The attribute is built in three phases, one module each: `attr` parses the attribute's
//! arguments, `model` reads and checks the function into a `ServerFn`, and
//! `expand` generates the stub and the registration.

#![forbid(unsafe_code)]

mod attr;
mod expand;
mod model;

use proc_macro::TokenStream;

/// Registers a function by name and generates its typed `call_async_<name>` stub.
///
/// Documented, with examples, where users meet it: `nonblocking_runtime::server_function`.
#[proc_macro_attribute]
pub fn server_function(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::server_function(args.into(), item.into()).into()
}
