//! The HTTP server against hostile clients, with raw sockets on loopback (the hardening
//! issue, items 12 to 15): a declared oversize body, slow headers, stalled bodies, idle
//! connections beyond the cap. Timeouts are configured short here; the defaults are checked by
//! reading the configuration, not by waiting.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use nonblocking_runtime::http::{Remote, Server, ServerBuilder};
use nonblocking_runtime::server_function;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[server_function(name = "limits.add")]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

const MS: Duration = Duration::from_millis(1);

async fn start(builder: ServerBuilder) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        builder
            .prefix("/rpc")
            .build()
            .unwrap()
            .serve(listener, std::future::pending()),
    );
    addr
}

/// Reads until the server closes the connection or `within` passes; the text read.
async fn read_reply(stream: &mut TcpStream, within: Duration) -> String {
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(within, stream.read_to_end(&mut reply)).await;
    String::from_utf8_lossy(&reply).into_owned()
}

/// Reads one whole response (its head and its `Content-Length` body), not waiting for the
/// connection to close; the text read, or what arrived within `within`.
async fn read_response(stream: &mut TcpStream, within: Duration) -> String {
    read_response_from(stream, within).await
}

async fn read_response_from(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    within: Duration,
) -> String {
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(within, async {
        let mut buffer = [0; 4096];
        loop {
            let text = String::from_utf8_lossy(&reply);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head.lines().find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                });
                if length.is_some_and(|length| body.len() >= length) {
                    return;
                }
            }
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => reply.extend_from_slice(&buffer[..read]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&reply).into_owned()
}

fn json_body(reply: &str) -> Value {
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .unwrap_or_default();
    serde_json::from_str(body).unwrap_or(Value::Null)
}

#[test]
fn the_defaults_are_documented_ones() {
    let server = Server::builder().build().unwrap();
    let shown = format!("{server:?}");
    for default in [
        "body_limit: 1048576",
        "body_timeout: 30s",
        "drain_oversize: Drain { bytes: 8388608, within: 5s }",
        "timeout: 30s",
        "max_connections: 2048",
        "header_read_timeout: 30s",
    ] {
        assert!(shown.contains(default), "{default} in {shown}");
    }
}

// 12. A declared oversize body is refused from its header: 413 before any of it is read,
// without `100 Continue`.

#[tokio::test]
async fn a_declared_oversize_body_gets_413_without_being_sent() {
    let addr = start(Server::builder()).await;
    for expect in ["Expect: 100-continue\r\n", ""] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /rpc/limits.add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\n{expect}\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        if expect.is_empty() {
            // Some of the body, then a stall: the answer must not wait for the rest.
            stream.write_all(&vec![b' '; 64 * 1024]).await.unwrap();
        }
        let started = Instant::now();
        let reply = read_response(&mut stream, Duration::from_secs(5)).await;
        assert!(
            reply.starts_with("HTTP/1.1 413"),
            "{expect:?}: {reply:.200}"
        );
        assert!(!reply.contains("100 Continue"), "{reply:.200}");
        assert_eq!(json_body(&reply)["code"], "payload_too_large");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}

/// A client that uploads its whole declared body before it reads anything (as `curl` does
/// without `Expect`) still reads the 413: the server answers at once, then drains what follows
/// (bounded) instead of resetting the connection under the upload, which would discard the
/// answer from the client's receive buffer.
#[tokio::test]
async fn a_client_that_keeps_sending_still_reads_the_413() {
    let addr = start(Server::builder().body_limit(64 * 1024)).await;
    for trial in 0..5 {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let length = 4 * 1024 * 1024;
        let head = format!(
            "POST /rpc/limits.add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
        );
        writer.write_all(head.as_bytes()).await.unwrap();
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0;
        while sent < length {
            match tokio::time::timeout(Duration::from_secs(5), writer.write_all(&chunk)).await {
                Ok(Ok(())) => sent += chunk.len(),
                Ok(Err(error)) => {
                    panic!("trial {trial}: the upload was cut at {sent} bytes: {error}")
                }
                Err(_) => panic!("trial {trial}: the server stopped reading at {sent} bytes"),
            }
        }
        let mut reply = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), reader.read_to_end(&mut reply)).await;
        let reply = String::from_utf8_lossy(&reply);
        assert!(
            reply.starts_with("HTTP/1.1 413"),
            "trial {trial}: {reply:.200}"
        );
        assert!(
            reply.to_ascii_lowercase().contains("connection: close"),
            "{reply:.300}"
        );
        assert_eq!(json_body(&reply)["code"], "payload_too_large");
    }
}

/// The same for a chunked body, found oversize only as it arrives.
#[tokio::test]
async fn a_chunked_body_over_the_limit_is_answered_413_and_drained() {
    let addr = start(Server::builder().body_limit(64 * 1024)).await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(b"POST /rpc/limits.add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    let mut chunk = b"10000\r\n".to_vec();
    chunk.extend(std::iter::repeat_n(b' ', 0x10000));
    chunk.extend_from_slice(b"\r\n");
    for sent in 0..32 {
        let written = tokio::time::timeout(Duration::from_secs(5), writer.write_all(&chunk)).await;
        assert!(matches!(written, Ok(Ok(()))), "chunk {sent}: {written:?}");
    }
    writer.write_all(b"0\r\n\r\n").await.unwrap();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), reader.read_to_end(&mut reply)).await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply:.200}");
    assert_eq!(json_body(&reply)["code"], "payload_too_large");
}

/// The drain is bounded: a client that never stops sending is closed once the drain budget is
/// spent, having been answered first.
#[tokio::test]
async fn the_drain_of_a_refused_body_is_bounded() {
    let budget = 256 * 1024;
    let addr = start(
        Server::builder()
            .body_limit(1024)
            .drain_oversize(budget, Duration::from_secs(2)),
    )
    .await;
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(b"POST /rpc/limits.add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let upload = tokio::spawn(async move {
        let chunk = vec![b' '; 16 * 1024];
        let mut sent = 0_u64;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), writer.write_all(&chunk)).await {
                Ok(Ok(())) => sent += chunk.len() as u64,
                // Cut off (reset), or no longer read: either way the server stopped taking it.
                Ok(Err(_)) | Err(_) => return sent,
            }
        }
    });
    let reply = read_response_from(&mut reader, Duration::from_secs(5)).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply:.200}");
    let sent = upload.await.unwrap();
    // What loopback buffers hold on top of the budget is a few MiB at most; a gigabyte was
    // declared.
    assert!(sent < 64 * 1024 * 1024, "{sent} bytes were taken");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

// 13. Slow headers (slowloris): closed by the header-read timeout.

#[tokio::test]
async fn slow_header_clients_are_closed_by_the_header_timeout() {
    let addr = start(Server::builder().header_read_timeout(300 * MS)).await;
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /rpc/limits.add HTTP/1.1\r\nHo")
            .await
            .unwrap();
        slow.push(stream);
    }
    let started = Instant::now();
    for stream in &mut slow {
        // The server closes it: the read ends (with nothing, or a 408 from hyper).
        let mut buffer = [0_u8; 256];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await;
        assert!(read.is_ok(), "a slow-header connection is still open");
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

// 14. Stalled bodies hold no call slot and are closed by the body deadline; a normal call
// answers while 1,100 of them stall.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_bodies_do_not_lock_other_clients_out() {
    let addr = start(Server::builder().body_timeout(Duration::from_secs(2))).await;
    let mut stalled = Vec::new();
    for _ in 0..1_100 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"POST /rpc/limits.add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n[")
            .await
            .unwrap();
        stalled.push(stream);
    }
    let remote = Remote::builder(format!("http://{addr}/rpc"))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let sum = remote
        .call_async_by_name::<i64>("limits.add", (40, 2))
        .await
        .unwrap();
    assert_eq!(sum, 42, "a normal call answers while 1,100 bodies stall");

    // The body deadline answers each stalled one with 408 body_timeout.
    let started = Instant::now();
    for stream in stalled.iter_mut().step_by(100) {
        let reply = read_reply(stream, Duration::from_secs(10)).await;
        assert!(reply.starts_with("HTTP/1.1 408"), "{reply:.200}");
        assert_eq!(json_body(&reply)["code"], "body_timeout");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

// 15. Connections beyond the cap are refused at once; idle ones are closed.

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_quickly_and_idle_ones_closed() {
    let addr = start(
        Server::builder()
            .max_connections(50)
            .header_read_timeout(Duration::from_secs(1)),
    )
    .await;
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    // Let the server accept them all.
    tokio::time::sleep(100 * MS).await;
    let started = Instant::now();
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let reply = read_reply(&mut extra, Duration::from_secs(2)).await;
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply:.200}");
    assert_eq!(json_body(&reply)["code"], "overloaded");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );

    // Idle connections are closed by the header-read timeout, freeing the slots.
    for stream in &mut idle {
        let mut buffer = [0_u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await;
        assert!(read.is_ok(), "an idle connection is still open");
    }
    drop(idle);
    tokio::time::sleep(100 * MS).await;
    let remote = Remote::new(format!("http://{addr}/rpc")).unwrap();
    assert_eq!(
        remote
            .call_async_by_name::<i64>("limits.add", (1, 2))
            .await
            .unwrap(),
        3
    );
}

// A sync function always runs on the blocking pool: one that blocks never delays the other
// calls of the server, however cheap its earlier runs were, and its timeout still holds.

#[server_function(name = "limits.quick")]
fn quick(a: i64) -> i64 {
    a
}

#[server_function(name = "limits.blocks")]
fn blocks() -> u8 {
    std::thread::sleep(Duration::from_millis(100));
    1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_sync_function_never_delays_other_calls() {
    let addr = start(Server::builder()).await;
    let remote = Remote::new(format!("http://{addr}/rpc")).unwrap();
    // Cheap runs first: they must not move the function onto the workers.
    for i in 0..64 {
        assert_eq!(
            remote
                .call_async_by_name::<i64>("limits.quick", (i,))
                .await
                .unwrap(),
            i
        );
    }
    let slow: Vec<_> = (0..8)
        .map(|_| remote.call_async_by_name::<u8>("limits.blocks", ()))
        .collect();
    tokio::time::sleep(10 * MS).await;
    let mut worst = Duration::ZERO;
    for i in 0..20 {
        let started = Instant::now();
        assert_eq!(
            remote
                .call_async_by_name::<i64>("limits.quick", (i,))
                .await
                .unwrap(),
            i
        );
        worst = worst.max(started.elapsed());
    }
    for call in slow {
        assert_eq!(call.await.unwrap(), 1);
    }
    // Eight 100 ms blocking calls run meanwhile; on the workers they would delay these by
    // 100 ms and more. The bound leaves room for a loaded 2-core machine.
    println!("the slowest quick call took {worst:?}");
    assert!(
        worst < Duration::from_millis(40),
        "a quick call took {worst:?}"
    );
}

/// A cache that sometimes misses: cheap most of the time, then slow.
#[server_function(name = "limits.lookup")]
fn lookup(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

#[server_function(name = "limits.ping")]
async fn ping() -> String {
    "pong".to_owned()
}

/// Fast, then slow: forty cheap runs, then two that block for 3 s on a two-worker server with
/// a 1 s timeout. Each slow call answers `timed_out` at its deadline (its run finishes on the
/// pool in the background), and an `async fn` called meanwhile is not held up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_function_that_was_cheap_and_then_blocks_still_times_out_and_delays_nothing() {
    let addr = start(Server::builder().timeout(Duration::from_secs(1))).await;
    let remote = Remote::new(format!("http://{addr}/rpc")).unwrap();
    for _ in 0..40 {
        assert_eq!(
            remote
                .call_async_by_name::<u64>("limits.lookup", (0,))
                .await
                .unwrap(),
            0
        );
    }
    let started = Instant::now();
    let slow: Vec<_> = (0..2)
        .map(|_| remote.call_async_by_name::<u64>("limits.lookup", (3000,)))
        .collect();
    tokio::time::sleep(50 * MS).await;
    let pinged = Instant::now();
    assert_eq!(
        remote
            .call_async_by_name::<String>("limits.ping", ())
            .await
            .unwrap(),
        "pong"
    );
    let ping_took = pinged.elapsed();
    for call in slow {
        let error = call.await.unwrap_err();
        assert!(error.is_timeout(), "expected timed_out, got {error:?}");
    }
    let slow_took = started.elapsed();
    println!("ping took {ping_took:?}; the slow calls answered after {slow_took:?}");
    // Generous bounds for a loaded 2-core machine; the defect was 2.9 s and 3.0 s.
    assert!(
        ping_took < Duration::from_millis(500),
        "ping took {ping_took:?}"
    );
    assert!(
        slow_took >= Duration::from_millis(950) && slow_took < Duration::from_millis(2000),
        "the slow calls answered after {slow_took:?}"
    );
}
