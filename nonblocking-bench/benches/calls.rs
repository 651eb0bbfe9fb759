//! Calls: typed stub, closure, handler delivery (before and after completion), by name.
//! Every group runs the bare-tokio way (`tokio`) and ours (`nonblocking`) in the same run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use nonblocking_bench::{
    Order, add, by_name_floor_struct, by_name_floor_tuple, call_async_add, call_async_total,
    in_task, runtime,
};
use nonblocking_runtime::{call_async, call_async_by_name};
use tokio::sync::oneshot;

fn typed_call(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("typed_call");
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(tokio::spawn(add(black_box(1), 2)).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("nonblocking", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(call_async_add(black_box(1), 2).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn closure_call(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("closure_call");
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let start = Instant::now();
                for i in 0..iters {
                    black_box(tokio::spawn(async move { black_box(i) * 2 }).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("nonblocking", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let start = Instant::now();
                for i in 0..iters {
                    black_box(call_async(async move { black_box(i) * 2 }).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

/// The handler of both sides: tells the timed loop it ran.
fn handler(done: oneshot::Sender<u64>) -> impl FnOnce(&u64) + Send + 'static {
    move |value| {
        let _ = done.send(*value);
    }
}

/// The hand-written equivalent of a handler attached before: the work, a oneshot for its
/// value, a task that runs the handler.
fn handler_baseline(b: &mut criterion::Bencher<'_>, rt: &tokio::runtime::Runtime) {
    b.iter_custom(|iters| {
        in_task(rt, move || async move {
            let start = Instant::now();
            for i in 0..iters {
                let (done, ran) = oneshot::channel();
                let (value_tx, value_rx) = oneshot::channel();
                tokio::spawn(async move {
                    let _ = value_tx.send(black_box(i));
                });
                tokio::spawn(async move {
                    if let Ok(value) = value_rx.await {
                        handler(done)(&value);
                    }
                });
                black_box(ran.await.unwrap());
            }
            start.elapsed()
        })
    })
}

fn handler_delivery(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("handler_before");
    group.bench_function("tokio", |b| handler_baseline(b, &rt));
    group.bench_function("nonblocking", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let start = Instant::now();
                for i in 0..iters {
                    let (done, ran) = oneshot::channel();
                    drop(call_async(async move { black_box(i) }).on_result(handler(done)));
                    black_box(ran.await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    group.finish();

    // Anvil's `on_result(ok, err)`: both handlers attached before, only one ever runs.
    let mut group = c.benchmark_group("handler_pair_before");
    group.bench_function("tokio", |b| handler_baseline(b, &rt));
    group.bench_function("nonblocking", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let start = Instant::now();
                for i in 0..iters {
                    let (done, ran) = oneshot::channel();
                    let call = call_async(async move { black_box(i) })
                        .on_result(handler(done))
                        .on_error(|error| panic!("{error}"));
                    drop(call);
                    black_box(ran.await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    group.finish();

    let mut group = c.benchmark_group("handler_after");
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let start = Instant::now();
                for i in 0..iters {
                    let (done, ran) = oneshot::channel();
                    let work = tokio::spawn(async move { black_box(i) });
                    while !work.is_finished() {
                        tokio::task::yield_now().await;
                    }
                    let value = work.await.unwrap();
                    tokio::spawn(async move { handler(done)(&value) });
                    black_box(ran.await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    group.bench_function("nonblocking", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let start = Instant::now();
                for i in 0..iters {
                    let (done, ran) = oneshot::channel();
                    let call = call_async(async move { black_box(i) });
                    while !call.is_finished() {
                        tokio::task::yield_now().await;
                    }
                    drop(call.on_result(handler(done)));
                    black_box(ran.await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn by_name(c: &mut Criterion) {
    let rt = runtime();
    by_name_group(c, &rt, "tuple", typed_tuple, by_name_tuple);
    by_name_group(c, &rt, "struct", typed_struct, by_name_struct);

    // What a call by name must add to a typed call at the least: finding the function and
    // serde of the same values (arguments to JSON and back, the result to JSON and back).
    let mut group = c.benchmark_group("by_name_floor");
    group.bench_function("tuple", |b| {
        b.iter(|| black_box(by_name_floor_tuple(black_box("add"), black_box((1, 2)))))
    });
    let order = Order::sample();
    group.bench_function("struct", |b| {
        b.iter(|| black_box(by_name_floor_struct(black_box("total"), black_box(&order))))
    });
    group.finish();
}

fn by_name_group<T, N>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    shape: &str,
    typed: fn(u64) -> T,
    by_name: fn(u64) -> N,
) where
    T: std::future::Future<Output = Duration> + Send + 'static,
    N: std::future::Future<Output = Duration> + Send + 'static,
{
    let mut group = c.benchmark_group(format!("by_name_{shape}"));
    group.bench_function("typed", |b| {
        b.iter_custom(|iters| in_task(rt, move || typed(iters)))
    });
    group.bench_function("nonblocking", |b| {
        b.iter_custom(|iters| in_task(rt, move || by_name(iters)))
    });
    group.finish();
}

async fn typed_tuple(iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(call_async_add(black_box(1), 2).await.unwrap());
    }
    start.elapsed()
}

async fn by_name_tuple(iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(
            call_async_by_name::<i64>("add", black_box((1, 2)))
                .await
                .unwrap(),
        );
    }
    start.elapsed()
}

async fn typed_struct(iters: u64) -> Duration {
    let order = Order::sample();
    let start = Instant::now();
    for _ in 0..iters {
        black_box(call_async_total(black_box(order.clone())).await.unwrap());
    }
    start.elapsed()
}

async fn by_name_struct(iters: u64) -> Duration {
    let order = Order::sample();
    let start = Instant::now();
    for _ in 0..iters {
        // The typed side clones the order to pass it by value; so does this one, to compare
        // like with like.
        let order = black_box(order.clone());
        black_box(call_async_by_name::<i64>("total", (&order,)).await.unwrap());
    }
    start.elapsed()
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(40)
}

criterion_group! {
    name = benches;
    config = config();
    targets = typed_call, closure_call, handler_delivery, by_name
}
criterion_main!(benches);
