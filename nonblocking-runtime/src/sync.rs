//! The synchronisation primitives of the call state machine, swapped for loom's model-checked
//! ones under `--cfg nonblocking_loom`.

#[cfg(nonblocking_loom)]
use loom::sync as imp;
#[cfg(not(nonblocking_loom))]
use std::sync as imp;

pub(crate) use imp::{
    Arc, MutexGuard,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

#[cfg(not(nonblocking_loom))]
pub(crate) use atomic_waker::AtomicWaker;

/// The same three operations as `atomic_waker::AtomicWaker`, which loom cannot see into, built
/// from a loom mutex: the model then checks our protocol around it.
#[cfg(nonblocking_loom)]
pub(crate) struct AtomicWaker(Mutex<Option<std::task::Waker>>);

#[cfg(nonblocking_loom)]
impl AtomicWaker {
    pub(crate) fn new() -> Self {
        AtomicWaker(Mutex::new(None))
    }

    pub(crate) fn register(&self, waker: &std::task::Waker) {
        *self.0.lock() = Some(waker.clone());
    }

    pub(crate) fn take(&self) -> Option<std::task::Waker> {
        self.0.lock().take()
    }
}

/// A mutex without poisoning: no user code ever runs while one of ours is held, so a poisoned
/// lock can only mean a bug in this crate, and its data is still consistent.
#[derive(Debug)]
pub(crate) struct Mutex<T>(imp::Mutex<T>);

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex(imp::Mutex::new(value))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The data without locking: `&mut self` proves nobody else can reach it.
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.0
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
