//! What the hand-written streaming endpoints share: a response body fed by a bounded channel,
//! the way a hand-written axum handler streams newline-delimited JSON, and the stalled-client
//! harness of the memory rows.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// A response of `application/x-ndjson` whose frames are what `frames` receives.
pub fn ndjson_response(frames: mpsc::Receiver<Bytes>) -> axum::response::Response {
    let mut response = axum::response::IntoResponse::into_response(Body::new(ChannelBody(frames)));
    response.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/x-ndjson"),
    );
    response
}

struct ChannelBody(mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(context)
            .map(|frame| frame.map(|bytes| Ok(http_body::Frame::data(bytes))))
    }
}

/// Sends `request` on `calls` connections to `address` and never reads a byte; samples live
/// heap bytes (`live_bytes`, a counting allocator's) and `counter` every half second for
/// three seconds, prints them as `what`, then drops the clients and prints what is left.
pub async fn stall(
    address: std::net::SocketAddr,
    request: &str,
    calls: usize,
    counter: &AtomicU64,
    what: &str,
    live_bytes: fn() -> isize,
) {
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = live_bytes();
    let mut clients = Vec::with_capacity(calls);
    for _ in 0..calls {
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("a connection");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("the request");
        // Never read: the connection's buffers fill, then the server's writes stop.
        clients.push(stream);
    }
    let mut samples = Vec::new();
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        samples.push((
            live_bytes().saturating_sub(before),
            counter.load(Ordering::Relaxed),
        ));
    }
    println!("{calls} calls whose clients stop reading, {what}:");
    for (at, (bytes, count)) in samples.iter().enumerate() {
        println!(
            "  after {:.1} s: {:>9} bytes live ({:>6} per call), {count} so far ({} per call)",
            (at + 1) as f64 * 0.5,
            bytes,
            bytes / calls as isize,
            count / calls as u64
        );
    }
    drop(clients);
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "  clients gone, 0.5 s later: {} bytes live",
        live_bytes().saturating_sub(before)
    );
}
