//! `on_item`: a handler per item of a streaming call.

use super::Items;
use crate::calls::{AsyncCall, call_with_outcome};

impl<T: Send + 'static> AsyncCall<Items<T>> {
    /// Runs `handler` with each item, in order, on the call's runtime, as the items are read;
    /// the call this returns has the number of items as its value once they are all handled,
    /// or the error that ended them (after the items before it were handled). Its progress
    /// handlers still see the function's progress.
    ///
    /// The items are read as fast as `handler` returns: a slow handler slows the function
    /// (through its buffer), never makes memory grow. Cancelling the call this returns stops
    /// the function, here or on its server.
    ///
    /// # Examples
    ///
    /// ```
    /// use nonblocking_runtime::items::Items;
    /// use nonblocking_runtime::server_function;
    /// use std::sync::{Arc, Mutex};
    ///
    /// #[server_function]
    /// fn rows(count: u32) -> Items<String> {
    ///     Items::from_iter((1..=count).map(|n| format!("row {n}")))
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let list = Arc::new(Mutex::new(Vec::new()));
    /// let filled = Arc::clone(&list);
    /// let count = call_async_rows(3).on_item(move |row| filled.lock().unwrap().push(row));
    /// assert_eq!(count.await.unwrap(), 3);
    /// assert_eq!(*list.lock().unwrap(), ["row 1", "row 2", "row 3"]);
    /// # }
    /// ```
    pub fn on_item(self, mut handler: impl FnMut(T) + Send + 'static) -> AsyncCall<u64> {
        self.each_item(move |item| {
            handler(item);
            std::future::ready(())
        })
    }

    /// The items, each handed to `handler`, whose future is awaited before the next is read.
    pub(crate) fn each_item<F, Fut>(self, mut handler: F) -> AsyncCall<u64>
    where
        F: FnMut(T) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let progress = self.progress_cell().cloned();
        // Dropping this call's task (a cancel) drops the items and cancels the call: the
        // function stops.
        let call = self.cancel_on_drop();
        let counted = call_with_outcome(async move {
            let mut items: Items<T> = call.await?;
            let mut count = 0;
            while let Some(item) = items.next().await {
                handler(item?).await;
                count += 1;
            }
            Ok(count)
        });
        match progress {
            Some(cell) => counted.with_progress(cell),
            None => counted,
        }
    }
}
