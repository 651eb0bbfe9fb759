//! Failures nobody observed (no error handler, no await, no `result()`): reported when the
//! call's state is dropped, so a fire-and-forget "disk full" is never silent.
//!
//! With a `tracing` subscriber installed they go through it, as an `error!` event. A new app has
//! none, so without one they print one line each to stderr, at most [`LINES_PER_WINDOW`] lines
//! a second: 100,000 failing calls cannot flood the terminal, and the lines left out are
//! counted in the next one printed.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::CallError;

/// How many lines may be printed in one window.
const LINES_PER_WINDOW: u32 = 10;
const WINDOW: Duration = Duration::from_secs(1);

static TO_STDERR: AtomicBool = AtomicBool::new(true);
static LIMIT: Mutex<Limit> = Mutex::new(Limit {
    window_start: None,
    printed: 0,
    left_out: 0,
    hinted: false,
});

struct Limit {
    window_start: Option<Instant>,
    printed: u32,
    left_out: u64,
    hinted: bool,
}

/// Turns the stderr line for failures nobody observed on (the default) or off.
///
/// A call that fails while nothing observes it (no [`on_error`](crate::AsyncCall::on_error)
/// handler, no await or `wait()`, no `result()`/`error()`) is reported when its last handle
/// goes away. With a [`tracing`] subscriber installed it is an `error!` event of that
/// subscriber, whatever this switch says. Without one it is a line on stderr, at most ten a
/// second (the lines left out are counted in the next one), unless this switch is off.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::{errors, try_call_async};
///
/// errors::report_unobserved_to_stderr(false); // this program reports its own way
/// drop(try_call_async(async { Err::<(), _>("disk full") })); // fails, silently
/// errors::report_unobserved_to_stderr(true);
/// ```
pub fn report_unobserved_to_stderr(on: bool) {
    TO_STDERR.store(on, Ordering::Relaxed);
}

/// Reports `error`, a failure nothing observed.
pub(crate) fn report_unobserved(error: &CallError) {
    if tracing::dispatcher::has_been_set() {
        tracing::error!(
            error = %Chain(error),
            "an async call failed and nothing observed it (no error handler, no await)"
        );
        return;
    }
    if !TO_STDERR.load(Ordering::Relaxed) {
        return;
    }
    let Some(line) = admit(error) else { return };
    eprintln!("{line}");
}

/// The line to print for `error`, or `None` when this window's lines are used up.
fn admit(error: &CallError) -> Option<String> {
    let mut limit = LIMIT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let now = Instant::now();
    if limit
        .window_start
        .is_none_or(|start| now.duration_since(start) >= WINDOW)
    {
        limit.window_start = Some(now);
        limit.printed = 0;
    }
    if limit.printed >= LINES_PER_WINDOW {
        limit.left_out += 1;
        return None;
    }
    limit.printed += 1;
    let mut line = format!(
        "nonblocking: an async call failed and nothing observed it: {}",
        Chain(error)
    );
    if limit.left_out > 0 {
        let _ = write!(
            line,
            " ({} more such failures were not shown)",
            limit.left_out
        );
        limit.left_out = 0;
    }
    if !limit.hinted {
        limit.hinted = true;
        line.push_str(
            "\n  (attach on_error or await the call to handle failures; a tracing subscriber receives these reports instead of stderr; nonblocking_runtime::errors::report_unobserved_to_stderr(false) turns this line off)",
        );
    }
    Some(line)
}

/// An error and its causes, as `error: cause: cause`.
struct Chain<'a>(&'a CallError);

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}

/// Reports a misuse the program should fix (a runtime without the time driver): through
/// `tracing` when a subscriber exists, else one line on stderr. Callers report each misuse
/// once.
pub(crate) fn report_misuse(message: &str) {
    if tracing::dispatcher::has_been_set() {
        tracing::error!("{message}");
    } else {
        eprintln!("nonblocking: {message}");
    }
}
