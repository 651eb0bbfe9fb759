//! Anvil's heartbeat: `repeat` a function every interval; it stops itself after 42 beats.
//!
//! Run it with `cargo run --example heartbeat` (the interval is 10 ms so it ends quickly).

use std::time::Duration;

use nonblocking_runtime::repeat_with;

fn main() {
    let mut beats = 0;
    let heartbeat = repeat_with(
        move |me| {
            if beats >= 42 {
                // Equivalent to `nonblocking_runtime::cancel(me)`.
                me.cancel();
                return;
            }
            beats += 1;
            println!("da dum {beats}");
        },
        Duration::from_millis(10),
    );

    // The main thread is free meanwhile; wait here only so the example can finish.
    while !heartbeat.is_cancelled() {
        std::thread::sleep(Duration::from_millis(10));
    }
    println!(
        "heartbeat stopped itself after {} calls",
        heartbeat.calls() - 1
    );
}
