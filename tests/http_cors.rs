//! Cross-origin calls from a browser's point of view, with raw requests on loopback: what a
//! page of another origin may read depends on the CORS headers, which only a server built with
//! `Server::builder().cors(..)` sends. Preflights never meet the authorize hook, the
//! concurrency limit or the 405 handling; error answers carry the headers too.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use nonblocking_runtime::http::{Cors, Refusal, Server, ServerBuilder};
use nonblocking_runtime::server_function;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[server_function(name = "cors.add")]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[server_function(name = "cors.slow")]
async fn slow() -> u8 {
    // Long enough to hold the slot through a few requests on a loaded machine.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    1
}

const PAGE: &str = "http://127.0.0.1:5173";
const STRANGER: &str = "http://127.0.0.1:6666";

async fn start(builder: ServerBuilder) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = builder
        .prefix("/rpc")
        .authorize(
            |headers, _| match headers.get("authorization").and_then(|v| v.to_str().ok()) {
                Some("Bearer ok") => Ok(()),
                _ => Err(Refusal::Unauthorized("a bearer token is needed".into())),
            },
        )
        .build()
        .unwrap();
    tokio::spawn(server.serve(listener, std::future::pending()));
    addr
}

fn allowing_the_page() -> ServerBuilder {
    let cors = Cors::allow_origins([PAGE])
        .unwrap()
        .allow_headers(["authorization"])
        .unwrap()
        .allow_credentials(true);
    Server::builder().cors(cors).concurrency_limit(1)
}

struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

async fn send(addr: SocketAddr, request: String) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw)).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn call(path: &str, origin: &str, extra: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    )
}

fn preflight(path: &str, origin: &str) -> String {
    format!(
        "OPTIONS {path} HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type, authorization\r\nConnection: close\r\n\r\n"
    )
}

const TOKEN: &str = "Authorization: Bearer ok\r\n";

#[tokio::test]
async fn without_cors_a_server_is_same_origin_only() {
    let addr = start(Server::builder()).await;
    let answer = send(addr, call("/rpc/cors.add", PAGE, TOKEN, "[1, 2]")).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "3"));
    assert!(
        !answer.headers.contains_key("access-control-allow-origin"),
        "{:?}",
        answer.headers
    );
    let answer = send(addr, preflight("/rpc/cors.add", PAGE)).await;
    assert!(
        !answer.headers.contains_key("access-control-allow-origin"),
        "{:?}",
        answer.headers
    );
    assert_eq!(
        answer.status, 405,
        "a preflight is just an OPTIONS request here"
    );
}

/// Waits until the one concurrency slot is taken (a call is refused `overloaded`), up to 5 s.
async fn slot_taken(addr: SocketAddr) {
    for _ in 0..500 {
        if send(addr, call("/rpc/cors.add", PAGE, TOKEN, "[1, 2]"))
            .await
            .status
            == 503
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the slow call never took the slot");
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_bypasses_authorize_the_limit_and_405() {
    let addr = start(allowing_the_page()).await;
    // The one concurrency slot is held by a slow call while the preflight arrives.
    let busy = tokio::spawn(send(addr, call("/rpc/cors.slow", PAGE, TOKEN, "")));
    slot_taken(addr).await;
    // No token: the authorize hook would refuse this request if it ever saw it.
    let answer = send(addr, preflight("/rpc/cors.add", PAGE)).await;
    // The slot was held all along: the preflight went past the limit, not through a free slot.
    assert_eq!(
        send(addr, call("/rpc/cors.add", PAGE, TOKEN, "[1, 2]"))
            .await
            .status,
        503
    );
    assert_eq!(answer.status, 200, "{:?} {}", answer.headers, answer.body);
    let header = |name: &str| answer.headers.get(name).cloned().unwrap_or_default();
    assert_eq!(header("access-control-allow-origin"), PAGE);
    assert_eq!(header("access-control-allow-credentials"), "true");
    assert!(
        header("access-control-allow-methods").contains("POST"),
        "{:?}",
        answer.headers
    );
    // The configured header, and by default those the JavaScript client sends for the call
    // itself: its deadline and the page's trace.
    for allowed in [
        "authorization",
        "nonblocking-timeout",
        "traceparent",
        "tracestate",
    ] {
        assert!(
            header("access-control-allow-headers").contains(allowed),
            "{allowed}: {:?}",
            answer.headers
        );
    }
    assert_eq!(header("access-control-max-age"), "600");
    assert_eq!(busy.await.unwrap().status, 200);
}

#[tokio::test]
async fn error_answers_carry_the_cors_headers_so_a_page_can_read_them() {
    let addr = start(allowing_the_page().body_limit(64)).await;
    let busy = tokio::spawn(send(addr, call("/rpc/cors.slow", PAGE, TOKEN, "")));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let oversize = format!(
        "POST /rpc/cors.add HTTP/1.1\r\nHost: x\r\nOrigin: {PAGE}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n{TOKEN}Expect: 100-continue\r\n\r\n"
    );
    for (request, status, code) in [
        (
            call("/rpc/cors.add", PAGE, "", "[1, 2]"),
            401,
            "unauthorized",
        ),
        (
            call("/rpc/cors.nothing", PAGE, TOKEN, "[]"),
            404,
            "not_found",
        ),
        (oversize, 413, "payload_too_large"),
        (
            call("/rpc/cors.add", PAGE, TOKEN, "[1, 2]"),
            503,
            "overloaded",
        ),
    ] {
        let answer = send(addr, request).await;
        assert_eq!(answer.status, status, "{}", answer.body);
        assert!(answer.body.contains(code), "{}", answer.body);
        assert_eq!(
            answer
                .headers
                .get("access-control-allow-origin")
                .map(String::as_str),
            Some(PAGE),
            "{status}: {:?}",
            answer.headers
        );
        assert_eq!(
            answer
                .headers
                .get("access-control-allow-credentials")
                .map(String::as_str),
            Some("true")
        );
    }
    assert_eq!(busy.await.unwrap().status, 200);
}

#[tokio::test]
async fn other_origins_get_no_cors_headers() {
    let addr = start(allowing_the_page()).await;
    let answer = send(addr, preflight("/rpc/cors.add", STRANGER)).await;
    assert!(
        !answer.headers.contains_key("access-control-allow-origin"),
        "{:?}",
        answer.headers
    );
    let answer = send(addr, call("/rpc/cors.add", STRANGER, TOKEN, "[1, 2]")).await;
    assert!(
        !answer.headers.contains_key("access-control-allow-origin"),
        "{:?}",
        answer.headers
    );
    // The answer itself is the same: CORS only decides what a browser lets the page read.
    assert_eq!((answer.status, answer.body.as_str()), (200, "3"));
}
