//! Time from `report()` in a server function to the caller's `on_progress` handler, over HTTP
//! on loopback, against a hand-written axum endpoint streaming the same frames
//! (newline-delimited JSON over a chunked response) to a hand-written hyper client that splits
//! the lines itself. One process, one run: both servers and both clients on one 2-worker
//! runtime, the two sides alternating call by call.
//!
//! ```sh
//! cargo run --release -p nonblocking-bench --bin progress_latency [calls] [values per call]
//! ```
//!
//! Each call reports `values` values 1 ms apart (slow enough that none is coalesced: every
//! value is timed); the report's instant is kept by value number, the handler's is taken when
//! it runs. Prints p50, p90 and p99 of both, and ours ÷ the hand-written one.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use nonblocking_bench::frames::ndjson_response;
use nonblocking_bench::{net_runtime, numeric_args, serve_bare, serve_ours};
use nonblocking_runtime::http::Remote;
use nonblocking_runtime::progress::Progress;
use nonblocking_runtime::server_function;
use tokio::sync::mpsc;

/// When each value of the running call was reported, by value number (from 1).
static REPORTED: Mutex<Vec<Instant>> = Mutex::new(Vec::new());

fn reported_at(value: u64) -> Instant {
    REPORTED.lock().unwrap()[value as usize - 1]
}

fn record_report() -> u64 {
    let mut reported = REPORTED.lock().unwrap();
    reported.push(Instant::now());
    reported.len() as u64
}

/// Reports `values` values, `gap_us` apart; each is its own number.
#[server_function(name = "bench.ticks")]
async fn ticks(values: u64, gap_us: u64, #[context] progress: Progress<u64>) -> u64 {
    for _ in 0..values {
        tokio::time::sleep(Duration::from_micros(gap_us)).await;
        progress.report(record_report());
    }
    values
}

/// The hand-written endpoint: the same values, the same pacing, the same frames.
async fn bare_ticks(
    axum::Json((values, gap_us)): axum::Json<(u64, u64)>,
) -> axum::response::Response {
    let (frames, receiver) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        for _ in 0..values {
            tokio::time::sleep(Duration::from_micros(gap_us)).await;
            let value = record_report();
            if frames
                .send(Bytes::from(format!("{{\"progress\":{value}}}\n")))
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = frames
            .send(Bytes::from(format!("{{\"value\":{values}}}\n")))
            .await;
    });
    ndjson_response(receiver)
}

/// One call of ours: the latency of every value its `on_progress` handler got.
async fn ours(remote: &Remote, values: u64, gap_us: u64) -> Vec<Duration> {
    let latencies = std::sync::Arc::new(Mutex::new(Vec::with_capacity(values as usize)));
    let record = std::sync::Arc::clone(&latencies);
    let call = call_remote_ticks(remote, values, gap_us)
        .on_progress(move |value: u64| record.lock().unwrap().push(reported_at(value).elapsed()));
    assert_eq!(call.await.expect("the call"), values);
    std::mem::take(&mut *latencies.lock().unwrap())
}

/// One call of the hand-written pair: the latency of every value its client read.
async fn bare(
    client: &Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<Bytes>,
    >,
    url: &str,
    values: u64,
    gap_us: u64,
) -> Vec<Duration> {
    let request = axum::http::Request::post(url)
        .header("content-type", "application/json")
        .header("accept", "application/x-ndjson")
        .body(http_body_util::Full::new(Bytes::from(format!(
            "[{values},{gap_us}]"
        ))))
        .expect("a request");
    let mut body = client
        .request(request)
        .await
        .expect("an answer")
        .into_body();
    let mut latencies = Vec::with_capacity(values as usize);
    let mut pending = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(chunk) = frame.expect("a frame").into_data() else {
            continue;
        };
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let frame: serde_json::Value = serde_json::from_slice(&line).expect("a frame");
            if let Some(value) = frame["progress"].as_u64() {
                latencies.push(reported_at(value).elapsed());
            }
        }
    }
    latencies
}

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * share).round() as usize]
}

fn main() {
    let [calls, values] = numeric_args([40, 100]);
    let gap_us = 1_000;
    net_runtime().block_on(async {
        let url = format!("http://{}/rpc", serve_ours().await);
        let router = axum::Router::new().route("/ticks", axum::routing::post(bare_ticks));
        let bare_url = format!("http://{}/ticks", serve_bare(router).await);

        let remote = Remote::new(&url).expect("a client");
        let client = Client::builder(TokioExecutor::new()).build_http();
        // Warm both: connections, allocations.
        for _ in 0..3 {
            REPORTED.lock().unwrap().clear();
            ours(&remote, 10, gap_us).await;
            REPORTED.lock().unwrap().clear();
            bare(&client, &bare_url, 10, gap_us).await;
        }
        let (mut ours_all, mut bare_all) = (Vec::new(), Vec::new());
        for _ in 0..calls {
            REPORTED.lock().unwrap().clear();
            ours_all.extend(ours(&remote, values, gap_us).await);
            REPORTED.lock().unwrap().clear();
            bare_all.extend(bare(&client, &bare_url, values, gap_us).await);
        }
        ours_all.sort();
        bare_all.sort();
        println!(
            "report -> handler over HTTP, {calls} calls x {values} values 1 ms apart ({} and {} values timed)",
            ours_all.len(),
            bare_all.len()
        );
        println!("{:<12} {:>10} {:>10} {:>10}", "", "p50", "p90", "p99");
        for (name, sorted) in [("ours", &ours_all), ("hand-written", &bare_all)] {
            println!(
                "{name:<12} {:>10.1?} {:>10.1?} {:>10.1?}",
                percentile(sorted, 0.5),
                percentile(sorted, 0.9),
                percentile(sorted, 0.99)
            );
        }
        for (label, share) in [("p50", 0.5), ("p99", 0.99)] {
            let ratio = percentile(&ours_all, share).as_secs_f64() / percentile(&bare_all, share).as_secs_f64();
            println!("ratio {label}: {ratio:.2}");
        }
    });
}
