//! Raw bytes: a parameter or a return value of a bytes type (`Vec<u8>`, `bytes::Bytes`) that is
//! the call's whole body travels as `application/octet-stream` (HTTP) or the payload itself
//! (NATS), never as a JSON array of numbers; the body limit applies; a call by name reads the
//! bytes as any type would. In this process, through `InProcess`, over HTTP and over NATS.

mod support;

use std::net::SocketAddr;

use nonblocking_runtime::http::{Remote, Server};
use nonblocking_runtime::items::Items;
use nonblocking_runtime::nats::{self, Connect, Worker};
use nonblocking_runtime::remote::{InProcess, Transport};
use nonblocking_runtime::{CallError, call_async_by_name, server_function};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The bytes reversed.
#[server_function(name = "bytes.reverse")]
async fn reverse(data: Vec<u8>) -> Vec<u8> {
    data.into_iter().rev().collect()
}

/// How many bytes, as `bytes::Bytes`.
#[server_function(name = "bytes.size")]
fn size(data: bytes::Bytes) -> usize {
    data.len()
}

/// `count` bytes counting up from 0 (wrapping), as `bytes::Bytes`.
#[server_function(name = "bytes.make")]
async fn make(count: usize) -> bytes::Bytes {
    (0..count).map(|n| n as u8).collect::<Vec<u8>>().into()
}

/// Bytes among other arguments: JSON carries them.
#[server_function(name = "bytes.tag")]
async fn tag(data: Vec<u8>, tag: u8) -> Vec<u8> {
    data.into_iter().chain([tag]).collect()
}

/// A download: `count` chunks of `size` bytes (chunk `n` all `n`), failing before chunk
/// `fail_at`.
#[server_function(name = "bytes.download")]
async fn download(count: u8, size: usize, fail_at: Option<u8>) -> Items<Vec<u8>> {
    Items::produce(2, move |chunks| async move {
        for n in 0..count {
            if fail_at == Some(n) {
                return Err(format!("the disk failed at chunk {n}").into());
            }
            chunks.send(vec![n; size]).await?;
        }
        Ok(())
    })
}

fn every_byte() -> Vec<u8> {
    (0..=255u8).chain((0..=255u8).rev()).collect()
}

/// What every transport must do with bytes.
async fn bytes_cases(remote: &impl Transport) {
    let data = every_byte();
    let reversed: Vec<u8> = data.iter().rev().copied().collect();
    assert_eq!(
        call_remote_reverse(remote, data.clone()).await.unwrap(),
        reversed
    );
    assert_eq!(
        call_remote_size(remote, bytes::Bytes::from(data.clone()))
            .await
            .unwrap(),
        data.len()
    );
    assert_eq!(call_remote_make(remote, 300).await.unwrap().len(), 300);
    assert_eq!(
        call_remote_make(remote, 0).await.unwrap().len(),
        0,
        "no bytes is no bytes, not a missing value"
    );
    assert_eq!(
        call_remote_tag(remote, vec![1, 2], 9).await.unwrap(),
        [1, 2, 9]
    );
    // By name: bytes read as bytes, or as the JSON they would be.
    let made = remote
        .call_async_by_name::<Vec<u8>>("bytes.make", (3,))
        .await
        .unwrap();
    assert_eq!(made, [0, 1, 2]);
    let made = remote
        .call_async_by_name::<serde_json::Value>("bytes.make", (3,))
        .await
        .unwrap();
    assert_eq!(made, serde_json::json!([0, 1, 2]));
    // A JSON array still reaches a bytes parameter (a caller that sends JSON).
    let size = remote
        .call_async_by_name::<usize>("bytes.size", ([1, 2, 3],))
        .await
        .unwrap();
    assert_eq!(size, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_this_process() {
    assert_eq!(call_async_reverse(vec![1, 2, 3]).await.unwrap(), [3, 2, 1]);
    assert_eq!(
        call_async_by_name::<Vec<u8>>("bytes.make", (4,))
            .await
            .unwrap(),
        [0, 1, 2, 3]
    );
    assert_eq!(
        call_async_by_name::<bytes::Bytes>("bytes.make", (2,))
            .await
            .unwrap(),
        bytes::Bytes::from_static(&[0, 1])
    );
    assert_eq!(
        call_async_by_name::<serde_json::Value>("bytes.make", (2,))
            .await
            .unwrap(),
        serde_json::json!([0, 1])
    );
    let error = call_async_by_name::<String>("bytes.make", (2,))
        .await
        .unwrap_err();
    assert!(matches!(error, CallError::InvalidResult(_)), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_in_process() {
    bytes_cases(&InProcess::builder().build().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http() {
    let url = support::http::serve(Server::builder()).await;
    bytes_cases(&Remote::new(&url).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_nats() {
    let server = support::nats_server::NatsServer::start("");
    let connect = Connect::new([server.url()]);
    let worker = Worker::builder()
        .prefix("bytes")
        .start(&connect)
        .await
        .unwrap();
    let remote = nats::Remote::builder()
        .prefix("bytes")
        .connect(&connect)
        .await
        .unwrap();
    bytes_cases(&remote).await;

    // On the wire: the request's payload and the reply's are the bytes themselves.
    let watcher = async_nats::connect(server.url()).await.unwrap();
    let mut requests = watcher.subscribe("bytes.bytes.reverse").await.unwrap();
    watcher.flush().await.unwrap();
    let reversed = call_remote_reverse(&remote, vec![1, 2, 3]).await.unwrap();
    assert_eq!(reversed, [3, 2, 1]);
    let request = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        futures_util::StreamExt::next(&mut requests),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(&request.payload[..], [1, 2, 3], "the bytes, not JSON");
    assert_eq!(
        request
            .headers
            .as_ref()
            .unwrap()
            .get("Nonblocking-Body")
            .unwrap()
            .as_str(),
        "bytes"
    );
    let reply = watcher
        .request("bytes.bytes.make", "[2]".into())
        .await
        .unwrap();
    assert_eq!(&reply.payload[..], [0, 1]);
    assert_eq!(
        reply
            .headers
            .as_ref()
            .unwrap()
            .get("Nonblocking-Body")
            .unwrap()
            .as_str(),
        "bytes"
    );
    worker.stop().await.unwrap();
}

/// One request with a binary body: the status line and headers (lowercased), and the body.
async fn raw_call(
    addr: SocketAddr,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (String, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let end = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap();
    (
        String::from_utf8(raw[..end].to_vec())
            .unwrap()
            .to_ascii_lowercase(),
        raw[end + 4..].to_vec(),
    )
}

/// On the HTTP wire: bytes in, bytes out, with their media type; a function that takes no
/// bytes refuses them; the body limit counts the bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_bytes_are_the_body_itself() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .prefix("/rpc")
        .body_limit(1_000)
        .build()
        .unwrap();
    tokio::spawn(server.serve(listener, std::future::pending()));

    let data = every_byte();
    let (head, body) = raw_call(
        addr,
        "/rpc/bytes.reverse",
        "application/octet-stream",
        &data,
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(
        head.contains("content-type: application/octet-stream"),
        "{head}"
    );
    assert_eq!(
        body,
        data.iter().rev().copied().collect::<Vec<u8>>(),
        "the bytes themselves, not JSON"
    );

    // A value of a bytes type is raw whatever the arguments were sent as.
    let (head, body) = raw_call(addr, "/rpc/bytes.make", "application/json", b"[4]").await;
    assert!(
        head.contains("content-type: application/octet-stream"),
        "{head}"
    );
    assert_eq!(body, [0, 1, 2, 3]);

    // A function that takes no bytes refuses them, naming itself.
    let (head, body) = raw_call(addr, "/rpc/bytes.make", "application/octet-stream", b"\x01").await;
    assert!(head.starts_with("http/1.1 415"), "{head}");
    assert!(
        String::from_utf8_lossy(&body).contains("`bytes.make` takes no bytes"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    // Neither do two parameters make one body.
    let (head, _) = raw_call(addr, "/rpc/bytes.tag", "application/octet-stream", b"\x01").await;
    assert!(head.starts_with("http/1.1 415"), "{head}");

    // The body limit applies to bytes as to JSON.
    let (head, body) = raw_call(
        addr,
        "/rpc/bytes.size",
        "application/octet-stream",
        &[7; 1_001],
    )
    .await;
    assert!(head.starts_with("http/1.1 413"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("payload_too_large"));
    let (head, body) = raw_call(
        addr,
        "/rpc/bytes.size",
        "application/octet-stream",
        &[7; 1_000],
    )
    .await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, b"1000");
}

/// A parameter named like its function, and one named like the remote stub's own `remote`:
/// the generated stubs and handler bind them without shadowing either.
#[server_function(name = "bytes.named")]
async fn named(named: u8, remote: u8) -> u8 {
    named + remote
}

#[tokio::test]
async fn parameters_may_be_named_like_the_function_or_the_remote() {
    assert_eq!(call_async_named(1, 2).await.unwrap(), 3);
    assert_eq!(
        call_async_by_name::<u8>("bytes.named", (3, 4))
            .await
            .unwrap(),
        7
    );
    let remote = InProcess::builder().build().unwrap();
    assert_eq!(call_remote_named(&remote, 5, 6).await.unwrap(), 11);
}
