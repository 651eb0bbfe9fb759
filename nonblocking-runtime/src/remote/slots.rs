//! The concurrency limit: a count of running calls that refuses one too many at once, never
//! queueing it. A semaphore would do the counting, but every release takes its lock to look for
//! waiters, and here there never are any: this is one atomic add and one atomic subtract.

use std::sync::atomic::{AtomicUsize, Ordering};

pub(crate) struct Slots {
    taken: AtomicUsize,
    limit: usize,
}

/// One running call's slot, given back when dropped.
pub(crate) struct Slot<'a>(&'a Slots);

impl Slots {
    pub(crate) fn new(limit: usize) -> Slots {
        Slots {
            taken: AtomicUsize::new(0),
            limit,
        }
    }

    /// A slot, or `None` when `limit` calls already hold one.
    pub(crate) fn try_take(&self) -> Option<Slot<'_>> {
        // Taking first and giving back on refusal keeps the count exact under races: two
        // callers racing for the last slot both add, and the later one sees the limit.
        if self.taken.fetch_add(1, Ordering::Acquire) >= self.limit {
            self.taken.fetch_sub(1, Ordering::Release);
            return None;
        }
        Some(Slot(self))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.taken.fetch_sub(1, Ordering::Release);
    }
}
