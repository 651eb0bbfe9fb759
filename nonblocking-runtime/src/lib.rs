//! Call functions without waiting.
//!
//! `nonblocking` is the Rust home of Anvil's `non_blocking` module: start work and get an
//! [`AsyncCall`] back at once, attach handlers for its outcome, run something every interval
//! with [`repeat`], once after a delay with [`defer`], and [`cancel`] either. Functions marked
//! `#[server_function]` are also callable by name.
//!
//! Everything runs on tokio: on the current runtime when there is one, otherwise on a shared
//! background runtime started on first use, so plain `fn main` code and GUI threads can use it
//! without any tokio plumbing.
//!
//! # Which thread runs what
//!
//! Nothing runs on the thread that starts it. Async calls, [`repeat`] bodies and [`defer`]
//! bodies run on the runtime's async worker threads; [`call_blocking`] closures and sync
//! server functions on its blocking pool. Handlers run in a task on the call's runtime once the
//! call finished, in the order they were attached, whether before or after it finished. So
//! handlers and bodies are `Send`, and
//! a GUI sends what they learned to its UI thread through its own channel.
//!
//! # Where things are
//!
//! | module | what |
//! |---|---|
//! | [`calls`] | [`AsyncCall`], [`call_async`], [`call_blocking`], their `try_` forms, [`cancel`], [`set_runtime`] |
//! | [`timers`] | [`repeat`], [`repeat_with`], [`repeat_async`], [`defer`] |
//! | [`registry`](mod@registry) | [`registry()`], [`call_async_by_name`], the entries of `#[server_function]`s |
//! | [`context`] | [`Context`]: what a call carries besides its arguments (attached values, the caller's [`Identity`], its deadline) |
//! | [`progress`] | [`Progress`](progress::Progress): a running server function tells its caller how far it got (`on_progress`) |
//! | [`errors`] | [`CallError`] and the details of its variants; how unobserved failures are reported |
//! | [`ui`] | `UiContext`: handlers, repeats and defers that run on a GUI's UI thread (`on_result_ui`, `pump`) |
//! | `remote` | what every transport shares: the typed stubs' `Transport`, `Caller`, `Refusal`, `Expose`, `InvalidPolicy`, and the transports for tests, `InProcess` and `Mock` (features `http`, `nats`) |
//! | `http` | `Server` and `Remote` (feature `http`; `https` adds TLS to the client) |
//! | `nats` | `Worker`, `nats::Remote` and `Connect`: the registry as a NATS service (feature `nats`) |
//! | `schema` | `ApiSchema`: JSON Schemas of every server function, TypeScript stubs, and the OpenAPI document an `http` server publishes (feature `schema`) |
//!
//! The common items are re-exported here, at the root.
//!
//! ```
//! use nonblocking_runtime::{call_async, defer, repeat};
//! use std::time::Duration;
//!
//! // Fire and forget, with handlers for the outcome.
//! let call = call_async(async { 40 + 2 })
//!     .on_result(|answer| println!("the answer is {answer}"))
//!     .on_error(|error| eprintln!("failed: {error}"));
//!
//! // A heartbeat and a one-off timer.
//! let heartbeat = repeat(|| println!("da dum"), Duration::from_millis(10));
//! let _later = defer(move || heartbeat.cancel(), Duration::from_millis(35));
//!
//! assert_eq!(call.wait().unwrap(), 42);
//! ```
#![forbid(unsafe_code)]
// docs.rs (and CI's docsrs check) badge feature-gated items; stable rustdoc ignores this.
#![cfg_attr(docsrs, feature(doc_cfg))]
// Under loom only the state machine is built, and only its tests use it.
#![cfg_attr(nonblocking_loom, allow(dead_code, unused_imports))]
#![warn(missing_docs)]

// Under `--cfg nonblocking_loom` only the tokio-free call state machine is built, for the
// loom model checker (tokio itself does not build under loom).
#[cfg(nonblocking_loom)]
mod calls {
    pub(crate) mod local;
    #[cfg(test)]
    mod loom_tests;
    pub(crate) mod state;
}
#[cfg(nonblocking_loom)]
mod errors;
mod sync;

/// Emits its items only when a transport (the runtime's `http` or `nats` feature) is on.
/// Generated code cannot test the runtime's features with `#[cfg]` (that would test the user's
/// crate), so it asks here.
#[cfg(any(feature = "http", feature = "nats"))]
#[macro_export]
#[doc(hidden)]
macro_rules! __nonblocking_if_remote {
    ($($item:item)*) => { $($item)* };
}

/// See the transport variant: without one, nothing.
#[cfg(not(any(feature = "http", feature = "nats")))]
#[macro_export]
#[doc(hidden)]
macro_rules! __nonblocking_if_remote {
    ($($item:item)*) => {};
}

/// The JSON Schemas of a server function's types (feature `schema`): a `fn` pointer that
/// writes them on demand, so nothing is generated until a description is asked for.
#[cfg(feature = "schema")]
#[macro_export]
#[doc(hidden)]
macro_rules! __nonblocking_signature {
    // `returns: T` names the value's type; `ok_of: R` the `Result` (an alias the macro cannot
    // see into) whose `Ok` it is, so a `fallible` non-`Result` adds no error of its own here.
    (params: [$($param:ty),*], $kind:ident: $returns:ty, error: [$($result:ty)?], progress: [$($progress:ty)?]) => {{
        fn signature(generators: &mut $crate::__private::Generators) -> $crate::__private::Signature {
            #[allow(unused_imports)]
            use $crate::__private::{
                ErrorHasSchema as _, ErrorOpenSchema as _, HasSchema as _, NoErrorSchema as _,
                OkHasSchema as _, OkOpenSchema as _, OpenSchema as _,
            };
            $crate::__private::Signature {
                params: ::std::vec![$((&&$crate::__private::SchemaOf::<$param>::NEW).schema(generators.input())),*],
                returns: $crate::__nonblocking_signature!(@$kind generators $returns),
                error: $crate::__nonblocking_signature!(@error generators $($result)?),
                progress: $crate::__nonblocking_signature!(@progress generators $($progress)?),
            }
        }
        signature
    }};
    (@returns $generators:ident $returns:ty) => {
        (&&$crate::__private::SchemaOf::<$returns>::NEW).schema($generators.output())
    };
    (@ok_of $generators:ident $result:ty) => {
        (&&$crate::__private::SchemaOf::<$result>::NEW).ok_schema($generators.output())
    };
    (@progress $generators:ident) => { ::core::option::Option::None };
    (@progress $generators:ident $progress:ty) => {
        ::core::option::Option::Some((&&$crate::__private::SchemaOf::<$progress>::NEW).schema($generators.output()))
    };
    (@error $generators:ident) => { ::core::option::Option::None };
    (@error $generators:ident $result:ty) => {
        (&&&$crate::__private::SchemaOf::<$result>::NEW).error_schema($generators.output())
    };
}

/// See the `schema` variant: without the feature, `()`.
#[cfg(not(feature = "schema"))]
#[macro_export]
#[doc(hidden)]
macro_rules! __nonblocking_signature {
    ($($anything:tt)*) => {
        ()
    };
}

// Every Rust block of the README and of the guide is compiled and run as a doctest, so neither
// can rot. (Their HTTP examples need the `http` feature; the README's test command enables all.)
#[cfg(all(doctest, feature = "http"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

#[cfg(all(doctest, feature = "http"))]
#[doc = include_str!("../../docs/guide.md")]
pub struct GuideDoctests;

/// Compiles its items except under `--cfg nonblocking_loom`.
macro_rules! not_under_loom {
    ($($item:item)*) => { $( #[cfg(not(nonblocking_loom))] $item )* };
}

not_under_loom! {
mod binary;
pub mod calls;
pub mod context;
pub mod errors;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
pub mod items;
#[cfg(feature = "nats")]
#[cfg_attr(docsrs, doc(cfg(feature = "nats")))]
pub mod nats;
mod panic;
pub mod progress;
pub mod registry;
#[cfg(any(feature = "http", feature = "nats"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "http", feature = "nats"))))]
pub mod remote;
mod runtime;
#[cfg(feature = "schema")]
#[cfg_attr(docsrs, doc(cfg(feature = "schema")))]
pub mod schema;
pub mod timers;
pub mod ui;

#[doc(no_inline)]
pub use crate::calls::{
    AsyncCall, CallStatus, cancel, call_async, call_blocking, set_runtime, try_call_async,
    try_call_blocking, wait_for,
};
#[doc(no_inline)]
pub use crate::context::{Context, Identity};
#[doc(no_inline)]
pub use crate::errors::{BoxError, CallError, SharedError};
#[doc(no_inline)]
pub use crate::items::Items;
#[doc(no_inline)]
pub use crate::registry::{call_async_by_name, registry};
#[doc(no_inline)]
pub use crate::timers::{DeferRef, RepeatRef, defer, repeat, repeat_async, repeat_with};

/// Makes a function callable by name from anywhere in the program, and generates a typed
/// non-blocking stub for it.
///
/// ```
/// use nonblocking_runtime::{call_async_by_name, server_function};
///
/// #[server_function]
/// pub async fn update(id: u32, title: String) -> Result<u32, std::io::Error> {
///     println!("storing {id}: {title}");
///     Ok(id)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // The typed stub: checked at compile time, no serialization.
/// let call = call_async_update(7, "groceries".into());
/// assert_eq!(call.await.unwrap(), 7);
///
/// // By name, with serde arguments: positional (a tuple or array) or by keyword (an object).
/// let by_name = call_async_by_name::<u32>("update", (8, "laundry"));
/// assert_eq!(by_name.await.unwrap(), 8);
/// # }
/// ```
///
/// # What it accepts
///
/// `fn` and `async fn` of any visibility, returning `()`, `T` or `Result<T, E>` (with
/// `E: Into<Box<dyn Error + Send + Sync>>`, like [`try_call_async`]). Parameters are plain
/// identifiers with owned types that are `Serialize + DeserializeOwned + Send + 'static`; the
/// value is `Serialize + DeserializeOwned + Send + Sync + 'static`; an async function's future
/// must be `Send`.
///
/// A return type whose last path segment is `Result` (`Result<T, E>`, `io::Result<T>`,
/// `anyhow::Result<T>`) is *fallible*: `Err(e)` becomes the call's [`CallError::Failed`], and
/// the stub's value is `T`. For an alias the macro cannot see through, say so:
/// `#[server_function(fallible)]` (or `(infallible)` to return a `Result` as a plain value).
///
/// # Options
///
/// | option | meaning |
/// |---|---|
/// | `name = "billing.update"` | the registered name; default: the function's identifier. Names match `[A-Za-z0-9_.-]+`. |
/// | `inline` | always run a sync function directly on the async worker, never on the blocking pool (a hop there costs ~30 µs of thread wake-up); for functions that return in microseconds. Without it, see "Where it runs". |
/// | `fallible` / `infallible` | override the `Result` rule above |
/// | `require = "admin"` | the role a caller of a transport must have: checked against the [`Identity`] the authorize hook attached (none: `401 unauthorized`; without the role: `403 forbidden`), before the function runs; also [`ServerFunction::require`](crate::registry::ServerFunction::require) for hooks and tooling. Local calls are not checked. |
/// | `crate = path::to::runtime` | where `nonblocking_runtime` is, if you renamed it |
///
/// # Context parameters
///
/// A parameter marked `#[context]` is read from the call's [`Context`] instead of its
/// arguments: `#[context] user: User` (the value the authorize hook attached with
/// `caller.attach(..)`, or the call fails with [`CallError::MissingContext`] before the
/// function runs), `#[context] user: Option<User>`, or `#[context] context: Context` (the whole
/// context, with the call's deadline). It is never sent: callers, stubs and schemas see only
/// the other parameters. Locally, the stub reads it from [`Context::current`] (set with
/// [`Context::scope`] in a test). See [`context`] for an example.
///
/// # What it generates
///
/// Next to the function (unchanged but for the `#[context]` markers), with the same
/// visibility and `cfg`s:
///
/// * `call_async_<name>(params) -> AsyncCall<T>`: calls the function directly (no
///   serialization) through [`call_async`], [`call_blocking`] or their `try_` forms, reading
///   its `#[context]` parameters from the current context;
/// * `call_remote_<name>(&remote, params) -> AsyncCall<T>` (with the runtime's `http`
///   feature): the same call on the server behind an `http::Remote`, checked at compile time
///   like the local stub, with the arguments sent positionally;
/// * `<NAME>_SERVER_FUNCTION`, a `const` [`ServerFunction`](crate::registry::ServerFunction) with
///   the registered name, Rust path, file, line, parameters, return type and a handler for calls
///   by name, submitted to the [`registry()`] through `inventory`.
///
/// Run `cargo expand -p your-crate` to read it all.
///
/// # Where it runs
///
/// An `async fn` runs on the async worker threads of the runtime the call is made on. A sync
/// `fn` may block, so it always runs on that runtime's blocking pool, through its typed stub,
/// by name and over every transport: however long one run blocks, it never holds up the
/// workers that serve every other call, and a server's timeout still answers `timed_out` at
/// its deadline. A thread cannot be stopped, so a timed-out (or cancelled) sync call finishes
/// its run on the pool in the background and its value is discarded. The hop to the pool
/// costs a thread wake-up per call (tens of microseconds).
///
/// `#[server_function(inline)]` runs a sync function on the async worker instead, inside the
/// call's own task, with no hop. That is the author's promise that the function never blocks
/// (no I/O, no locks held for long, no `sleep`): a run on the worker cannot be preempted or
/// timed out, and while it runs every other call on that worker waits (over HTTP, the next
/// requests on its connection; over NATS, the next requests to the same function, which a
/// worker starts in order). Use it for functions that only compute from their arguments, such
/// as a validation or a conversion.
///
/// # Free functions only
///
/// The attribute works on free functions. On a method (a `self` receiver) or an associated
/// function whose signature mentions `Self`, it reports one error that shows how to wrap it in
/// a free function. An associated function whose signature shows neither cannot be told from a
/// free one (an attribute does not see its `impl` block): rustc then reports that it cannot
/// find the function, and the fix is the same.
///
/// # Misuse is a compile error at your code
///
/// ```compile_fail
/// # use nonblocking_runtime::server_function;
/// #[server_function]
/// fn shout(text: &str) -> String { // error: use `String` instead of a reference
///     text.to_uppercase()
/// }
/// ```
#[doc(inline)]
pub use nonblocking_macros::server_function;

/// What `#[server_function]` expands to refers to, by absolute path. Not public API: it may
/// change in any release, together with the macro (which is pinned to this exact version).
#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
}
