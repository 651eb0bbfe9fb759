//! Progress reported by a running server function reaches its caller's `on_progress`
//! handlers attached while it runs: in order, lossy (the latest value, never a queue), the
//! last value before the result handlers run; through typed stubs (async and sync functions)
//! and calls by name. The gated functions wait for the test's permit, so the handlers are
//! attached before they report anything.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nonblocking_runtime::progress::Progress;
use nonblocking_runtime::{call_async_by_name, server_function};

async fn count(to: u32, progress: Progress<u32>) -> u32 {
    for done in 1..=to {
        tokio::task::yield_now().await;
        progress.report(done);
    }
    to
}

/// The sync form of `count` (run by `gated_sync`, on the blocking pool).
fn count_sync(to: u32, progress: Progress<u32>) -> u32 {
    for done in 1..=to {
        progress.report(done);
    }
    to
}

static RELEASE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// One gate per test (they run at once), one permit per gated call: the test attaches its
/// handlers, then lets the call start.
static GATES: [tokio::sync::Semaphore; 6] = [const { tokio::sync::Semaphore::const_new(0) }; 6];

#[server_function(name = "progress.gated")]
async fn gated(gate: usize, to: u32, #[context] progress: Progress<u32>) -> u32 {
    GATES[gate].acquire().await.unwrap().forget();
    count(to, progress).await
}

#[server_function(name = "progress.gated_sync")]
fn gated_sync(gate: usize, to: u32, #[context] progress: Progress<u32>) -> u32 {
    tokio::runtime::Handle::current()
        .block_on(GATES[gate].acquire())
        .unwrap()
        .forget();
    count_sync(to, progress)
}

/// Reports once, then waits to be released.
#[server_function(name = "progress.halfway")]
async fn halfway(#[context] progress: Progress<String>) -> u8 {
    progress.report("half".into());
    RELEASE.notified().await;
    progress.report("all".into());
    1
}

#[server_function(name = "progress.silent")]
async fn silent() -> u8 {
    1
}

/// What a handler saw, in order: progress values and, last, the result.
type Seen = Arc<Mutex<Vec<String>>>;

fn recorder() -> (Seen, impl Fn(String) + Clone + Send + 'static) {
    let seen = Seen::default();
    let record = {
        let seen = Arc::clone(&seen);
        move |entry: String| seen.lock().unwrap().push(entry)
    };
    (seen, record)
}

/// The progress entries are increasing, and the last one is `last`, just before the result.
fn check(seen: &[String], last: u32) {
    let (result, progress) = seen.split_last().expect("something was seen");
    assert_eq!(result, "result", "{seen:?}");
    let values: Vec<u32> = progress
        .iter()
        .map(|entry| entry.parse().unwrap())
        .collect();
    assert_eq!(
        values.last(),
        Some(&last),
        "the last value comes before the result: {seen:?}"
    );
    assert!(
        values.windows(2).all(|pair| pair[0] < pair[1]),
        "in order: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_value_arrives_in_order_before_the_result_every_time() {
    for round in 0..200 {
        let (seen, record) = recorder();
        let on_value = record.clone();
        let call = if round % 2 == 0 {
            call_async_gated(0, 20)
        } else {
            call_async_gated_sync(0, 20)
        };
        let call = call
            .on_progress(move |done: u32| on_value(done.to_string()))
            .on_result(move |_| record("result".into()));
        GATES[0].add_permits(1);
        assert_eq!(call.await.unwrap(), 20);
        check(&seen.lock().unwrap(), 20);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_sees_the_latest_value_not_a_queue() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (seen, record) = recorder();
    let counted = Arc::clone(&calls);
    let on_value = record.clone();
    let call = call_async_gated_sync(1, 10_000)
        .on_progress(move |done: u32| {
            counted.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            on_value(done.to_string());
        })
        .on_result(move |_| record("result".into()));
    GATES[1].add_permits(1);
    assert_eq!(call.await.unwrap(), 10_000);
    check(&seen.lock().unwrap(), 10_000);
    let handled = calls.load(Ordering::SeqCst);
    assert!(
        handled < 1_000,
        "{handled} of 10,000 values were handled: a slow handler must skip"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_name_too() {
    let (seen, record) = recorder();
    let on_value = record.clone();
    let call = call_async_by_name::<u32>("progress.gated", (2, 5))
        .on_progress(move |done: u32| on_value(done.to_string()))
        .on_result(move |_| record("result".into()));
    GATES[2].add_permits(1);
    assert_eq!(call.await.unwrap(), 5);
    check(&seen.lock().unwrap(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_attached_while_it_runs_gets_the_latest_value_first() {
    let call = call_async_halfway();
    tokio::time::sleep(Duration::from_millis(50)).await; // "half" is reported by now
    let (seen, record) = recorder();
    let call = call.on_progress(move |text: String| record(text));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(*seen.lock().unwrap(), ["half"]);
    RELEASE.notify_one();
    assert_eq!(call.await.unwrap(), 1);
    assert_eq!(*seen.lock().unwrap(), ["half", "all"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_that_cannot_run_never_do() {
    // A function without a `Progress`: no progress to see.
    let ran = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&ran);
    let call = call_async_silent().on_progress(move |_: u32| {
        counted.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(call.await.unwrap(), 1);
    // A handler of the wrong type skips the values (logged), the call is unaffected.
    let counted = Arc::clone(&ran);
    let call = call_async_gated(3, 3).on_progress(move |_: String| {
        counted.fetch_add(1, Ordering::SeqCst);
    });
    GATES[3].add_permits(1);
    assert_eq!(call.await.unwrap(), 3);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    // Called directly, a function reports to nobody.
    assert_eq!(count(2, Progress::none()).await, 2);
    assert!(!Progress::<u8>::none().is_watched());
}

/// A quick call can finish before its caller attaches anything: a handler attached then gets
/// the last value once, at once, before the result handlers attached after it. (Before, it
/// got nothing: a remote call that finished while its caller was descheduled lost all its
/// progress, 2 runs in 300 on this machine.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_attached_after_the_function_finished_gets_the_last_value_before_later_handlers()
{
    for _ in 0..50 {
        let call = call_async_gated(5, 5);
        GATES[5].add_permits(1);
        while !call.is_finished() {
            tokio::task::yield_now().await;
        }
        let (seen, record) = recorder();
        let result = record.clone();
        let call = call
            .on_progress(move |value: u32| record(value.to_string()))
            .on_result(move |_| result("result".into()));
        assert_eq!(call.await.unwrap(), 5);
        assert_eq!(*seen.lock().unwrap(), ["5", "result"]);
    }
    // Nothing reported: nothing to hand on.
    let call = call_async_silent();
    while !call.is_finished() {
        tokio::task::yield_now().await;
    }
    let ran = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&ran);
    call.on_progress(move |_: u32| {
        counted.fetch_add(1, Ordering::SeqCst);
    })
    .await
    .unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[derive(Clone)]
struct Tenant(u8);

#[server_function(name = "progress.tenant")]
async fn tenant_rows(#[context] tenant: Tenant, #[context] progress: Progress<u8>) -> u8 {
    progress.report(tenant.0);
    tenant.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_and_other_context_values_together() {
    let missing = call_async_tenant_rows().await.unwrap_err();
    assert!(
        matches!(missing, nonblocking_runtime::CallError::MissingContext(_)),
        "{missing:?}"
    );
    let tenant = nonblocking_runtime::Context::new().with(Tenant(7));
    let answer = tenant.scope(async { call_async_tenant_rows().await }).await;
    assert_eq!(answer.unwrap(), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_ui_thread_a_slow_pump_sees_the_latest_value_then_the_result() {
    use std::cell::RefCell;
    use std::rc::Rc;

    let ui = nonblocking_runtime::ui::UiContext::new(|| {});
    let seen = Rc::new(RefCell::new(Vec::<String>::new()));
    let (progress, result) = (Rc::clone(&seen), Rc::clone(&seen));
    let call = call_async_gated_sync(4, 10_000)
        .on_progress_ui(&ui, move |done: u32| {
            progress.borrow_mut().push(done.to_string())
        })
        .on_result_ui(&ui, move |_| result.borrow_mut().push("result".into()));
    GATES[4].add_permits(1);
    assert_eq!(call.await.unwrap(), 10_000);
    // The UI did not pump while 10,000 values were reported: one delivery waits, with the last.
    ui.pump();
    assert_eq!(*seen.borrow(), ["10000", "result"]);
}
