//! W3C Trace Context across transports, without OpenTelemetry: a caller's `traceparent`
//! reaches the function (its call runs in a child span of the same trace), and the calls the
//! function makes carry the trace on, over HTTP and then NATS to another worker. The
//! OpenTelemetry form is `tests/opentelemetry.rs`.

mod support;

use std::sync::OnceLock;
use std::time::Duration;

use nonblocking_runtime::context::TraceContext;
use nonblocking_runtime::http::{Remote, Server};
use nonblocking_runtime::nats::{Connect, Worker};
use nonblocking_runtime::{Context, server_function};
use support::nats_server::NatsServer;

static BACK: OnceLock<nonblocking_runtime::nats::Remote> = OnceLock::new();

/// What a function saw of its trace: the trace's id and the id of the span it ran in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Seen {
    trace_id: Option<String>,
    span_id: Option<u64>,
}

fn seen(context: &Context) -> Seen {
    Seen {
        trace_id: context.trace().map(TraceContext::trace_id_hex),
        span_id: context.trace().map(TraceContext::span_id),
    }
}

/// Served by the NATS worker.
#[server_function(name = "traces.back")]
async fn back(#[context] context: Context) -> Seen {
    seen(&context)
}

/// Served over HTTP; calls `traces.back` over NATS.
#[server_function(name = "traces.front")]
async fn front(#[context] context: Context) -> (Seen, Seen) {
    let back = call_remote_back(BACK.get().expect("the NATS remote"))
        .await
        .expect("the worker answers");
    (seen(&context), back)
}

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_id_from_the_caller_through_http_and_nats() {
    let nats = NatsServer::start("");
    let connect = Connect::new([nats.url()]);
    let worker = Worker::builder()
        .prefix("traces")
        .expose(["traces.back"])
        .start(&connect)
        .await
        .unwrap();
    let remote = nonblocking_runtime::nats::Remote::builder()
        .prefix("traces")
        .timeout(Duration::from_secs(10))
        .connect(&connect)
        .await
        .unwrap();
    BACK.set(remote).unwrap();

    let url = support::http::serve(Server::builder().expose(["traces.front"])).await;

    // A caller with a trace (a page's `traceparent`, say), sent as a header.
    let traced = Remote::builder(&url)
        .header("traceparent", PARENT)
        .header("tracestate", "congo=t61rcWkgMzE")
        .build()
        .unwrap();
    let (front, back) = call_remote_front(&traced).await.unwrap();
    let trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736".to_owned());
    assert_eq!(
        front.trace_id, trace_id,
        "the HTTP server ran the call in the caller's trace"
    );
    assert_eq!(
        back.trace_id, trace_id,
        "and the NATS worker too, through the server's own call"
    );
    let (front_span, back_span) = (front.span_id.unwrap(), back.span_id.unwrap());
    assert!(
        front_span != 0x00f067aa0ba902b7 && back_span != front_span,
        "each hop is a span of its own"
    );

    // A local call inside a scope with a trace: the client sends it on.
    let root = TraceContext::new_root();
    let plain = Remote::new(&url).unwrap();
    let (front, back) = Context::new()
        .with_trace(root.clone())
        .scope(async { call_remote_front(&plain).await })
        .await
        .unwrap();
    assert_eq!(
        front.trace_id.as_deref(),
        Some(root.trace_id_hex().as_str())
    );
    assert_eq!(back.trace_id, front.trace_id);

    // No trace sent: none is made up.
    let (front, back) = call_remote_front(&plain).await.unwrap();
    assert_eq!((front.trace_id, back.trace_id), (None, None));

    // A malformed `traceparent` is ignored, as the W3C rules say, and the call still runs.
    let garbled = Remote::builder(&url)
        .header("traceparent", "00-not-a-trace-01")
        .build()
        .unwrap();
    assert_eq!(call_remote_front(&garbled).await.unwrap().0.trace_id, None);
    worker.stop().await.unwrap();
}
