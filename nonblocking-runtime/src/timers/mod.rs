//! Timers: [`repeat`] something every interval (Anvil's `repeat`, a heartbeat) and [`defer`]
//! something once after a delay (Anvil's `defer`, a debounced save); stop either with
//! [`cancel`](crate::cancel) or their handles.
//!
//! # Which runtime, which thread
//!
//! A timer uses the clock of the runtime it was created on (the current one, else the pinned or
//! background runtime, as for [calls](crate::calls)), so `#[tokio::test(start_paused = true)]`
//! controls it. Bodies run on that runtime's async worker threads: a `repeat`'s calls one after
//! the other on its own task, each `defer` body as a task of its own. So bodies must be
//! `Send + 'static` and should not block; move blocking work into
//! [`call_blocking`](crate::call_blocking).

mod defer;
pub(crate) mod queue;
mod repeat;

pub use self::defer::{DeferRef, defer};
pub use self::repeat::{RepeatRef, repeat, repeat_async, repeat_with};
