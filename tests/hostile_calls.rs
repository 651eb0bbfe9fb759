//! Calls at the edges (the hardening issue): a second timeout, and handlers attached where the
//! call's runtime is gone.

use std::cell::Cell;
use std::sync::mpsc;
use std::time::Duration;

use nonblocking_runtime::{CallError, call_async};

#[path = "support/two_workers.rs"]
mod two_workers;

const MS: Duration = Duration::from_millis(1);
const MINUTE: Duration = Duration::from_secs(60);

// 6. A second `.timeout()`: the earlier deadline wins, and no timer is left behind.

#[tokio::test(start_paused = true)]
async fn the_earlier_of_two_timeouts_wins_in_either_order() {
    for (first, second) in [(10 * MS, 60 * MINUTE), (60 * MINUTE, 10 * MS)] {
        let started = tokio::time::Instant::now();
        let call = call_async(std::future::pending::<()>())
            .timeout(first)
            .timeout(second);
        let error = call.await.unwrap_err();
        assert!(
            matches!(error, CallError::TimedOut(after) if after == 10 * MS),
            "{error:?}"
        );
        assert_eq!(started.elapsed(), 10 * MS);
    }
}

#[test]
fn repeated_timeouts_leave_no_timer_behind() {
    let runtime = two_workers::runtime();
    let metrics = runtime.metrics();
    runtime.block_on(async {
        let before = metrics.num_alive_tasks();
        let calls: Vec<_> = (0..20_000_u32)
            .map(|i| {
                call_async(async move { i })
                    .timeout(60 * MINUTE)
                    .timeout(30 * MINUTE)
                    .timeout(45 * MINUTE)
            })
            .collect();
        for (i, call) in calls.into_iter().enumerate() {
            assert_eq!(call.await.unwrap() as usize, i);
        }
        // Aborted timers are dropped by the workers shortly after.
        let mut alive = metrics.num_alive_tasks();
        for _ in 0..500 {
            if alive <= before {
                break;
            }
            tokio::time::sleep(MS).await;
            alive = metrics.num_alive_tasks();
        }
        assert!(
            alive <= before,
            "{alive} tasks alive after, {before} before"
        );
    });
}

// 7. A handler never runs inside the `on_result`/`on_error` that attaches it, even when the
// call's runtime is gone.

thread_local! {
    static ATTACHING: Cell<bool> = const { Cell::new(false) };
}

/// Attaches a handler with a flag up on this thread; the handler reports whether it saw it.
fn attach_flagged(call: nonblocking_runtime::AsyncCall<u8>) -> mpsc::Receiver<bool> {
    let (tx, rx) = mpsc::channel();
    ATTACHING.with(|flag| flag.set(true));
    let call = call.on_error(move |_| {
        let _ = tx.send(ATTACHING.with(Cell::get));
    });
    ATTACHING.with(|flag| flag.set(false));
    drop(call);
    rx
}

#[test]
fn a_handler_attached_after_the_runtime_shut_down_runs_elsewhere() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let call = {
        let _inside = runtime.enter();
        call_async(std::future::pending::<u8>())
    };
    drop(runtime);
    // The call ended as cancelled with its runtime; its handler still runs once, not inline.
    let ran_inline = attach_flagged(call).recv_timeout(5 * 1000 * MS).unwrap();
    assert!(
        !ran_inline,
        "the handler ran inside the on_error that attached it"
    );
}

#[test]
fn a_handler_attached_inside_a_drop_run_by_runtime_shutdown_runs_elsewhere() {
    struct AttachOnDrop(
        Option<nonblocking_runtime::AsyncCall<u8>>,
        mpsc::Sender<mpsc::Receiver<bool>>,
    );
    impl Drop for AttachOnDrop {
        fn drop(&mut self) {
            let _ = self.1.send(attach_flagged(self.0.take().unwrap()));
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    {
        let _inside = runtime.enter();
        let call = call_async(std::future::pending::<u8>());
        // This task's future is dropped by the shutdown: its drop attaches a handler.
        let guard = AttachOnDrop(Some(call), tx);
        drop(runtime.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        }));
    }
    runtime.block_on(async { tokio::task::yield_now().await });
    drop(runtime);
    // The call was cancelled by the shutdown: its error handler runs once, never inline.
    let ran_inline = rx.recv().unwrap().recv_timeout(5 * 1000 * MS).unwrap();
    assert!(
        !ran_inline,
        "the handler ran inside the on_error that attached it"
    );
}

// 4. On a current-thread runtime only the thread that drives it refuses to wait: its blocking
// pool may block.

#[tokio::test]
async fn wait_on_the_blocking_pool_of_a_current_thread_runtime_returns_the_value() {
    let in_call_blocking = nonblocking_runtime::call_blocking(|| call_async(async { 2 }).wait());
    assert_eq!(in_call_blocking.await.unwrap().unwrap(), 2);
    let in_spawn_blocking = tokio::task::spawn_blocking(|| call_async(async { 3 }).wait());
    assert_eq!(in_spawn_blocking.await.unwrap().unwrap(), 3);
    // The thread that drives the runtime still refuses rather than hang.
    assert!(matches!(
        call_async(async { 4 }).wait(),
        Err(CallError::WouldDeadlock)
    ));
}

#[nonblocking_runtime::server_function(name = "hostile.wait_inside")]
fn wait_inside() -> u8 {
    call_async(async { 5 }).wait().unwrap()
}

#[tokio::test]
async fn a_sync_server_function_that_waits_works_under_tokio_test() {
    assert_eq!(call_async_wait_inside().await.unwrap(), 5);
    let by_name = nonblocking_runtime::call_async_by_name::<u8>("hostile.wait_inside", ());
    assert_eq!(by_name.await.unwrap(), 5);
}

// 10. Arguments nested deeper than 128 levels are refused with `InvalidArguments`, and nothing
// recurses into them: a 20,000-level `Value` built in code used to overflow a worker's stack
// and abort the process.

#[nonblocking_runtime::server_function(name = "hostile.echo")]
async fn echo(value: serde_json::Value) -> serde_json::Value {
    value
}

fn nested(levels: usize) -> serde_json::Value {
    let mut value = serde_json::Value::Null;
    for _ in 1..levels {
        value = serde_json::Value::Array(vec![value]);
    }
    value
}

#[test]
fn child_calls_with_a_very_deep_value() {
    if std::env::var_os("NONBLOCKING_DEEP_CHILD").is_none() {
        return;
    }
    // The caller's own serialisation of its value recurses on its stack: give it a main
    // thread enough stack for that (debug builds use big frames).
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| {
            let deep = nested(20_000);
            let error = nonblocking_runtime::call_async_by_name::<serde_json::Value>(
                "hostile.echo",
                (deep,),
            )
            .wait()
            .unwrap_err();
            assert!(
                matches!(&error, CallError::InvalidArguments(invalid) if invalid.reason.contains("deeper than 128")),
                "{error:?}"
            );
            // Within the limit, the value goes through.
            let fine = nested(100);
            let back = nonblocking_runtime::call_async_by_name::<serde_json::Value>(
                "hostile.echo",
                (fine.clone(),),
            )
            .wait()
            .unwrap();
            assert_eq!(back, fine);
            println!("DEEP OK");
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn a_very_deep_argument_is_refused_not_a_process_abort() {
    if std::env::var_os("NONBLOCKING_DEEP_CHILD").is_some() {
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_calls_with_a_very_deep_value",
            "--nocapture",
        ])
        .env("NONBLOCKING_DEEP_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("DEEP OK"),
        "the child failed ({:?}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

// 8. `wait()` never hangs for good: with the blocking pool full, workers that wait cannot hand
// their tasks over (`block_in_place` needs a free blocking thread), and nothing would run the
// calls everybody waits for. Every `wait()` returns, with the value or `WouldDeadlock`.

#[test]
fn every_wait_returns_when_the_blocking_pool_is_full() {
    // Never dropped: dropping a runtime waits for its blocking threads, which a failure here
    // leaves parked.
    let runtime = std::mem::ManuallyDrop::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(2)
            .enable_time()
            .build()
            .unwrap(),
    );
    let (tx, rx) = mpsc::channel();
    let _inside = runtime.enter();
    // Two blocking closures wait on async calls: the pool is full.
    for _ in 0..2 {
        let tx = tx.clone();
        nonblocking_runtime::call_blocking(move || {
            let waited = call_async(async {
                tokio::time::sleep(50 * MS).await;
                1_u8
            })
            .wait();
            tx.send(("blocking", waited.map_err(|e| e.to_string())))
                .unwrap();
        });
    }
    std::thread::sleep(20 * MS);
    // Two tasks wait too, on both workers.
    for _ in 0..2 {
        let tx = tx.clone();
        drop(runtime.spawn(async move {
            let waited = call_async(async {
                tokio::time::sleep(50 * MS).await;
                2_u8
            })
            .wait();
            tx.send(("task", waited.map_err(|e| e.to_string())))
                .unwrap();
        }));
    }
    drop(tx);
    let started = std::time::Instant::now();
    let mut results = Vec::new();
    while results.len() < 4 {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(result) => results.push(result),
            Err(_) => panic!(
                "a wait() hung: {} of 4 returned: {results:?}",
                results.len()
            ),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    for (who, result) in &results {
        match result {
            Ok(value) => assert!(*value == 1 || *value == 2),
            Err(error) => assert!(error.contains("deadlock"), "{who}: {error}"),
        }
    }
    // The runtime is still healthy afterwards.
    drop(_inside);
    assert_eq!(
        runtime.block_on(async { call_async(async { 3 }).await.unwrap() }),
        3
    );
}

// 9. A runtime that is merely busy is no deadlock: both workers run CPU work for 5 s, longer
// than the watchdog's 4 s; a `wait()` meanwhile waits on and gets the value.

#[test]
fn a_wait_on_a_busy_runtime_waits_on_instead_of_reporting_a_deadlock() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let busy = Duration::from_secs(5);
    for _ in 0..2 {
        drop(runtime.spawn(async move {
            while started.elapsed() < busy {
                std::hint::spin_loop();
            }
        }));
    }
    std::thread::sleep(50 * MS);
    let waited = runtime.block_on(async { call_async(async { 4_u8 }).wait() });
    assert_eq!(waited.unwrap(), 4, "after {:?}", started.elapsed());
    assert!(started.elapsed() >= busy);
}
