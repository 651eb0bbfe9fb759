//! `repeat` at 1 ms for 2 s against `tokio::time::interval` with `MissedTickBehavior::Skip`:
//! ticks achieved and p50 / p99 lateness (tick k's start against `start + k * 1 ms`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nonblocking_bench::runtime;
use nonblocking_runtime::repeat;
use tokio::time::{Instant, MissedTickBehavior};

const INTERVAL: Duration = Duration::from_millis(1);
const RUN: Duration = Duration::from_secs(2);

fn lateness(first: Instant, ticks: &[Instant]) -> (usize, f64, f64) {
    let mut late: Vec<f64> = ticks
        .iter()
        .enumerate()
        .map(|(k, tick)| {
            tick.saturating_duration_since(first + INTERVAL * k as u32)
                .as_secs_f64()
                * 1e3
        })
        .collect();
    late.sort_by(f64::total_cmp);
    let at = |q: f64| {
        late.get(((late.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    (ticks.len(), at(0.5), at(0.99))
}

fn main() {
    let rt = runtime();
    let baseline = rt.block_on(async {
        tokio::spawn(async {
            let first = Instant::now() + INTERVAL;
            let mut interval = tokio::time::interval_at(first, INTERVAL);
            interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
            let mut ticks = Vec::new();
            while first.elapsed() < RUN - INTERVAL {
                interval.tick().await;
                ticks.push(Instant::now());
            }
            lateness(first, &ticks)
        })
        .await
        .unwrap()
    });

    let ours = rt.block_on(async {
        let ticks = Arc::new(Mutex::new(Vec::with_capacity(4_000)));
        let record = Arc::clone(&ticks);
        let first = Instant::now() + INTERVAL;
        let beat = repeat(
            move || record.lock().unwrap().push(Instant::now()),
            INTERVAL,
        );
        tokio::time::sleep_until(first + RUN - INTERVAL).await;
        beat.cancel();
        let ticks = ticks.lock().unwrap().clone();
        lateness(first, &ticks)
    });

    println!("repeat_ticks_tokio {}", baseline.0);
    println!("repeat_p50_ms_tokio {:.3}", baseline.1);
    println!("repeat_p99_ms_tokio {:.3}", baseline.2);
    println!("repeat_ticks_ours {}", ours.0);
    println!("repeat_p50_ms_ours {:.3}", ours.1);
    println!("repeat_p99_ms_ours {:.3}", ours.2);
}
