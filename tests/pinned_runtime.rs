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
