//! Runs N calls of one kind, for instruction counting under `valgrind --tool=callgrind`,
//! which is stable where wall time drowns in thread wake-ups (the blocking pool).
//!
//! `instructions <mode> <n>` with mode one of: `spawn`, `call_async`, `spawn_blocking`,
//! `call_blocking`. The report runs it at two N and divides the difference, so start-up cancels.

use std::hint::black_box;

use nonblocking_runtime::{call_async, call_blocking};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let n: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .enable_time()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        tokio::spawn(async move {
            for i in 0..n {
                match mode.as_str() {
                    "spawn" => drop(black_box(tokio::spawn(async move { black_box(i) }).await)),
                    "call_async" => drop(black_box(call_async(async move { black_box(i) }).await)),
                    "spawn_blocking" => drop(black_box(
                        tokio::task::spawn_blocking(move || black_box(i)).await,
                    )),
                    "call_blocking" => drop(black_box(call_blocking(move || black_box(i)).await)),
                    other => panic!("unknown mode {other:?}"),
                }
            }
        })
        .await
        .expect("the loop");
    });
}
