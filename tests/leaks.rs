//! Lifetimes and leaks: what a repeat, a defer or a dropped call captured is freed when they
//! end; a million cancelled defers give their memory back; a program with pending timers exits
//! at once. Live bytes come from a counting global allocator.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use nonblocking_runtime::{DeferRef, call_async, defer, repeat, repeat_with};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::live_bytes;

#[global_allocator]
static ALLOCATOR: counting_alloc::Counting = counting_alloc::Counting;

/// Tests that measure live bytes must not overlap with each other.
static MEASURING: Mutex<()> = Mutex::new(());

/// Waits up to 10 s for `weak` to be dropped everywhere.
fn freed<T>(weak: &Weak<T>) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while weak.strong_count() > 0 {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

#[test]
fn a_self_cancelling_repeat_frees_its_closure() {
    let _serial = MEASURING.lock().unwrap();
    let probe = Arc::new(());
    let weak = Arc::downgrade(&probe);
    let slot: Arc<Mutex<Option<nonblocking_runtime::RepeatRef>>> = Arc::default();
    let own = Arc::clone(&slot);
    // The closure holds its own RepeatRef (through `own`): an Arc cycle until cancelled.
    let beat = repeat(
        move || {
            let _keep = &probe;
            if let Some(me) = own.lock().unwrap().as_ref() {
                me.cancel();
            }
        },
        Duration::from_millis(1),
    );
    *slot.lock().unwrap() = Some(beat);
    assert!(
        freed(&weak),
        "the repeat's closure was not dropped after it cancelled itself"
    );
    drop(slot);

    let probe = Arc::new(());
    let weak = Arc::downgrade(&probe);
    let beat = repeat_with(
        move |me| {
            let _keep = &probe;
            me.cancel();
        },
        Duration::from_millis(1),
    );
    assert!(freed(&weak));
    assert!(beat.is_cancelled());
}

#[test]
fn a_defer_frees_its_closure_after_firing_or_cancel() {
    let _serial = MEASURING.lock().unwrap();
    let probe = Arc::new(());
    let weak = Arc::downgrade(&probe);
    let fired = defer(move || drop(probe), Duration::from_millis(1));
    assert!(freed(&weak));
    assert!(fired.has_fired());

    // A defer that holds its own DeferRef: freed once cancelled.
    let probe = Arc::new(());
    let weak = Arc::downgrade(&probe);
    let own: Arc<Mutex<Option<DeferRef>>> = Arc::default();
    let inside = Arc::clone(&own);
    let pending = defer(
        move || {
            let _keep = (&probe, &inside);
        },
        Duration::from_secs(3600),
    );
    *own.lock().unwrap() = Some(pending.clone());
    drop(own);
    pending.cancel();
    assert_eq!(weak.strong_count(), 0, "cancel drops the closure at once");
}

#[test]
fn a_call_whose_handle_was_dropped_frees_everything() {
    let _serial = MEASURING.lock().unwrap();
    let captured = Arc::new(());
    let weak_captured = Arc::downgrade(&captured);
    let value = Arc::new(());
    let weak_value = Arc::downgrade(&value);
    let handler_probe = Arc::new(());
    let weak_handler = Arc::downgrade(&handler_probe);
    drop(
        call_async(async move {
            let _keep = captured;
            tokio::task::yield_now().await;
            value
        })
        .on_result(move |_| drop(handler_probe)),
    );
    assert!(freed(&weak_captured), "the future was not dropped");
    assert!(freed(&weak_handler), "the handler was not dropped");
    assert!(
        freed(&weak_value),
        "the value kept in the call's state was not dropped"
    );
}

/// A pending plain call holds what a pending `tokio::spawn` of the same future holds: its
/// task, nothing else. (Its error, boxed inside the task's output, once pushed tokio's task
/// cell for a `u64` from 128 to 256 bytes.)
#[test]
fn a_pending_call_holds_no_more_than_a_pending_tokio_task() {
    const TASKS: usize = 1_000;
    let _serial = MEASURING.lock().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Warm up: the runtime's own structures exist before anything is counted.
        drop(tokio::spawn(std::future::pending::<u64>()));
        drop(call_async(std::future::pending::<u64>()));

        let before = live_bytes();
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| tokio::spawn(std::future::pending::<u64>()))
            .collect();
        let per_task = (live_bytes() - before) as f64 / TASKS as f64;
        let before = live_bytes();
        let calls: Vec<_> = (0..TASKS)
            .map(|_| call_async(std::future::pending::<u64>()))
            .collect();
        let per_call = (live_bytes() - before) as f64 / TASKS as f64;
        // Each vector holds its handles (a call's is larger than a `JoinHandle`): compare
        // what the tasks hold beside them.
        let per_task = per_task - std::mem::size_of_val(&tasks[0]) as f64;
        let per_call = per_call - std::mem::size_of_val(&calls[0]) as f64;
        assert!(
            per_call <= per_task + 8.0,
            "a pending call holds {per_call:.0} bytes of heap, a pending tokio task {per_task:.0}"
        );
        tasks.iter().for_each(|task| task.abort());
        calls.iter().for_each(|call| call.cancel());
    });
}

#[test]
fn a_million_cancelled_defers_give_their_memory_back() {
    const DEFERS: u64 = 1_000_000;
    let _serial = MEASURING.lock().unwrap();
    // Warm up: the background runtime and this runtime's timer queue exist before measuring.
    defer(|| {}, Duration::from_secs(3600)).cancel();
    std::thread::sleep(Duration::from_millis(20));
    let before = live_bytes();

    let mut pending = Vec::with_capacity(DEFERS as usize);
    for i in 0..DEFERS {
        pending.push(defer(
            move || assert!(i < u64::MAX),
            Duration::from_secs(3600),
        ));
    }
    let peak = live_bytes();
    for defer in &pending {
        defer.cancel();
    }
    drop(pending);
    // One timer tick.
    std::thread::sleep(Duration::from_millis(2));
    let after = live_bytes();
    let grown = peak - before;
    println!(
        "live bytes: before {before}, with 1,000,000 pending {peak} (+{grown}), after cancelling {after}"
    );
    assert!(
        grown > 50_000_000,
        "the pending defers were counted ({grown} bytes)"
    );
    let left = (after - before).abs() as f64;
    assert!(
        left <= 0.01 * before as f64,
        "{left} bytes left over after cancelling, more than 1% of {before}"
    );
}

#[test]
fn a_dropped_ui_context_gives_back_everything_it_and_its_calls_held() {
    use nonblocking_runtime::ui::UiContext;
    const HANDLERS: usize = 10_000;
    let _serial = MEASURING.lock().unwrap();
    // Warm up: the background runtime and its timer queue exist before measuring.
    let ui = UiContext::new(|| {});
    ui.defer(|| {}, Duration::from_secs(3600)).cancel();
    call_async(async {}).wait().unwrap();
    drop(ui);
    std::thread::sleep(Duration::from_millis(20));
    let before = live_bytes();

    let ui = UiContext::new(|| {});
    let state = std::rc::Rc::new(vec![0u8; 1024]);
    let mut running = Vec::with_capacity(HANDLERS);
    for i in 0..HANDLERS {
        let (ok, failed) = (std::rc::Rc::clone(&state), std::rc::Rc::clone(&state));
        // Half finish (their handlers are queued, never pumped), half still run.
        let call = call_async(async move {
            if i % 2 == 1 {
                std::future::pending::<()>().await;
            }
            vec![0u8; 64]
        })
        .on_result_ui(&ui, move |_| drop(ok))
        .on_error_ui(&ui, move |_| drop(failed));
        running.push(call);
    }
    let beats: Vec<_> = (0..100)
        .map(|_| ui.repeat(|| {}, Duration::from_millis(1)))
        .collect();
    let saves: Vec<_> = (0..100)
        .map(|_| ui.defer(|| {}, Duration::from_secs(3600)))
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    let peak = live_bytes();
    drop(ui);
    assert_eq!(
        std::rc::Rc::strong_count(&state),
        1,
        "every handler was dropped with the context"
    );
    // The calls go on: cancelled now, their handlers' tickets find the context closed.
    running.iter().for_each(|call| call.cancel());
    drop(running);
    drop((beats, saves));
    std::thread::sleep(Duration::from_millis(50));
    let after = live_bytes();
    println!("live bytes: before {before}, with the context {peak}, after dropping it {after}");
    assert!(peak - before > 1_000_000, "the context's work was counted");
    let left = (after - before).abs() as f64;
    assert!(
        left <= 0.01 * before as f64 + 16_384.0,
        "{left} bytes left over after dropping the context"
    );
}

/// Run as a child process by the test below: returns from "main" (this test) with 1,000
/// pending defers and 100 running repeats.
#[test]
fn exit_probe() {
    if std::env::var_os("NONBLOCKING_EXIT_PROBE").is_none() {
        return;
    }
    let _defers: Vec<DeferRef> = (0..1_000)
        .map(|i| defer(move || assert!(i < 1_000), Duration::from_secs(60 + i)))
        .collect();
    let _repeats: Vec<_> = (0..100)
        .map(|_| repeat(|| {}, Duration::from_millis(1)))
        .collect();
    std::thread::sleep(Duration::from_millis(20));
    println!("RETURNING");
}

#[test]
fn a_program_with_pending_timers_exits_promptly() {
    let _serial = MEASURING.lock().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "exit_probe", "--nocapture", "--test-threads=1"])
        .env("NONBLOCKING_EXIT_PROBE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let returned = loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("RETURNING") => break Instant::now(),
            Some(_) => continue,
            None => panic!("the probe ended without returning from main"),
        }
    };
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            returned.elapsed() < Duration::from_secs(10),
            "the probe hangs after main returned"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = returned.elapsed();
    assert!(status.success(), "the probe failed: {status}");
    assert!(took < Duration::from_secs(1), "exiting took {took:?}");
}
