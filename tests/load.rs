//! Load, bounded in time: many calls with handlers from several threads, many panicking calls,
//! many concurrent repeats.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nonblocking_runtime::{AsyncCall, CallError, RepeatRef, call_async, repeat};

#[path = "support/two_workers.rs"]
mod two_workers;

use two_workers::runtime;

/// The worker threads of `runtime()`.
const WORKERS: usize = 2;

#[test]
fn calls_with_handlers_from_four_threads_run_each_handler_exactly_once() {
    const CALLS: usize = 100_000;
    const THREADS: usize = 4;
    let runtime = runtime();
    // One slot per call; every handler adds one to its call's slot.
    let ran: Arc<Vec<AtomicU32>> = Arc::new((0..CALLS).map(|_| AtomicU32::new(0)).collect());
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let (ran, handle) = (Arc::clone(&ran), runtime.handle().clone());
            scope.spawn(move || {
                let _inside = handle.enter();
                let calls: Vec<AsyncCall<usize>> = (thread..CALLS)
                    .step_by(THREADS)
                    .map(|i| {
                        let (ok, err) = (Arc::clone(&ran), Arc::clone(&ran));
                        call_async(async move { i })
                            .on_result(move |i| {
                                ok[*i].fetch_add(1, Ordering::SeqCst);
                            })
                            .on_error(move |_| {
                                err[0].fetch_add(1_000, Ordering::SeqCst);
                            })
                    })
                    .collect();
                for call in calls {
                    call.wait().unwrap();
                }
            });
        }
    });
    let wrong: Vec<usize> = (0..CALLS)
        .filter(|&i| ran[i].load(Ordering::SeqCst) != 1)
        .collect();
    assert!(
        wrong.is_empty(),
        "{} calls did not run their handler exactly once: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
}

#[test]
fn a_hundred_thousand_panicking_calls_fail_and_the_runtime_still_answers() {
    const CALLS: usize = 100_000;
    // The default hook would print 100,000 panic messages: quiet these, and only these (tests
    // run in parallel), then put the previous hook back.
    let previous: Arc<dyn Fn(&std::panic::PanicHookInfo<'_>) + Send + Sync> =
        Arc::from(std::panic::take_hook());
    let forward = Arc::clone(&previous);
    std::panic::set_hook(Box::new(move |info| {
        let ours = info
            .payload()
            .downcast_ref::<String>()
            .is_some_and(|message| message.starts_with("call ") && message.ends_with(" failed"));
        if !ours {
            forward(info);
        }
    }));
    let runtime = runtime();
    let panicked = runtime.block_on(async {
        let calls: Vec<AsyncCall<()>> = (0..CALLS)
            .map(|i| call_async(async move { panic!("call {i} failed") }))
            .collect();
        let mut panicked = 0;
        for call in calls {
            match call.await {
                Err(CallError::Panicked(message)) if message.ends_with("failed") => panicked += 1,
                other => panic!("expected a panic, got {other:?}"),
            }
        }
        panicked
    });
    drop(std::panic::take_hook());
    std::panic::set_hook(Box::new(move |info| previous(info)));
    assert_eq!(panicked, CALLS);
    let answer = runtime.block_on(async { call_async(async { 42 }).await.unwrap() });
    assert_eq!(answer, 42);
}

#[test]
fn ten_thousand_repeats_tick_on_time_and_stop_when_cancelled() {
    const REPEATS: usize = 10_000;
    const INTERVAL: Duration = Duration::from_millis(250);
    const RUN: Duration = Duration::from_secs(3);
    let runtime = runtime();
    let ticks: Arc<Vec<AtomicUsize>> =
        Arc::new((0..REPEATS).map(|_| AtomicUsize::new(0)).collect());
    let started = Instant::now();
    let repeats: Vec<RepeatRef> = {
        let _inside = runtime.enter();
        (0..REPEATS)
            .map(|i| {
                let ticks = Arc::clone(&ticks);
                repeat(
                    move || {
                        ticks[i].fetch_add(1, Ordering::Relaxed);
                    },
                    INTERVAL,
                )
            })
            .collect()
    };
    std::thread::sleep(RUN.saturating_sub(started.elapsed()));
    repeats.iter().for_each(RepeatRef::cancel);
    let elapsed = started.elapsed();
    let counts: Vec<usize> = ticks.iter().map(|t| t.load(Ordering::SeqCst)).collect();

    // 12 ticks are due in 3 s. Tolerance for a loaded 2-core machine: a tick may be late by up to
    // one interval, none may come early.
    let due = (elapsed.as_millis() / INTERVAL.as_millis()) as usize;
    let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
    assert!(
        *max <= due,
        "a repeat ticked {max} times, only {due} were due"
    );
    assert!(
        *min + 1 >= due.saturating_sub(1),
        "a repeat ticked only {min} times of {due}"
    );

    std::thread::sleep(INTERVAL * 3);
    let later: Vec<usize> = ticks.iter().map(|t| t.load(Ordering::SeqCst)).collect();
    // A tick that had already started when its cancel ran may finish after the counts were
    // read: at most one per repeat, and no more than the workers could be running at once.
    // No new tick starts.
    let extra: Vec<usize> = later
        .iter()
        .zip(&counts)
        .map(|(after, before)| after - before)
        .collect();
    assert!(
        extra.iter().all(|&n| n <= 1),
        "a repeat ticked twice after its cancel"
    );
    let total: usize = extra.iter().sum();
    assert!(
        total <= WORKERS,
        "{total} ticks after cancelling, with {WORKERS} workers"
    );
}
