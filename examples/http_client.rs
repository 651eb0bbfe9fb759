//! Calls the server of `http_server` from another process: Anvil's update, heartbeat and
//! debounced-save scenario, over HTTP (feature `http`).
//!
//! Run `cargo run --features http --example http_server` in one terminal, then
//! `cargo run --features http --example http_client` in another. Run alone, the client starts
//! the server itself (as a child process) and stops it at the end.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nonblocking_runtime::http::Remote;
use nonblocking_runtime::{CallError, DeferRef, cancel, defer, repeat_with};
use serde::Serialize;

#[derive(Serialize)]
struct Item {
    id: u32,
    title: &'static str,
    done: bool,
}

#[tokio::main]
async fn main() {
    let mut child = None;
    if tokio::net::TcpStream::connect("127.0.0.1:3000")
        .await
        .is_err()
    {
        let server = std::env::current_exe()
            .unwrap()
            .with_file_name("http_server");
        child = Some(
            std::process::Command::new(server)
                .args(["--for-seconds", "30"])
                .spawn()
                .expect("start http_server (build it first)"),
        );
        for _ in 0..100 {
            if tokio::net::TcpStream::connect("127.0.0.1:3000")
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let remote = Remote::new("http://127.0.0.1:3000/rpc")
        .unwrap()
        .with_timeout(Duration::from_secs(5));

    // 1. Update, fire and forget; then with handlers.
    remote.call_async_by_name::<u32>(
        "update",
        (Item {
            id: 1,
            title: "milk",
            done: false,
        },),
    );
    let saved = remote
        .call_async_by_name::<u32>(
            "update",
            (Item {
                id: 2,
                title: "",
                done: false,
            },),
        )
        .on_result(|id| println!("[client] saved item {id}"))
        .on_error(|error| println!("[client] there was a problem: {error}"));
    let _ = saved.await;

    // 2. A heartbeat every 20 ms that stops itself after 5 beats.
    let beats = Arc::new(Mutex::new(Vec::new()));
    let (client, seen) = (remote.clone(), Arc::clone(&beats));
    let heartbeat = repeat_with(
        move |me| {
            let beat = me.calls() as u32;
            let seen = Arc::clone(&seen);
            client
                .call_async_by_name::<u32>("heartbeat", beat)
                .on_result(move |echo| seen.lock().unwrap().push(*echo));
            if beat == 5 {
                me.cancel();
            }
        },
        Duration::from_millis(20),
    );

    // 3. A debounced save: ten quick changes, one save of the whole batch.
    let pending: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut deferred_save: Option<DeferRef> = None;
    for change in 0..10 {
        pending.lock().unwrap().push(format!("change {change}"));
        cancel(&deferred_save);
        let (batch, client) = (Arc::clone(&pending), remote.clone());
        deferred_save = Some(defer(
            move || {
                let changes = std::mem::take(&mut *batch.lock().unwrap());
                client
                    .call_async_by_name::<usize>("save", (changes,))
                    .on_result(|n| println!("[client] the server saved {n} changes"));
            },
            Duration::from_millis(50),
        ));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    tokio::time::sleep(Duration::from_millis(300)).await;
    println!(
        "[client] heartbeat echoes: {:?} (stopped: {})",
        beats.lock().unwrap(),
        heartbeat.is_cancelled()
    );

    // 4. Refusals and unknown names come back as the same errors as local calls; a bearer
    //    token for one call satisfies the server's authorize hook.
    match remote.call_async_by_name::<String>("reset_all", ()).await {
        Err(CallError::Rejected(refused)) => {
            println!("[client] refused: {} {}", refused.status, refused.message)
        }
        other => println!("[client] unexpected: {other:?}"),
    }
    let admin = remote.with_bearer_token("admin-token").unwrap();
    match admin.call_async_by_name::<String>("reset_all", ()).await {
        Ok(message) => println!("[client] as admin: {message}"),
        Err(error) => println!("[client] as admin, unexpected: {error}"),
    }
    if let Err(error) = remote.call_async_by_name::<u32>("updte", ()).await {
        println!("[client] {error}");
    }

    if let Some(mut child) = child {
        let _ = child.kill();
        let _ = child.wait();
    }
}
