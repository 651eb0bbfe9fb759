//! Delivery to a UI thread: the latency from a call's completion to its handler running on a
//! thread that is parked waiting for wake-ups, and the allocations per delivery.
//!
//! Ours: `call_async(..).on_result_ui(&ui, handler)`, the UI thread pumping its `UiContext` on
//! each wake-up. The baseline is the plumbing an app writes by hand today: a `Send` handler
//! that sends the value over a `std::sync::mpsc` channel, and a UI loop that drains it. Both
//! wake the UI thread the same way (`Thread::unpark`), run the same call, and deliver the same
//! value (the `Instant` the call finished at), one call at a time, so each figure is one
//! delivery's latency and not a queue's.
//!
//! `cargo run --release -p nonblocking-bench --bin ui_delivery` prints the median and p99 of
//! each of 5 rounds (the two sides alternate within a round), then the median of the rounds'
//! medians, their ratio, and the allocations per delivery.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[path = "../../../tests/support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;
use nonblocking_runtime::call_async;
use nonblocking_runtime::ui::UiContext;

#[global_allocator]
static ALLOCATOR: counting_alloc::Counting = counting_alloc::Counting;

const DELIVERIES: usize = 10_000;
const ROUNDS: usize = 5;

/// One round of `DELIVERIES` through a `UiContext`: latencies, and allocations per delivery.
fn ours() -> (Vec<Duration>, f64) {
    let ui_thread = std::thread::current();
    let ui = UiContext::new(move || ui_thread.unpark());
    let seen: Rc<Cell<Option<Duration>>> = Rc::default();
    let mut latencies = Vec::with_capacity(DELIVERIES);
    let before = allocations();
    for _ in 0..DELIVERIES {
        let handled = Rc::clone(&seen);
        let _call = call_async(async { Instant::now() })
            .on_result_ui(&ui, move |finished| handled.set(Some(finished.elapsed())));
        loop {
            ui.pump();
            if let Some(latency) = seen.take() {
                latencies.push(latency);
                break;
            }
            std::thread::park();
        }
    }
    let per_delivery = (allocations() - before) as f64 / DELIVERIES as f64;
    (latencies, per_delivery)
}

/// The same through a hand-written channel and the same wake-up.
fn baseline() -> (Vec<Duration>, f64) {
    let ui_thread = std::thread::current();
    let (tx, rx) = mpsc::channel::<Instant>();
    let mut latencies = Vec::with_capacity(DELIVERIES);
    let before = allocations();
    for _ in 0..DELIVERIES {
        let (tx, ui_thread) = (tx.clone(), ui_thread.clone());
        let _call = call_async(async { Instant::now() }).on_result(move |finished| {
            let _ = tx.send(*finished);
            ui_thread.unpark();
        });
        loop {
            if let Ok(finished) = rx.try_recv() {
                latencies.push(finished.elapsed());
                break;
            }
            std::thread::park();
        }
    }
    let per_delivery = (allocations() - before) as f64 / DELIVERIES as f64;
    (latencies, per_delivery)
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // Warm up both paths: the background runtime, the channel, the context's tables.
    let _ = (ours(), baseline());
    let (mut our_medians, mut base_medians) = (Vec::new(), Vec::new());
    let (mut our_allocs, mut base_allocs) = (0.0, 0.0);
    for round in 0..ROUNDS {
        // Alternate which side goes first, so neither always runs on a warmer machine.
        let ((mut a, allocs_a), (mut b, allocs_b)) = if round % 2 == 0 {
            let a = ours();
            (a, baseline())
        } else {
            let b = baseline();
            (ours(), b)
        };
        a.sort();
        b.sort();
        println!(
            "round {}: ours median {:?} p99 {:?} | channel median {:?} p99 {:?}",
            round + 1,
            quantile(&a, 0.5),
            quantile(&a, 0.99),
            quantile(&b, 0.5),
            quantile(&b, 0.99)
        );
        our_medians.push(quantile(&a, 0.5).as_secs_f64() * 1e6);
        base_medians.push(quantile(&b, 0.5).as_secs_f64() * 1e6);
        our_allocs = allocs_a;
        base_allocs = allocs_b;
    }
    let (ours, base) = (median(&mut our_medians), median(&mut base_medians));
    println!("ui_delivery_latency_us {ours:.1}");
    println!("channel_delivery_latency_us {base:.1}");
    println!("ui_delivery_ratio {:.2}", ours / base);
    println!("ui_delivery_allocations {our_allocs:.2}");
    println!("channel_delivery_allocations {base_allocs:.2}");
}
