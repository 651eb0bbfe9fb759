//! Server memory with 100 calls whose clients stop reading: each call's function reports a
//! 1 KiB progress value as fast as it can, forever; each client sends its request and never
//! reads a byte. Live heap bytes (a counting global allocator, not RSS) are sampled while they
//! stall: they must stop growing (the body is polled only as the connection takes frames, and
//! progress keeps only its latest value), and come back down once the clients go.
//!
//! ```sh
//! cargo run --release -p nonblocking-bench --bin stalled_progress
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

#[path = "../../../tests/support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::live_bytes;

use nonblocking_bench::frames::stall;
use nonblocking_bench::{net_runtime, serve_ours};
use nonblocking_runtime::progress::Progress;
use nonblocking_runtime::server_function;

#[global_allocator]
static ALLOCATOR: counting_alloc::Counting = counting_alloc::Counting;

const CALLS: usize = 100;

/// Reports made, by all calls.
static REPORTS: AtomicU64 = AtomicU64::new(0);

/// Reports a 1 KiB value as fast as it can, forever.
#[server_function(name = "bench.flood")]
async fn flood(#[context] progress: Progress<String>) -> u8 {
    let filler = "x".repeat(1_000);
    for tick in 0u64.. {
        progress.report(format!("{tick} {filler}"));
        REPORTS.fetch_add(1, Ordering::Relaxed);
        tokio::task::yield_now().await;
    }
    unreachable!()
}

fn main() {
    net_runtime().block_on(async {
        let address = serve_ours().await;
        let request = "POST /rpc/bench.flood HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: application/x-ndjson\r\nContent-Length: 0\r\n\r\n";
        stall(address, request, CALLS, &REPORTS, "each function reporting 1 KiB values (reports)", live_bytes).await;
    });
}
