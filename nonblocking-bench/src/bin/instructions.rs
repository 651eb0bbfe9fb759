//! Runs N calls of one kind, for instruction counting under `valgrind --tool=callgrind`,
//! which is stable where wall time drowns in thread wake-ups (the blocking pool).
//!
//! `instructions <mode> <n>` with mode one of: `spawn`, `call_async`, `spawn_blocking`,
//! `call_blocking`, and for handlers attached before completion `handler_baseline` (the work,
//! a oneshot, a second task that runs the handler: the benches' baseline), `handler` and
//! `handler_pair` (`on_result` + `on_error`), and for a handler attached after completion
//! `after_baseline` (the work awaited, then a task that runs the handler) and `after`; for
//! calls by name, `typed` (`call_async_add(1, 2)`), `by_name` (the same by name), `floor`
//! (the lookup and serde a call by name cannot avoid, no call), and `typed_struct`,
//! `by_name_struct`, `floor_struct` for `total(order)`; for the debounce, `defer_reset` and
//! `defer_cancel_new`. The report runs it at two N and divides the difference, so start-up
//! cancels.

use std::hint::black_box;

use nonblocking_bench::{
    Order, by_name_floor_struct, by_name_floor_tuple, call_async_add, call_async_total,
};
use nonblocking_runtime::{call_async, call_async_by_name, call_blocking, defer};
use tokio::sync::oneshot;

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
            let order = Order::sample();
            let later = std::time::Duration::from_secs(3600);
            let mut pending = defer(|| {}, later);
            for i in 0..n {
                match mode.as_str() {
                    "spawn" => drop(black_box(tokio::spawn(async move { black_box(i) }).await)),
                    "call_async" => drop(black_box(call_async(async move { black_box(i) }).await)),
                    "spawn_blocking" => drop(black_box(
                        tokio::task::spawn_blocking(move || black_box(i)).await,
                    )),
                    "call_blocking" => drop(black_box(call_blocking(move || black_box(i)).await)),
                    "handler_baseline" => {
                        let (done, ran) = oneshot::channel();
                        let (value_tx, value_rx) = oneshot::channel();
                        tokio::spawn(async move {
                            let _ = value_tx.send(black_box(i));
                        });
                        tokio::spawn(async move {
                            if let Ok(value) = value_rx.await {
                                let _ = done.send(value);
                            }
                        });
                        black_box(ran.await.unwrap());
                    }
                    "handler" => {
                        let (done, ran) = oneshot::channel();
                        drop(
                            call_async(async move { black_box(i) }).on_result(move |value| {
                                let _ = done.send(*value);
                            }),
                        );
                        black_box(ran.await.unwrap());
                    }
                    "handler_pair" => {
                        let (done, ran) = oneshot::channel();
                        let call = call_async(async move { black_box(i) })
                            .on_result(move |value| {
                                let _ = done.send(*value);
                            })
                            .on_error(|error| panic!("{error}"));
                        drop(call);
                        black_box(ran.await.unwrap());
                    }
                    "after_baseline" => {
                        let (done, ran) = oneshot::channel();
                        let work = tokio::spawn(async move { black_box(i) });
                        while !work.is_finished() {
                            tokio::task::yield_now().await;
                        }
                        let value = work.await.unwrap();
                        tokio::spawn(async move {
                            let _ = done.send(value);
                        });
                        black_box(ran.await.unwrap());
                    }
                    "after" => {
                        let (done, ran) = oneshot::channel();
                        let call = call_async(async move { black_box(i) });
                        while !call.is_finished() {
                            tokio::task::yield_now().await;
                        }
                        drop(call.on_result(move |value| {
                            let _ = done.send(*value);
                        }));
                        black_box(ran.await.unwrap());
                    }
                    "typed" => drop(black_box(call_async_add(black_box(1), 2).await)),
                    "by_name" => drop(black_box(
                        call_async_by_name::<i64>("add", black_box((1, 2))).await,
                    )),
                    "floor" => {
                        black_box(by_name_floor_tuple(black_box("add"), (1, 2)));
                    }
                    "typed_struct" => {
                        drop(black_box(call_async_total(black_box(order.clone())).await))
                    }
                    "by_name_struct" => {
                        let order = black_box(order.clone());
                        drop(black_box(
                            call_async_by_name::<i64>("total", (&order,)).await,
                        ))
                    }
                    "floor_struct" => {
                        black_box(by_name_floor_struct(black_box("total"), black_box(&order)));
                    }
                    "defer_reset" => drop(black_box(pending.reset(later))),
                    "defer_cancel_new" => {
                        pending.cancel();
                        pending = defer(move || _ = black_box(i), later);
                    }
                    other => panic!("unknown mode {other:?}"),
                }
            }
        })
        .await
        .expect("the loop");
    });
}
