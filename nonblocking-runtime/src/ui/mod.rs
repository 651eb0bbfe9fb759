//! Handlers and timers on a GUI's UI thread: [`UiContext`].
//!
//! A GUI keeps its state on one thread, and usually behind `!Send` types. Calls, repeats and
//! defers run on the runtime's workers; a [`UiContext`] made on the UI thread brings their
//! results back to it, so a handler can update the UI directly:
//!
//! ```
//! use nonblocking_runtime::call_async;
//! use nonblocking_runtime::ui::UiContext;
//! use std::cell::RefCell;
//! use std::rc::Rc;
//!
//! # let ui = UiContext::new(|| {});
//! # let status = Rc::new(RefCell::new(String::new()));
//! # let shown = Rc::clone(&status);
//! // ui: UiContext, status: Rc<RefCell<String>>, made once on the UI thread.
//! call_async(async { "saved" })
//!     .on_result_ui(&ui, move |message| *shown.borrow_mut() = message.to_string());
//! # while status.borrow().is_empty() { ui.pump(); std::thread::yield_now(); }
//! ```
//!
//! # Which thread runs what
//!
//! | code | runs on |
//! |---|---|
//! | the call itself, [`on_result`](crate::AsyncCall::on_result), [`on_error`](crate::AsyncCall::on_error), [`repeat`](crate::repeat), [`defer`](crate::defer) | a worker of the runtime (`Send` closures) |
//! | [`on_result_ui`](crate::AsyncCall::on_result_ui), [`on_error_ui`](crate::AsyncCall::on_error_ui), [`on_progress_ui`](crate::AsyncCall::on_progress_ui), [`UiContext::repeat`], [`UiContext::defer`], [`UiHandle::post`] | the UI thread, inside [`UiContext::pump`] (`!Send` closures allowed) |
//!
//! Timing comes from the runtime's timer; only the delivery goes through the queue, so a UI
//! body runs at the first pump after its time. Until the loop pumps, at most one entry per
//! attached handler and one per repeat or defer waits in the queue.
//!
//! `.await` and `wait()` do not wait for UI handlers: on the UI thread that would deadlock.
//! Each UI handler gets its own copy of the outcome for that reason.

mod context;
mod defer;
mod handlers;
mod items;
mod pending;
mod progress;
mod queue;
mod repeat;
mod table;

pub use self::context::UiContext;
pub use self::defer::UiDeferRef;
pub use self::queue::UiHandle;
pub use self::repeat::UiRepeatRef;
