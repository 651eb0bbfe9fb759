//! Server functions over NATS against a real `nats-server` (Debian's; `apt-get install
//! nats-server`) started on a free loopback port: calls by name and typed, every error code,
//! the error headers, authorization, exposure, no responders, `$SRV` discovery, cancellation
//! reaching the worker, and a graceful leave under load.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use nonblocking_runtime::context::Roles;
use nonblocking_runtime::nats::{Connect, Remote, Worker, WorkerBuilder, WorkerError};
use nonblocking_runtime::remote::{InvalidPolicy, Refusal, Via};
use nonblocking_runtime::{CallError, server_function};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use support::nats_server::NatsServer;

#[server_function(name = "nats.add")]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[derive(Debug, Serialize, Deserialize, thiserror::Error)]
#[error("out of stock: {left} left")]
struct OutOfStock {
    left: u32,
}

#[server_function(name = "nats.order")]
fn order(quantity: u32) -> Result<u32, OutOfStock> {
    if quantity > 3 {
        Err(OutOfStock { left: 3 })
    } else {
        Ok(quantity)
    }
}

#[server_function(name = "nats.panics")]
fn panics() -> u8 {
    panic!("the worker's secret")
}

#[server_function(name = "nats.sleep")]
async fn sleep(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

/// How many calls of `nats.counted_sleep` the workers ran (one test calls it).
static COUNTED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[server_function(name = "nats.counted_sleep")]
async fn counted_sleep(ms: u64) -> u64 {
    COUNTED_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[server_function(name = "nats.secret", require = "admin")]
fn secret() -> String {
    "42".into()
}

#[server_function(name = "nats.hidden")]
fn hidden() {}

#[server_function(name = "nats.big")]
fn big(bytes: usize) -> String {
    "x".repeat(bytes)
}

static PROBE_STARTED: AtomicBool = AtomicBool::new(false);
static PROBE_DROPPED: AtomicBool = AtomicBool::new(false);

struct Probe;

impl Drop for Probe {
    fn drop(&mut self) {
        PROBE_DROPPED.store(true, Ordering::SeqCst);
    }
}

#[server_function(name = "nats.probe")]
async fn probe() -> u8 {
    let probe = Probe;
    PROBE_STARTED.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(30)).await;
    std::mem::forget(probe);
    1
}

static TIMED_DROPPED: AtomicBool = AtomicBool::new(false);

struct TimedProbe;

impl Drop for TimedProbe {
    fn drop(&mut self) {
        TIMED_DROPPED.store(true, Ordering::SeqCst);
    }
}

#[server_function(name = "nats.timed_probe")]
async fn timed_probe() -> u8 {
    let probe = TimedProbe;
    tokio::time::sleep(Duration::from_secs(30)).await;
    std::mem::forget(probe);
    1
}

// Names NATS cannot serve as they are: an empty subject token, and two names with one
// endpoint name.
#[server_function(name = "nats.bad..name")]
fn bad_name() {}

#[server_function(name = "nats.twin.a")]
fn twin_dot() {}

#[server_function(name = "nats.twin_a")]
fn twin_underscore() {}

const SERVED: [&str; 11] = [
    "nats.add",
    "nats.counted_sleep",
    "nats.length",
    "nats.order",
    "nats.panics",
    "nats.sleep",
    "nats.secret",
    "nats.big",
    "nats.probe",
    "nats.timed_probe",
    "nats.twin.a",
];

fn worker(prefix: &str) -> WorkerBuilder {
    Worker::builder()
        .prefix(prefix)
        .service("nats-tests", "1.0.0")
        .expose(SERVED)
        .timeout(Duration::from_millis(800))
        .authorize(|caller, function| {
            assert_eq!(caller.via(), Via::Nats);
            assert_eq!(caller.peer(), None);
            match (function.require(), caller.get("x-role")) {
                (None, _) => Ok(()),
                (Some(_), None) => Err(Refusal::Unauthorized("log in first".into())),
                (Some(role), Some(given)) if given == role => {
                    caller.attach_identity(Roles::new([role]));
                    Ok(())
                }
                (Some(role), Some(_)) => Err(Refusal::Forbidden(format!("needs {role}"))),
            }
        })
}

async fn remote(server: &NatsServer, prefix: &str) -> Remote {
    Remote::builder()
        .prefix(prefix)
        .timeout(Duration::from_secs(5))
        .connect(&Connect::new([server.url()]))
        .await
        .expect("the caller connects")
}

fn rejected(error: &CallError) -> (u16, &str) {
    match error {
        CallError::Rejected(rejected) => (rejected.status, rejected.code.as_str()),
        other => panic!("not a refusal: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_by_name_by_keyword_and_typed() {
    let server = NatsServer::start("");
    let worker = worker("calls")
        .start(&Connect::new([server.url()]))
        .await
        .unwrap();
    let remote = remote(&server, "calls").await;
    assert_eq!(
        remote
            .call_async_by_name::<i64>("nats.add", (40, 2))
            .await
            .unwrap(),
        42
    );
    assert_eq!(
        remote
            .call_async_by_name::<i64>("nats.add", json!({"a": 1, "b": 2}))
            .await
            .unwrap(),
        3
    );
    assert_eq!(call_remote_add(&remote, 5, 6).await.unwrap(), 11);
    assert_eq!(call_remote_order(&remote, 2).await.unwrap(), 2);
    worker.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_arrives_with_its_code() {
    let server = NatsServer::start("max_payload: 65536");
    let worker = worker("errors")
        .start(&Connect::new([server.url()]))
        .await
        .unwrap();
    let remote = remote(&server, "errors").await;

    let error = remote
        .call_async_by_name::<i64>("nats.add", (1, "two"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CallError::InvalidArguments(invalid) if invalid.parameter.as_deref() == Some("b")),
        "{error:?}"
    );
    let error = call_remote_order(&remote, 9).await.unwrap_err();
    let failure = error
        .downcast_ref::<nonblocking_runtime::errors::RemoteFailure>()
        .expect("a remote failure");
    assert_eq!(failure.value, Some(json!({"left": 3})));
    assert_eq!(failure.message, "out of stock: 3 left");
    let error = call_remote_panics(&remote).await.unwrap_err();
    assert!(
        matches!(&error, CallError::Panicked(message) if !message.contains("secret")),
        "{error:?}"
    );
    let error = call_remote_sleep(&remote, 5_000).await.unwrap_err();
    assert!(error.is_timeout(), "the worker's 800 ms timeout: {error:?}");
    assert_eq!(
        rejected(&call_remote_secret(&remote).await.unwrap_err()),
        (401, "unauthorized")
    );
    let user = remote.with_header("x-role", "user").unwrap();
    assert_eq!(
        rejected(&call_remote_secret(&user).await.unwrap_err()),
        (403, "forbidden")
    );
    let admin = remote.with_header("x-role", "admin").unwrap();
    assert_eq!(call_remote_secret(&admin).await.unwrap(), "42");
    // A result over max_payload is refused, never a timeout; so are arguments.
    let started = Instant::now();
    assert_eq!(
        rejected(&call_remote_big(&remote, 100_000).await.unwrap_err()),
        (413, "payload_too_large")
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let error = remote
        .call_async_by_name::<String>("nats.add", ("x".repeat(100_000), 1))
        .await
        .unwrap_err();
    assert_eq!(rejected(&error), (413, "payload_too_large"));
    // Malformed JSON, sent by hand: 400 in the header, the error object in the body.
    let client = remote.client();
    let reply = client
        .request("errors.nats.add", "[1,".into())
        .await
        .unwrap();
    let headers = reply.headers.expect("error headers");
    assert_eq!(
        headers.get("Nats-Service-Error-Code").unwrap().as_str(),
        "400"
    );
    assert!(
        headers
            .get("Nats-Service-Error")
            .unwrap()
            .as_str()
            .starts_with("malformed JSON")
    );
    let body: Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(body["code"], "bad_request");
    worker.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unexposed_and_unserved_functions_have_no_responders_at_once() {
    let server = NatsServer::start("");
    let worker = worker("served")
        .start(&Connect::new([server.url()]))
        .await
        .unwrap();
    let remote = remote(&server, "served").await;
    let started = Instant::now();
    let error = call_remote_hidden(&remote).await.unwrap_err();
    assert!(
        matches!(&error, CallError::NoResponders(details) if details.subject == "served.nats.hidden"),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("no worker is serving `nats.hidden`"),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "at once, not at the deadline: {:?}",
        started.elapsed()
    );
    worker.stop().await.unwrap();
    // No worker at all.
    let error = remote
        .call_async_by_name::<i64>("nats.add", (1, 2))
        .await
        .unwrap_err();
    assert!(matches!(error, CallError::NoResponders(_)), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_refuses_names_nats_cannot_serve_and_lists_them() {
    let server = NatsServer::start("");
    // The rule every transport shares: an exposed name must be registered.
    let error = Worker::builder()
        .expose(["nats.add", "nats.missing"])
        .start(&Connect::new([server.url()]))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, WorkerError::InvalidPolicy(InvalidPolicy::NotRegistered(names)) if names == &["nats.missing"]),
        "{error:?}"
    );
    let error = Worker::builder()
        .expose(["nats.add", "nats.bad..name", "nats.twin.a", "nats.twin_a"])
        .start(&Connect::new([server.url()]))
        .await
        .unwrap_err();
    let WorkerError::InvalidNames(names) = &error else {
        panic!("{error:?}")
    };
    let text = error.to_string();
    assert_eq!(names.0.len(), 2, "{text}");
    assert!(
        text.contains("`nats.bad..name` has an empty subject token"),
        "{text}"
    );
    assert!(
        text.contains(
            "`nats.twin.a` and `nats.twin_a` both map to the endpoint name `nats_twin_a`"
        ),
        "{text}"
    );
    let error = Worker::builder()
        .prefix("rpc.*")
        .start(&Connect::new([server.url()]))
        .await
        .unwrap_err();
    // The rule every transport shares, with the prefix named.
    assert!(
        matches!(&error, WorkerError::InvalidPolicy(InvalidPolicy::Prefix(invalid)) if invalid.given == "rpc.*"),
        "{error:?}"
    );
    let error = Worker::builder()
        .expose(["nats.add"])
        .start(&Connect::new(["nats://127.0.0.1:9"]))
        .await
        .unwrap_err();
    assert!(matches!(error, WorkerError::Connect(_)), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srv_info_describes_the_registry() {
    let server = NatsServer::start("");
    let worker = worker("described")
        .description("tests")
        .start(&Connect::new([server.url()]))
        .await
        .unwrap();
    let remote = remote(&server, "described").await;
    let ping: Value = serde_json::from_slice(
        &remote
            .client()
            .request("$SRV.PING.nats-tests", "".into())
            .await
            .unwrap()
            .payload,
    )
    .unwrap();
    assert_eq!(ping["id"], worker.id());
    let info = remote
        .client()
        .request(format!("$SRV.INFO.nats-tests.{}", worker.id()), "".into())
        .await
        .unwrap();
    let info: Value = serde_json::from_slice(&info.payload).unwrap();
    assert_eq!(info["description"], "tests");
    assert_eq!(info["metadata"]["prefix"], "described");
    let endpoints = info["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), SERVED.len());
    let add = endpoints
        .iter()
        .find(|endpoint| endpoint["name"] == "nats_add")
        .expect("nats.add's endpoint");
    assert_eq!(add["subject"], "described.nats.add");
    assert_eq!(add["queue_group"], "nonblocking");
    assert_eq!(add["metadata"]["function"], "nats.add");
    assert_eq!(add["metadata"]["returns"], "i64");
    let params: Value = serde_json::from_str(add["metadata"]["params"].as_str().unwrap()).unwrap();
    assert_eq!(
        params,
        json!([{"name": "a", "type": "i64"}, {"name": "b", "type": "i64"}])
    );
    let secret = endpoints
        .iter()
        .find(|endpoint| endpoint["name"] == "nats_secret")
        .unwrap();
    assert_eq!(secret["metadata"]["require"], "admin");
    // Stats count the answered calls per endpoint (the services protocol's counts).
    call_remote_add(&remote, 1, 1).await.unwrap();
    let stats = remote
        .client()
        .request(format!("$SRV.STATS.nats-tests.{}", worker.id()), "".into())
        .await
        .unwrap();
    let stats: Value = serde_json::from_slice(&stats.payload).unwrap();
    let add = stats["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|endpoint| endpoint["name"] == "nats_add")
        .unwrap();
    assert_eq!(add["num_requests"], 1);
    assert_eq!(add["num_errors"], 0);
    worker.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_call_cancels_it_on_the_worker_within_100_ms() {
    let server = NatsServer::start("");
    let worker = worker("cancels")
        .timeout(Duration::from_secs(60))
        .start(&Connect::new([server.url()]))
        .await
        .unwrap();
    let remote = remote(&server, "cancels").await;
    let call = call_remote_probe(&remote);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !PROBE_STARTED.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the probe did not start");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let cancelled_at = Instant::now();
    call.cancel();
    while !PROBE_DROPPED.load(Ordering::SeqCst) {
        assert!(
            cancelled_at.elapsed() < Duration::from_secs(5),
            "the worker never dropped the call"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let took = cancelled_at.elapsed();
    println!("cancel reached the worker in {took:?}");
    assert!(took < Duration::from_millis(100), "took {took:?}");
    assert!(matches!(call.await, Err(CallError::Cancelled)));
    worker.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_worker_refuses_and_the_caller_retries_on_an_idle_one() {
    let server = NatsServer::start("");
    let connect = Connect::new([server.url()]);
    let busy = worker("overload")
        .timeout(Duration::from_secs(5))
        .concurrency_limit(1)
        .start(&connect)
        .await
        .unwrap();
    let remote = remote(&server, "overload").await;
    // One worker, one slot, two calls: the second is refused `overloaded` until the deadline.
    let first = call_remote_sleep(&remote, 1_500);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let short = remote.clone().with_timeout(Duration::from_millis(300));
    let error = call_remote_sleep(&short, 1).await.unwrap_err();
    assert_eq!(rejected(&error), (503, "overloaded"));
    // A second worker joins: the retried call lands there.
    let idle = worker("overload")
        .concurrency_limit(1)
        .start(&connect)
        .await
        .unwrap();
    let started = Instant::now();
    assert_eq!(call_remote_sleep(&remote, 1).await.unwrap(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(first.await.unwrap(), 1_500);
    busy.stop().await.unwrap();
    idle.stop().await.unwrap();
}

/// A worker leaving under load finishes every call it took, and its group takes the rest.
///
/// What it cannot save is a request the server routed to it in the moment it unsubscribed:
/// async-nats (0.46 to 0.52) ends a drained subscription before the server confirms the
/// unsubscribe (its PONG), and drops what arrives for it after that. Such a call never reached
/// the worker and ends at its caller's timeout. This test holds those losses to what can be in
/// flight (the load's 32 concurrent calls) and allows no other failure: no refusal, no
/// `shutting_down`, no wrong value, no call the worker took and did not answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_leaving_gracefully_under_load_finishes_every_call_it_took() {
    const CONCURRENT: usize = 32;
    let server = NatsServer::start("");
    let connect = Connect::new([server.url()]);
    // What this tests is the leaving, not timeouts: a call of a few milliseconds must not fail
    // because a loaded machine held it past the other tests' 800 ms.
    let staying = worker("leave")
        .timeout(Duration::from_secs(10))
        .start(&connect)
        .await
        .unwrap();
    let leaving = worker("leave")
        .timeout(Duration::from_secs(10))
        .start(&connect)
        .await
        .unwrap();
    let remote = remote(&server, "leave").await;
    let done = AtomicUsize::new(0);
    let load = async {
        let mut calls = futures_util::stream::iter(0..2_000u64)
            .map(|i| {
                let remote = remote.clone();
                async move { (i, call_remote_counted_sleep(&remote, i % 3).await) }
            })
            .buffer_unordered(CONCURRENT);
        let (mut lost, mut failed) = (0, Vec::new());
        while let Some((i, outcome)) = calls.next().await {
            match outcome {
                Ok(value) => assert_eq!(value, i % 3),
                // Never reached a worker: the drain's moment (see above).
                Err(error) if error.is_timeout() => lost += 1,
                Err(error) => failed.push(error.to_string()),
            }
            done.fetch_add(1, Ordering::Relaxed);
        }
        (lost, failed)
    };
    let leave = async {
        while done.load(Ordering::Relaxed) < 500 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        leaving.stop().await.unwrap();
    };
    let ((lost, failed), ()) = tokio::join!(load, leave);
    assert!(
        failed.is_empty(),
        "{} calls failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(
        lost <= CONCURRENT,
        "{lost} calls were lost: more than could be in flight"
    );
    // Every call a worker ran was answered: the lost ones never reached a worker.
    assert_eq!(
        COUNTED_RUNS.load(Ordering::SeqCst),
        2_000 - lost,
        "a worker ran a call it did not answer"
    );
    if lost > 0 {
        eprintln!("{lost} calls were routed to the leaving worker as it unsubscribed, and lost");
    }
    // The group goes on without it: every call now reaches the staying worker.
    for i in 0..50 {
        assert_eq!(
            call_remote_counted_sleep(&remote, i % 3).await.unwrap(),
            i % 3
        );
    }
    staying.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_call_timeout_ends_the_call_here_and_on_the_worker() {
    let server = NatsServer::start("");
    let worker = worker("timeouts")
        .timeout(Duration::from_secs(60))
        .start(&Connect::new([server.url()]))
        .await
        .unwrap();
    let remote = remote(&server, "timeouts").await;
    let started = Instant::now();
    let error = call_remote_timed_probe(&remote)
        .timeout(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let deadline = Instant::now() + Duration::from_secs(2);
    while !TIMED_DROPPED.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the worker kept running a call its caller timed out"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The remote's default deadline applies to every call.
    let short = remote.clone().with_timeout(Duration::from_millis(100));
    assert!(
        call_remote_sleep(&short, 2_000)
            .await
            .unwrap_err()
            .is_timeout()
    );
    worker.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_go_through_the_connect_options() {
    use nonblocking_runtime::nats::async_nats::ConnectOptions;
    let server = NatsServer::start("authorization { user: \"svc\", password: \"s3cret\" }");
    let login = Connect::new([server.url()])
        .options(|| ConnectOptions::new().user_and_password("svc".into(), "s3cret".into()));
    let worker = worker("login").start(&login).await.unwrap();
    let remote = Remote::builder()
        .prefix("login")
        .connect(&login)
        .await
        .unwrap();
    assert_eq!(call_remote_add(&remote, 2, 2).await.unwrap(), 4);
    // Without them the server refuses the connection, with a clear error.
    let anonymous =
        Connect::new([server.url()]).options(|| ConnectOptions::new().max_reconnects(1));
    let error = Remote::builder()
        .prefix("login")
        .connect(&anonymous)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CallError::Transport(_))
            && error.to_string().contains("could not connect to NATS"),
        "{error}"
    );
    worker.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_still_running_when_the_grace_ends_is_answered_shutting_down() {
    let server = NatsServer::start("");
    let worker = worker("grace")
        .timeout(Duration::from_secs(60))
        .shutdown_grace(Duration::from_millis(200))
        .start(&Connect::new([server.url()]))
        .await
        .unwrap();
    let remote = remote(&server, "grace").await;
    let call = call_remote_sleep(&remote, 5_000);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    worker.stop().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "stop waited past the grace: {:?}",
        started.elapsed()
    );
    // Accepted, then stopped by the shutdown: a clear refusal, not retried, not a timeout.
    assert_eq!(rejected(&call.await.unwrap_err()), (503, "shutting_down"));
}

/// A worker asked to stop while NATS is unreachable leaves within its grace (plus the second
/// it allows for answering what it stopped), however long the outage lasts: its drain and its
/// final flush cannot complete, and are not waited for past the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stops_within_its_grace_while_nats_is_unreachable() {
    let mut server = NatsServer::start("");
    let worker = worker("outage")
        .shutdown_grace(Duration::from_secs(2))
        .start(&Connect::new([server.url()]))
        .await
        .unwrap();
    server.kill();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let stopped = tokio::time::timeout(Duration::from_secs(20), worker.stop()).await;
    let took = started.elapsed();
    assert!(stopped.is_ok(), "stop() still running after {took:?}");
    assert!(
        took < Duration::from_millis(3_500),
        "stop() took {took:?} with a 2 s grace"
    );
}

/// The length of a text, to send payloads of a chosen size.
#[server_function(name = "nats.length")]
fn length(text: String) -> usize {
    text.len()
}

/// The worker enforces its own payload limit, whatever the NATS server's `max_payload` lets
/// through (8 MiB here): a larger call is refused `413 payload_too_large` and never runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_over_the_workers_limit_is_refused_before_it_runs() {
    let server = NatsServer::start("max_payload: 8388608");
    let worker = worker("limits")
        .body_limit(64 * 1024)
        .start(&Connect::new([server.url()]))
        .await
        .unwrap();
    let remote = remote(&server, "limits").await;
    let under = "x".repeat(60 * 1024);
    assert_eq!(
        remote
            .call_async_by_name::<usize>("nats.length", (under,))
            .await
            .unwrap(),
        60 * 1024
    );
    let over = "x".repeat(2 * 1024 * 1024);
    let error = remote
        .call_async_by_name::<usize>("nats.length", (over,))
        .await
        .unwrap_err();
    assert_eq!(rejected(&error), (413, "payload_too_large"));
    assert!(error.to_string().contains("65536"), "{error}");
    // The default is the HTTP server's: 1 MiB.
    assert!(format!("{:?}", Worker::builder()).contains("body_limit: 1048576"));
    worker.stop().await.unwrap();
}

/// The test servers' own guard: free ports can collide between tests that run at once, and a
/// server that cannot bind exits while the other one answers on its port (two tests would then
/// share a server). A server checks its own name in the INFO line and moves on if it is not
/// the one answering.
#[test]
fn a_test_server_whose_port_is_taken_starts_on_another() {
    let first = NatsServer::start("");
    let second = NatsServer::start_at(first.port, "");
    assert_ne!(second.port, first.port);
    assert!(std::net::TcpStream::connect(("127.0.0.1", second.port)).is_ok());
}
