//! `repeat` and `defer` on tokio's paused clock: exact counts, no overlap, no drift, skipping,
//! self-cancel, cancel before and after firing, reset, debounce.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nonblocking_runtime::{DeferRef, cancel, defer, repeat, repeat_async, repeat_with};
use tokio::time::{Instant, advance, sleep};

const MS: Duration = Duration::from_millis(1);

#[path = "support/counting.rs"]
mod counting;

use counting::{counter, settle};

#[tokio::test(start_paused = true)]
async fn repeat_calls_once_per_interval_starting_after_one() {
    // interval 10 ms:   0    10   20   30   40   45
    // calls:            -    1    2    3    4    (cancel)
    let (count, calls) = counter();
    let beat = repeat(
        move || {
            count.fetch_add(1, Ordering::SeqCst);
        },
        10 * MS,
    );
    settle().await;
    assert_eq!(
        calls(),
        0,
        "the first call comes after one interval, not at once"
    );
    sleep(45 * MS).await;
    assert_eq!(calls(), 4);
    assert_eq!(beat.calls(), 4);
    beat.cancel();
    sleep(100 * MS).await;
    assert_eq!(calls(), 4, "no call after cancel");
    assert!(beat.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn repeat_does_not_drift_when_calls_take_time() {
    // Each call takes 3 ms of a 10 ms interval; starts stay on the 10 ms grid.
    let start = Instant::now();
    let starts = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&starts);
    let beat = repeat_async(
        move |_| {
            let record = Arc::clone(&record);
            async move {
                record.lock().unwrap().push(start.elapsed());
                sleep(3 * MS).await;
            }
        },
        10 * MS,
    );
    sleep(105 * MS).await;
    beat.cancel();
    let expected: Vec<Duration> = (1..=10).map(|k| k * 10 * MS).collect();
    assert_eq!(*starts.lock().unwrap(), expected);
}

#[tokio::test(start_paused = true)]
async fn overrunning_calls_skip_missed_ticks_and_never_overlap() {
    // Calls take 25 ms of a 10 ms interval:
    //   grid:   10  20  30  40  50  60  70  80  90
    //   calls:  [10------35)
    //                      [35------60)
    //                                 [60------85)
    //                                            [85--
    // A call that ends late is followed at once by one call for the ticks it missed; the rest
    // of the missed ticks are dropped (4 calls in 95 ms, not one per tick in a burst).
    let starts = record_starts_of_calls_taking(|_| 25 * MS, 95 * MS).await;
    assert_eq!(starts.calls, vec![10 * MS, 35 * MS, 60 * MS, 85 * MS]);
    assert_eq!(starts.max_concurrent, 1);
}

#[tokio::test(start_paused = true)]
async fn after_one_overrun_the_schedule_returns_to_its_grid() {
    //   grid:   10  20  30  40  50  60
    //   calls:  [10------35)
    //                      [35)[40)[50)[60)
    let starts =
        record_starts_of_calls_taking(|call| if call == 0 { 25 * MS } else { MS }, 65 * MS).await;
    assert_eq!(
        starts.calls,
        vec![10 * MS, 35 * MS, 40 * MS, 50 * MS, 60 * MS]
    );
    assert_eq!(starts.max_concurrent, 1);
}

struct Starts {
    calls: Vec<Duration>,
    max_concurrent: usize,
}

/// Runs a 10 ms repeat whose call number `k` takes `duration(k)`, for `run_for`.
async fn record_starts_of_calls_taking(
    duration: fn(usize) -> Duration,
    run_for: Duration,
) -> Starts {
    let start = Instant::now();
    let running = Arc::new(AtomicUsize::new(0));
    let max_running = Arc::new(AtomicUsize::new(0));
    let starts = Arc::new(Mutex::new(Vec::new()));
    let (record, now_running, max) = (
        Arc::clone(&starts),
        Arc::clone(&running),
        Arc::clone(&max_running),
    );
    let beat = repeat_async(
        move |_| {
            let (record, now_running, max) = (
                Arc::clone(&record),
                Arc::clone(&now_running),
                Arc::clone(&max),
            );
            async move {
                let concurrent = now_running.fetch_add(1, Ordering::SeqCst) + 1;
                max.fetch_max(concurrent, Ordering::SeqCst);
                let call = {
                    let mut record = record.lock().unwrap();
                    record.push(start.elapsed());
                    record.len() - 1
                };
                sleep(duration(call)).await;
                now_running.fetch_sub(1, Ordering::SeqCst);
            }
        },
        10 * MS,
    );
    sleep(run_for).await;
    beat.cancel();
    let calls = starts.lock().unwrap().clone();
    Starts {
        calls,
        max_concurrent: max_running.load(Ordering::SeqCst),
    }
}

#[tokio::test(start_paused = true)]
async fn a_repeat_can_cancel_itself() {
    // Anvil's own self-test: cancel at 5 calls, exactly 5 calls happen.
    let (count, calls) = counter();
    let beat = repeat_with(
        move |me| {
            if count.fetch_add(1, Ordering::SeqCst) + 1 == 5 {
                me.cancel();
            }
        },
        MS,
    );
    sleep(50 * MS).await;
    assert_eq!(calls(), 5);
    assert!(beat.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn an_async_repeat_finishes_the_call_that_cancelled_it() {
    let finished = Arc::new(AtomicUsize::new(0));
    let done = Arc::clone(&finished);
    let _beat = repeat_async(
        move |me| {
            let done = Arc::clone(&done);
            async move {
                me.cancel();
                sleep(5 * MS).await;
                done.fetch_add(1, Ordering::SeqCst);
            }
        },
        MS,
    );
    sleep(20 * MS).await;
    assert_eq!(finished.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_repeat_body_is_reported_and_the_repeat_goes_on() {
    let (count, calls) = counter();
    let beat = repeat(
        move || {
            if count.fetch_add(1, Ordering::SeqCst) % 2 == 0 {
                panic!("every other beat fails");
            }
        },
        MS,
    );
    sleep(Duration::from_micros(10_500)).await;
    beat.cancel();
    assert_eq!(calls(), 10);
}

#[tokio::test(start_paused = true)]
async fn dropping_a_repeat_ref_does_not_stop_it() {
    let (count, calls) = counter();
    drop(repeat(
        move || {
            count.fetch_add(1, Ordering::SeqCst);
        },
        MS,
    ));
    sleep(Duration::from_micros(5_500)).await;
    assert_eq!(calls(), 5);
}

#[tokio::test(start_paused = true)]
async fn defer_fires_once_after_its_delay() {
    let (count, calls) = counter();
    let later = defer(
        move || {
            count.fetch_add(1, Ordering::SeqCst);
        },
        100 * MS,
    );
    assert!(later.is_pending());
    sleep(99 * MS).await;
    assert_eq!(calls(), 0);
    sleep(2 * MS).await;
    settle().await;
    assert_eq!(calls(), 1);
    assert!(later.has_fired());
    sleep(Duration::from_secs(1)).await;
    assert_eq!(calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn cancel_before_firing_stops_it_and_drops_the_closure() {
    let (count, calls) = counter();
    let captured = Arc::new(());
    let probe = Arc::clone(&captured);
    let later = defer(
        move || {
            let _keep = &probe;
            count.fetch_add(1, Ordering::SeqCst);
        },
        10 * MS,
    );
    later.cancel();
    assert!(later.is_cancelled());
    assert_eq!(
        Arc::strong_count(&captured),
        1,
        "the closure is dropped at cancel"
    );
    sleep(50 * MS).await;
    assert_eq!(calls(), 0);
    later.cancel(); // idempotent
}

#[tokio::test(start_paused = true)]
async fn cancel_after_firing_is_a_no_op() {
    let (count, calls) = counter();
    let later = defer(
        move || {
            count.fetch_add(1, Ordering::SeqCst);
        },
        MS,
    );
    sleep(5 * MS).await;
    settle().await;
    assert_eq!(calls(), 1);
    later.cancel();
    assert!(later.has_fired());
    assert!(!later.reset(MS), "a fired defer cannot be moved");
}

#[tokio::test(start_paused = true)]
async fn reset_moves_a_pending_defer() {
    let start = Instant::now();
    let fired_at = Arc::new(Mutex::new(None));
    let record = Arc::clone(&fired_at);
    let later = defer(
        move || *record.lock().unwrap() = Some(start.elapsed()),
        10 * MS,
    );
    sleep(8 * MS).await;
    assert!(later.reset(10 * MS)); // now due at 18 ms
    sleep(8 * MS).await;
    assert!(fired_at.lock().unwrap().is_none());
    sleep(5 * MS).await;
    settle().await;
    assert_eq!(*fired_at.lock().unwrap(), Some(18 * MS));
}

#[tokio::test(start_paused = true)]
async fn a_debounce_of_1000_rapid_changes_fires_once() {
    let saves = Arc::new(Mutex::new(Vec::new()));
    let mut pending: Option<DeferRef> = None;
    for change in 0..1_000 {
        cancel(&pending);
        let saves = Arc::clone(&saves);
        pending = Some(defer(move || saves.lock().unwrap().push(change), 50 * MS));
        advance(Duration::from_micros(100)).await;
    }
    sleep(Duration::from_secs(1)).await;
    assert_eq!(*saves.lock().unwrap(), vec![999]);
}

#[tokio::test(start_paused = true)]
async fn a_debounce_by_reset_fires_once() {
    let (count, calls) = counter();
    let save = defer(
        move || {
            count.fetch_add(1, Ordering::SeqCst);
        },
        50 * MS,
    );
    for _ in 0..1_000 {
        assert!(save.reset(50 * MS));
        advance(Duration::from_micros(100)).await;
    }
    sleep(Duration::from_secs(1)).await;
    assert_eq!(calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_defer_is_reported_and_others_still_fire() {
    let (count, calls) = counter();
    let _bad = defer(|| panic!("deferred bug"), MS);
    let _good = defer(
        move || {
            count.fetch_add(1, Ordering::SeqCst);
        },
        2 * MS,
    );
    sleep(10 * MS).await;
    settle().await;
    assert_eq!(calls(), 1);
}

#[test]
fn cancel_of_none_is_a_no_op() {
    let nothing: Option<DeferRef> = None;
    cancel(&nothing);
    let nothing: Option<nonblocking_runtime::RepeatRef> = None;
    cancel(&nothing);
}

#[test]
fn each_runtime_has_its_own_clock() {
    // Two paused runtimes: advancing one fires only its own defers.
    let build = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap()
    };
    let (first, second) = (build(), build());
    let (count_a, calls_a) = counter();
    let (count_b, calls_b) = counter();
    first.block_on(async {
        defer(
            move || {
                count_a.fetch_add(1, Ordering::SeqCst);
            },
            100 * MS,
        )
    });
    second.block_on(async {
        defer(
            move || {
                count_b.fetch_add(1, Ordering::SeqCst);
            },
            100 * MS,
        )
    });
    first.block_on(async {
        sleep(200 * MS).await;
        settle().await;
    });
    assert_eq!((calls_a(), calls_b()), (1, 0));
    second.block_on(async {
        sleep(200 * MS).await;
        settle().await;
    });
    assert_eq!((calls_a(), calls_b()), (1, 1));
}

#[test]
fn a_defer_whose_runtime_shut_down_reports_cancelled() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let captured = Arc::new(());
    let probe = Arc::clone(&captured);
    let later =
        runtime.block_on(async move { defer(move || drop(probe), Duration::from_secs(60)) });
    drop(runtime);
    assert!(later.is_cancelled());
    assert!(!later.reset(MS));
    later.cancel();
    assert_eq!(
        Arc::strong_count(&captured),
        1,
        "the closure was dropped with its runtime"
    );
    // A new runtime gets a new queue.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let (count, calls) = counter();
    runtime.block_on(async move {
        let _later = defer(
            move || {
                count.fetch_add(1, Ordering::SeqCst);
            },
            MS,
        );
        sleep(5 * MS).await;
        settle().await;
    });
    assert_eq!(calls(), 1);
}

#[test]
fn defer_and_repeat_work_from_a_thread_with_no_runtime() {
    let (tx, rx) = std::sync::mpsc::channel();
    let tick = tx.clone();
    let beat = repeat(
        move || {
            let _ = tick.send("beat");
        },
        2 * MS,
    );
    let _later = defer(
        move || {
            let _ = tx.send("deferred");
        },
        5 * MS,
    );
    let mut seen = Vec::new();
    while !(seen.contains(&"deferred") && seen.iter().filter(|m| **m == "beat").count() >= 2) {
        seen.push(
            rx.recv_timeout(Duration::from_secs(10))
                .expect("timers fire"),
        );
    }
    beat.cancel();
}
