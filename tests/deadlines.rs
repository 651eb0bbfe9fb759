//! The caller's deadline travels with the call (the time it still waits, in milliseconds): the
//! server stops the function when the caller stops waiting, even where its own timeout is
//! longer, and refuses a call that arrives with no time left without running it. Over HTTP and
//! over NATS, against real servers.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nonblocking_runtime::http::{Remote, Server};
use nonblocking_runtime::nats::{Connect, Worker};
use nonblocking_runtime::remote::TIMEOUT_HEADER;
use nonblocking_runtime::{CallError, server_function};
use support::nats_server::NatsServer;

/// Per transport (the tests run at once): calls of `deadline.sleep` started, and dropped
/// before they finished.
struct Counts {
    started: AtomicUsize,
    dropped: AtomicUsize,
}

static HTTP: Counts = Counts {
    started: AtomicUsize::new(0),
    dropped: AtomicUsize::new(0),
};
static NATS: Counts = Counts {
    started: AtomicUsize::new(0),
    dropped: AtomicUsize::new(0),
};

struct Unfinished(&'static Counts);

impl Drop for Unfinished {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

#[server_function(name = "deadline.sleep")]
async fn sleep(via: String, ms: u64) -> u64 {
    let counts = if via == "nats" { &NATS } else { &HTTP };
    counts.started.fetch_add(1, Ordering::SeqCst);
    let unfinished = Unfinished(counts);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    std::mem::forget(unfinished);
    ms
}

/// What the authorize hook saw in the timeout header.
type Seen = Arc<Mutex<Vec<Option<Duration>>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_the_callers_deadline_stops_the_function_and_an_expired_one_never_runs_it() {
    let seen = Seen::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/rpc", listener.local_addr().unwrap());
    let server = {
        let seen = Arc::clone(&seen);
        Server::builder()
            .prefix("/rpc")
            .timeout(Duration::from_secs(30))
            .authorize(move |caller, _| {
                seen.lock().unwrap().push(caller.timeout().ok().flatten());
                Ok(())
            })
            .build()
            .unwrap()
    };
    tokio::spawn(server.serve(listener, std::future::pending()));

    // A client that does not time out itself, sending a 200 ms deadline: the server's 30 s
    // timeout does not apply, the caller's does.
    let short = Remote::builder(&url)
        .header(TIMEOUT_HEADER, "200")
        .build()
        .unwrap();
    let started = Instant::now();
    let error = short
        .call_async_by_name::<u64>("deadline.sleep", ("http", 5_000))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(error, CallError::TimedOut(after) if after == Duration::from_millis(200)),
        "{error:?}"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(
        HTTP.dropped.load(Ordering::SeqCst),
        1,
        "the server stopped the function"
    );

    // No time left: refused, never run.
    let expired = Remote::builder(&url)
        .header(TIMEOUT_HEADER, "0")
        .build()
        .unwrap();
    let before = HTTP.started.load(Ordering::SeqCst);
    let error = expired
        .call_async_by_name::<u64>("deadline.sleep", ("http", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(error, CallError::TimedOut(after) if after.is_zero()),
        "{error:?}"
    );
    assert_eq!(
        HTTP.started.load(Ordering::SeqCst),
        before,
        "an expired call never runs"
    );

    let garbled = Remote::builder(&url)
        .header(TIMEOUT_HEADER, "soon")
        .build()
        .unwrap();
    let error = garbled
        .call_async_by_name::<u64>("deadline.sleep", ("http", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, CallError::Rejected(rejected) if rejected.code == "bad_request"),
        "{error:?}"
    );

    // The client's own timeout travels by itself.
    let remote = Remote::builder(&url)
        .timeout(Duration::from_millis(1_500))
        .build()
        .unwrap();
    assert_eq!(
        remote
            .call_async_by_name::<u64>("deadline.sleep", ("http", 1))
            .await
            .unwrap(),
        1
    );
    let sent = seen
        .lock()
        .unwrap()
        .last()
        .copied()
        .flatten()
        .expect("a timeout header");
    assert_eq!(sent, Duration::from_millis(1_500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_nats_the_callers_deadline_stops_the_function_and_an_expired_one_never_runs_it() {
    let seen = Seen::default();
    let server = NatsServer::start("");
    let connect = Connect::new([server.url()]);
    let worker = {
        let seen = Arc::clone(&seen);
        Worker::builder()
            .prefix("deadlines")
            .timeout(Duration::from_secs(30))
            .authorize(move |caller, _| {
                seen.lock().unwrap().push(caller.timeout().ok().flatten());
                Ok(())
            })
            .start(&connect)
            .await
            .unwrap()
    };
    // A plain NATS request (no call id, so no cancel can be what stops it), with a 200 ms
    // deadline: the worker's 30 s timeout does not apply, the caller's does.
    let client = nonblocking_runtime::nats::async_nats::connect(server.url())
        .await
        .unwrap();
    let request = |left: &str, ms: u64| {
        let mut headers = nonblocking_runtime::nats::async_nats::HeaderMap::new();
        headers.insert(TIMEOUT_HEADER, left);
        let payload = serde_json::to_vec(&("nats", ms)).unwrap();
        client.request_with_headers("deadlines.deadline.sleep", headers, payload.into())
    };
    let status = |message: &nonblocking_runtime::nats::async_nats::Message| {
        message
            .headers
            .as_ref()
            .and_then(|headers| headers.get("Nats-Service-Error-Code"))
            .map(|code| code.as_str().to_owned())
    };
    let started = Instant::now();
    let reply = request("200", 5_000).await.unwrap();
    assert_eq!(status(&reply).as_deref(), Some("504"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        NATS.dropped.load(Ordering::SeqCst),
        1,
        "the worker stopped the function"
    );

    let before = NATS.started.load(Ordering::SeqCst);
    let reply = request("0", 1).await.unwrap();
    assert_eq!(status(&reply).as_deref(), Some("504"));
    assert_eq!(
        NATS.started.load(Ordering::SeqCst),
        before,
        "an expired call never runs"
    );

    // The remote's deadline travels by itself, as the time left.
    let remote = nonblocking_runtime::nats::Remote::builder()
        .prefix("deadlines")
        .timeout(Duration::from_millis(1_500))
        .connect(&connect)
        .await
        .unwrap();
    assert_eq!(
        remote
            .call_async_by_name::<u64>("deadline.sleep", ("nats", 1))
            .await
            .unwrap(),
        1
    );
    let sent = seen
        .lock()
        .unwrap()
        .last()
        .copied()
        .flatten()
        .expect("a timeout header");
    assert!(
        sent <= Duration::from_millis(1_500) && sent > Duration::from_millis(1_000),
        "{sent:?}"
    );
    worker.stop().await.unwrap();
}
