//! Where a sync server function runs when called by name (and so over HTTP): on the blocking
//! pool while it is new or slow, on the async worker once it has proven cheap.
//!
//! A hop to the blocking pool costs a thread wake-up (~30 µs here), which for a function that
//! adds two numbers is most of the cost of an HTTP call. Running it on the worker is free, but
//! a function that blocks would stall every call sharing that worker. So each function learns:
//! its first calls run on the pool and are timed; after [`PROVEN`] runs in a row each faster
//! than [`CHEAP`], it runs on the worker; the first run on the worker slower than [`TOO_SLOW`]
//! sends it back to the pool for good. A function that blocks for 100 ms never leaves the pool,
//! so it never delays other calls. (`#[server_function(inline)]` skips the learning: always the
//! worker. Typed stubs, `call_async_<name>`, always use the pool: they are not on this path.)

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A run at most this long counts as cheap.
pub(crate) const CHEAP: Duration = Duration::from_micros(50);
/// This many cheap runs in a row on the pool move a function to the worker.
pub(crate) const PROVEN: u32 = 16;
/// A run on the worker longer than this sends the function back to the pool, for good.
pub(crate) const TOO_SLOW: Duration = Duration::from_millis(1);

/// Cheap runs in a row, counting up to [`PROVEN`] (then: on the worker); [`SLOW`]: on the
/// pool for good.
const SLOW: u32 = u32::MAX;

/// One sync server function's pace: generated as a `static` next to its handler.
#[derive(Debug)]
pub struct Pace {
    state: AtomicU32,
}

impl Pace {
    /// A function not yet seen to run.
    #[allow(clippy::new_without_default)] // a `const fn` for the generated `static`
    pub const fn new() -> Self {
        Pace {
            state: AtomicU32::new(0),
        }
    }

    /// Whether the next call runs on the worker.
    pub(crate) fn on_worker(&self) -> bool {
        self.state.load(Ordering::Relaxed) == PROVEN
    }

    /// Records a run of `took`, on the worker or on the pool.
    pub(crate) fn record(&self, took: Duration, on_worker: bool) {
        let state = self.state.load(Ordering::Relaxed);
        let next = if state == SLOW {
            return;
        } else if on_worker {
            if took <= TOO_SLOW {
                return;
            }
            SLOW
        } else if took <= CHEAP {
            (state + 1).min(PROVEN)
        } else {
            0
        };
        // A lost race only delays the learning by a call.
        let _ = self
            .state
            .compare_exchange(state, next, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// `true` once the function was seen slow on the worker (for tests and diagnostics).
    #[cfg(test)]
    pub(crate) fn is_slow(&self) -> bool {
        self.state.load(Ordering::Relaxed) == SLOW
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cheap_runs_move_a_function_to_the_worker_and_one_slow_run_sends_it_back_for_good() {
        let pace = Pace::new();
        for _ in 0..PROVEN - 1 {
            pace.record(Duration::from_micros(5), false);
        }
        assert!(!pace.on_worker());
        pace.record(Duration::from_micros(500), false);
        assert!(!pace.on_worker(), "a slow run on the pool starts the count again");
        for _ in 0..PROVEN {
            pace.record(Duration::from_micros(5), false);
        }
        assert!(pace.on_worker());
        pace.record(Duration::from_micros(500), true);
        assert!(pace.on_worker(), "slower than cheap, but not too slow for the worker");
        pace.record(Duration::from_millis(100), true);
        assert!(!pace.on_worker() && pace.is_slow());
        for _ in 0..10 * PROVEN {
            pace.record(Duration::from_micros(5), false);
        }
        assert!(!pace.on_worker(), "for good");
    }
}
