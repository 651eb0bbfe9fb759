//! NATS against HTTP, in one run (feature `nats`; needs `nats-server` on the PATH or in
//! /usr/sbin, started here on a free loopback port):
//!
//! 1. a trivial function (`add`, from this crate) called closed-loop with 32 calls in flight,
//!    over HTTP (`Server` + `Remote`) and over NATS (one `Worker` + `nats::Remote`), in ABBA
//!    rounds: calls per second, p50 and p99 latency;
//! 2. the same `add` over NATS against the peer a user would write by hand: a bare async-nats
//!    service (`service_builder`, one endpoint, `serde_json` in and out, answered in its loop),
//!    called by this crate's `nats::Remote` (the worker's cost alone) and by hand with
//!    `Client::request` (both sides by hand), 32 in flight, rounds ABCCBA: calls per second
//!    and p99;
//! 3. a function that sleeps 10 ms, each worker capped at 8 calls at once and the caller
//!    keeping 48 in flight, with 1 and then 3 workers: the throughput scales with the workers
//!    because the cap, not this 2-core machine, is the bottleneck.
//!
//! `cargo run --release -p nonblocking-bench --features nats --bin transports` (add `-- peer` for
//! the second section alone, to profile it).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use nonblocking_bench::net_runtime;
use nonblocking_runtime::http::{Remote, Server};
use nonblocking_runtime::nats::async_nats;
use nonblocking_runtime::nats::async_nats::service::ServiceExt;
use nonblocking_runtime::nats::{self, Connect, Worker};
use nonblocking_runtime::remote::Transport;
use nonblocking_runtime::server_function;

/// Sleeps 10 ms: work bounded by the workers' concurrency, not by the CPU.
#[server_function(name = "bench.sleep10")]
async fn sleep10() -> u8 {
    tokio::time::sleep(Duration::from_millis(10)).await;
    1
}

const ROUND: Duration = Duration::from_secs(2);

struct NatsServer(Child);

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn nats_server(port: u16) -> NatsServer {
    let binary = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
        .unwrap_or("nats-server");
    let child = Command::new(binary)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server starts (apt-get install nats-server)");
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    NatsServer(child)
}

/// Runs `call` closed-loop with `in_flight` calls at a time for `ROUND`: every latency.
async fn closed_loop_of<F, C>(in_flight: usize, call: F) -> Vec<Duration>
where
    F: Fn() -> C,
    C: std::future::Future<Output = ()>,
{
    let deadline = Instant::now() + ROUND;
    let workers = (0..in_flight).map(|_| {
        let call = &call;
        async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                call().await;
                latencies.push(started.elapsed());
            }
            latencies
        }
    });
    futures_util::stream::iter(workers)
        .buffer_unordered(in_flight)
        .concat()
        .await
}

/// Calls `name` through `remote`, closed-loop (see [`closed_loop_of`]).
async fn closed_loop<T: Transport>(
    remote: &T,
    name: &'static str,
    args: serde_json::Value,
    in_flight: usize,
) -> Vec<Duration> {
    closed_loop_of(in_flight, || async {
        let outcome: Result<serde_json::Value, _> = remote.call_async_by_name(name, &args).await;
        outcome.expect("the call succeeds");
    })
    .await
}

/// The bare peer's caller: `Client::request` closed-loop, decoding each answer as the
/// transport does.
async fn bare_loop(client: &async_nats::Client, in_flight: usize) -> Vec<Duration> {
    let payload = bytes_of(&(40, 2));
    closed_loop_of(in_flight, || async {
        let reply = client
            .request("bare.add", payload.clone())
            .await
            .expect("the bare service answers");
        let sum: i64 = serde_json::from_slice(&reply.payload).expect("a number");
        assert_eq!(sum, 42);
    })
    .await
}

fn bytes_of(value: &impl serde::Serialize) -> axum::body::Bytes {
    serde_json::to_vec(value).expect("JSON").into()
}

/// The service a user writes by hand with async-nats: one endpoint, arguments and result as
/// JSON, answered in the endpoint's loop (the work is an addition).
async fn bare_service(client: async_nats::Client) -> async_nats::service::Service {
    let service = client
        .service_builder()
        .start("bare", "1.0.0")
        .await
        .expect("a service");
    let mut endpoint = service.endpoint("bare.add").await.expect("an endpoint");
    tokio::spawn(async move {
        while let Some(request) = endpoint.next().await {
            let answer = match serde_json::from_slice::<(i64, i64)>(&request.message.payload) {
                Ok((a, b)) => Ok(bytes_of(&(a + b))),
                Err(error) => Err(async_nats::service::error::Error {
                    status: error.to_string(),
                    code: 400,
                }),
            };
            let _ = request.respond(answer).await;
        }
    });
    service
}

fn summary(label: &str, mut latencies: Vec<Duration>, seconds: f64) -> f64 {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    let rate = latencies.len() as f64 / seconds;
    println!(
        "{label:<44} {rate:>9.0} calls/s   p50 {:>8.1?}   p99 {:>8.1?}",
        at(0.50),
        at(0.99)
    );
    rate
}

fn main() {
    net_runtime().block_on(async {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let _server = nats_server(port);
        let connect = Connect::new([format!("nats://127.0.0.1:{port}")]);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/rpc", listener.local_addr().unwrap());
        tokio::spawn(
            Server::builder()
                .prefix("/rpc")
                .build()
                .expect("a valid prefix")
                .serve(listener, std::future::pending()),
        );
        let http = Remote::new(url).unwrap();
        // Links this crate's library, whose `add` the rows call.
        assert_eq!(nonblocking_bench::ADD_SERVER_FUNCTION.name(), "add");
        let worker = Worker::builder().start(&connect).await.expect("a worker");
        let nats = nats::Remote::builder()
            .connect(&connect)
            .await
            .expect("a caller");

        let only_peer = std::env::args().any(|arg| arg == "peer");
        let args = serde_json::json!([40, 2]);
        let seconds = 2.0 * ROUND.as_secs_f64();
        if !only_peer {
            println!(
                "1. a trivial function (`add`), 32 calls in flight, {ROUND:?} rounds in ABBA order"
            );
            let (mut over_http, mut over_nats) = (Vec::new(), Vec::new());
            for round in 0..4 {
                if round == 0 || round == 3 {
                    over_http.extend(closed_loop(&http, "add", args.clone(), 32).await);
                } else {
                    over_nats.extend(closed_loop(&nats, "add", args.clone(), 32).await);
                }
            }
            let http_rate = summary("HTTP (Server + Remote)", over_http, seconds);
            let nats_rate = summary("NATS (1 Worker + nats::Remote)", over_nats, seconds);
            println!("NATS / HTTP throughput: {:.2}", nats_rate / http_rate);
        }

        println!(
            "\n2. `add` over NATS against a bare async-nats service, 32 in flight, rounds ABCCBA"
        );
        let bare_client = async_nats::connect(format!("nats://127.0.0.1:{port}"))
            .await
            .expect("a connection");
        let bare = bare_service(bare_client.clone()).await;
        bare_client.flush().await.unwrap();
        // The same caller (this crate's) against the bare service: what the worker costs.
        let to_bare = nats::Remote::builder()
            .prefix("bare")
            .connect(&connect)
            .await
            .expect("a caller");
        let (mut ours, mut remote_to_bare, mut by_hand) = (Vec::new(), Vec::new(), Vec::new());
        for round in ["A", "B", "C", "C", "B", "A"] {
            match round {
                "A" => ours.extend(closed_loop(&nats, "add", args.clone(), 32).await),
                "B" => remote_to_bare.extend(closed_loop(&to_bare, "add", args.clone(), 32).await),
                _ => by_hand.extend(bare_loop(&bare_client, 32).await),
            }
        }
        let ours_rate = summary("A. nats::Remote -> Worker", ours, seconds);
        let served_rate = summary("B. nats::Remote -> bare service", remote_to_bare, seconds);
        let bare_rate = summary("C. Client::request -> bare service", by_hand, seconds);
        println!(
            "the worker against the bare service, same caller (A / B): {:.2} (target >= 0.9)",
            ours_rate / served_rate
        );
        println!(
            "end to end, both sides by hand (A / C): {:.2}; the caller alone (B / C): {:.2}",
            ours_rate / bare_rate,
            served_rate / bare_rate
        );
        bare.stop().await.unwrap();
        worker.stop().await.unwrap();
        if only_peer {
            return;
        }

        println!("\n3. `bench.sleep10` (10 ms), each worker capped at 8 calls, 48 in flight");
        let mut rates = Vec::new();
        for count in [1, 3] {
            let mut workers = Vec::new();
            for _ in 0..count {
                workers.push(
                    Worker::builder()
                        .expose(["bench.sleep10"])
                        .concurrency_limit(8)
                        .start(&connect)
                        .await
                        .unwrap(),
                );
            }
            let latencies = closed_loop(&nats, "bench.sleep10", serde_json::json!([]), 48).await;
            rates.push(summary(
                &format!("{count} worker(s)"),
                latencies,
                ROUND.as_secs_f64(),
            ));
            for worker in workers {
                worker.stop().await.unwrap();
            }
        }
        println!(
            "3 workers / 1 worker throughput: {:.2}",
            rates[1] / rates[0]
        );
    });
}
