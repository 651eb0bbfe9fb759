//! Durations at the edges, and timers whose runtime is gone (the hardening issue, items 1, 2, 3
//! and 11). No duration a caller can pass may panic; a delay beyond what the clock or the timer
//! queue can hold means "not in this process's lifetime", as `call.timeout(Duration::MAX)`
//! already did: pending until cancelled.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nonblocking_runtime::{DeferRef, defer, repeat, repeat_async};
use tokio::time::sleep;

const MS: Duration = Duration::from_millis(1);
const DAY: Duration = Duration::from_secs(24 * 3600);
const THREE_YEARS: Duration = Duration::from_secs(3 * 365 * 24 * 3600);

#[path = "support/counting.rs"]
mod counting;

use counting::{counter, settle};

/// A defer that counts its one call, and a probe that says whether its closure is still alive.
fn counted_defer(delay: Duration) -> (DeferRef, impl Fn() -> usize, Arc<()>) {
    let (count, calls) = counter();
    let probe = Arc::new(());
    let held = Arc::clone(&probe);
    let handle = defer(
        move || {
            let _held = held;
            count.fetch_add(1, Ordering::SeqCst);
        },
        delay,
    );
    (handle, calls, probe)
}

// 1. A zero interval is a call on every tick of the timer (each millisecond), not a busy loop.

#[tokio::test(start_paused = true)]
async fn a_zero_interval_repeat_calls_about_once_a_millisecond() {
    let (count, calls) = counter();
    let beat = repeat(
        move || {
            count.fetch_add(1, Ordering::SeqCst);
        },
        Duration::ZERO,
    );
    sleep(10 * MS).await;
    settle().await;
    beat.cancel();
    assert!((9..=11).contains(&calls()), "{} calls in 10 ms", calls());
}

#[tokio::test(start_paused = true)]
async fn a_zero_interval_async_repeat_calls_about_once_a_millisecond() {
    let (count, calls) = counter();
    let beat = repeat_async(
        move |_| {
            count.fetch_add(1, Ordering::SeqCst);
            async {}
        },
        Duration::ZERO,
    );
    sleep(10 * MS).await;
    settle().await;
    beat.cancel();
    assert!((9..=11).contains(&calls()), "{} calls in 10 ms", calls());
}

#[test]
fn a_zero_interval_repeat_on_the_wall_clock_is_not_a_busy_loop() {
    let (count, calls) = counter();
    let started = Instant::now();
    let beat = repeat(
        move || {
            count.fetch_add(1, Ordering::SeqCst);
        },
        Duration::ZERO,
    );
    std::thread::sleep(200 * MS);
    beat.cancel();
    let elapsed_ms = started.elapsed().as_millis() as usize;
    // At most one call per millisecond of the timer (a busy loop made millions).
    assert!(
        calls() <= elapsed_ms + 5,
        "{} calls in {elapsed_ms} ms",
        calls()
    );
    assert!(
        calls() >= 20,
        "it still runs: {} calls in {elapsed_ms} ms",
        calls()
    );
}

// 2. Long durations never panic: they mean "not in this process's lifetime".

#[tokio::test(start_paused = true)]
async fn defers_beyond_the_queue_or_the_clock_stay_pending_until_cancelled() {
    for delay in [
        Duration::MAX,
        THREE_YEARS,
        Duration::from_secs(u64::MAX / 2),
    ] {
        let (handle, calls, probe) = counted_defer(delay);
        let (near, near_calls, _) = counted_defer(10 * MS);
        sleep(20 * MS).await;
        settle().await;
        assert_eq!(
            near_calls(),
            1,
            "a neighbour of a {delay:?} defer still fires"
        );
        assert!(near.has_fired());
        assert!(handle.is_pending(), "{delay:?}");
        assert_eq!(calls(), 0);
        handle.cancel();
        assert!(handle.is_cancelled());
        assert_eq!(
            Arc::strong_count(&probe),
            1,
            "cancel drops the closure ({delay:?})"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_forever_defer_holds_nothing_once_nobody_can_cancel_it() {
    let (handle, _calls, probe) = counted_defer(Duration::MAX);
    drop(handle);
    assert_eq!(
        Arc::strong_count(&probe),
        1,
        "no handle and no deadline: the closure can never run, so it is freed"
    );
}

#[tokio::test(start_paused = true)]
async fn repeats_with_the_longest_intervals_never_call_and_cancel_cleanly() {
    for interval in [Duration::MAX, THREE_YEARS] {
        let (count, calls) = counter();
        let beat = repeat(
            move || {
                count.fetch_add(1, Ordering::SeqCst);
            },
            interval,
        );
        let slow = repeat_async(|_| async {}, interval);
        sleep(400 * DAY).await;
        settle().await;
        assert_eq!(calls(), 0, "{interval:?}");
        assert!(!beat.is_cancelled());
        beat.cancel();
        slow.cancel();
        settle().await;
        assert!(beat.is_cancelled() && slow.is_cancelled());
    }
}

#[tokio::test(start_paused = true)]
async fn reset_to_forever_and_back() {
    let (handle, calls, _probe) = counted_defer(10 * MS);
    for forever in [Duration::MAX, THREE_YEARS] {
        assert!(handle.reset(forever));
        sleep(20 * MS).await;
        settle().await;
        assert_eq!(calls(), 0);
        assert!(handle.is_pending());
    }
    // Back within reach: it fires on the new deadline.
    assert!(handle.reset(5 * MS));
    sleep(10 * MS).await;
    settle().await;
    assert_eq!(calls(), 1);
    assert!(handle.has_fired());
    assert!(!handle.reset(Duration::MAX), "a fired defer does not move");
}

// 3. The queue's bookkeeping cannot be desynchronised: neighbours of every operation, with
// extreme durations, keep their own fate.

#[tokio::test(start_paused = true)]
async fn neighbours_of_create_reset_cancel_and_fire_with_extreme_durations() {
    // The case: reset to 3 years, then cancel; a 300-day neighbour must still fire.
    let (neighbour, neighbour_calls, _) = counted_defer(300 * DAY);
    let (target, target_calls, target_probe) = counted_defer(10 * MS);
    assert!(target.reset(THREE_YEARS));
    target.cancel();
    assert!(target.is_cancelled());
    assert_eq!(Arc::strong_count(&target_probe), 1);

    // Every other operation with extremes, around the neighbour.
    let (forever, forever_calls, _) = counted_defer(Duration::MAX);
    let (soon, soon_calls, _) = counted_defer(MS);
    assert!(forever.reset(Duration::MAX));
    assert!(soon.reset(Duration::MAX));
    assert!(soon.reset(2 * MS));
    let (zero, zero_calls, _) = counted_defer(Duration::ZERO);

    sleep(301 * DAY).await;
    settle().await;
    assert_eq!(neighbour_calls(), 1, "the 300-day neighbour fired");
    assert!(neighbour.has_fired());
    assert_eq!((soon_calls(), zero_calls()), (1, 1));
    assert!(soon.has_fired() && zero.has_fired());
    assert_eq!((target_calls(), forever_calls()), (0, 0));
    assert!(forever.is_pending());
    forever.cancel();
    assert!(!neighbour.reset(DAY), "a fired defer stays fired");
}

// 11. A repeat whose runtime is gone reports that it ended, as a call on a dead runtime reports
// `Cancelled`.

#[test]
fn a_repeat_whose_runtime_shut_down_reports_cancelled() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let beat = {
        let _inside = runtime.enter();
        repeat(|| {}, 10 * MS)
    };
    let slow = {
        let _inside = runtime.enter();
        repeat_async(|_| async {}, 10 * MS)
    };
    runtime.block_on(async { sleep(35 * MS).await });
    assert!(beat.calls() >= 1 && !beat.is_cancelled());
    drop(runtime);
    assert!(beat.is_cancelled(), "the repeat's runtime is gone");
    assert!(slow.is_cancelled());
}

// 9. A runtime built without the time driver: no panic, no silent `Pending`. A timeout fails
// the call with an error naming `enable_time`; a repeat or a defer reports cancelled at once.

fn without_time() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

#[test]
fn a_timeout_on_a_runtime_without_timers_fails_the_call_naming_enable_time() {
    let runtime = without_time();
    let error = runtime.block_on(async {
        nonblocking_runtime::call_async(std::future::pending::<()>())
            .timeout(10 * MS)
            .await
            .unwrap_err()
    });
    assert!(error.to_string().contains("enable_time"), "{error}");
}

#[test]
fn repeat_and_defer_on_a_runtime_without_timers_report_cancelled_at_once() {
    let runtime = without_time();
    let _inside = runtime.enter();
    let beat = repeat(|| {}, 10 * MS);
    let slow = repeat_async(|_| async {}, 10 * MS);
    let (later, calls, probe) = counted_defer(10 * MS);
    assert!(beat.is_cancelled() && slow.is_cancelled());
    assert!(later.is_cancelled());
    assert!(!later.reset(MS));
    assert_eq!(calls(), 0);
    assert_eq!(Arc::strong_count(&probe), 1, "the body is not kept");
}
