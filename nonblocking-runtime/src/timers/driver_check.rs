//! Whether a runtime has tokio's time driver. A runtime built without `enable_time` panics on
//! the first timer anything creates; calls, repeats and defers instead refuse cleanly: a
//! timeout fails its call with [`CallError::NoTimeDriver`], a repeat or a defer reports
//! cancelled at once, and one error naming `enable_time` is reported per runtime.
//!
//! tokio has no public way to ask, so the first timer use on each runtime probes by creating a
//! zero sleep with the panic caught; a panic hook installed for that (around the one installed
//! before it, which still sees every other panic) keeps the probe's panic off stderr.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, Once};
use std::time::Duration;

use tokio::runtime::{Handle, Id};

use crate::errors::CallError;

thread_local! {
    /// The runtime this thread asked about last, and the answer.
    static LAST: Cell<Option<(Id, bool)>> = const { Cell::new(None) };
    /// Set while this thread probes: its panic is expected.
    static PROBING: Cell<bool> = const { Cell::new(false) };
}

/// Runtimes already reported as having no time driver.
static REPORTED: Mutex<Vec<Id>> = Mutex::new(Vec::new());
static QUIET_HOOK: Once = Once::new();

/// Whether `runtime` can run timers; reports once per runtime when it cannot.
pub(crate) fn has_time_driver(runtime: &Handle) -> bool {
    let id = runtime.id();
    if let Some((last, answer)) = LAST.get() {
        if last == id {
            return answer;
        }
    }
    let answer = probe(runtime);
    LAST.set(Some((id, answer)));
    if !answer {
        report(id);
    }
    answer
}

fn probe(runtime: &Handle) -> bool {
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !PROBING.get() {
                previous(info);
            }
        }));
    });
    let _clock = runtime.enter();
    PROBING.set(true);
    let created = catch_unwind(AssertUnwindSafe(|| drop(tokio::time::sleep(Duration::ZERO))));
    PROBING.set(false);
    created.is_ok()
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
