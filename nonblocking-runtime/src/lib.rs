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
#![warn(missing_docs)]

mod call;
mod cancel;
mod defer;
mod error;
mod panic;
mod repeat;
mod runtime;
mod sync;
mod timer;

pub use crate::call::{
    AsyncCall, CallFuture, CallStatus, call_async, call_blocking, try_call_async,
    try_call_blocking, wait_for,
};
pub use crate::cancel::{Cancel, CancelOnDrop, cancel};
pub use crate::defer::{DeferRef, defer};
pub use crate::error::{BoxError, CallError};
pub use crate::repeat::{RepeatRef, repeat, repeat_async, repeat_with};
pub use crate::runtime::{SetRuntimeError, set_runtime};
