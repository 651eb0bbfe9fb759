//! Every interleaving of completing, cancelling, attaching handlers, lending and awaiting,
//! under loom. Run with `RUSTFLAGS="--cfg nonblocking_loom" cargo test -p nonblocking-runtime
//! --lib --release --target-dir target-loom` (see CONTRIBUTING.md's testing section).
//!
//! The handle's side (`Local`: attach, lend, take) is one thread, as the API makes it: handlers
//! are attached through an owned `AsyncCall`. Finishers (the task, a `cancel()` from a thread
//! that shares the handle, a timeout) and deliveries run on others.

use std::future::poll_fn;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

use super::local::Local;
use super::state::{Delivery, Handler, Outcome, Shared, Sharer};
use crate::errors::CallError;
use crate::sync::{Arc, Mutex};

/// Counts how often the result and error handlers ran.
#[derive(Default)]
struct Ran {
    results: AtomicUsize,
    errors: AtomicUsize,
}

impl Ran {
    fn counts(&self) -> (usize, usize) {
        (
            self.results.load(Ordering::SeqCst),
            self.errors.load(Ordering::SeqCst),
        )
    }
}

fn model(test: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(test);
}

fn handlers(ran: &Arc<Ran>) -> [Handler<u32>; 2] {
    let (on_ok, on_err) = (Arc::clone(ran), Arc::clone(ran));
    [
        Handler::Result(
            Box::new(move |value: &u32| {
                assert_eq!(*value, 7);
                on_ok.results.fetch_add(1, Ordering::SeqCst);
            }),
            Sharer::new(),
        ),
        Handler::Error(Box::new(move |error: &CallError| {
            assert!(error.is_cancelled());
            on_err.errors.fetch_add(1, Ordering::SeqCst);
        })),
    ]
}

/// The handle attaches both handlers; late deliveries are returned to run "on the runtime".
fn attach_both<J: 'static>(
    shared: &Arc<Shared<u32, J>>,
    local: &mut Local<u32>,
    ran: &Arc<Ran>,
) -> Vec<Delivery<u32, J>> {
    handlers(ran)
        .into_iter()
        .filter_map(|handler| shared.attach(handler))
        .filter_map(|late| local.late(shared, late))
        .collect()
}

fn finish(shared: &Arc<Shared<u32>>, outcome: Outcome<u32>) -> bool {
    match Shared::finish(Arc::clone(shared), outcome) {
        Some(delivery) => {
            delivery.run();
            true
        }
        None => shared.kind().is_some(),
    }
}

/// The call ended completed or cancelled, and exactly the matching handler ran once.
fn assert_one_outcome(outcome: Outcome<u32>, ran: &Ran) {
    match outcome {
        Ok(value) => {
            assert_eq!(value, 7);
            assert_eq!(ran.counts(), (1, 0));
        }
        Err(error) => {
            assert!(error.is_cancelled());
            assert_eq!(ran.counts(), (0, 1));
        }
    }
}

fn settle<J>(shared: &Arc<Shared<u32, J>>) {
    loom::future::block_on(poll_fn(|cx| shared.poll_settled(cx)));
}

#[test]
fn complete_vs_attach_vs_await() {
    model(|| {
        let mut shared = Shared::<u32>::new();
        let ran = Arc::new(Ran::default());
        let task = Arc::clone(&shared);
        let completer = thread::spawn(move || finish(&task, Ok(7)));

        let mut local = Local::default();
        let late = attach_both(&shared, &mut local, &ran);
        let runtime = thread::spawn(move || late.into_iter().for_each(Delivery::run));

        // Every handler attached before awaiting has run once the await resolves, and the
        // awaiter then owns the value alone.
        settle(&shared);
        assert_eq!(ran.counts(), (1, 0));
        assert_eq!(local.take(&mut shared).unwrap(), 7);
        completer.join().unwrap();
        runtime.join().unwrap();
    });
}

#[test]
fn complete_vs_cancel_vs_attach_sets_one_outcome() {
    model(|| {
        let mut shared = Shared::<u32>::new();
        let ran = Arc::new(Ran::default());
        let task = Arc::clone(&shared);
        let completer = thread::spawn(move || finish(&task, Ok(7)));
        let other = Arc::clone(&shared);
        let canceller = thread::spawn(move || finish(&other, Err(CallError::Cancelled)));

        let mut local = Local::default();
        attach_both(&shared, &mut local, &ran)
            .into_iter()
            .for_each(Delivery::run);
        completer.join().unwrap();
        canceller.join().unwrap();
        settle(&shared);
        assert_one_outcome(local.take(&mut shared), &ran);
    });
}

#[test]
fn a_handler_attached_first_has_run_when_the_await_resolves() {
    model(|| {
        let mut shared = Shared::<u32>::new();
        let ran = Arc::new(Ran::default());
        let mut local = Local::default();
        assert!(attach_both(&shared, &mut local, &ran).is_empty());

        let task = Arc::clone(&shared);
        let completer = thread::spawn(move || finish(&task, Ok(7)));
        settle(&shared);
        assert_eq!(ran.counts(), (1, 0));
        assert_eq!(local.take(&mut shared).unwrap(), 7);
        completer.join().unwrap();
    });
}

#[test]
fn status_is_final_when_cancel_returns() {
    model(|| {
        let mut shared = Shared::<u32>::new();
        let ran = Arc::new(Ran::default());
        let mut local = Local::default();
        assert!(attach_both(&shared, &mut local, &ran).is_empty());
        let task = Arc::clone(&shared);
        let completer = thread::spawn(move || finish(&task, Ok(7)));

        // `cancel()`: whichever side won, the outcome is published when it returns, and the
        // handle can lend it, while the handlers may still be on their way.
        let delivery = Shared::finish(Arc::clone(&shared), Err(CallError::Cancelled));
        let lent = local.lend(&shared).expect("published when cancel returns");
        let cancelled = matches!(lent, Err(CallError::Cancelled));
        assert_eq!(cancelled, delivery.is_some());
        let runtime = thread::spawn(move || delivery.map(Delivery::run));
        settle(&shared);
        assert_eq!(ran.counts(), if cancelled { (0, 1) } else { (1, 0) });
        assert_eq!(local.take(&mut shared).is_ok(), !cancelled);
        completer.join().unwrap();
        runtime.join().unwrap();
    });
}

#[test]
fn result_lends_while_a_late_handler_reads_the_same_value() {
    model(|| {
        let mut shared = Shared::<u32>::new();
        let ran = Arc::new(Ran::default());
        assert!(Shared::finish(Arc::clone(&shared), Ok(7)).is_none());

        let mut local = Local::default();
        assert!(matches!(local.lend(&shared), Some(Ok(7))));
        let late = attach_both(&shared, &mut local, &ran);
        assert_eq!(late.len(), 1, "only the result handler is delivered");
        let runtime = thread::spawn(move || late.into_iter().for_each(Delivery::run));
        assert!(matches!(local.lend(&shared), Some(Ok(7))));
        settle(&shared);
        assert_eq!(ran.counts(), (1, 0));
        // The delivery gave its share back before the call settled.
        assert_eq!(local.take(&mut shared).unwrap(), 7);
        runtime.join().unwrap();
    });
}

#[test]
fn on_finish_runs_once_whoever_finishes() {
    model(|| {
        let shared = Shared::<u32>::new();
        let stopped = Arc::new(AtomicUsize::new(0));
        let hook = Arc::clone(&stopped);
        assert!(
            shared
                .set_on_finish(Box::new(move || {
                    hook.fetch_add(1, Ordering::SeqCst);
                }))
                .is_none()
        );
        let task = Arc::clone(&shared);
        let completer = thread::spawn(move || finish(&task, Ok(7)));
        finish(&shared, Err(CallError::Cancelled));
        completer.join().unwrap();
        assert_eq!(stopped.load(Ordering::SeqCst), 1);
        settle(&shared);
        assert!(shared.set_on_finish(Box::new(|| unreachable!())).is_some());
    });
}

#[test]
fn an_unrun_delivery_runs_when_dropped() {
    model(|| {
        let mut shared = Shared::<u32>::new();
        let ran = Arc::new(Ran::default());
        let mut local = Local::default();
        assert!(attach_both(&shared, &mut local, &ran).is_empty());
        let delivery = Shared::finish(Arc::clone(&shared), Err(CallError::Cancelled)).unwrap();
        // A delivery task dropped unpolled by a runtime shutdown, on another thread.
        thread::spawn(move || drop(delivery)).join().unwrap();
        assert_eq!(ran.counts(), (0, 1));
        settle(&shared);
        assert!(local.take(&mut shared).unwrap_err().is_cancelled());
    });
}

#[test]
fn a_handler_attached_while_a_delivery_runs_runs_after_it_in_order() {
    model(|| {
        let mut shared = Shared::<u32>::new();
        let order = Arc::new(Mutex::new(Vec::new()));
        let pushing = |index: usize| {
            let order = Arc::clone(&order);
            Handler::Result(
                Box::new(move |_: &u32| order.lock().push(index)),
                Sharer::new(),
            )
        };
        let mut local = Local::default();
        assert!(shared.attach(pushing(0)).is_none());
        let delivery = Shared::finish(Arc::clone(&shared), Ok(7)).unwrap();
        // The finisher runs the first delivery while the handle attaches two more.
        let finisher = thread::spawn(move || delivery.run());
        let late: Vec<_> = [pushing(1), pushing(2)]
            .into_iter()
            .filter_map(|handler| shared.attach(handler))
            .filter_map(|late| local.late(&shared, late))
            .collect();
        // At most one delivery is out at a time: the rest wait in its queue.
        assert!(late.len() <= 1);
        late.into_iter().for_each(Delivery::run);
        finisher.join().unwrap();
        settle(&shared);
        assert_eq!(*order.lock(), [0, 1, 2]);
        assert_eq!(local.take(&mut shared).unwrap(), 7);
    });
}
