//! A call needs only `T: Send`, like `tokio::spawn`: a value that is `Send` but not `Sync` (an
//! `mpsc::Receiver`, a `Cell`) can be started, awaited, waited for, cancelled and lent by
//! `result()`; only result handlers ask for `T: Sync` (see the UI case
//! `result_handler_needs_sync`). And the value an `AsyncCall` lends is the same one `.await`
//! moves out, whether or not handlers attached after the call finished shared it meanwhile.

use std::cell::Cell;
use std::sync::mpsc;
use std::time::Duration;

use nonblocking_runtime::{AsyncCall, CallError, CallStatus, call_async, call_blocking};

const _: () = {
    const fn send<T: Send>() {}
    // `Send` whenever the value is: a `Receiver` is `Send` but not `Sync`.
    send::<AsyncCall<mpsc::Receiver<u8>>>();
    send::<AsyncCall<Cell<u8>>>();
};

#[tokio::test]
async fn a_receiver_comes_back_through_await() {
    let (tx, rx) = mpsc::channel();
    let call = call_async(async move { rx });
    tx.send(7).unwrap();
    let rx = call.await.unwrap();
    assert_eq!(rx.recv().unwrap(), 7);
}

#[test]
fn a_receiver_comes_back_through_wait_and_result_lends_it() {
    let (tx, rx) = mpsc::channel();
    let call = call_blocking(move || rx).on_error(|error| panic!("{error}"));
    while !call.is_finished() {
        std::thread::yield_now();
    }
    tx.send(8).unwrap();
    // Lent on this thread: no `Sync` needed.
    assert_eq!(call.result().unwrap().recv().unwrap(), 8);
    tx.send(9).unwrap();
    assert_eq!(call.wait().unwrap().recv().unwrap(), 9);
}

#[tokio::test]
async fn a_call_of_a_non_sync_value_is_cancelled_like_any_other() {
    let (_tx, rx) = mpsc::channel::<u8>();
    let call = call_async(async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        rx
    })
    .on_error(|error| assert!(error.is_cancelled()));
    call.cancel();
    assert_eq!(call.status(), CallStatus::Cancelled);
    assert!(matches!(call.result(), Err(CallError::Cancelled)));
    assert!(matches!(call.await, Err(CallError::Cancelled)));
}

#[tokio::test]
async fn a_call_can_be_moved_to_another_task_and_awaited_there() {
    let call = call_async(async { Cell::new(5_u8) });
    let value = tokio::spawn(async move { call.await.unwrap().get() })
        .await
        .unwrap();
    assert_eq!(value, 5);
}

#[tokio::test]
async fn late_handlers_share_the_value_that_result_lends_and_await_moves() {
    let call = call_async(async { String::from("shared") });
    while !call.is_finished() {
        tokio::task::yield_now().await;
    }
    // Taken into the handle and lent...
    assert_eq!(call.result().unwrap(), "shared");
    let (tx, rx) = mpsc::channel();
    // ...then shared with handlers attached after the call finished...
    let call = call
        .on_result({
            let tx = tx.clone();
            move |value| tx.send(value.clone()).unwrap()
        })
        .on_result(move |value| tx.send(value.to_uppercase()).unwrap());
    assert_eq!(call.result().unwrap(), "shared");
    // ...and moved out, alone, once they ran.
    let value = call.await.unwrap();
    assert_eq!(value, "shared");
    let mut seen: Vec<String> = rx.try_iter().collect();
    seen.sort();
    assert_eq!(seen, ["SHARED", "shared"]);
}

#[tokio::test]
async fn a_late_error_handler_shares_the_error_that_await_returns() {
    let call = nonblocking_runtime::try_call_async(async { Err::<u8, _>("no disk") });
    while !call.is_finished() {
        tokio::task::yield_now().await;
    }
    assert_eq!(call.error().unwrap().to_string(), "no disk");
    let (tx, rx) = mpsc::channel();
    let call = call
        .on_error(move |error| tx.send(error.to_string()).unwrap())
        .on_result(|_| unreachable!("the call failed"));
    assert_eq!(call.await.unwrap_err().to_string(), "no disk");
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), ["no disk"]);
}
