//! `UiContext`: handlers, repeats and defers that run on the thread that owns the context, with
//! `!Send` captures, delivered by its pump.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use nonblocking_runtime::ui::UiContext;
use nonblocking_runtime::{CallError, CallStatus, call_async, call_async_by_name, try_call_async};

/// A context whose wake-ups are counted.
fn counted_context() -> (UiContext, Arc<AtomicUsize>) {
    let wakes = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&wakes);
    let ui = UiContext::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    (ui, wakes)
}

/// Pumps until `done()` or 10 s, the bound of a loaded 2-core machine.
fn pump_until(ui: &UiContext, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out pumping");
        ui.pump();
        thread::sleep(Duration::from_millis(1));
    }
}

/// Waits (without pumping) until the wake count reaches `n`.
fn woken(wakes: &AtomicUsize, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while wakes.load(Ordering::SeqCst) < n {
        assert!(Instant::now() < deadline, "no wake-up came");
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn handlers_run_on_the_owning_thread_with_non_send_captures() {
    let (ui, _) = counted_context();
    let me = thread::current().id();
    let seen: Rc<RefCell<Vec<(ThreadId, String)>>> = Rc::default();

    let before = Rc::clone(&seen);
    let ok = call_async(async { 7 }).on_result_ui(&ui, move |value| {
        before
            .borrow_mut()
            .push((thread::current().id(), format!("value {value}")));
    });
    let failing = Rc::clone(&seen);
    let err = try_call_async(async { Err::<(), _>("offline") }).on_error_ui(&ui, move |error| {
        failing
            .borrow_mut()
            .push((thread::current().id(), format!("error {error}")));
    });
    assert_eq!(
        ok.wait().unwrap(),
        7,
        "wait returns the value before the UI pumps"
    );
    assert_eq!(err.wait().unwrap_err().to_string(), "offline");
    assert!(seen.borrow().is_empty(), "nothing runs before the pump");

    pump_until(&ui, || seen.borrow().len() == 2);
    let seen = seen.borrow();
    assert!(seen.iter().all(|(thread, _)| *thread == me));
    let mut texts: Vec<_> = seen.iter().map(|(_, text)| text.as_str()).collect();
    texts.sort();
    assert_eq!(texts, ["error offline", "value 7"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_attached_after_the_call_finished_is_queued_never_run_inline() {
    let (ui, wakes) = counted_context();
    let call = call_async(async { 5 });
    while call.status() == CallStatus::Pending {
        tokio::task::yield_now().await;
    }
    let ran = Rc::new(Cell::new(0));
    let counter = Rc::clone(&ran);
    let call = call.on_result_ui(&ui, move |value| counter.set(*value));
    assert_eq!(ran.get(), 0, "not inline");
    assert_eq!(call.await.unwrap(), 5);
    woken(&wakes, 1);
    assert_eq!(ui.pump(), 1);
    assert_eq!(ran.get(), 5);
}

#[test]
fn the_wake_callback_is_called_once_per_batch() {
    let (ui, wakes) = counted_context();
    let ran = Rc::new(Cell::new(0));
    let calls: Vec<_> = (0..50)
        .map(|i| {
            let counter = Rc::clone(&ran);
            call_async(async move { i }).on_result_ui(&ui, move |_| counter.set(counter.get() + 1))
        })
        .collect();
    for call in calls {
        call.wait().unwrap();
    }
    assert_eq!(
        wakes.load(Ordering::SeqCst),
        1,
        "50 deliveries, one wake-up"
    );
    assert_eq!(ui.pump(), 50);
    assert_eq!(ran.get(), 50);

    // After a pump, the next delivery wakes the loop again.
    call_async(async {})
        .on_result_ui(&ui, |_| {})
        .wait()
        .unwrap();
    assert_eq!(wakes.load(Ordering::SeqCst), 2);
    // And a handle's explicit wake() always calls it.
    ui.handle().wake();
    assert_eq!(wakes.load(Ordering::SeqCst), 3);
}

#[test]
fn handlers_of_one_call_run_in_attach_order_with_the_others() {
    let (ui, _) = counted_context();
    let order: Rc<RefCell<Vec<&str>>> = Rc::default();
    let (first, third) = (Rc::clone(&order), Rc::clone(&order));
    let (tx, rx) = std::sync::mpsc::channel();
    let gate = tokio::sync::oneshot::channel::<()>();
    let (release, wait) = gate;
    let call = call_async(async move {
        let _ = wait.await;
        1
    })
    .on_result_ui(&ui, move |_| first.borrow_mut().push("first"))
    .on_result(move |_| tx.send("second").unwrap())
    .on_result_ui(&ui, move |_| third.borrow_mut().push("third"));
    release.send(()).unwrap();
    call.wait().unwrap();
    assert_eq!(
        rx.recv().unwrap(),
        "second",
        "the runtime handler ran before wait returned"
    );
    ui.pump();
    assert_eq!(*order.borrow(), ["first", "third"]);
}

#[test]
fn pumping_inside_a_handler_runs_nothing_and_work_it_queues_waits_for_the_next_pump() {
    let (ui, wakes) = counted_context();
    let ui = Rc::new(ui);
    let log: Rc<RefCell<Vec<String>>> = Rc::default();
    let (inner_ui, inner_log) = (Rc::clone(&ui), Rc::clone(&log));
    call_async(async { 1 })
        .on_result_ui(&ui, move |_| {
            inner_log
                .borrow_mut()
                .push(format!("nested pump ran {}", inner_ui.pump()));
            let later = Rc::clone(&inner_log);
            let _ = call_async(async { 2 }).on_result_ui(&inner_ui, move |v| {
                later.borrow_mut().push(format!("later {v}"))
            });
        })
        .wait()
        .unwrap();
    pump_until(&ui, || !log.borrow().is_empty());
    assert_eq!(*log.borrow(), ["nested pump ran 0"]);
    let wakes_after_first = wakes.load(Ordering::SeqCst);
    pump_until(&ui, || log.borrow().len() == 2);
    assert_eq!(log.borrow()[1], "later 2");
    assert!(
        wakes_after_first >= 2,
        "work queued during the pump woke the loop again"
    );
}

#[test]
fn every_call_runs_exactly_one_of_its_two_ui_handlers_even_racing_cancel() {
    let (ui, _) = counted_context();
    let results = Rc::new(Cell::new(0));
    let errors = Rc::new(Cell::new(0));
    let n = 2000;
    let mut calls = Vec::new();
    for i in 0..n {
        let (ok, err) = (Rc::clone(&results), Rc::clone(&errors));
        let call = call_async(async move {
            tokio::task::yield_now().await;
            i
        })
        .on_result_ui(&ui, move |_| ok.set(ok.get() + 1))
        .on_error_ui(&ui, move |error| {
            assert!(error.is_cancelled());
            err.set(err.get() + 1);
        });
        if i % 2 == 0 {
            call.cancel();
        }
        calls.push(call);
    }
    let cancelled = calls
        .into_iter()
        .map(|call| call.wait())
        .filter(|outcome| matches!(outcome, Err(CallError::Cancelled)))
        .count();
    pump_until(&ui, || results.get() + errors.get() == n);
    // Extra pumps: nothing more runs (at most once).
    for _ in 0..5 {
        ui.pump();
        thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(results.get() + errors.get(), n);
    assert_eq!(errors.get(), cancelled);
}

#[test]
fn a_remote_style_call_by_name_reports_to_the_ui() {
    #[nonblocking_runtime::server_function(name = "ui_thread.double")]
    fn double(n: i64) -> i64 {
        n * 2
    }
    let (ui, _) = counted_context();
    let status = Rc::new(RefCell::new(String::new()));
    let shown = Rc::clone(&status);
    call_async_by_name::<i64>("ui_thread.double", serde_json::json!([21]))
        .on_result_ui(&ui, move |n| *shown.borrow_mut() = format!("saved {n}"));
    pump_until(&ui, || !status.borrow().is_empty());
    assert_eq!(*status.borrow(), "saved 42");
}

#[test]
fn dropping_the_context_drops_queued_and_kept_handlers_unrun() {
    let (ui, wakes) = counted_context();
    let handle = ui.handle();
    let probe = Rc::new(());
    let ran = Rc::new(Cell::new(false));

    // Queued: the call finished, the pump never came.
    let (queued_probe, queued_ran) = (Rc::clone(&probe), Rc::clone(&ran));
    call_async(async {})
        .on_result_ui(&ui, move |_| {
            let _keep = queued_probe;
            queued_ran.set(true);
        })
        .wait()
        .unwrap();
    woken(&wakes, 1);
    // Kept: the call still runs.
    let (kept_probe, kept_ran) = (Rc::clone(&probe), Rc::clone(&ran));
    let running = call_async(std::future::pending::<()>()).on_error_ui(&ui, move |_| {
        let _keep = kept_probe;
        kept_ran.set(true);
    });
    // Timers of both kinds.
    let timer_probe = Rc::clone(&probe);
    let beat = ui.repeat(
        move || drop(Rc::clone(&timer_probe)),
        Duration::from_millis(1),
    );
    let timer_probe = Rc::clone(&probe);
    let save = ui.defer(move || drop(timer_probe), Duration::from_secs(60));
    assert_eq!(Rc::strong_count(&probe), 5);

    drop(ui);
    assert_eq!(
        Rc::strong_count(&probe),
        1,
        "every closure was dropped with the context"
    );
    assert!(!ran.get());
    assert!(handle.is_closed());
    assert!(!handle.post(|| unreachable!("posted after the context closed")));
    assert!(beat.is_cancelled() && save.is_cancelled());
    // The call keeps its own fate; its handler's ticket is dropped harmlessly.
    assert_eq!(running.status(), CallStatus::Pending);
    running.cancel();
    assert!(running.wait().unwrap_err().is_cancelled());
}

#[test]
fn dropping_the_context_leaves_no_awaiter_hanging() {
    let (ui, _) = counted_context();
    let (release, wait) = tokio::sync::oneshot::channel::<()>();
    let call = call_async(async move {
        let _ = wait.await;
        3
    })
    .on_result_ui(&ui, |_| unreachable!("the context is gone"));
    drop(ui);
    release.send(()).unwrap();
    assert_eq!(call.wait().unwrap(), 3);
}

#[test]
fn a_repeat_runs_on_the_ui_thread_and_holds_at_most_one_queued_tick() {
    let (ui, wakes) = counted_context();
    let me = thread::current().id();
    let ticks: Rc<RefCell<Vec<ThreadId>>> = Rc::default();
    let seen = Rc::clone(&ticks);
    let beat = ui.repeat(
        move || seen.borrow_mut().push(thread::current().id()),
        Duration::from_millis(1),
    );
    woken(&wakes, 1);
    // Many ticks come due while the loop does not pump.
    thread::sleep(Duration::from_millis(50));
    assert_eq!(ui.pump(), 1, "one queued tick, not a burst");
    assert_eq!(beat.calls(), 1);
    pump_until(&ui, || beat.calls() >= 3);
    beat.cancel();
    let calls = beat.calls();
    thread::sleep(Duration::from_millis(20));
    ui.pump();
    assert_eq!(beat.calls(), calls, "nothing runs after cancel");
    assert!(ticks.borrow().iter().all(|thread| *thread == me));
}

#[test]
fn cancel_after_the_timer_fired_but_before_the_pump_prevents_the_body() {
    let (ui, wakes) = counted_context();
    let ran = Rc::new(Cell::new(false));
    let flag = Rc::clone(&ran);
    let beat_ran = Rc::new(Cell::new(0));
    let beats = Rc::clone(&beat_ran);
    let save = ui.defer(move || flag.set(true), Duration::from_millis(1));
    woken(&wakes, 1);
    assert!(save.is_pending(), "fired, waiting for the pump");
    save.cancel();
    assert!(save.is_cancelled() && !save.is_pending());
    ui.pump();
    assert!(!ran.get());
    assert!(
        !save.reset(Duration::from_millis(1)),
        "a cancelled defer stays cancelled"
    );

    let beat = ui.repeat(move || beats.set(beats.get() + 1), Duration::from_millis(1));
    woken(&wakes, 2);
    beat.cancel();
    ui.pump();
    assert_eq!(
        beat_ran.get(),
        0,
        "the queued tick of a cancelled repeat does not run"
    );
}

#[test]
fn reset_after_the_timer_fired_but_before_the_pump_moves_the_body() {
    let (ui, wakes) = counted_context();
    let runs = Rc::new(Cell::new(0));
    let counter = Rc::clone(&runs);
    let save = ui.defer(
        move || counter.set(counter.get() + 1),
        Duration::from_millis(1),
    );
    woken(&wakes, 1);
    // A slow frame: the timer fired, the loop has not pumped, the user typed again.
    let typed = Instant::now();
    assert!(save.reset(Duration::from_millis(200)));
    ui.pump();
    assert_eq!(runs.get(), 0, "the stale call did not run");
    assert!(save.is_pending());
    pump_until(&ui, || runs.get() == 1);
    assert!(
        typed.elapsed() >= Duration::from_millis(200),
        "it ran after the new delay"
    );
    assert!(save.has_fired() && !save.is_pending());
    assert!(
        !save.reset(Duration::from_millis(1)),
        "a defer that ran cannot be reset"
    );
    thread::sleep(Duration::from_millis(20));
    ui.pump();
    assert_eq!(runs.get(), 1, "once");
}

#[test]
fn a_debounced_autosave_saves_once_for_a_burst_of_keystrokes() {
    let (ui, _) = counted_context();
    let saves = Rc::new(Cell::new(0));
    let counter = Rc::clone(&saves);
    let save = ui.defer(
        move || counter.set(counter.get() + 1),
        Duration::from_millis(100),
    );
    for _ in 0..20 {
        assert!(save.reset(Duration::from_millis(100)));
        ui.pump();
        thread::sleep(Duration::from_millis(5));
    }
    pump_until(&ui, || save.has_fired());
    assert_eq!(saves.get(), 1);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn ui_repeats_keep_the_runtimes_grid_on_a_paused_clock() {
    let (ui, _) = counted_context();
    let start = tokio::time::Instant::now();
    let at: Rc<RefCell<Vec<Duration>>> = Rc::default();
    let seen = Rc::clone(&at);
    let beat = ui.repeat(
        move || seen.borrow_mut().push(start.elapsed()),
        Duration::from_millis(10),
    );
    // Pump 1 ms after each tick is due: each pump runs exactly the tick before it.
    tokio::time::sleep(Duration::from_millis(1)).await;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        ui.pump();
    }
    let expected: Vec<_> = (1..=5).map(|k| Duration::from_millis(10 * k + 1)).collect();
    assert_eq!(*at.borrow(), expected);
    // The loop stalls for 5 intervals: one tick waits, the rest are skipped.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(ui.pump(), 1);
    assert_eq!(beat.calls(), 6);
    beat.cancel();
}

#[tokio::test(flavor = "current_thread")]
async fn an_async_loop_drives_the_context_on_a_local_set() {
    let ui = Rc::new(UiContext::new(|| {}));
    let local = tokio::task::LocalSet::new();
    let driver = local.spawn_local({
        let ui = Rc::clone(&ui);
        async move { ui.run().await }
    });
    let me = thread::current().id();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let _call = call_async(async { 9 }).on_result_ui(&ui, move |value| {
        tx.send((*value, thread::current().id())).unwrap();
    });
    let (value, thread) = local.run_until(rx).await.unwrap();
    assert_eq!((value, thread), (9, me));
    let ticks = Rc::new(Cell::new(0));
    let counter = Rc::clone(&ticks);
    let beat = ui.repeat(
        move || counter.set(counter.get() + 1),
        Duration::from_millis(1),
    );
    local
        .run_until(async {
            while ticks.get() < 3 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
    beat.cancel();
    driver.abort();
}

#[test]
fn a_panicking_handler_is_logged_and_the_pump_goes_on() {
    let (ui, _) = counted_context();
    let ran = Rc::new(Cell::new(false));
    let flag = Rc::clone(&ran);
    call_async(async {})
        .on_result_ui(&ui, |_| panic!("boom"))
        .wait()
        .unwrap();
    call_async(async {})
        .on_result_ui(&ui, move |_| flag.set(true))
        .wait()
        .unwrap();
    pump_until(&ui, || ran.get());
}

/// `pump()` counts the app's own closures, not the clean-up of handlers that will never run:
/// each call below runs one of its two handlers, and the other is forgotten quietly.
#[test]
fn pump_counts_only_the_handlers_that_ran() {
    let ui = UiContext::new(|| {});
    let calls: Vec<_> = (0..100)
        .map(|i| {
            nonblocking_runtime::try_call_async(async move {
                if i % 2 == 0 { Ok(i) } else { Err("odd") }
            })
            .on_result_ui(&ui, |_| {})
            .on_error_ui(&ui, |_| {})
        })
        .collect();
    for call in calls {
        let _ = call.wait();
    }
    let mut ran = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        ran += ui.pump();
        std::thread::sleep(Duration::from_millis(1));
        if ran >= 100 {
            // Anything still to come would be a clean-up job counted as work.
            std::thread::sleep(Duration::from_millis(50));
            ran += ui.pump();
            break;
        }
    }
    assert_eq!(ran, 100);
}
