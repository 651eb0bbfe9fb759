//! What nonblocking reports through `tracing`: panicking handlers and bodies, failures nobody
//! observed, and calls running inside the caller's span. A small capturing subscriber stands in
//! for tracing-subscriber, installed once for this test binary.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use nonblocking_runtime::{call_async, defer, repeat, try_call_async};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Every event as `span-name: message field=value ...`.
static EVENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture {
    next_id: AtomicU64,
    names: Mutex<Vec<(u64, &'static Metadata<'static>)>>,
}

thread_local! {
    static STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst) + 1;
        self.names.lock().unwrap().push((id, span.metadata()));
        Id::from_u64(id)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let span = STACK.with(|stack| stack.borrow().last().copied());
        let name = span
            .and_then(|id| {
                self.names
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|(i, _)| *i == id)
                    .map(|(_, m)| m.name())
            })
            .unwrap_or("-");
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        EVENTS.lock().unwrap().push(format!("{name}:{}", fields.0));
    }
    fn enter(&self, span: &Id) {
        STACK.with(|stack| stack.borrow_mut().push(span.into_u64()));
    }
    fn exit(&self, _: &Id) {
        STACK.with(|stack| stack.borrow_mut().pop());
    }
    fn current_span(&self) -> tracing_core::span::Current {
        let spans = self.names.lock().unwrap();
        let current = STACK.with(|stack| stack.borrow().last().copied());
        match current.and_then(|id| spans.iter().find(|(i, _)| *i == id)) {
            Some((id, metadata)) => tracing_core::span::Current::new(Id::from_u64(*id), metadata),
            None => tracing_core::span::Current::none(),
        }
    }
}

fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        tracing::subscriber::set_global_default(Capture {
            next_id: AtomicU64::new(0),
            names: Mutex::new(Vec::new()),
        })
        .unwrap();
    });
}

/// Waits (up to 10 s) for an event containing every one of `needles`.
fn expect_event(needles: &[&str]) -> String {
    for _ in 0..1_000 {
        if let Some(found) = EVENTS
            .lock()
            .unwrap()
            .iter()
            .find(|e| needles.iter().all(|n| e.contains(n)))
        {
            return found.clone();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("no event with {needles:?} in {:#?}", EVENTS.lock().unwrap());
}

fn no_event(needle: &str) -> bool {
    !EVENTS.lock().unwrap().iter().any(|e| e.contains(needle))
}

#[test]
fn a_panicking_handler_is_reported() {
    install();
    let call = call_async(async { 1 }).on_result(|_| panic!("handler-bug-1"));
    assert_eq!(call.wait().unwrap(), 1);
    expect_event(&["handler-bug-1", "handler of an async call panicked"]);
}

#[test]
fn a_failure_nobody_observes_is_reported_once_the_call_is_dropped() {
    install();
    drop(try_call_async(async { Err::<(), _>("unseen-failure-2") }));
    expect_event(&["unseen-failure-2", "nothing observed it"]);
}

#[test]
fn observed_failures_and_cancellations_are_not_reported() {
    install();
    let call = try_call_async(async { Err::<(), _>("seen-failure-3") }).on_error(|_| {});
    assert!(call.wait().is_err());
    let awaited = try_call_async(async { Err::<(), _>("seen-failure-4") });
    assert!(awaited.wait().is_err());
    let cancelled = call_async(std::future::pending::<()>());
    cancelled.cancel();
    drop(cancelled);
    std::thread::sleep(Duration::from_millis(50));
    assert!(no_event("seen-failure-3"));
    assert!(no_event("seen-failure-4"));
    assert!(no_event("was cancelled"));
}

#[test]
fn panicking_repeat_and_defer_bodies_are_reported() {
    install();
    let beat = repeat(|| panic!("repeat-bug-5"), Duration::from_millis(1));
    let _later = defer(|| panic!("defer-bug-6"), Duration::from_millis(1));
    expect_event(&["repeat-bug-5", "repeat's call panicked"]);
    expect_event(&["defer-bug-6", "deferred call panicked"]);
    beat.cancel();
}

#[test]
fn calls_run_inside_the_callers_span() {
    install();
    let span = tracing::info_span!("checkout_span");
    let _entered = span.enter();
    let call = call_async(async { tracing::info!("inside-call-7") });
    let blocking = nonblocking_runtime::call_blocking(|| tracing::info!("inside-blocking-8"));
    drop(_entered);
    call.wait().unwrap();
    blocking.wait().unwrap();
    expect_event(&["checkout_span:", "inside-call-7"]);
    expect_event(&["checkout_span:", "inside-blocking-8"]);
}

#[test]
fn handlers_attached_before_completion_run_inside_the_callers_span() {
    install();
    let (go, wait) = tokio::sync::oneshot::channel::<()>();
    let span = tracing::info_span!("order_span");
    let entered = span.enter();
    // Held until the handler is attached: it runs in tokio's completion wake-up of the task,
    // outside the task's poll, and must still be in the span the call was made in.
    let call = call_async(async move {
        let _ = wait.await;
        5
    })
    .on_result(|_| tracing::info!("inside-handler-9"));
    drop(entered);
    go.send(()).unwrap();
    assert_eq!(call.wait().unwrap(), 5);
    expect_event(&["order_span:", "inside-handler-9"]);
}

#[test]
fn a_panic_in_a_posted_closure_is_reported_as_what_it_is() {
    install();
    let ui = nonblocking_runtime::ui::UiContext::new(|| {});
    assert!(ui.handle().post(|| panic!("a posted closure that panics")));
    assert_eq!(ui.pump(), 1, "a closure that panicked still ran");
    let event = expect_event(&["a posted closure that panics"]);
    assert!(event.contains("UiContext::pump"), "{event}");
    assert!(!event.contains("a handler of an async call"), "{event}");
}
