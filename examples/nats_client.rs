//! A caller of the workers of `nats_worker` (feature `nats`): finds them through the services
//! protocol (`$SRV.PING`, what `nats micro ls` does), then calls by name and through the typed
//! stubs, without knowing any worker's address.
//!
//! ```sh
//! cargo run --features nats --example nats_client -- --server nats://127.0.0.1:4222
//! ```

#[path = "nats_shared/functions.rs"]
mod functions;

use std::time::Duration;

use futures_util::StreamExt;
use nonblocking_runtime::nats::{Connect, Remote};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let mut servers: Vec<String> = args
        .windows(2)
        .filter(|pair| pair[0] == "--server")
        .map(|pair| pair[1].clone())
        .collect();
    if servers.is_empty() {
        servers.push("nats://127.0.0.1:4222".into());
    }
    let remote = Remote::builder()
        .prefix("rpc")
        .timeout(Duration::from_secs(5))
        .connect(&Connect::new(servers))
        .await?;

    // Discovery: every worker answers `$SRV.PING`; collect the answers for a moment.
    let client = remote.client();
    let inbox = client.new_inbox();
    let mut answers = client.subscribe(inbox.clone()).await?;
    client
        .publish_with_reply("$SRV.PING.nonblocking-examples", inbox, "".into())
        .await?;
    let mut workers = Vec::new();
    while let Ok(Some(answer)) =
        tokio::time::timeout(Duration::from_millis(300), answers.next()).await
    {
        let ping: Value = serde_json::from_slice(&answer.payload)?;
        workers.push(ping["id"].as_str().unwrap_or_default().to_owned());
    }
    println!("{} worker(s): {}", workers.len(), workers.join(", "));

    // By name, and typed: the same stub works over HTTP with an http::Remote.
    let sum: i64 = remote.call_async_by_name("work.add", (40, 2)).await?;
    println!("work.add(40, 2) = {sum}");
    let echoed = functions::call_remote_echo(&remote, 7).await?;
    println!("work.echo(7) = {echoed}");

    // Fire-and-forget with a handler, the seed's way: the calls spread over the workers.
    let calls: Vec<_> = (0..30)
        .map(|_| functions::call_remote_sleep(&remote, 100))
        .collect();
    let started = std::time::Instant::now();
    for call in calls {
        call.await?;
    }
    println!("30 calls of 100 ms each took {:?}", started.elapsed());
    Ok(())
}
