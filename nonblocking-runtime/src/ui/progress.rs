//! `on_progress_ui`: a call's progress on the UI thread, at most one delivery waiting in the
//! queue at a time (it takes the latest value when the UI pumps), so a UI that pumps slowly
//! sees the latest progress, never a backlog.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::UiContext;
use super::queue::Queue;
use crate::calls::AsyncCall;

impl<T: Send + 'static> AsyncCall<T> {
    /// [`on_progress`](Self::on_progress) for the UI thread: `handler` runs there, inside
    /// [`pump`](UiContext::pump), so it need not be `Send` and may update the app's state (a
    /// progress bar) directly. Lossy like `on_progress`, and on the UI side too: while one
    /// delivery waits for the pump, newer values replace its value instead of queueing. The
    /// last value is queued before the call's UI result handlers.
    ///
    /// If the context is dropped first, the handler is dropped unrun.
    ///
    /// # Examples
    ///
    /// ```
    /// use nonblocking_runtime::progress::Progress;
    /// use nonblocking_runtime::server_function;
    /// use nonblocking_runtime::ui::UiContext;
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// #[server_function]
    /// async fn save(#[context] progress: Progress<u8>) {
    ///     for percent in [25, 50, 100] {
    ///         tokio::time::sleep(std::time::Duration::from_millis(20)).await; // the work
    ///         progress.report(percent);
    ///     }
    /// }
    ///
    /// let ui = UiContext::new(|| {});
    /// let bar = Rc::new(Cell::new(0)); // not Send: fine on the UI thread
    /// let shown = Rc::clone(&bar);
    /// let call = call_async_save().on_progress_ui(&ui, move |percent: u8| shown.set(percent));
    /// call.wait().unwrap();
    /// ui.pump();
    /// assert_eq!(bar.get(), 100);
    /// ```
    pub fn on_progress_ui<P, F>(self, ui: &UiContext, handler: F) -> Self
    where
        P: DeserializeOwned + 'static,
        F: FnMut(P) + 'static,
    {
        if self.progress_cell().is_none() {
            return self;
        }
        let ticket = Ticket::<F> {
            id: ui.table().insert(handler),
            queue: Arc::clone(ui.queue()),
            waiting: Arc::default(),
            _handler: PhantomData,
        };
        self.on_progress(move |value: Value| ticket.deliver::<P>(value))
    }
}

/// The `Send` side of a UI progress handler kept on the UI thread.
struct Ticket<F: 'static> {
    id: u64,
    queue: Arc<Queue>,
    /// The value the queued delivery will take, if one is queued.
    waiting: Arc<Waiting>,
    // The handler stays on the UI thread: only its type travels.
    _handler: PhantomData<fn(F)>,
}

#[derive(Default)]
struct Waiting {
    value: Mutex<Option<Value>>,
    queued: AtomicBool,
}

impl<F: 'static> Ticket<F> {
    fn deliver<P>(&self, value: Value)
    where
        P: DeserializeOwned + 'static,
        F: FnMut(P),
    {
        *self.waiting.value.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
        if self.waiting.queued.swap(true, Ordering::AcqRel) {
            return; // the delivery already queued takes this value
        }
        let (id, waiting) = (self.id, Arc::clone(&self.waiting));
        self.queue.post(Box::new(move |ui: &UiContext| {
            waiting.queued.store(false, Ordering::Release);
            let Some(value) = waiting.value.lock().unwrap_or_else(PoisonError::into_inner).take() else {
                return false;
            };
            let Some(mut handler) = ui.table().take::<F>(id) else { return false };
            match P::deserialize(value) {
                Ok(progress) => handler(progress),
                Err(error) => tracing::warn!(%error, "a progress value does not decode as the UI handler's type"),
            }
            ui.table().put_back(id, handler);
            true
        }));
    }
}

impl<F: 'static> Drop for Ticket<F> {
    fn drop(&mut self) {
        let id = self.id;
        self.queue.post_quietly(Box::new(move |ui: &UiContext| {
            drop(ui.table().take::<F>(id));
            false
        }));
    }
}
