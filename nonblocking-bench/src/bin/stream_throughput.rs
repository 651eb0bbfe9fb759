//! Items per second of a stream of small JSON items over HTTP on loopback, against a
//! hand-written axum endpoint streaming the same items the same way (a producer task sending
//! each item's frame through a bounded channel to the response body: newline-delimited JSON
//! over a chunked response) to a hand-written hyper client that splits the lines and decodes
//! each item itself. One process, one run: both servers and both clients on one 2-worker
//! runtime, the two sides alternating call by call.
//!
//! ```sh
//! cargo run --release -p nonblocking-bench --bin stream_throughput [calls] [items per call]
//! ```

use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use nonblocking_bench::frames::ndjson_response;
use nonblocking_bench::{net_runtime, numeric_args, serve_bare, serve_ours};
use nonblocking_runtime::http::Remote;
use nonblocking_runtime::items::Items;
use nonblocking_runtime::server_function;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// A small item: about 40 bytes of JSON.
#[derive(Debug, Serialize, Deserialize)]
struct Row {
    id: u64,
    name: String,
    done: bool,
}

fn row(id: u64) -> Row {
    Row {
        id,
        name: format!("row {id}"),
        done: id % 2 == 0,
    }
}

/// `count` rows, made as they are read.
#[server_function(name = "bench.rows")]
async fn rows(count: u64) -> Items<Row> {
    Items::from_iter((0..count).map(row))
}

/// The hand-written endpoint: the same rows, each frame sent through a bounded channel.
async fn bare_rows(axum::Json((count,)): axum::Json<(u64,)>) -> axum::response::Response {
    let (frames, receiver) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        for id in 0..count {
            let mut frame = br#"{"item":"#.to_vec();
            serde_json::to_writer(&mut frame, &row(id)).expect("a row encodes");
            frame.extend_from_slice(b"}\n");
            if frames.send(Bytes::from(frame)).await.is_err() {
                return;
            }
        }
        let _ = frames
            .send(Bytes::from(format!("{{\"end\":{count}}}\n")))
            .await;
    });
    ndjson_response(receiver)
}

/// One call of ours, every item read and decoded: how long it took.
async fn ours(remote: &Remote, count: u64) -> Duration {
    let started = Instant::now();
    let mut items = call_remote_rows(remote, count).await.expect("the call");
    let mut read = 0;
    while let Some(row) = items.next().await {
        let row = row.expect("an item");
        assert_eq!(row.id, read);
        read += 1;
    }
    assert_eq!(read, count);
    started.elapsed()
}

#[derive(Deserialize)]
struct ItemFrame {
    item: Row,
}

type BareClient =
    Client<hyper_util::client::legacy::connect::HttpConnector, http_body_util::Full<Bytes>>;

/// One call of the hand-written pair, every item read and decoded: how long it took.
async fn bare(client: &BareClient, url: &str, count: u64) -> Duration {
    let started = Instant::now();
    let request = axum::http::Request::post(url)
        .header("content-type", "application/json")
        .header("accept", "application/x-ndjson")
        .body(http_body_util::Full::new(Bytes::from(format!("[{count}]"))))
        .expect("a request");
    let mut body = client
        .request(request)
        .await
        .expect("an answer")
        .into_body();
    let mut pending = Vec::new();
    let mut read = 0;
    while let Some(frame) = body.frame().await {
        let Ok(chunk) = frame.expect("a frame").into_data() else {
            continue;
        };
        pending.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(end) = pending[start..].iter().position(|&byte| byte == b'\n') {
            let line = &pending[start..start + end];
            start += end + 1;
            if line.starts_with(br#"{"item":"#) {
                let frame: ItemFrame = serde_json::from_slice(line).expect("an item");
                assert_eq!(frame.item.id, read);
                read += 1;
            }
        }
        pending.drain(..start);
    }
    assert_eq!(read, count);
    started.elapsed()
}

fn main() {
    let [calls, count] = numeric_args([10, 100_000]);
    net_runtime().block_on(async {
        let url = format!("http://{}/rpc", serve_ours().await);
        let router = axum::Router::new().route("/rows", axum::routing::post(bare_rows));
        let bare_url = format!("http://{}/rows", serve_bare(router).await);

        let remote = Remote::new(&url).expect("a client");
        let client = Client::builder(TokioExecutor::new()).build_http();
        for _ in 0..2 {
            ours(&remote, count / 10).await;
            bare(&client, &bare_url, count / 10).await;
        }
        let (mut ours_all, mut bare_all) = (Vec::new(), Vec::new());
        for _ in 0..calls {
            ours_all.push(ours(&remote, count).await);
            bare_all.push(bare(&client, &bare_url, count).await);
        }
        ours_all.sort();
        bare_all.sort();
        let per_second = |took: Duration| count as f64 / took.as_secs_f64();
        let (ours_median, bare_median) =
            (ours_all[ours_all.len() / 2], bare_all[bare_all.len() / 2]);
        println!(
            "a stream of {count} small JSON items over HTTP, {calls} calls each (median call):"
        );
        println!(
            "  ours:         {:>10.0} items/s ({ours_median:.1?} per call)",
            per_second(ours_median)
        );
        println!(
            "  hand-written: {:>10.0} items/s ({bare_median:.1?} per call)",
            per_second(bare_median)
        );
        println!(
            "ratio (ours / hand-written items per second): {:.2}",
            per_second(ours_median) / per_second(bare_median)
        );
    });
}
