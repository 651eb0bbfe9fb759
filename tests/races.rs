//! One outcome per call and at-most-once handlers when completion, attaching handlers and
//! cancelling race on different threads. Many iterations, each a fresh race.

use std::sync::Arc;
use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use nonblocking_runtime::{AsyncCall, CallError, CallStatus, call_async};

const ITERATIONS: usize = 2_000;
const HANDLERS_PER_SIDE: usize = 4;

#[derive(Default)]
struct Tally {
    results: AtomicUsize,
    errors: AtomicUsize,
}

fn attach(call: AsyncCall<u64>, tally: &Arc<Tally>) -> AsyncCall<u64> {
    let mut call = call;
    for _ in 0..HANDLERS_PER_SIDE {
        let on_ok = Arc::clone(tally);
        let on_err = Arc::clone(tally);
        call = call
            .on_result(move |value| {
                assert_eq!(*value, 11);
                on_ok.results.fetch_add(1, Ordering::SeqCst);
            })
            .on_error(move |error| {
                assert!(error.is_cancelled());
                on_err.errors.fetch_add(1, Ordering::SeqCst);
            });
    }
    call
}

#[path = "support/two_workers.rs"]
mod two_workers;

use two_workers::runtime;

#[test]
fn attach_races_completion_each_handler_runs_exactly_once() {
    let runtime = runtime();
    for _ in 0..ITERATIONS {
        let tally = Arc::new(Tally::default());
        let call = {
            let _inside = runtime.enter();
            call_async(async { 11_u64 })
        };
        // Attach from a plain thread while a worker completes the call.
        let call = thread::scope(|scope| scope.spawn(|| attach(call, &tally)).join().unwrap());
        assert_eq!(call.wait().unwrap(), 11);
        assert_eq!(tally.results.load(Ordering::SeqCst), HANDLERS_PER_SIDE);
        assert_eq!(tally.errors.load(Ordering::SeqCst), 0);
    }
}

#[test]
fn cancel_races_completion_exactly_one_outcome() {
    let runtime = runtime();
    let (mut completed, mut cancelled) = (0, 0);
    for i in 0..ITERATIONS {
        let tally = Arc::new(Tally::default());
        let barrier = Arc::new(Barrier::new(2));
        let call = {
            let _inside = runtime.enter();
            let barrier = Arc::clone(&barrier);
            // Half the calls yield first, so the race lands on both sides of completion.
            let yields = i % 2 == 0;
            attach(
                call_async(async move {
                    barrier.wait();
                    if yields {
                        tokio::task::yield_now().await;
                    }
                    11_u64
                }),
                &tally,
            )
        };
        barrier.wait();
        call.cancel();
        let status = call.status();
        let outcome = call.wait();
        let (results, errors) = (
            tally.results.load(Ordering::SeqCst),
            tally.errors.load(Ordering::SeqCst),
        );
        match status {
            CallStatus::Completed => {
                completed += 1;
                assert_eq!(outcome.unwrap(), 11);
                assert_eq!((results, errors), (HANDLERS_PER_SIDE, 0));
            }
            CallStatus::Cancelled => {
                cancelled += 1;
                assert!(matches!(outcome, Err(CallError::Cancelled)));
                assert_eq!((results, errors), (0, HANDLERS_PER_SIDE));
            }
            other => panic!("unexpected status {other:?}"),
        }
    }
    // Both sides of the race were exercised: some calls finished first, some were cancelled.
    println!("{completed} completed first, {cancelled} cancelled first");
    assert!(completed > 0, "no iteration completed before the cancel");
    assert!(cancelled > 0, "no iteration cancelled before completion");
}

/// `on_result` takes the handle, so the API makes attaches on one call serial: here the handle
/// is relayed from thread to thread (no lock held while attaching), each attaching its
/// handlers on its own core while a worker completes the call.
#[test]
fn handlers_attached_in_turn_on_several_threads_while_completing_each_run_once() {
    let runtime = runtime();
    for _ in 0..ITERATIONS / 4 {
        let tally = Arc::new(Tally::default());
        let call = {
            let _inside = runtime.enter();
            call_async(async { 11_u64 })
        };
        let (first, mut relay) = std::sync::mpsc::channel();
        first.send(call).unwrap();
        thread::scope(|scope| {
            for _ in 0..3 {
                let (next, received) = std::sync::mpsc::channel();
                let from = std::mem::replace(&mut relay, received);
                let tally = &tally;
                scope.spawn(move || {
                    let call = from.recv().unwrap();
                    next.send(attach(call, tally)).unwrap();
                });
            }
        });
        let call = relay.recv().unwrap();
        assert_eq!(call.wait().unwrap(), 11);
        assert_eq!(tally.results.load(Ordering::SeqCst), 3 * HANDLERS_PER_SIDE);
        assert_eq!(tally.errors.load(Ordering::SeqCst), 0);
    }
}
