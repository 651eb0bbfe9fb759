//! [`Pending`]: the `Send` ticket to a closure kept on the UI thread. It travels with the
//! call's own handler (or a timer) to whichever thread finishes the work, and sends back the
//! job that runs the closure; dropped unused, it sends back the job that forgets it, so the
//! UI thread never keeps a closure that can no longer run.

use std::marker::PhantomData;
use std::sync::Arc;

use super::UiContext;
use super::queue::Queue;

pub(crate) struct Pending<F: 'static> {
    id: u64,
    queue: Option<Arc<Queue>>,
    // The closure stays on the UI thread: only its type travels, so this is `Send` whatever
    // `F` is.
    _closure: PhantomData<fn(F)>,
}

impl<F: 'static> Pending<F> {
    pub(crate) fn new(id: u64, queue: Arc<Queue>) -> Self {
        Pending {
            id,
            queue: Some(queue),
            _closure: PhantomData,
        }
    }

    /// Queues the closure's run with `value`, by `run(closure, &value)` on the UI thread.
    pub(crate) fn deliver<V: Send + 'static>(mut self, value: V, run: fn(F, &V)) {
        let Some(queue) = self.queue.take() else { return };
        let id = self.id;
        queue.post(Box::new(move |ui: &UiContext| {
            let Some(f) = ui.table().take::<F>(id) else { return false };
            run(f, &value);
            true
        }));
    }
}

impl<F: 'static> Drop for Pending<F> {
    fn drop(&mut self) {
        let Some(queue) = self.queue.take() else { return };
        let id = self.id;
        queue.post_quietly(Box::new(move |ui: &UiContext| {
            drop(ui.table().take::<F>(id));
            false
        }));
    }
}
