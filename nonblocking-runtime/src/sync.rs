//! The synchronisation primitives of the call state machine, swapped for loom's model-checked
//! ones under `--cfg nonblocking_loom`.

#[cfg(nonblocking_loom)]
use loom::sync as imp;
#[cfg(not(nonblocking_loom))]
use std::sync as imp;

pub(crate) use imp::{
    Arc, MutexGuard,
    atomic::{AtomicBool, Ordering},
};

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
}
