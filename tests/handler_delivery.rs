//! Where and in which order handlers run. A handler attached before the call finished runs
//! in a task, like one attached after: never inside tokio's wake-up of a join waker, where
//! tokio promises nothing about the thread or the runtime's state. And handlers run in the
//! order they were attached, whichever side of completion each was attached on.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use nonblocking_runtime::ui::UiContext;
use nonblocking_runtime::{AsyncCall, CallStatus, call_async};

const WITHIN: Duration = Duration::from_secs(10);

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

/// A call that finishes only when told to, so that handlers can be attached before.
fn gated(runtime: &tokio::runtime::Runtime) -> (AsyncCall<u32>, tokio::sync::oneshot::Sender<()>) {
    let (open, gate) = tokio::sync::oneshot::channel::<()>();
    let _inside = runtime.enter();
    let call = call_async(async move {
        let _ = gate.await;
        7
    });
    (call, open)
}

/// Attaches `handler` before the call finishes and after, and returns what each saw.
fn before_and_after<R: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    handler: impl Fn(&u32) -> R + Send + Sync + Clone + 'static,
) -> (R, R) {
    let (tx, rx) = mpsc::channel();
    let (call, open) = gated(runtime);
    let (early, late) = (handler.clone(), handler);
    let before = tx.clone();
    let call = call.on_result(move |value| before.send(("before", early(value))).unwrap());
    open.send(()).unwrap();
    let _inside = runtime.enter();
    let call = {
        while !call.is_finished() {
            std::thread::yield_now();
        }
        call.on_result(move |value| tx.send(("after", late(value))).unwrap())
    };
    let mut seen = [
        rx.recv_timeout(WITHIN).unwrap(),
        rx.recv_timeout(WITHIN).unwrap(),
    ];
    seen.sort_by_key(|(side, _)| *side != "before");
    drop(call);
    let [(_, before), (_, after)] = seen;
    (before, after)
}

#[test]
fn a_handler_attached_before_runs_inside_a_task_like_one_attached_after() {
    let runtime = multi_thread();
    for _ in 0..50 {
        let (before, after) = before_and_after(&runtime, |_| tokio::task::try_id().is_some());
        assert!(before, "a handler attached before ran outside any task");
        assert!(after);
    }
}

#[test]
fn a_handler_attached_before_may_wait_for_another_call() {
    let runtime = multi_thread();
    let (before, after) = before_and_after(&runtime, |value| {
        call_async(async {}).wait().map(|()| *value)
    });
    assert_eq!(before.unwrap(), 7);
    assert_eq!(after.unwrap(), 7);
}

#[test]
fn a_handler_attached_before_may_spawn_and_block() {
    let runtime = multi_thread();
    let (before, after) = before_and_after(&runtime, |value| {
        let value = *value;
        // Blocking for 100 ms is the handler's own business: it delays nothing but itself.
        std::thread::sleep(Duration::from_millis(100));
        let (tx, rx) = mpsc::channel();
        tokio::spawn(async move { tx.send(value * 2).unwrap() });
        rx
    });
    assert_eq!(before.recv_timeout(WITHIN).unwrap(), 14);
    assert_eq!(after.recv_timeout(WITHIN).unwrap(), 14);
}

#[test]
fn a_panicking_handler_attached_before_changes_nothing_else() {
    let runtime = multi_thread();
    let (call, open) = gated(&runtime);
    let (tx, rx) = mpsc::channel();
    let call = call
        .on_result(|_| panic!("a handler that panics"))
        .on_result(move |value| tx.send(*value).unwrap());
    open.send(()).unwrap();
    assert_eq!(rx.recv_timeout(WITHIN).unwrap(), 7);
    assert_eq!(call.wait().unwrap(), 7);
}

#[test]
fn a_handler_attached_before_may_cancel_its_own_call() {
    let runtime = multi_thread();
    let (call, open) = gated(&runtime);
    let handle: Arc<OnceLock<AsyncCall<u32>>> = Arc::new(OnceLock::new());
    let (tx, rx) = mpsc::channel();
    let own = Arc::clone(&handle);
    let call = call.on_result(move |_| {
        let own = own
            .get()
            .expect("the handle is kept before the call finishes");
        own.cancel();
        tx.send(own.status()).unwrap();
    });
    assert!(handle.set(call).is_ok());
    open.send(()).unwrap();
    // Cancelling a finished call is a no-op: its outcome stands.
    assert_eq!(rx.recv_timeout(WITHIN).unwrap(), CallStatus::Completed);
}

#[test]
fn handlers_of_a_call_whose_runtime_is_dropped_on_another_thread_run_once_in_a_task() {
    for flavor in ["current_thread", "multi_thread"] {
        for _ in 0..20 {
            let runtime = match flavor {
                "current_thread" => tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .unwrap(),
                _ => multi_thread(),
            };
            let (tx, rx) = mpsc::channel();
            let call = {
                let _inside = runtime.enter();
                call_async(std::future::pending::<u32>()).on_error(move |error| {
                    let here = std::thread::current().id();
                    tx.send((error.is_cancelled(), tokio::task::try_id().is_some(), here))
                        .unwrap()
                })
            };
            let dropping = std::thread::spawn(move || {
                drop(runtime);
                std::thread::current().id()
            });
            let dropping = dropping.join().unwrap();
            let (cancelled, in_task, ran_on) = rx.recv_timeout(WITHIN).unwrap();
            assert!(
                cancelled && in_task,
                "{flavor}: cancelled {cancelled}, in a task {in_task}"
            );
            assert_ne!(
                ran_on, dropping,
                "{flavor}: the handler ran in the thread dropping the runtime"
            );
            assert!(
                rx.recv_timeout(Duration::from_millis(20)).is_err(),
                "a handler ran twice"
            );
            assert_eq!(call.status(), CallStatus::Cancelled);
        }
    }
}

/// Attaches `before` handlers while the call runs and `after` once it finished, each pushing
/// its index; returns the order they ran in.
fn run_order(
    runtime: &tokio::runtime::Runtime,
    before: usize,
    after: usize,
    work: Duration,
) -> Vec<usize> {
    let order = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let handler = |index: usize| {
        let (order, done) = (Arc::clone(&order), Arc::clone(&done));
        move |_: &u32| {
            std::thread::sleep(work);
            order.lock().unwrap().push(index);
            done.fetch_add(1, Ordering::SeqCst);
        }
    };
    let (mut call, open) = gated(runtime);
    for index in 0..before {
        call = call.on_result(handler(index));
    }
    open.send(()).unwrap();
    while !call.is_finished() {
        std::thread::yield_now();
    }
    let _inside = runtime.enter();
    for index in before..before + after {
        call = call.on_result(handler(index));
    }
    assert_eq!(call.wait().unwrap(), 7);
    assert_eq!(
        done.load(Ordering::SeqCst),
        before + after,
        "wait() returned before the handlers ran"
    );
    Arc::try_unwrap(order).unwrap().into_inner().unwrap()
}

#[test]
fn handlers_attached_after_completion_run_after_those_before_in_attach_order() {
    let runtime = multi_thread();
    for _ in 0..20 {
        assert_eq!(
            run_order(&runtime, 1, 29, Duration::ZERO),
            (0..30).collect::<Vec<_>>()
        );
    }
    for _ in 0..5 {
        let order = run_order(&runtime, 10, 20, Duration::from_micros(200));
        assert_eq!(order, (0..30).collect::<Vec<_>>());
    }
}

#[test]
fn ui_handlers_attached_after_completion_run_in_attach_order() {
    let runtime = multi_thread();
    let ui = UiContext::new(|| {});
    for _ in 0..20 {
        let order = Arc::new(Mutex::new(Vec::new()));
        let (mut call, open) = gated(&runtime);
        let pushing = |index: usize| {
            let order = Arc::clone(&order);
            move |_: &u32| order.lock().unwrap().push(index)
        };
        call = call.on_result_ui(&ui, pushing(0));
        open.send(()).unwrap();
        while !call.is_finished() {
            std::thread::yield_now();
        }
        let _inside = runtime.enter();
        for index in 1..30 {
            call = call.on_result_ui(&ui, pushing(index));
        }
        call.wait().unwrap();
        while order.lock().unwrap().len() < 30 {
            ui.pump();
            std::thread::yield_now();
        }
        assert_eq!(*order.lock().unwrap(), (0..30).collect::<Vec<_>>());
    }
}
