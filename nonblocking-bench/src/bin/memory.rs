//! Memory and allocations, from a counting global allocator (not RSS):
//! live bytes per pending defer against a sleeping task per timer, and allocations per call
//! against `tokio::spawn`. Prints one `key value` line per figure, for the report.

use std::hint::black_box;
use std::time::Duration;

#[path = "../../../tests/support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{allocations, live_bytes};
use nonblocking_bench::{add, call_async_add, runtime};
use nonblocking_runtime::{DeferRef, call_async, defer};

#[global_allocator]
static ALLOCATOR: counting_alloc::Counting = counting_alloc::Counting;

const PENDING: usize = 1_000_000;
const CALLS: u64 = 100_000;
const LATER: Duration = Duration::from_secs(3600);

fn main() {
    let rt = runtime();
    rt.block_on(async {
        tokio::spawn(async {
            // Warm up: the timer queue and the task machinery exist before anything is counted.
            defer(|| {}, LATER).cancel();
            tokio::spawn(async {}).await.unwrap();
            call_async(async {}).await.unwrap();

            let before = live_bytes();
            let tasks: Vec<_> = (0..PENDING as u64)
                .map(|i| {
                    tokio::spawn(async move {
                        tokio::time::sleep(LATER).await;
                        black_box(i);
                    })
                })
                .collect();
            tokio::task::yield_now().await;
            let per_task = (live_bytes() - before) as f64 / PENDING as f64;
            tasks.iter().for_each(|task| task.abort());
            for task in tasks {
                let _ = task.await;
            }

            let before = live_bytes();
            let defers: Vec<DeferRef> = (0..PENDING as u64)
                .map(|i| {
                    defer(
                        move || {
                            black_box(i);
                        },
                        LATER,
                    )
                })
                .collect();
            let per_defer = (live_bytes() - before) as f64 / PENDING as f64;
            defers.iter().for_each(DeferRef::cancel);
            drop(defers);

            println!("pending_task_bytes {per_task:.1}");
            println!("pending_defer_bytes {per_defer:.1}");

            for (name, ours) in [("typed_call", true), ("closure_call", false)] {
                let before = allocations();
                for i in 0..CALLS {
                    if ours {
                        black_box(call_async_add(black_box(1), 2).await.unwrap());
                    } else {
                        black_box(call_async(async move { black_box(i) }).await.unwrap());
                    }
                }
                let ours = (allocations() - before) as f64 / CALLS as f64;
                let before = allocations();
                for i in 0..CALLS {
                    if name == "typed_call" {
                        black_box(tokio::spawn(add(black_box(1), 2)).await.unwrap());
                    } else {
                        black_box(tokio::spawn(async move { black_box(i) }).await.unwrap());
                    }
                }
                let tokio = (allocations() - before) as f64 / CALLS as f64;
                println!("{name}_allocations_ours {ours:.2}");
                println!("{name}_allocations_tokio {tokio:.2}");
            }
        })
        .await
        .unwrap();
    });
}
