//! `set_runtime` pins where calls made outside any runtime go. Its own test binary, because the
//! choice is made once per process.

use std::time::Duration;

use nonblocking_runtime::calls::SetRuntimeError;
use nonblocking_runtime::{call_async, defer, set_runtime};

#[test]
fn calls_outside_a_runtime_go_to_the_pinned_one_and_pinning_twice_is_refused() {
    let pinned = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    set_runtime(pinned.handle().clone()).unwrap();

    let ran_on = call_async(async { tokio::runtime::Handle::current().id() })
        .wait()
        .unwrap();
    assert_eq!(ran_on, pinned.handle().id());

    let (tx, rx) = std::sync::mpsc::channel();
    let _later = defer(
        move || tx.send(tokio::runtime::Handle::current().id()).unwrap(),
        Duration::from_millis(1),
    );
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        pinned.handle().id()
    );

    let other = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(matches!(
        set_runtime(other.handle().clone()),
        Err(SetRuntimeError::AlreadyInUse)
    ));

    // Inside another runtime, that runtime still wins.
    let inside = other.block_on(async {
        call_async(async { tokio::runtime::Handle::current().id() })
            .await
            .unwrap()
    });
    assert_eq!(inside, other.handle().id());
}

/// One trial of the race between a first call made outside any runtime and `set_runtime`, in a
/// child process (the choice is process-global): both threads are released together.
#[test]
fn race_trial() {
    if std::env::var_os("NONBLOCKING_RACE_TRIAL").is_none() {
        return;
    }
    let pinned = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let pinned_id = pinned.handle().id();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let caller = {
        let barrier = std::sync::Arc::clone(&barrier);
        std::thread::spawn(move || {
            barrier.wait();
            call_async(async { tokio::runtime::Handle::current().id() })
                .wait()
                .unwrap()
        })
    };
    barrier.wait();
    let pinned_ok = set_runtime(pinned.handle().clone()).is_ok();
    let first = caller.join().unwrap();
    let later = call_async(async { tokio::runtime::Handle::current().id() })
        .wait()
        .unwrap();
    // One decision: every call made outside a runtime goes to the same runtime, the pinned one
    // exactly when pinning succeeded.
    assert_eq!(first, later, "two runtimes in use");
    assert_eq!(
        first == pinned_id,
        pinned_ok,
        "set_runtime said {pinned_ok}"
    );
    println!("TRIAL pinned={pinned_ok}");
}

#[test]
fn choosing_the_runtime_is_one_atomic_decision() {
    if std::env::var_os("NONBLOCKING_RACE_TRIAL").is_some() {
        return;
    }
    let mut outcomes = Vec::new();
    for _ in 0..24 {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "race_trial", "--nocapture", "--test-threads=1"])
            .env("NONBLOCKING_RACE_TRIAL", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "a trial failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        outcomes.push(stdout.contains("TRIAL pinned=true"));
    }
    println!(
        "pinning won {} of {} trials",
        outcomes.iter().filter(|won| **won).count(),
        outcomes.len()
    );
}
