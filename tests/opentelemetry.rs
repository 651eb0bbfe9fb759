//! OpenTelemetry (feature `opentelemetry`), with the SDK's in-memory exporter: a client span,
//! the HTTP server's span for the call, the NATS worker's span for the call that function
//! makes, all in one trace, each the previous one's child.

mod support;

use std::sync::OnceLock;
use std::time::Duration;

use nonblocking_runtime::http::{Remote, Server};
use nonblocking_runtime::nats::{Connect, Worker};
use nonblocking_runtime::server_function;
use opentelemetry::trace::{SpanId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use support::nats_server::NatsServer;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

static BACK: OnceLock<nonblocking_runtime::nats::Remote> = OnceLock::new();

#[server_function(name = "otel.back")]
async fn back(n: u32) -> u32 {
    n + 1
}

#[server_function(name = "otel.front")]
async fn front(n: u32) -> u32 {
    call_remote_back(BACK.get().expect("the NATS remote"), n * 10)
        .await
        .expect("the worker answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_from_the_client_through_http_and_nats_to_a_second_worker() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("tests")));
    // Global: the server's and the worker's tasks run on the runtime's threads.
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let nats = NatsServer::start("");
    let connect = Connect::new([nats.url()]);
    let worker = Worker::builder()
        .prefix("otel")
        .expose(["otel.back"])
        .start(&connect)
        .await
        .unwrap();
    let remote = nonblocking_runtime::nats::Remote::builder()
        .prefix("otel")
        .timeout(Duration::from_secs(10))
        .connect(&connect)
        .await
        .unwrap();
    BACK.set(remote).unwrap();
    let url = support::http::serve(Server::builder().expose(["otel.front"])).await;

    let client = Remote::new(&url).unwrap();
    let answer = async { call_remote_front(&client, 4).await }
        .instrument(tracing::info_span!("client"))
        .await
        .unwrap();
    assert_eq!(answer, 41);
    worker.stop().await.unwrap();
    provider.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let named = |name: &str, function: Option<&str>| -> &SpanData {
        spans
            .iter()
            .find(|span| {
                span.name == name
                    && function.is_none_or(|function| {
                        span.attributes.iter().any(|kv| {
                            kv.key.as_str() == "function" && kv.value.as_str() == function
                        })
                    })
            })
            .unwrap_or_else(|| panic!("no span {name} {function:?} in {spans:#?}"))
    };
    let client = named("client", None);
    let front = named("nonblocking.call", Some("otel.front"));
    let back = named("nonblocking.call", Some("otel.back"));
    let trace_id = client.span_context.trace_id();
    for span in [front, back] {
        assert_eq!(span.span_context.trace_id(), trace_id, "{span:#?}");
    }
    assert_eq!(
        client.parent_span_id,
        SpanId::INVALID,
        "the client's span is the root"
    );
    assert_eq!(
        front.parent_span_id,
        client.span_context.span_id(),
        "HTTP: the client's child"
    );
    assert_eq!(
        back.parent_span_id,
        front.span_context.span_id(),
        "NATS: the HTTP call's child"
    );
}
