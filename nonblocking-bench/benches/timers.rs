//! Timers: creating and cancelling defers, debouncing by cancel-and-replace and by reset.
//! Every group runs the bare-tokio way (`tokio`) and ours (`nonblocking`) in the same run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use nonblocking_bench::{in_task, runtime};
use nonblocking_runtime::{DeferRef, defer};
use tokio::task::JoinHandle;

const LATER: Duration = Duration::from_secs(3600);

/// The naive defer: a task that sleeps, then runs the closure.
fn sleeping_task(value: u64) -> JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep(LATER).await;
        black_box(value);
    })
}

/// Aborts tasks and waits until each is gone (its memory freed).
async fn abort_all(tasks: Vec<JoinHandle<()>>) {
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
}

fn create(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("defer_create");
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let mut tasks = Vec::with_capacity(iters as usize);
                let start = Instant::now();
                for i in 0..iters {
                    tasks.push(sleeping_task(i));
                }
                let took = start.elapsed();
                abort_all(tasks).await;
                took
            })
        })
    });
    group.bench_function("nonblocking", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let mut defers = Vec::with_capacity(iters as usize);
                let start = Instant::now();
                for i in 0..iters {
                    defers.push(defer(
                        move || {
                            black_box(i);
                        },
                        LATER,
                    ));
                }
                let took = start.elapsed();
                defers.iter().for_each(DeferRef::cancel);
                took
            })
        })
    });
    group.finish();
}

fn cancel(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("defer_cancel");
    // Until freed: the tasks are aborted and then awaited, so the scheduler has dropped them.
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let tasks: Vec<_> = (0..iters).map(sleeping_task).collect();
                let start = Instant::now();
                abort_all(tasks).await;
                start.elapsed()
            })
        })
    });
    // Cancelling removes the entry from the queue there and then; dropping the handles frees
    // the rest.
    group.bench_function("nonblocking", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let defers: Vec<_> = (0..iters)
                    .map(|i| {
                        defer(
                            move || {
                                black_box(i);
                            },
                            LATER,
                        )
                    })
                    .collect();
                let start = Instant::now();
                defers.iter().for_each(DeferRef::cancel);
                drop(defers);
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn debounce(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("debounce");
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let start = Instant::now();
                let mut pending = sleeping_task(0);
                for i in 0..iters {
                    pending.abort();
                    pending = sleeping_task(i);
                }
                abort_all(vec![pending]).await;
                start.elapsed()
            })
        })
    });
    group.bench_function("cancel_and_new", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let start = Instant::now();
                let mut pending = defer(|| {}, LATER);
                for i in 0..iters {
                    pending.cancel();
                    pending = defer(
                        move || {
                            black_box(i);
                        },
                        LATER,
                    );
                }
                pending.cancel();
                start.elapsed()
            })
        })
    });
    group.bench_function("reset", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let start = Instant::now();
                let pending = defer(|| {}, LATER);
                for _ in 0..iters {
                    black_box(pending.reset(LATER));
                }
                pending.cancel();
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = create, cancel, debounce
}
criterion_main!(benches);
