//! Whether a runtime has tokio's time driver. A runtime built without `enable_time` panics on
//! the first timer anything creates; calls, repeats and defers instead refuse cleanly: a
//! timeout fails its call with [`CallError::NoTimeDriver`], a repeat or a defer reports
//! cancelled at once, and one error naming `enable_time` is reported per runtime.
//!
//! tokio has no public way to ask, so the first timer use on each thread and runtime probes by
//! creating a zero sleep with the panic caught. The application's panic hook is left alone: on
//! a runtime without the time driver it sees tokio's own panic ("timers are disabled. Call
//! `enable_time` on the runtime builder") once per probe, which names the fix as our report
//! does. A runtime with the driver never panics, and most runtimes have one.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::time::Duration;

use tokio::runtime::{Handle, Id};

use crate::errors::CallError;

thread_local! {
    /// The runtime this thread asked about last, and the answer.
    static LAST: Cell<Option<(Id, bool)>> = const { Cell::new(None) };
}

/// Runtimes known to have no time driver, each reported once.
static REPORTED: Mutex<Vec<Id>> = Mutex::new(Vec::new());

/// Whether `runtime` can run timers; reports once per runtime when it cannot.
pub(crate) fn has_time_driver(runtime: &Handle) -> bool {
    let id = runtime.id();
    if let Some((last, answer)) = LAST.get() {
        if last == id {
            return answer;
        }
    }
    // A runtime known to lack the driver is not probed again: the application's panic hook
    // sees tokio's panic once per runtime, not once per thread that asks.
    let known_without = REPORTED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .contains(&id);
    let answer = !known_without && probe(runtime);
    LAST.set(Some((id, answer)));
    if !answer {
        report(id);
    }
    answer
}

fn probe(runtime: &Handle) -> bool {
    let _clock = runtime.enter();
    catch_unwind(AssertUnwindSafe(|| drop(tokio::time::sleep(Duration::ZERO)))).is_ok()
}

fn report(id: Id) {
    let mut reported = REPORTED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if reported.contains(&id) {
        return;
    }
    reported.push(id);
    drop(reported);
    crate::errors::report_misuse(&CallError::NoTimeDriver.to_string());
}
