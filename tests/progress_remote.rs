//! Progress over the wire: a server function's reports reach the remote caller's
//! `on_progress` while it runs (in order, the latest when the caller is slow, the last one
//! before the result); a refusal keeps its status; an error after some progress ends the
//! call with that error; the server's timeout and the caller's cancel stop the function
//! mid-progress; a streaming call holds its concurrency slot while it runs; a reply cut off
//! before its answer is a transport error. Over HTTP and NATS (real servers) and in process.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nonblocking_runtime::http::{Remote, Server};
use nonblocking_runtime::nats::{self, Connect, Worker, WorkerBuilder};
use nonblocking_runtime::progress::Progress;
use nonblocking_runtime::remote::{InProcess, Transport};
use nonblocking_runtime::{AsyncCall, CallError, server_function};
use support::nats_server::NatsServer;
use support::runs::Runs;
use support::wait_for;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[server_function(name = "progress_remote.count")]
async fn count(to: u32, pause_us: u64, #[context] progress: Progress<u32>) -> u32 {
    for done in 1..=to {
        if pause_us > 0 {
            tokio::time::sleep(Duration::from_micros(pause_us)).await;
        } else if done % 100 == 0 {
            // Bursts of reports, faster than anyone could take them.
            tokio::task::yield_now().await;
        }
        progress.report(done);
    }
    to
}

/// `count` as a sync function: it runs on the blocking pool.
#[server_function(name = "progress_remote.count_sync")]
fn count_sync(to: u32, #[context] progress: Progress<u32>) -> u32 {
    for done in 1..=to {
        std::thread::sleep(Duration::from_micros(200));
        progress.report(done);
    }
    to
}

#[derive(Debug, thiserror::Error, serde::Serialize)]
#[error("the import broke at row {row}")]
struct Broke {
    row: u32,
}

#[server_function(name = "progress_remote.breaks")]
async fn breaks(at: u32, #[context] progress: Progress<u32>) -> Result<u32, Broke> {
    for row in 1..at {
        tokio::task::yield_now().await;
        progress.report(row);
    }
    Err(Broke { row: at })
}

/// Runs of `progress_remote.forever` and `flood`, by tag.
static RUNS: Runs = Runs::new();

/// Reports every 10 ms and never ends on its own.
#[server_function(name = "progress_remote.forever")]
async fn forever(tag: usize, #[context] progress: Progress<u64>) -> u8 {
    RUNS.started(tag);
    let _unfinished = RUNS.unfinished(tag);
    for tick in 1.. {
        progress.report(tick);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    unreachable!()
}

/// Reports a 1 KiB value as fast as it can, forever (counted in `RUNS.drops(tag)` when stopped).
#[server_function(name = "progress_remote.flood")]
async fn flood(tag: usize, #[context] progress: Progress<String>) -> u8 {
    let _unfinished = RUNS.unfinished(tag);
    let filler = "x".repeat(1_000);
    for tick in 0u64.. {
        progress.report(format!("{tick} {filler}"));
        tokio::task::yield_now().await;
    }
    unreachable!()
}

/// What the handlers saw, in order.
type Seen = Arc<Mutex<Vec<String>>>;

/// Attaches a progress handler and a result handler that record into one list.
fn watched<T: std::fmt::Debug + Send + Sync + 'static>(
    call: AsyncCall<T>,
    seen: &Seen,
) -> AsyncCall<T> {
    let (progress, result) = (Arc::clone(seen), Arc::clone(seen));
    call.on_progress(move |value: serde_json::Value| {
        progress.lock().unwrap().push(value.to_string())
    })
    .on_result(move |value| result.lock().unwrap().push(format!("result {value:?}")))
}

/// The progress values are increasing and end with `last`, just before the result.
fn check_order(seen: &[String], last: u32, result: &str) {
    let (end, progress) = seen.split_last().expect("something was seen");
    assert_eq!(end, result, "{seen:?}");
    let values: Vec<u32> = progress
        .iter()
        .map(|value| value.parse().unwrap())
        .collect();
    assert_eq!(
        values.last(),
        Some(&last),
        "the last value arrives before the result: {seen:?}"
    );
    assert!(
        values.windows(2).all(|pair| pair[0] < pair[1]),
        "in order: {values:?}"
    );
}

/// What every transport must do with progress.
async fn progress_cases(remote: &impl Transport, tag: usize) {
    // Every value, in order, the last before the result.
    for _ in 0..20 {
        let seen = Seen::default();
        let call = watched(call_remote_count(remote, 50, 200), &seen);
        assert_eq!(call.await.unwrap(), 50);
        check_order(&seen.lock().unwrap(), 50, "result 50");
    }

    // A slow handler sees the latest value, not a queue: far fewer than were reported.
    let handled = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(AtomicUsize::new(0));
    let (counter, latest) = (Arc::clone(&handled), Arc::clone(&last));
    let call = call_remote_count(remote, 5_000, 0).on_progress(move |value: u32| {
        std::thread::sleep(Duration::from_millis(5));
        counter.fetch_add(1, Ordering::SeqCst);
        latest.store(value as usize, Ordering::SeqCst);
    });
    assert_eq!(call.await.unwrap(), 5_000);
    let handled = handled.load(Ordering::SeqCst);
    assert!(
        handled < 1_000,
        "a slow handler is not queued every value: {handled} handled"
    );
    assert_eq!(
        last.load(Ordering::SeqCst),
        5_000,
        "and it sees the last one"
    );

    // A sync function (on the blocking pool), and a call by name, report the same way.
    let seen = Seen::default();
    let call = watched(call_remote_count_sync(remote, 30), &seen);
    assert_eq!(call.await.unwrap(), 30);
    check_order(&seen.lock().unwrap(), 30, "result 30");
    let seen = Seen::default();
    let call = watched(
        remote.call_async_by_name::<u32>("progress_remote.count", (30, 200)),
        &seen,
    );
    assert_eq!(call.await.unwrap(), 30);
    check_order(&seen.lock().unwrap(), 30, "result 30");

    // On a UI thread: in order, the last before the result, all on this thread.
    let ui = nonblocking_runtime::ui::UiContext::new(|| {});
    let shown = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let (bar, done) = (std::rc::Rc::clone(&shown), std::rc::Rc::clone(&shown));
    let call = call_remote_count(remote, 30, 300)
        .on_progress_ui(&ui, move |value: u32| {
            bar.borrow_mut().push(value.to_string())
        })
        .on_result_ui(&ui, move |value| {
            done.borrow_mut().push(format!("result {value}"))
        });
    while shown
        .borrow()
        .last()
        .is_none_or(|last| !last.starts_with("result"))
    {
        ui.pump();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(call.is_finished());
    check_order(&shown.borrow(), 30, "result 30");

    // An error after some progress: the progress, then the error, as any caller gets it.
    let seen = Seen::default();
    let call = call_remote_breaks(remote, 5);
    let errors = Arc::clone(&seen);
    let call = call
        .on_progress({
            let seen = Arc::clone(&seen);
            move |value: u32| seen.lock().unwrap().push(value.to_string())
        })
        .on_error(move |error| errors.lock().unwrap().push(format!("error {error}")));
    let error = call.await.unwrap_err();
    assert!(matches!(&error, CallError::Failed(_)), "{error:?}");
    assert!(error.to_string().contains("row 5"), "{error}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.last().unwrap(), &format!("error {error}"));
    assert_eq!(
        seen[seen.len() - 2],
        "4",
        "the last progress before the error: {seen:?}"
    );

    // Cancelling the call stops the function on the server.
    let (started, dropped) = (RUNS.starts(tag), RUNS.drops(tag));
    let ticks = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&ticks);
    let call = call_remote_forever(remote, tag).on_progress(move |_: u64| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    wait_for("progress before the cancel", || {
        ticks.load(Ordering::SeqCst) >= 3
    })
    .await;
    call.cancel();
    assert!(matches!(call.await, Err(CallError::Cancelled)));
    wait_for("the function dropped on the server", || {
        RUNS.drops(tag) == dropped + 1
    })
    .await;
    assert_eq!(RUNS.starts(tag), started + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http() {
    let url = support::http::serve(Server::builder()).await;
    progress_cases(&Remote::new(&url).unwrap(), 0).await;
}

/// A NATS server, `worker` started on it under `prefix`, and a remote calling it (20 s
/// deadline).
async fn over_nats_with(worker: WorkerBuilder, prefix: &str) -> (NatsServer, Worker, nats::Remote) {
    let server = NatsServer::start("");
    let connect = Connect::new([server.url()]);
    let worker = worker.prefix(prefix).start(&connect).await.unwrap();
    let remote = nats::Remote::builder()
        .prefix(prefix)
        .timeout(Duration::from_secs(20))
        .connect(&connect)
        .await
        .unwrap();
    (server, worker, remote)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_nats() {
    let (_server, worker, remote) = over_nats_with(Worker::builder(), "progress").await;
    progress_cases(&remote, 3).await;
    worker.stop().await.unwrap();
}

/// On one thread: an in-process call starts at once, and could finish (and close its
/// progress, as documented) before the handlers are attached on another.
#[tokio::test]
async fn in_process() {
    progress_cases(&InProcess::builder().build().unwrap(), 1).await;
}

/// What the limits do to a call that reports progress, on a server whose timeout is 400 ms and
/// concurrency limit 1: the timeout and the caller's deadline stop it mid-progress, and it holds
/// its slot while it runs.
async fn limit_cases<T: Transport>(remote: &T, short: &T, tag: usize) {
    let dropped = RUNS.drops(tag);
    let ticks = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&ticks);
    let streaming = call_remote_forever(remote, tag).on_progress(move |_: u64| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    wait_for("progress", || ticks.load(Ordering::SeqCst) >= 2).await;
    // Progress is on its way (over HTTP the response's status was sent): the slot is taken.
    let refused = call_remote_count(short, 1, 0).await.unwrap_err();
    assert!(
        matches!(refused, CallError::Rejected(ref rejected) if rejected.code == "overloaded"),
        "{refused:?}"
    );
    // The timeout still ends it, as a terminal error frame, and the function is dropped.
    let error = streaming.await.unwrap_err();
    assert!(
        matches!(error, CallError::TimedOut(after) if after == Duration::from_millis(400)),
        "{error:?}"
    );
    wait_for("the function dropped", || RUNS.drops(tag) == dropped + 1).await;
    // The slot is free again.
    assert_eq!(call_remote_count(remote, 1, 0).await.unwrap(), 1);

    // The caller's own deadline (150 ms, under the server's 400) stops it on the server too.
    let error = call_remote_forever(short, tag)
        .on_progress(|_: u64| {})
        .await
        .unwrap_err();
    assert!(matches!(error, CallError::TimedOut(_)), "{error:?}");
    wait_for("the function stopped at the caller's deadline", || {
        RUNS.drops(tag) == dropped + 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_the_limits_hold_for_a_call_that_reports_progress() {
    let url = support::http::serve(
        Server::builder()
            .timeout(Duration::from_millis(400))
            .concurrency_limit(1),
    )
    .await;
    let remote = Remote::new(&url).unwrap();
    limit_cases(&remote, &remote.with_timeout(Duration::from_millis(150)), 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_nats_the_limits_hold_for_a_call_that_reports_progress() {
    let limited = Worker::builder()
        .timeout(Duration::from_millis(400))
        .concurrency_limit(1);
    let (_server, worker, remote) = over_nats_with(limited, "progress_limits").await;
    limit_cases(&remote, &remote.with_timeout(Duration::from_millis(150)), 4).await;
    worker.stop().await.unwrap();
}

/// The frames as they are on the wire, and what a client that asks for none gets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_the_wire_is_newline_delimited_json_only_for_a_caller_that_asks() {
    let url = support::http::serve(Server::builder()).await;
    let address = url
        .trim_start_matches("http://")
        .trim_end_matches("/rpc")
        .to_owned();
    let post = |path: &str, accept: Option<&str>, body: &str| {
        let accept = accept
            .map(|accept| format!("Accept: {accept}\r\n"))
            .unwrap_or_default();
        format!(
            "POST /rpc/{path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n{accept}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let exchange = |request: String| {
        let address = address.clone();
        async move {
            let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut reply = String::new();
            stream.read_to_string(&mut reply).await.unwrap();
            reply
        }
    };

    let framed = exchange(post(
        "progress_remote.count",
        Some("application/x-ndjson"),
        "[3, 1000]",
    ))
    .await;
    let (head, body) = framed.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/x-ndjson"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    let lines: Vec<&str> = dechunk(body).leak().lines().collect();
    let (end, progress) = lines.split_last().unwrap();
    assert_eq!(*end, r#"{"value":3}"#);
    assert_eq!(progress.last(), Some(&r#"{"progress":3}"#), "{lines:?}");

    // A call that reported and finished before the first report was sent still sends the
    // last one, then the value.
    let quick = exchange(post(
        "progress_remote.count",
        Some("application/x-ndjson"),
        "[50, 0]",
    ))
    .await;
    let quick = dechunk(quick.split_once("\r\n\r\n").unwrap().1);
    assert_eq!(quick, "{\"progress\":50}\n{\"value\":50}\n");

    // Not asked for: the plain value.
    let plain = exchange(post("progress_remote.count", None, "[3, 0]")).await;
    assert!(
        plain.contains("content-type: application/json") && plain.ends_with("\r\n\r\n3"),
        "{plain}"
    );
    // A refusal keeps its status, frames or not.
    let refused = exchange(post(
        "progress_remote.count",
        Some("application/x-ndjson"),
        "[\"three\", 0]",
    ))
    .await;
    assert!(refused.starts_with("HTTP/1.1 422"), "{refused}");
    // An error after progress is the last frame, with the status it would have had.
    let broken = exchange(post(
        "progress_remote.breaks",
        Some("application/x-ndjson"),
        "[3]",
    ))
    .await;
    let lines = dechunk(broken.split_once("\r\n\r\n").unwrap().1);
    let end = lines.lines().last().unwrap();
    let end: serde_json::Value = serde_json::from_str(end).unwrap();
    assert_eq!(end["status"], 500);
    assert_eq!(end["error"]["code"], "failed");
    assert_eq!(end["error"]["details"]["value"]["row"], 3, "{end}");
}

/// A client that stops reading a call's frames holds nothing: the call's timeout still ends it
/// and frees its concurrency slot. (Before, the call ran inside the response body, which hyper
/// stops polling once the connection is full: the function, its timeout and its slot waited
/// for a client that never read, so a few such clients took every slot for good.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_holds_no_slot_past_the_timeout() {
    let url = support::http::serve(
        Server::builder()
            .timeout(Duration::from_millis(500))
            .concurrency_limit(1),
    )
    .await;
    let address = url
        .trim_start_matches("http://")
        .trim_end_matches("/rpc")
        .to_owned();
    let dropped = RUNS.drops(5);
    let body = "[5]";
    let request = format!(
        "POST /rpc/progress_remote.flood HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: application/x-ndjson\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stalled = tokio::net::TcpStream::connect(&address).await.unwrap();
    stalled.write_all(request.as_bytes()).await.unwrap();
    // Never read; the function floods the connection until its buffers are full.
    wait_for("the flood stopped by the timeout", || {
        RUNS.drops(5) == dropped + 1
    })
    .await;
    let remote = Remote::new(&url).unwrap();
    assert_eq!(
        call_remote_count(&remote, 3, 0).await.unwrap(),
        3,
        "the slot is free again"
    );
    drop(stalled);
}

/// A framed reply cut off before its answer (a proxy timing out, a server crashing) is a
/// transport error after the progress it brought, never a value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_framed_reply_cut_off_before_its_answer_is_a_transport_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/rpc", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = [0; 4096];
        let read = stream.read(&mut request).await.unwrap();
        // A call by name asks for frames: it cannot know whether the function reports.
        let head = String::from_utf8_lossy(&request[..read]).to_ascii_lowercase();
        assert!(
            head.contains("accept: application/x-ndjson, application/json"),
            "{head}"
        );
        let frame = "{\"progress\":1}\n";
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{frame}\r\n",
            frame.len()
        );
        stream.write_all(reply.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Closed without the last chunk.
    });
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let call = Remote::new(&url)
        .unwrap()
        .call_async_by_name::<u32>("progress_remote.count", (1, 0))
        .on_progress(move |value: u32| record.lock().unwrap().push(value));
    let error = call.await.unwrap_err();
    assert!(matches!(error, CallError::Transport(_)), "{error:?}");
    assert_eq!(*seen.lock().unwrap(), [1]);
}

/// The body of a chunked response.
fn dechunk(mut body: &str) -> String {
    let mut whole = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size, 16).unwrap();
        if size == 0 {
            return whole;
        }
        whole.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

/// The NATS wire, as another client would see it: frames to the notice subject the request
/// names, numbered from 1, each `{"progress": ..}`; the answer is the request's one reply and
/// counts the frames before it. A caller that asks for no frames gets none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_nats_frames_are_numbered_and_counted_on_the_answer() {
    use futures_util::StreamExt;
    use nonblocking_runtime::nats::async_nats;

    let (server, worker, _remote) = over_nats_with(Worker::builder(), "progress_wire").await;
    let client = async_nats::connect(server.url()).await.unwrap();
    let notices = client.new_inbox();
    let mut frames = client.subscribe(notices.clone()).await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nonblocking-Call-Id", "wire-test-1");
    headers.insert("Nonblocking-Notify", notices.as_str());
    headers.insert("Nonblocking-Frames", "progress");
    let request = async_nats::Request::new()
        .payload("[5, 2000]".into())
        .headers(headers);
    let answer = client
        .send_request("progress_wire.progress_remote.count", request)
        .await
        .unwrap();
    assert_eq!(&answer.payload[..], b"5");
    let sent: u64 = answer
        .headers
        .as_ref()
        .unwrap()
        .get("Nonblocking-Frames")
        .unwrap()
        .as_str()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&sent), "{sent} frames");
    let mut numbers = Vec::new();
    let mut last = None;
    while numbers.len() < sent as usize {
        let frame = tokio::time::timeout(Duration::from_secs(5), frames.next())
            .await
            .unwrap()
            .unwrap();
        // The same subject takes the worker's accepted notice (a call still running after
        // 20 ms says where to cancel it): that one has no number.
        let Some(seq) = frame
            .headers
            .as_ref()
            .and_then(|headers| headers.get("Nonblocking-Seq"))
        else {
            continue;
        };
        numbers.push(seq.as_str().parse::<u64>().unwrap());
        last = Some(serde_json::from_slice::<serde_json::Value>(&frame.payload).unwrap());
    }
    assert_eq!(numbers, (1..=sent).collect::<Vec<_>>());
    assert_eq!(last, Some(serde_json::json!({"progress": 5})));

    // Without `Nonblocking-Frames`: the plain answer, no count, no frames.
    let request = async_nats::Request::new().payload("[3, 0]".into());
    let answer = client
        .send_request("progress_wire.progress_remote.count", request)
        .await
        .unwrap();
    assert_eq!(&answer.payload[..], b"3");
    assert!(
        answer
            .headers
            .as_ref()
            .is_none_or(|headers| headers.get("Nonblocking-Frames").is_none())
    );
    // (An accepted notice of the first call may still come: only a numbered frame counts.)
    while let Ok(Some(late)) = tokio::time::timeout(Duration::from_millis(200), frames.next()).await
    {
        let numbered = late
            .headers
            .as_ref()
            .and_then(|headers| headers.get("Nonblocking-Seq"));
        assert!(numbered.is_none(), "no frame: {late:?}");
    }
    worker.stop().await.unwrap();
}
