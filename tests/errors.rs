//! Errors keep their causes, and a failure nobody observed is never silent: without a tracing
//! subscriber it prints one line to stderr, rate-limited, unless turned off. The stderr cases
//! run in child processes (this test binary, re-run with one test selected), since the switch
//! and the rate limit are process-global and cargo test captures nothing of stderr.

use std::error::Error;
use std::process::Command;
use std::time::Duration;

use nonblocking_runtime::{CallError, errors, try_call_async};

#[derive(Debug, thiserror::Error)]
#[error("saving failed")]
struct SavingFailed(#[source] WritingFailed);

#[derive(Debug, thiserror::Error)]
#[error("writing todo.json failed")]
struct WritingFailed(#[source] std::io::Error);

fn disk_full() -> SavingFailed {
    SavingFailed(WritingFailed(std::io::Error::other("disk full")))
}

fn chain(error: &(dyn Error + 'static)) -> Vec<String> {
    let mut messages = vec![error.to_string()];
    let mut cause = error.source();
    while let Some(next) = cause {
        messages.push(next.to_string());
        cause = next.source();
    }
    messages
}

#[test]
fn a_clone_of_an_error_shares_the_functions_error_and_its_causes() {
    let error = try_call_async(async { Err::<(), _>(disk_full()) })
        .wait()
        .unwrap_err();
    let copy = error.clone();
    assert_eq!(chain(&copy), chain(&error));
    let (CallError::Failed(original), CallError::Failed(shared)) = (&error, &copy) else {
        panic!("both are Failed: {error:?}, {copy:?}");
    };
    assert!(
        std::sync::Arc::ptr_eq(original, shared),
        "one error, two handles"
    );
    assert!(copy.downcast_ref::<SavingFailed>().is_some());
    // The other variants clone too.
    let timed_out = CallError::TimedOut(Duration::from_millis(5));
    assert_eq!(timed_out.clone().to_string(), timed_out.to_string());
}

#[test]
fn failed_keeps_every_cause_once() {
    let error = try_call_async(async { Err::<(), _>(disk_full()) })
        .wait()
        .unwrap_err();
    assert!(matches!(error, CallError::Failed(_)));
    assert_eq!(
        chain(&error),
        ["saving failed", "writing todo.json failed", "disk full"]
    );
    // The function's own error is still there to downcast.
    assert!(error.downcast_ref::<SavingFailed>().is_some());
}

/// Runs the ignored test `name` of this binary (a `child_*` scenario: never a test of its own,
/// so a normal run reports it as ignored instead of passing it) in a child process, and
/// returns its stderr.
fn child_stderr(name: &str) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "child {name} failed: {output:?}");
    String::from_utf8(output.stderr).unwrap()
}

/// Fails one call nobody observes, and waits until its state is gone.
fn fail_unobserved() {
    let call = try_call_async(async { Err::<(), _>(disk_full()) });
    while !call.is_finished() {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(call);
    // The task may hold the state a moment longer; the report comes when it lets go.
    std::thread::sleep(Duration::from_millis(50));
}

const LINE: &str = "nonblocking: an async call failed and nothing observed it: saving failed: writing todo.json failed: disk full";

#[test]
#[ignore = "a child scenario, run by the test that reads its stderr"]
fn child_fails_once() {
    fail_unobserved();
}

#[test]
fn an_unobserved_failure_prints_one_line_with_its_causes() {
    let stderr = child_stderr("child_fails_once");
    assert_eq!(stderr.matches(LINE).count(), 1, "{stderr}");
    assert!(
        stderr.contains("report_unobserved_to_stderr(false)"),
        "the first line says how to turn it off: {stderr}"
    );
}

#[test]
#[ignore = "a child scenario, run by the test that reads its stderr"]
fn child_fails_a_hundred_thousand_times() {
    for _ in 0..100_000 {
        drop(try_call_async(async { Err::<(), _>(disk_full()) }));
    }
    // Every call has finished and been reported once this one has.
    fail_unobserved();
    std::thread::sleep(Duration::from_millis(1100));
    // A new window: this line counts what the first one left out.
    fail_unobserved();
}

#[test]
fn unobserved_failures_are_rate_limited() {
    let stderr = child_stderr("child_fails_a_hundred_thousand_times");
    let lines = stderr.matches(LINE).count();
    // Ten in the first second, one more in the next; the load may straddle a window.
    assert!((2..=21).contains(&lines), "{lines} lines:\n{stderr}");
    assert!(
        stderr.contains("more such failures were not shown"),
        "{stderr}"
    );
}

#[test]
#[ignore = "a child scenario, run by the test that reads its stderr"]
fn child_turns_the_line_off() {
    errors::report_unobserved_to_stderr(false);
    fail_unobserved();
}

#[test]
fn the_stderr_line_can_be_turned_off() {
    let stderr = child_stderr("child_turns_the_line_off");
    assert!(!stderr.contains("nonblocking:"), "{stderr}");
}

#[test]
#[ignore = "a child scenario, run by the test that reads its stderr"]
fn child_observes_its_failure() {
    let call = try_call_async(async { Err::<(), _>(disk_full()) }).on_error(|_| {});
    while !call.is_finished() {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(call);
    // As long as an unobserved failure takes to be reported (`fail_unobserved`): a late
    // report would be seen.
    std::thread::sleep(Duration::from_millis(50));
}

#[test]
fn an_observed_failure_prints_nothing() {
    let stderr = child_stderr("child_observes_its_failure");
    assert!(!stderr.contains("nonblocking:"), "{stderr}");
}
