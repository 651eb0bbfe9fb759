//! Streams: a server function that returns `Items<T>` is read item by item, in order, each
//! once, then its end or the error that ended it; a slow reader slows the producer (memory
//! stays bounded); cancelling, dropping the items, the deadline and the idle limit stop the
//! function (observed where it runs); a stream holds its concurrency slot while it runs. In
//! this process (typed stub, by name), through `InProcess`, over HTTP and over NATS (real
//! servers).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nonblocking_runtime::http::{Remote, Server};
use nonblocking_runtime::items::Items;
use nonblocking_runtime::nats::{self, Connect, Worker};
use nonblocking_runtime::progress::Progress;
use nonblocking_runtime::remote::{InProcess, Transport};
use nonblocking_runtime::{CallError, call_async_by_name, server_function};
use support::runs::Runs;
use support::wait_for;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Row {
    id: u32,
    name: String,
}

/// `count` numbers, a pause between two.
#[server_function(name = "streams.numbers")]
async fn numbers(count: u32, pause_us: u64) -> Items<u32> {
    Items::produce(8, move |items| async move {
        for n in 0..count {
            if pause_us > 0 {
                tokio::time::sleep(Duration::from_micros(pause_us)).await;
            }
            items.send(n).await?;
        }
        Ok(())
    })
}

/// Rows from a sync function (it runs on the blocking pool; its items are read after).
#[server_function(name = "streams.rows")]
fn rows(count: u32) -> Items<Row> {
    Items::from_iter((1..=count).map(|id| Row {
        id,
        name: format!("row {id} \u{e9}\u{1f600}"),
    }))
}

#[derive(Debug, thiserror::Error)]
#[error("the source broke at {0}")]
struct Broke(u32);

/// Items `1..at`, then the error.
#[server_function(name = "streams.breaks")]
async fn breaks(at: u32) -> Items<u32> {
    let results: Vec<Result<u32, Broke>> = (1..at).map(Ok).chain([Err(Broke(at))]).collect();
    Items::from_results(Iter(results.into_iter()))
}

/// An iterator as a `Stream` (the tests' own: the crate takes any `Stream`).
struct Iter<I>(I);

impl<I: Iterator + Unpin> futures_core::Stream for Iter<I> {
    type Item = I::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<I::Item>> {
        std::task::Poll::Ready(self.0.next())
    }
}

/// Per tag: items sent; producers started and dropped before their end.
static SENT: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];
static RUNS: Runs = Runs::new();

/// Items of `size` bytes, as fast as they are read, forever; progress every 10 items.
#[server_function(name = "streams.endless")]
async fn endless(tag: usize, size: usize, #[context] progress: Progress<usize>) -> Items<String> {
    RUNS.started(tag);
    Items::produce(4, move |items| async move {
        let _unfinished = RUNS.unfinished(tag);
        let filler = "x".repeat(size);
        for n in 0usize.. {
            items.send(format!("{n} {filler}")).await?;
            SENT[tag].fetch_add(1, Ordering::SeqCst);
            if n % 10 == 0 {
                progress.report(n);
            }
        }
        Ok(())
    })
}

/// `first` items, then silence.
#[server_function(name = "streams.silent")]
async fn silent(tag: usize, first: u32) -> Items<u32> {
    Items::produce(1, move |items| async move {
        let _unfinished = RUNS.unfinished(tag);
        for n in 0..first {
            items.send(n).await?;
        }
        std::future::pending::<()>().await;
        Ok(())
    })
}

async fn read_all<T: Send + 'static>(mut items: Items<T>) -> (Vec<T>, Option<CallError>) {
    let mut all = Vec::new();
    while let Some(item) = items.next().await {
        match item {
            Ok(item) => all.push(item),
            Err(error) => {
                assert!(items.next().await.is_none(), "nothing after the error");
                return (all, Some(error));
            }
        }
    }
    (all, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_this_process() {
    // Typed: in order, each once.
    let (all, end) = read_all(call_async_numbers(300, 0).await.unwrap()).await;
    assert_eq!(all, (0..300).collect::<Vec<_>>());
    assert!(end.is_none());
    // By name, as any `T` (here JSON values).
    let items = call_async_by_name::<Items<serde_json::Value>>("streams.rows", (3,))
        .await
        .unwrap();
    let (all, _) = read_all(items).await;
    assert_eq!(
        all[2],
        serde_json::json!({"id": 3, "name": "row 3 \u{e9}\u{1f600}"})
    );
    // Read as a value, a stream is a clear error.
    let error = call_async_by_name::<Vec<u32>>("streams.numbers", (3, 0))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("Items<"), "{error}");
    // An error after some items.
    let (all, end) = read_all(call_async_breaks(4).await.unwrap()).await;
    assert_eq!(all, [1, 2, 3]);
    assert_eq!(end.unwrap().to_string(), "the source broke at 4");

    // `on_item`: every item, then the count.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let filled = Arc::clone(&seen);
    let count = call_async_rows(50)
        .on_item(move |row| filled.lock().unwrap().push(row.id))
        .await
        .unwrap();
    assert_eq!(count, 50);
    assert_eq!(*seen.lock().unwrap(), (1..=50).collect::<Vec<_>>());

    // A reader that stops: the producer waits with its buffer full.
    let tag = 0;
    let mut items = call_async_endless(tag, 10).await.unwrap();
    items.next().await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = SENT[tag].load(Ordering::SeqCst);
    assert!(
        sent <= 6,
        "a producer stays at most its buffer ahead: {sent} sent"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(SENT[tag].load(Ordering::SeqCst), sent, "and waits");
    // Dropping the items drops the producer.
    drop(items);
    wait_for("the producer dropped", || RUNS.drops(tag) == 1).await;

    // The caller's idle limit.
    let items = call_async_silent(tag, 2)
        .await
        .unwrap()
        .idle_limit(Duration::from_millis(100));
    let (all, end) = read_all(items).await;
    assert_eq!(all, [0, 1]);
    assert!(
        matches!(end, Some(CallError::Idle(limit)) if limit == Duration::from_millis(100)),
        "{end:?}"
    );
}

/// On the UI thread: items in order on this thread, then the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_ui_thread() {
    let ui = nonblocking_runtime::ui::UiContext::new(|| {});
    let shown = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let (list, done) = (std::rc::Rc::clone(&shown), std::rc::Rc::clone(&shown));
    let call = call_async_numbers(500, 0)
        .on_item_ui(&ui, move |n| list.borrow_mut().push(n.to_string()))
        .on_result_ui(&ui, move |count| {
            done.borrow_mut().push(format!("count {count}"))
        });
    while shown
        .borrow()
        .last()
        .is_none_or(|last| !last.starts_with("count"))
    {
        ui.pump();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(call.is_finished());
    let mut expected: Vec<String> = (0..500).map(|n| n.to_string()).collect();
    expected.push("count 500".to_owned());
    assert_eq!(*shown.borrow(), expected);
}

/// What every transport must do with a stream. `tag` keeps the counters apart.
async fn stream_cases(remote: &impl Transport, tag: usize) {
    // In order, each once: typed, by name, on_item.
    for _ in 0..5 {
        let (all, end) = read_all(call_remote_numbers(remote, 1_000, 0).await.unwrap()).await;
        assert_eq!(all, (0..1_000).collect::<Vec<_>>());
        assert!(end.is_none(), "{end:?}");
    }
    let items = remote
        .call_async_by_name::<Items<Row>>("streams.rows", (20,))
        .await
        .unwrap();
    let (all, _) = read_all(items).await;
    assert_eq!(all.len(), 20);
    assert_eq!(
        all[19],
        Row {
            id: 20,
            name: "row 20 \u{e9}\u{1f600}".to_owned()
        }
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let filled = Arc::clone(&seen);
    let count = call_remote_numbers(remote, 100, 50)
        .on_item(move |n| filled.lock().unwrap().push(n))
        .await
        .unwrap();
    assert_eq!(count, 100);
    assert_eq!(*seen.lock().unwrap(), (0..100).collect::<Vec<_>>());
    // No items is an empty stream, not a value.
    let (all, end) = read_all(call_remote_numbers(remote, 0, 0).await.unwrap()).await;
    assert!(all.is_empty() && end.is_none());

    // An error after some items: the items, then the error as the wire carries it.
    let (all, end) = read_all(call_remote_breaks(remote, 4).await.unwrap()).await;
    assert_eq!(all, [1, 2, 3]);
    let end = end.expect("the error");
    assert!(
        matches!(&end, CallError::Failed(_)) && end.to_string().contains("broke at 4"),
        "{end:?}"
    );

    // A refusal before the first item is the call's own error.
    let refused = remote
        .call_async_by_name::<Items<u32>>("streams.numbers", ("x",))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, CallError::InvalidArguments(_)),
        "{refused:?}"
    );

    // Progress beside the items.
    let progress = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&progress);
    let items = call_remote_endless(remote, tag, 10).on_progress(move |_: usize| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let mut items = items.await.unwrap();
    for _ in 0..100 {
        items.next().await.unwrap().unwrap();
    }
    wait_for("progress beside the items", || {
        progress.load(Ordering::SeqCst) > 0
    })
    .await;
    drop(items);
    // Dropping the items stops the function where it runs.
    wait_for("the function dropped", || RUNS.drops(tag) == 1).await;

    // Cancelling a call reading items stops the function.
    let read = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&read);
    let call = call_remote_endless(remote, tag, 10).on_item(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    wait_for("items before the cancel", || {
        read.load(Ordering::SeqCst) >= 3
    })
    .await;
    call.cancel();
    assert!(matches!(call.await, Err(CallError::Cancelled)));
    wait_for("the function dropped after the cancel", || {
        RUNS.drops(tag) == 2
    })
    .await;
    assert_eq!(RUNS.starts(tag), 2);
}

/// A server whose idle limit is 200 ms, serving the functions above.
async fn server() -> String {
    support::http::serve(Server::builder().stream_idle_limit(Duration::from_millis(200))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_in_process() {
    let remote = InProcess::builder()
        .stream_idle_limit(Duration::from_millis(200))
        .build()
        .unwrap();
    stream_cases(&remote, 1).await;
    limits(&remote, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http() {
    let url = server().await;
    let remote = Remote::new(&url).unwrap();
    stream_cases(&remote, 3).await;
    limits(&remote, 4).await;
}

/// The idle limit and the deadline stop a stream, where it runs.
async fn limits(remote: &impl Transport, tag: usize) {
    // The server's idle limit: the items made, then `stream_idle`.
    let (all, end) = read_all(call_remote_silent(remote, tag, 3).await.unwrap()).await;
    assert_eq!(all, [0, 1, 2]);
    assert!(
        matches!(end, Some(CallError::Idle(limit)) if limit == Duration::from_millis(200)),
        "{end:?}"
    );
    wait_for("the silent function dropped", || RUNS.drops(tag) == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_nats() {
    let server = support::nats_server::NatsServer::start("");
    let connect = Connect::new([server.url()]);
    let worker = Worker::builder()
        .prefix("streams")
        .stream_idle_limit(Duration::from_millis(200))
        .start(&connect)
        .await
        .unwrap();
    let remote = nats::Remote::builder()
        .prefix("streams")
        .timeout(Duration::from_secs(20))
        .connect(&connect)
        .await
        .unwrap();
    stream_cases(&remote, 6).await;
    limits(&remote, 7).await;

    // A reader that stops: the worker sends a window of items past what was read, then waits.
    let tag = 7;
    let mut items = call_remote_endless(&remote, tag, 10).await.unwrap();
    for _ in 0..100 {
        items.next().await.unwrap().unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = SENT[tag].load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        SENT[tag].load(Ordering::SeqCst),
        sent,
        "the function waits for its reader"
    );
    // Read 100, credited up to 96: a window (64) beyond, plus the buffers (16 + 4) and the
    // one the function holds.
    assert!(sent <= 100 + 64 + 16 + 4 + 1, "{sent} made for 100 read");
    assert!(sent > 100, "{sent}: the window lets the worker run ahead");
    // Reading on, the worker goes on: every item in order.
    for _ in 0..1_000 {
        items.next().await.unwrap().unwrap();
    }
    drop(items);
    wait_for("the function dropped", || RUNS.drops(tag) == 2).await;

    // The caller's deadline travels: the worker stops the stream mid-way.
    let late = nats::Remote::builder()
        .prefix("streams")
        .timeout(Duration::from_millis(300))
        .connect(&connect)
        .await
        .unwrap();
    let (all, end) = read_all(call_remote_endless(&late, tag, 10).await.unwrap()).await;
    assert!(!all.is_empty(), "items before the deadline");
    assert!(matches!(end, Some(CallError::TimedOut(_))), "{end:?}");
    wait_for("the function stopped at the deadline", || {
        RUNS.drops(tag) == 3
    })
    .await;
    worker.stop().await.unwrap();

    // A worker whose concurrency limit is one: a running stream holds the slot (another call
    // is refused `overloaded`, after the client's retries), and gives it back when dropped.
    let limited = Worker::builder()
        .prefix("streams1")
        .concurrency_limit(1)
        .start(&connect)
        .await
        .unwrap();
    let remote = nats::Remote::builder()
        .prefix("streams1")
        .timeout(Duration::from_secs(20))
        .connect(&connect)
        .await
        .unwrap();
    let quick = nats::Remote::builder()
        .prefix("streams1")
        .timeout(Duration::from_millis(300))
        .connect(&connect)
        .await
        .unwrap();
    let mut items = call_remote_endless(&remote, tag, 10).await.unwrap();
    items.next().await.unwrap().unwrap();
    let refused = call_remote_numbers(&quick, 1, 0).await.unwrap_err();
    assert!(
        refused.to_string().contains("concurrency limit"),
        "{refused:?}"
    );
    drop(items);
    wait_for("the function dropped", || RUNS.drops(tag) == 4).await;
    let (all, end) = read_all(call_remote_numbers(&remote, 2, 0).await.unwrap()).await;
    assert_eq!(
        (all, end.is_none()),
        (vec![0, 1], true),
        "the slot is free again"
    );
    limited.stop().await.unwrap();
}

/// Over HTTP: the caller's deadline stops a stream mid-way on the server; a reader that
/// stops slows the function down (bounded by the buffers on the way), and a stream holds its
/// slot while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_the_deadline_backpressure_and_slots_hold() {
    let tag = 5;
    let url = support::http::serve(Server::builder().concurrency_limit(1)).await;
    let remote = Remote::new(&url).unwrap();

    // A reader that stops: 64 KiB items fill the socket buffers, then the function waits.
    let mut items = call_remote_endless(&remote, tag, 64 * 1024).await.unwrap();
    items.next().await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = SENT[tag].load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = SENT[tag].load(Ordering::SeqCst);
    assert_eq!(later, sent, "the function waits for its reader");
    assert!(
        sent < 400,
        "only the buffers' worth is made ahead: {sent} items of 64 KiB"
    );

    // It holds the one slot while it runs: another call is refused.
    let refused = call_remote_numbers(&remote, 1, 0).await.unwrap_err();
    assert!(
        refused.to_string().contains("concurrency limit"),
        "{refused}"
    );
    drop(items);
    wait_for("the function dropped", || RUNS.drops(tag) == 1).await;
    // The slot is free again (freed as the function is dropped: allow the server a moment).
    let mut freed = false;
    for _ in 0..100 {
        if let Ok(items) = call_remote_numbers(&remote, 2, 0).await {
            assert_eq!(items.collect().await.unwrap(), [0, 1]);
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(freed, "the slot is freed when the stream ends");

    // The caller's deadline travels: the server stops the stream mid-way.
    let late = remote.with_timeout(Duration::from_millis(300));
    let (all, end) = read_all(call_remote_endless(&late, tag, 10).await.unwrap()).await;
    assert!(!all.is_empty(), "items before the deadline");
    assert!(matches!(end, Some(CallError::TimedOut(_))), "{end:?}");
    wait_for("the function stopped at the deadline", || {
        RUNS.drops(tag) == 2
    })
    .await;
}

/// A NATS item lost on the wire fails the stream after the items before it: it is never
/// skipped. A bare async-nats client plays the worker, so that an item can really be left out
/// (the worker's side never loses one on purpose).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_item_lost_on_the_wire_fails_the_stream_after_the_items_before_it() {
    use nonblocking_runtime::nats::async_nats::{self, HeaderMap};
    let server = support::nats_server::NatsServer::start("");
    let worker = async_nats::connect(server.url()).await.unwrap();
    let mut requests = worker.subscribe("lossy.streams.numbers").await.unwrap();
    worker.flush().await.unwrap();
    let remote = nats::Remote::builder()
        .prefix("lossy")
        .timeout(Duration::from_secs(5))
        .connect(&Connect::new([server.url()]))
        .await
        .unwrap();
    let playing_the_worker = async {
        let request = futures_util::StreamExt::next(&mut requests).await.unwrap();
        let notify = request.headers.as_ref().unwrap().get("Nonblocking-Notify");
        let notify = notify
            .expect("a stream's caller names its notice subject")
            .to_string();
        // Items 1 and 3, numbered as a worker numbers them: item 2 never goes out.
        for number in [1_u64, 3] {
            let mut headers = HeaderMap::new();
            headers.insert("Nonblocking-Item", number.to_string().as_str());
            if number == 1 {
                headers.insert("Nonblocking-Credit", "lossy.credit");
            }
            let frame = format!("{{\"item\":{number}}}\n");
            worker
                .publish_with_headers(notify.clone(), headers, frame.into())
                .await
                .unwrap();
        }
        let mut headers = HeaderMap::new();
        headers.insert("Nonblocking-Frames", "0");
        headers.insert("Nonblocking-Items", "3");
        let reply = request.reply.expect("a request");
        worker
            .publish_with_headers(reply, headers, "3".into())
            .await
            .unwrap();
        worker.flush().await.unwrap();
    };
    let (items, ()) = tokio::join!(
        remote.call_async_by_name::<Items<u64>>("streams.numbers", (3, 0)),
        playing_the_worker
    );
    let (read, error) = read_all(items.unwrap()).await;
    assert_eq!(
        read,
        [1],
        "the item before the lost one, and nothing after it"
    );
    let error = error.expect("the stream fails");
    assert!(
        error.to_string().contains("item 2 of the stream was lost"),
        "{error}"
    );
}
