//! The concurrency limit: a count of running calls that refuses one too many at once, never
//! queueing it. A semaphore would do the counting, but every release takes its lock to look for
//! waiters, and here there never are any: this is one atomic add and one atomic subtract.

use std::sync::Arc;
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

/// A slot that owns its count, for a call that runs in a task of its own.
#[cfg_attr(not(feature = "nats"), allow(dead_code))]
pub(crate) struct OwnedSlot(Arc<Slots>);

#[cfg_attr(not(feature = "nats"), allow(dead_code))]
impl Slots {
    /// [`try_take`](Self::try_take), holding the count through an `Arc`.
    pub(crate) fn try_take_owned(self: &Arc<Self>) -> Option<OwnedSlot> {
        let slot = self.try_take()?;
        std::mem::forget(slot);
        Some(OwnedSlot(Arc::clone(self)))
    }
}

impl Drop for OwnedSlot {
    fn drop(&mut self) {
        self.0.taken.fetch_sub(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::Slots;

    #[test]
    fn at_most_limit_slots_are_held_at_once_and_all_come_back() {
        let slots = Slots::new(3);
        let held: Vec<_> = std::iter::from_fn(|| slots.try_take()).take(10).collect();
        assert_eq!(held.len(), 3);
        assert!(slots.try_take().is_none());
        drop(held);
        let again: Vec<_> = std::iter::from_fn(|| slots.try_take()).take(10).collect();
        assert_eq!(again.len(), 3);
    }

    #[test]
    fn racing_takers_never_exceed_the_limit() {
        let slots = Slots::new(4);
        for _ in 0..200 {
            let barrier = Barrier::new(8);
            let granted = std::thread::scope(|scope| {
                let takers: Vec<_> = (0..8)
                    .map(|_| {
                        scope.spawn(|| {
                            barrier.wait();
                            slots.try_take().map(std::mem::forget).is_some()
                        })
                    })
                    .collect();
                takers.into_iter().map(|taker| taker.join().unwrap()).filter(|&granted| granted).count()
            });
            assert_eq!(granted, 4);
            // The forgotten slots are still taken: give them back by hand for the next round.
            slots.taken.store(0, std::sync::atomic::Ordering::SeqCst);
        }
    }
}
