//! Runs of a server function counted by tag (one tag per test, so that tests running at once
//! do not read each other's): how many started, and how many were dropped before their end (a
//! cancel, a deadline or a caller that went away stopped them where they ran).

use std::sync::atomic::{AtomicUsize, Ordering};

/// Tags `0..8`.
pub struct Runs {
    started: [AtomicUsize; 8],
    dropped: [AtomicUsize; 8],
}

impl Runs {
    pub const fn new() -> Self {
        Runs {
            started: [const { AtomicUsize::new(0) }; 8],
            dropped: [const { AtomicUsize::new(0) }; 8],
        }
    }

    /// Counts a start of `tag`.
    pub fn started(&self, tag: usize) {
        self.started[tag].fetch_add(1, Ordering::SeqCst);
    }

    /// A guard that counts a drop of `tag` when it goes: held by a run that ends only when it is
    /// stopped.
    pub fn unfinished(&'static self, tag: usize) -> Unfinished {
        Unfinished { runs: self, tag }
    }

    pub fn starts(&self, tag: usize) -> usize {
        self.started[tag].load(Ordering::SeqCst)
    }

    pub fn drops(&self, tag: usize) -> usize {
        self.dropped[tag].load(Ordering::SeqCst)
    }
}

pub struct Unfinished {
    runs: &'static Runs,
    tag: usize,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        self.runs.dropped[self.tag].fetch_add(1, Ordering::SeqCst);
    }
}
