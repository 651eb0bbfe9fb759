//! N sequential HTTP calls over one keep-alive connection, for instruction counting under
//! `valgrind --tool=callgrind`: the stable figure where wall time swings with the machine.
//!
//! `http_instructions <server> <n>`, server one of `ours` (`POST /rpc/add`), `ours_sync`
//! (`/rpc/add_sync`, on the blocking pool), `ours_inline` (`/rpc/add_inline`), `ours_router` (ours without the connection layer: `Server::router()`
//! under plain `axum::serve`, which shows what the header timeout, the connection cap and the
//! graceful shutdown cost), `ours_signed_in` (`/rpc/add` on a server whose authorize hook
//! attaches the `x-user` header's user to every call), `ours_context` (the same server and
//! requests, `/rpc/add_for`, which reads that user as a `#[context]` parameter) or `bare` (the
//! bare axum handler); every request carries the keyword body `{"a":40,"b":2}`, and the two
//! signed-in modes an `x-user: ada` header. The client's work is the same for every server, so the difference between
//! two servers' counts per request is the difference between the servers. The report runs it
//! at two N and divides the difference, so start-up cancels.

use std::io::{Read, Write};
use std::net::TcpStream;

use nonblocking_bench::{bare_router, sign_in};
use nonblocking_runtime::http::Server;

fn main() {
    let mut args = std::env::args().skip(1);
    let server = args.next().unwrap_or_default();
    let n: u32 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1_000);
    let path = match server.as_str() {
        "ours" | "ours_router" | "bare" | "ours_signed_in" => "/rpc/add",
        "ours_context" => "/rpc/add_for",
        "ours_sync" => "/rpc/add_sync",
        "ours_inline" => "/rpc/add_inline",
        other => panic!("unknown server {other:?}"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a port");
    let addr = listener.local_addr().expect("bound");
    if server == "bare" {
        runtime.spawn(async move { axum::serve(listener, bare_router()).await });
    } else if server == "ours_router" {
        let router = Server::builder()
            .prefix("/rpc")
            .build()
            .expect("a valid prefix")
            .router();
        runtime.spawn(async move { axum::serve(listener, router).await });
    } else {
        let mut ours = Server::builder().prefix("/rpc");
        if server.ends_with("_signed_in") || server == "ours_context" {
            ours = ours.authorize(sign_in);
        }
        let ours = ours.build().expect("a valid prefix");
        runtime.spawn(ours.serve(listener, std::future::pending()));
    }
    let user = if server == "ours_signed_in" || server == "ours_context" {
        "x-user: ada\r\n"
    } else {
        ""
    };
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\n{user}Content-Type: application/json\r\nContent-Length: 14\r\n\r\n{{\"a\":40,\"b\":2}}"
    );
    let mut stream = TcpStream::connect(addr).expect("connects");
    let mut buffer = [0; 1024];
    for _ in 0..n {
        stream.write_all(request.as_bytes()).expect("sent");
        // Every answer is `42`, two bytes after the head.
        let mut read = 0;
        loop {
            read += stream.read(&mut buffer[read..]).expect("read");
            let text = &buffer[..read];
            if let Some(head) = text.windows(4).position(|w| w == b"\r\n\r\n") {
                if text.len() >= head + 4 + 2 {
                    assert!(
                        text.starts_with(b"HTTP/1.1 200"),
                        "{}",
                        String::from_utf8_lossy(text)
                    );
                    break;
                }
            }
        }
    }
}
