//! The NATS worker as an operator and an attacker see it, against a real `nats-server`:
//! `$SRV.STATS` counts what was answered, and a cancel reaches only the worker running the
//! call, only with the call's id, and only from a caller the authorize hook allows.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use nonblocking_runtime::nats::{Connect, Remote, Worker, WorkerBuilder};
use nonblocking_runtime::remote::Refusal;
use nonblocking_runtime::{CallError, server_function};
use serde_json::Value;
use support::nats_server::NatsServer;

#[server_function(name = "svc.add")]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Per test (the tests run at once): how many `svc.slow` calls started, and how many were
/// dropped before they finished.
struct Counts {
    started: AtomicUsize,
    dropped: AtomicUsize,
}

static STATS: Counts = Counts::new();
static ROUTED: Counts = Counts::new();
static GUARDED: Counts = Counts::new();
static EARLY: Counts = Counts::new();

impl Counts {
    const fn new() -> Self {
        Counts {
            started: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
        }
    }

    fn of(test: &str) -> &'static Counts {
        match test {
            "routed" => &ROUTED,
            "guarded" => &GUARDED,
            "early" => &EARLY,
            _ => &STATS,
        }
    }

    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }
}

struct Unfinished(&'static Counts);

impl Drop for Unfinished {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[server_function(name = "svc.slow")]
async fn slow(test: String, ms: u64) -> u64 {
    let counts = Counts::of(&test);
    let unfinished = Unfinished(counts);
    counts.started.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    std::mem::forget(unfinished);
    ms
}

/// A worker whose authorize hook lets only `x-user: alice` (or no user, for `svc.add`) call.
fn worker(prefix: &str) -> WorkerBuilder {
    Worker::builder()
        .prefix(prefix)
        .service("svc-tests", "1.0.0")
        .expose(["svc.add", "svc.slow"])
        .timeout(Duration::from_secs(30))
        .authorize(
            |caller, function| match (function.name(), caller.get("x-user")) {
                ("svc.add", _) => Ok(()),
                (_, Some(user)) if user == "alice" => Ok(()),
                _ => Err(Refusal::Forbidden("only alice".into())),
            },
        )
}

async fn remote(server: &NatsServer, prefix: &str, user: &str) -> Remote {
    Remote::builder()
        .prefix(prefix)
        .header("x-user", user)
        .timeout(Duration::from_secs(10))
        .connect(&Connect::new([server.url()]))
        .await
        .expect("the caller connects")
}

async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srv_stats_count_requests_errors_processing_time_and_the_last_error() {
    let server = NatsServer::start("");
    let worker = worker("stats")
        .start(&Connect::new([server.url()]))
        .await
        .unwrap();
    let alice = remote(&server, "stats", "alice").await;
    for i in 0..5 {
        let sum: i64 = alice.call_async_by_name("svc.add", (i, 1)).await.unwrap();
        assert_eq!(sum, i + 1);
    }
    // Two error answers: bad arguments, and a refusal by the hook.
    let bad = alice
        .call_async_by_name::<i64>("svc.add", ("one", 1))
        .await
        .unwrap_err();
    assert!(matches!(bad, CallError::InvalidArguments(_)), "{bad:?}");
    let mallory = remote(&server, "stats", "mallory").await;
    let refused = mallory
        .call_async_by_name::<u64>("svc.slow", ("stats", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, CallError::Rejected(rejected) if rejected.code == "forbidden"),
        "{refused:?}"
    );

    let client = alice.client();
    let stats = client
        .request(format!("$SRV.STATS.svc-tests.{}", worker.id()), "".into())
        .await
        .unwrap();
    let stats: Value = serde_json::from_slice(&stats.payload).unwrap();
    assert_eq!(stats["type"], "io.nats.micro.v1.stats_response");
    assert_eq!(stats["id"], worker.id());
    assert!(
        stats["started"]
            .as_str()
            .is_some_and(|started| started.contains('T')),
        "{stats}"
    );
    let endpoint = |name: &str| {
        stats["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|endpoint| endpoint["name"] == name)
            .cloned()
            .unwrap()
    };
    let add = endpoint("svc_add");
    assert_eq!(add["num_requests"], 6, "{add}");
    assert_eq!(add["num_errors"], 1, "{add}");
    assert!(add["processing_time"].as_u64().unwrap() > 0, "{add}");
    assert!(
        add["average_processing_time"].as_u64().unwrap() > 0,
        "{add}"
    );
    assert!(
        add["last_error"].as_str().unwrap().starts_with("422:"),
        "{add}"
    );
    let slow = endpoint("svc_slow");
    assert_eq!(
        (slow["num_requests"].as_u64(), slow["num_errors"].as_u64()),
        (Some(1), Some(1)),
        "{slow}"
    );
    assert_eq!(slow["last_error"], "403:only alice");
    assert_eq!(slow["queue_group"], "nonblocking");

    // PING and INFO answer on all three subjects: every service, this name, this instance.
    for subject in [
        "$SRV.PING".to_owned(),
        "$SRV.PING.svc-tests".to_owned(),
        format!("$SRV.PING.svc-tests.{}", worker.id()),
    ] {
        let ping: Value = serde_json::from_slice(
            &client
                .request(subject.clone(), "".into())
                .await
                .unwrap()
                .payload,
        )
        .unwrap();
        assert_eq!(ping["type"], "io.nats.micro.v1.ping_response", "{subject}");
        assert_eq!(
            (ping["name"].as_str(), ping["version"].as_str()),
            (Some("svc-tests"), Some("1.0.0"))
        );
    }
    let info: Value = serde_json::from_slice(
        &client
            .request("$SRV.INFO.svc-tests", "".into())
            .await
            .unwrap()
            .payload,
    )
    .unwrap();
    assert_eq!(info["type"], "io.nats.micro.v1.info_response");
    assert_eq!(info["endpoints"].as_array().unwrap().len(), 2);
    worker.stop().await.unwrap();
}

/// Two workers under one prefix; a slow call runs on one of them. Its cancel must go to that
/// worker alone (its subject names the worker), carry the call's id, and stop the call there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_goes_only_to_the_worker_running_the_call() {
    let server = NatsServer::start("");
    let connect = Connect::new([server.url()]);
    let workers = [
        worker("routed").start(&connect).await.unwrap(),
        worker("routed").start(&connect).await.unwrap(),
    ];
    let remote = remote(&server, "routed", "alice").await;
    // Everything published under the cancel subjects' root, as an operator would watch it.
    let mut cancels = remote
        .client()
        .subscribe("_nonblocking.cancel.>")
        .await
        .unwrap();
    remote.client().flush().await.unwrap();

    let call = remote.call_async_by_name::<u64>("svc.slow", ("routed", 20_000));
    wait_until("the slow call starts", || ROUTED.started() == 1).await;
    // Past the moment after which the worker says where it runs the call.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let cancelled_at = Instant::now();
    call.cancel();
    wait_until("the worker drops the call", || ROUTED.dropped() == 1).await;
    println!("cancel reached the worker in {:?}", cancelled_at.elapsed());

    let message = tokio::time::timeout(Duration::from_secs(2), cancels.next())
        .await
        .unwrap()
        .unwrap();
    let ids: Vec<&str> = workers.iter().map(Worker::id).collect();
    let to = message.subject.as_str();
    assert!(
        ids.iter()
            .filter(|id| to.ends_with(&format!(".{id}")))
            .count()
            == 1,
        "{to} names one of {ids:?}"
    );
    assert_eq!(message.payload.len(), 32, "the call's random id");
    // Nothing else was published: no broadcast to the other worker.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), cancels.next())
            .await
            .is_err()
    );
    for worker in workers {
        worker.stop().await.unwrap();
    }
}

/// Someone who can publish, and even sees the request (and so its id), but whom the authorize
/// hook does not allow to call the function, cannot cancel it; the caller can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_needs_the_call_id_and_the_authorize_hooks_consent() {
    let server = NatsServer::start("");
    let worker = worker("guarded")
        .start(&Connect::new([server.url()]))
        .await
        .unwrap();
    let alice = remote(&server, "guarded", "alice").await;
    let mallory = async_nats::connect(server.url()).await.unwrap();
    let mut requests = mallory.subscribe("guarded.svc.slow").await.unwrap();
    mallory.flush().await.unwrap();

    let call = alice.call_async_by_name::<u64>("svc.slow", ("guarded", 1_500));
    let request = tokio::time::timeout(Duration::from_secs(5), requests.next())
        .await
        .unwrap()
        .unwrap();
    let id = request
        .headers
        .as_ref()
        .unwrap()
        .get("Nonblocking-Call-Id")
        .unwrap()
        .as_str()
        .to_owned();
    // The worker's cancel subject is no secret (`$SRV.INFO` gives its id): here it is known.
    let notice = format!("_nonblocking.cancel.guarded.{}", worker.id());
    wait_until("the slow call starts", || GUARDED.started() == 1).await;
    // Past the moment after which the worker takes cancels for it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Forged cancels: the right subject, with the right id but the wrong user, or with a guessed id.
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("x-user", "mallory");
    mallory
        .publish_with_headers(notice.clone(), headers, id.clone().into())
        .await
        .unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("x-user", "alice");
    mallory
        .publish_with_headers(
            notice.clone(),
            headers,
            "0123456789abcdef0123456789abcdef".into(),
        )
        .await
        .unwrap();
    mallory.flush().await.unwrap();
    assert_eq!(call.await.unwrap(), 1_500, "the call ran to its end");
    assert_eq!(GUARDED.dropped(), 0, "no forged cancel stopped it");

    // The caller's own cancel, with alice's headers, stops a second call.
    let call = alice.call_async_by_name::<u64>("svc.slow", ("guarded", 20_000));
    tokio::time::sleep(Duration::from_millis(200)).await;
    call.cancel();
    wait_until("alice's cancel stops the call", || GUARDED.dropped() == 1).await;
    worker.stop().await.unwrap();
}

/// A cancel sent before the worker's notice (the call just started) is not lost: the caller
/// waits for the notice, then cancels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_sent_at_once_still_stops_the_call() {
    let server = NatsServer::start("");
    let worker = worker("early")
        .start(&Connect::new([server.url()]))
        .await
        .unwrap();
    let remote = remote(&server, "early", "alice").await;
    for round in 1..=5 {
        let call = remote.call_async_by_name::<u64>("svc.slow", ("early", 20_000));
        wait_until("the slow call starts", || EARLY.started() == round).await;
        call.cancel();
        wait_until("the worker drops the call", || EARLY.dropped() == round).await;
    }
    worker.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interceptor_sets_headers_the_workers_hook_sees() {
    let server = NatsServer::start("");
    let worker = worker("intercepted")
        .start(&Connect::new([server.url()]))
        .await
        .unwrap();
    let user = std::sync::Arc::new(std::sync::Mutex::new(String::from("mallory")));
    let remote = {
        let user = std::sync::Arc::clone(&user);
        Remote::builder()
            .prefix("intercepted")
            .timeout(Duration::from_secs(10))
            .intercept(move |function, headers| {
                assert!(function.starts_with("svc."), "{function}");
                headers.insert("x-user", &user.lock().unwrap()).unwrap();
            })
            .connect(&Connect::new([server.url()]))
            .await
            .unwrap()
    };
    let refused = remote
        .call_async_by_name::<u64>("svc.slow", ("stats", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, CallError::Rejected(rejected) if rejected.code == "forbidden"),
        "{refused:?}"
    );
    *user.lock().unwrap() = "alice".into();
    assert_eq!(
        remote
            .call_async_by_name::<u64>("svc.slow", ("stats", 1))
            .await
            .unwrap(),
        1
    );
    // Kept by a per-call variant.
    let variant = remote.with_header("x-trace", "1").unwrap();
    assert_eq!(
        variant
            .call_async_by_name::<u64>("svc.slow", ("stats", 1))
            .await
            .unwrap(),
        1
    );
    worker.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_group_is_configurable_and_reported() {
    let server = NatsServer::start("");
    let connect = Connect::new([server.url()]);
    let canary = worker("grouped")
        .queue_group("canary")
        .start(&connect)
        .await
        .unwrap();
    let client = async_nats::connect(server.url()).await.unwrap();
    let info = client
        .request(format!("$SRV.INFO.svc-tests.{}", canary.id()), "".into())
        .await
        .unwrap();
    let info: Value = serde_json::from_slice(&info.payload).unwrap();
    let groups: Vec<&str> = info["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|endpoint| endpoint["queue_group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["canary", "canary"]);
    // And it serves from that group.
    let alice = remote(&server, "grouped", "alice").await;
    assert_eq!(
        alice
            .call_async_by_name::<i64>("svc.add", (1, 2))
            .await
            .unwrap(),
        3
    );
    canary.stop().await.unwrap();
}
