//! `on_result_ui` and `on_error_ui`: handlers that run on the UI thread.

use super::UiContext;
use crate::calls::AsyncCall;
use crate::errors::CallError;

impl<T: Send + 'static> AsyncCall<T> {
    /// [`on_result`](Self::on_result) for the UI thread: `handler` runs there, at the context's
    /// next [`pump`](UiContext::pump) after the call completes, so it need not be `Send` and
    /// may update the app's state directly.
    ///
    /// The rules are [`on_result`](Self::on_result)'s: at most once, never inside the call
    /// that attaches it (attached after the call finished, it is queued, never run inline), and
    /// after the handlers attached before it. It gets its own copy of the value (hence
    /// `T: Clone`): `.await` and [`wait`](Self::wait) may take the value before the UI thread
    /// pumps, since they do **not** wait for UI handlers; waiting for them on the UI thread
    /// would deadlock.
    ///
    /// If the context is dropped first, the handler is dropped unrun.
    ///
    /// # Examples
    ///
    /// ```
    /// use nonblocking_runtime::call_async;
    /// use nonblocking_runtime::ui::UiContext;
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// let ui = UiContext::new(|| {});
    /// let saves = Rc::new(Cell::new(0)); // not Send: fine on the UI thread
    /// let counted = Rc::clone(&saves);
    /// let call = call_async(async { 1 }).on_result_ui(&ui, move |n| counted.set(counted.get() + n));
    /// assert_eq!(call.wait().unwrap(), 1); // the value is the caller's too
    /// ui.pump();
    /// assert_eq!(saves.get(), 1);
    /// ```
    pub fn on_result_ui(self, ui: &UiContext, handler: impl FnOnce(&T) + 'static) -> Self
    where
        T: Clone + Sync,
    {
        let pending = ui.keep(handler);
        self.on_result(move |value| pending.deliver(value.clone(), |handler, value| handler(value)))
    }

    /// [`on_error`](Self::on_error) for the UI thread; otherwise as
    /// [`on_result_ui`](Self::on_result_ui). The handler gets its own copy of the error.
    ///
    /// # Examples
    ///
    /// ```
    /// use nonblocking_runtime::try_call_async;
    /// use nonblocking_runtime::ui::UiContext;
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    ///
    /// let ui = UiContext::new(|| {});
    /// let status = Rc::new(RefCell::new(String::new()));
    /// let shown = Rc::clone(&status);
    /// let call = try_call_async(async { Err::<(), _>("no network") })
    ///     .on_error_ui(&ui, move |error| *shown.borrow_mut() = error.to_string());
    /// assert!(call.wait().is_err());
    /// ui.pump();
    /// assert_eq!(*status.borrow(), "no network");
    /// ```
    pub fn on_error_ui(self, ui: &UiContext, handler: impl FnOnce(&CallError) + 'static) -> Self {
        let pending = ui.keep(handler);
        self.on_error(move |error| pending.deliver(error.clone(), |handler, error| handler(error)))
    }
}
