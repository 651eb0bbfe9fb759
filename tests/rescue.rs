//! Handlers whose runtime shuts down before they ran are rescued onto the background runtime:
//! however many there are, on a bounded number of threads, each handler exactly once. Its own
//! test binary, so that the background runtime is not started before the rescue needs it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nonblocking_runtime::call_async;

/// The threads of this process, from the kernel.
fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("Threads:"))
        .unwrap();
    line["Threads:".len()..].trim().parse().unwrap()
}

/// Drops `runtime` and waits for `ran` to reach `calls`; the threads before, and the most seen
/// meanwhile by a sampler on a thread of its own (the drop itself may be where they start).
fn drop_and_count(
    runtime: tokio::runtime::Runtime,
    ran: &AtomicUsize,
    calls: usize,
) -> (usize, usize) {
    let before = threads();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut most = 0;
            while !stop.load(Ordering::SeqCst) {
                most = most.max(threads());
                std::thread::sleep(Duration::from_micros(200));
            }
            most
        })
    };
    drop(runtime);
    let deadline = Instant::now() + Duration::from_secs(60);
    while ran.load(Ordering::SeqCst) < calls && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    stop.store(true, Ordering::SeqCst);
    let most = sampler.join().unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), calls, "every handler runs");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(ran.load(Ordering::SeqCst), calls, "and only once");
    // The sampler itself is one more thread.
    (before + 1, most)
}

fn counting(
    ran: &Arc<AtomicUsize>,
) -> impl FnOnce(&nonblocking_runtime::CallError) + Send + 'static {
    let ran = Arc::clone(ran);
    move |error| {
        assert!(error.is_cancelled());
        // Long enough that a thread per delivery would pile up.
        std::thread::sleep(Duration::from_micros(200));
        ran.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn ten_thousand_rescued_deliveries_share_a_few_threads() {
    const CALLS: usize = 10_000;
    // Deliveries already handed to a runtime that is never driven (a `cancel()` sends its
    // handlers there), then calls still running with handlers attached: both are dropped
    // unrun by the runtime's shutdown and must be rescued.
    for still_running in [false, true] {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let calls: Vec<_> = {
            let _inside = runtime.enter();
            (0..CALLS)
                .map(|_| {
                    let call = call_async(std::future::pending::<()>()).on_error(counting(&ran));
                    if !still_running {
                        call.cancel();
                    }
                    call
                })
                .collect()
        };
        let (before, most) = drop_and_count(runtime, &ran, CALLS);
        println!(
            "still running {still_running}: {before} threads before the shutdown, at most {most} while rescuing"
        );
        assert!(
            most <= before + 8,
            "{most} threads for {CALLS} rescued deliveries (from {before})"
        );
        drop(calls);
    }
}
