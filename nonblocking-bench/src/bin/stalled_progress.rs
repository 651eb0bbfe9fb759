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
use std::time::Duration;

#[path = "../../../tests/support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::live_bytes;

use nonblocking_bench::{net_runtime, serve_ours};
use nonblocking_runtime::progress::Progress;
use nonblocking_runtime::server_function;
use tokio::io::AsyncWriteExt;

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
        tokio::time::sleep(Duration::from_millis(100)).await;

        let before = live_bytes();
        let request = "POST /rpc/bench.flood HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: application/x-ndjson\r\nContent-Length: 0\r\n\r\n";
        let mut clients = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let mut stream = tokio::net::TcpStream::connect(address).await.expect("a connection");
            stream.write_all(request.as_bytes()).await.expect("the request");
            // Never read: the connection's buffers fill, then the server's writes stop.
            clients.push(stream);
        }
        let mut samples = Vec::new();
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            samples.push((live_bytes().saturating_sub(before), REPORTS.load(Ordering::Relaxed)));
        }
        println!("{CALLS} calls whose clients stop reading, each function reporting 1 KiB values:");
        for (at, (bytes, reports)) in samples.iter().enumerate() {
            println!(
                "  after {:.1} s: {:>9} bytes live ({:>6} per call), {reports} reports so far",
                (at + 1) as f64 * 0.5,
                bytes,
                bytes / CALLS as isize
            );
        }
        drop(clients);
        tokio::time::sleep(Duration::from_millis(500)).await;
        println!(
            "  clients gone, 0.5 s later: {} bytes live",
            live_bytes().saturating_sub(before)
        );
    });
}
