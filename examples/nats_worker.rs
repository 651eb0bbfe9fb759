//! A worker serving the server functions of `nats_shared/functions.rs` over NATS (feature
//! `nats`). Start as many as you like, on any machines: they share the calls.
//!
//! ```sh
//! nats-server &                      # apt-get install nats-server
//! cargo run --features nats --example nats_worker &
//! cargo run --features nats --example nats_worker &
//! cargo run --features nats --example nats_worker &
//! cargo run --features nats --example nats_client
//! ```
//!
//! Flags: `--server nats://host:port` (repeatable: every node of a cluster; default
//! `nats://127.0.0.1:4222`), `--prefix rpc`, `--concurrency N` (calls at once; more are refused
//! `overloaded` and callers retry them elsewhere), `--record FILE` (append each executed
//! `work.echo` id, for the scale-out tests), `--only-given-servers` (never fail over to the
//! cluster's other nodes, which NATS announces: a test uses it to lose a worker with its node).
//! The first line printed is `ready <service id>`.
//! SIGTERM or Ctrl-C leaves gracefully: no new calls, the accepted ones finish.

#[path = "nats_shared/functions.rs"]
mod functions;

use nonblocking_runtime::nats::async_nats::ConnectOptions;
use nonblocking_runtime::nats::{Connect, Worker};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| -> Vec<String> {
        args.windows(2)
            .filter(|pair| pair[0] == name)
            .map(|pair| pair[1].clone())
            .collect()
    };
    let mut servers = flag("--server");
    if servers.is_empty() {
        servers.push("nats://127.0.0.1:4222".into());
    }
    if let Some(path) = flag("--record").pop() {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        *functions::RECORD
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(file);
    }
    let mut builder = Worker::builder()
        .prefix(flag("--prefix").pop().unwrap_or_else(|| "rpc".into()))
        .service("nonblocking-examples", "1.0.0")
        .description("the server functions of examples/nats_shared");
    if let Some(calls) = flag("--concurrency").pop() {
        builder = builder.concurrency_limit(calls.parse()?);
    }
    let mut connect = Connect::new(servers);
    if args.iter().any(|arg| arg == "--only-given-servers") {
        connect = connect.options(|| ConnectOptions::new().ignore_discovered_servers());
    }
    let worker = builder.start(&connect).await?;
    println!("ready {}", worker.id());
    shutdown_signal().await;
    eprintln!("leaving: finishing the accepted calls");
    worker.stop().await?;
    Ok(())
}

/// Ctrl-C, or SIGTERM (what `kill` and service managers send).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM can be watched");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
