//! `on_item_ui`: a stream's items handled on the UI thread, with a bounded number waiting in
//! the queue: a UI that pumps slowly slows the stream down instead of queueing it all.

use std::marker::PhantomData;
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::UiContext;
use super::queue::Queue;
use crate::calls::AsyncCall;
use crate::items::Items;

/// How many items may wait for the UI to pump at most.
const WAITING: usize = 64;

impl<T: Send + 'static> AsyncCall<Items<T>> {
    /// [`on_item`](Self::on_item) for the UI thread: `handler` runs there, inside
    /// [`pump`](UiContext::pump), with each item in order, so it need not be `Send` and may
    /// fill the app's list directly. At most 64 items wait for the pump; past that the stream
    /// waits (and its function, through its buffer). The call this returns ends with the
    /// number of items once they are all queued: its UI result handlers run after the last
    /// item's.
    ///
    /// If the context is dropped first, the handler is dropped unrun.
    ///
    /// # Examples
    ///
    /// ```
    /// use nonblocking_runtime::items::Items;
    /// use nonblocking_runtime::server_function;
    /// use nonblocking_runtime::ui::UiContext;
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    ///
    /// #[server_function]
    /// async fn rows() -> Items<String> {
    ///     Items::from_iter(["milk", "eggs"].map(String::from))
    /// }
    ///
    /// let ui = UiContext::new(|| {});
    /// let list = Rc::new(RefCell::new(Vec::new())); // not Send: fine on the UI thread
    /// let filled = Rc::clone(&list);
    /// let call = call_async_rows().on_item_ui(&ui, move |row| filled.borrow_mut().push(row));
    /// assert_eq!(call.wait().unwrap(), 2);
    /// ui.pump();
    /// assert_eq!(*list.borrow(), ["milk", "eggs"]);
    /// ```
    pub fn on_item_ui<F>(self, ui: &UiContext, handler: F) -> AsyncCall<u64>
    where
        F: FnMut(T) + 'static,
    {
        let kept = Kept::<F> { id: ui.table().insert(handler), queue: Arc::clone(ui.queue()), _handler: PhantomData };
        let waiting = Arc::new(Semaphore::new(WAITING));
        self.each_item(move |item| {
            let (id, queue, waiting) = (kept.id, Arc::clone(&kept.queue), Arc::clone(&waiting));
            async move {
                // Closed only if never: the semaphore lives as long as this closure.
                let Ok(slot) = waiting.acquire_owned().await else { return };
                queue.post(Box::new(move |ui: &UiContext| {
                    let _slot = slot;
                    let Some(mut handler) = ui.table().take::<F>(id) else { return false };
                    handler(item);
                    ui.table().put_back(id, handler);
                    true
                }));
            }
        })
    }
}

/// The `Send` side of a UI item handler kept on the UI thread: dropped with the stream, it
/// removes the handler (after the items queued before it).
struct Kept<F: 'static> {
    id: u64,
    queue: Arc<Queue>,
    _handler: PhantomData<fn(F)>,
}

impl<F: 'static> Drop for Kept<F> {
    fn drop(&mut self) {
        let id = self.id;
        self.queue.post_quietly(Box::new(move |ui: &UiContext| {
            drop(ui.table().take::<F>(id));
            false
        }));
    }
}
