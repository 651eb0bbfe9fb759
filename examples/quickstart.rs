//! The shortest tour of nonblocking: a call with handlers, awaiting and waiting, a repeat that
//! stops itself, a debounced defer, and cancelling.
//!
//! Run it with `cargo run --example quickstart`.

use std::time::Duration;

use nonblocking_runtime::{
    CallStatus, call_async, call_blocking, cancel, defer, repeat_with, try_call_async,
};

fn main() {
    // 1. Start work without waiting; handlers run when it finishes.
    let call = call_async(async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        6 * 7
    })
    .on_result(|answer| println!("result handler: {answer}"))
    .on_error(|error| println!("error handler: {error}"));
    println!("status right after starting: {:?}", call.status());
    // Blocking is fine from a plain thread; inside async code you would `.await` instead.
    println!("wait() gives: {:?}", call.wait());

    // 2. Failures reach error handlers, with the original error kept.
    let failing = try_call_async(async { "not a number".parse::<i32>() })
        .on_error(|error| println!("error handler: {error}"));
    let error = failing.wait().unwrap_err();
    println!(
        "downcast back: {:?}",
        error.downcast_ref::<std::num::ParseIntError>()
    );

    // 3. Blocking work goes to tokio's blocking pool.
    let size = call_blocking(|| std::fs::read_dir(".").map(|dir| dir.count()).unwrap_or(0));
    println!("entries in this folder: {}", size.wait().unwrap());

    // 4. A heartbeat that stops itself after three beats.
    let heartbeat = repeat_with(
        |me| {
            println!("da dum {}", me.calls());
            if me.calls() == 3 {
                me.cancel();
            }
        },
        Duration::from_millis(5),
    );

    // 5. A debounced save: each change cancels the pending one.
    let mut pending = None;
    for change in 1..=5 {
        cancel(&pending);
        pending = Some(defer(
            move || println!("saved once, after change {change}"),
            Duration::from_millis(20),
        ));
    }

    // 6. Cancelling a call: its error handlers see `Cancelled`.
    let slow = call_async(std::future::pending::<()>())
        .on_error(|error| println!("error handler: {error}"));
    slow.cancel();
    assert_eq!(slow.status(), CallStatus::Cancelled);

    std::thread::sleep(Duration::from_millis(60));
    assert!(heartbeat.is_cancelled());
}
