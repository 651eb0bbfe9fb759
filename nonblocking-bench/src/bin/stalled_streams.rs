//! Server memory with 100 streaming calls whose clients stop reading: each call's function
//! makes 1 KiB items as fast as it is let, forever; each client sends its request and never
//! reads a byte. Live heap bytes (a counting global allocator, not RSS) and items made are
//! sampled while they stall: both must stop growing (the function waits while its buffer is
//! full), and the memory comes back down once the clients go.
//!
//! ```sh
//! cargo run --release -p nonblocking-bench --bin stalled_streams
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

#[path = "../../../tests/support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::live_bytes;

use nonblocking_bench::frames::stall;
use nonblocking_bench::{net_runtime, serve_ours};
use nonblocking_runtime::items::Items;
use nonblocking_runtime::server_function;

#[global_allocator]
static ALLOCATOR: counting_alloc::Counting = counting_alloc::Counting;

const CALLS: usize = 100;

/// Items made, by all calls.
static MADE: AtomicU64 = AtomicU64::new(0);

/// 1 KiB items as fast as they are taken, forever.
#[server_function(name = "bench.endless")]
async fn endless() -> Items<String> {
    Items::produce(4, |items| async move {
        let filler = "x".repeat(1_000);
        for n in 0u64.. {
            items.send(format!("{n} {filler}")).await?;
            MADE.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    })
}

fn main() {
    net_runtime().block_on(async {
        let address = serve_ours().await;
        let request = "POST /rpc/bench.endless HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n";
        stall(address, request, CALLS, &MADE, "each function streaming 1 KiB items (items made)", live_bytes).await;
    });
}
