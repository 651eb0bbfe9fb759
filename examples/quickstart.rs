//! The shortest tour of nonblocking: a server function called through its typed stub and by
//! name, handlers, awaiting and waiting, a repeat that stops itself, a debounced defer, and
//! cancelling.
//!
//! Run it with `cargo run --example quickstart`.

use std::time::Duration;

use nonblocking_runtime::{
    CallStatus, call_async, call_async_by_name, call_blocking, cancel, defer, repeat_with,
    server_function,
};

/// Registered by name, with a typed stub `call_async_update` generated next to it.
#[server_function]
async fn update(id: u32, title: String) -> Result<u32, String> {
    tokio::time::sleep(Duration::from_millis(10)).await;
    if title.is_empty() {
        return Err(format!("item {id} has no title"));
    }
    Ok(id)
}

fn main() {
    // 1. Start work without waiting; handlers run when it finishes.
    let call = call_async_update(1, "groceries".into())
        .on_result(|id| println!("result handler: saved item {id}"))
        .on_error(|error| println!("error handler: {error}"));
    println!("status right after starting: {:?}", call.status());
    // Blocking is fine from a plain thread; inside async code you would `.await` instead.
    println!("wait() gives: {:?}", call.wait());

    // 2. The same function by name, with serde arguments (positional here); its failure
    //    reaches the error handler.
    let by_name = call_async_by_name::<u32>("update", (2, ""))
        .on_error(|error| println!("error handler: {error}"));
    println!("by name: {:?}", by_name.wait());

    // 3. Any future, or blocking work on tokio's blocking pool.
    let answer = call_async(async { 6 * 7 });
    let entries = call_blocking(|| std::fs::read_dir(".").map(|dir| dir.count()).unwrap_or(0));
    println!(
        "answer {:?}, entries in this folder {:?}",
        answer.wait(),
        entries.wait()
    );

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

    // 5. A debounced save: each change cancels the pending one, so only the last one saves.
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
