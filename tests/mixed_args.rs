//! Positional and keyword arguments in one call (Anvil's `call_async("update", item,
//! flag=True)`): the same wire form and the same errors locally by name, in process, over HTTP
//! and over NATS.

mod support;

use std::time::Duration;

use nonblocking_runtime::http::{Remote, Server};
use nonblocking_runtime::nats::{Connect, Worker};
use nonblocking_runtime::registry::Mixed;
use nonblocking_runtime::remote::{InProcess, Transport};
use nonblocking_runtime::{CallError, call_async_by_name, server_function};
use support::nats_server::NatsServer;

#[server_function(name = "mixed.update")]
fn update(id: u32, title: String, notify: bool, note: Option<String>) -> String {
    format!("{id}:{title}:{notify}:{}", note.unwrap_or_default())
}

/// The parameter an `InvalidArguments` names, and its reason.
fn invalid(error: CallError) -> (Option<String>, String) {
    match error {
        CallError::InvalidArguments(invalid) => (invalid.parameter, invalid.reason),
        other => panic!("not invalid arguments: {other:?}"),
    }
}

/// Every case, through `call`: the values, then each error naming its parameter.
async fn every_case<T: Fn(Mixed) -> nonblocking_runtime::AsyncCall<String>>(via: &str, call: T) {
    let both = Mixed::new()
        .arg(1)
        .arg("milk")
        .kw("notify", true)
        .kw("note", "2 l");
    assert_eq!(call(both).await.unwrap(), "1:milk:true:2 l", "{via}");
    // Only positional, inside the mixed form; a trailing `Option` left out.
    assert_eq!(
        call(Mixed::new().arg(2).arg("eggs").arg(false))
            .await
            .unwrap(),
        "2:eggs:false:",
        "{via}"
    );
    // Only keywords, inside the mixed form.
    let keywords = Mixed::new()
        .kw("title", "tea")
        .kw("id", 3)
        .kw("notify", true);
    assert_eq!(call(keywords).await.unwrap(), "3:tea:true:", "{via}");

    let twice = invalid(
        call(Mixed::new().arg(1).arg("x").kw("id", 9).kw("notify", true))
            .await
            .unwrap_err(),
    );
    assert_eq!(twice.0.as_deref(), Some("id"), "{via}");
    assert!(
        twice.1.contains("given both positionally and by keyword"),
        "{via}: {}",
        twice.1
    );
    let missing = invalid(
        call(Mixed::new().arg(1).kw("notify", true))
            .await
            .unwrap_err(),
    );
    assert_eq!(missing.0.as_deref(), Some("title"), "{via}");
    assert!(
        missing.1.contains("missing argument"),
        "{via}: {}",
        missing.1
    );
    let unknown = invalid(
        call(Mixed::new().arg(1).arg("x").arg(true).kw("colour", "red"))
            .await
            .unwrap_err(),
    );
    assert_eq!(unknown.0.as_deref(), Some("colour"), "{via}");
    let surplus = invalid(
        call(Mixed::new().arg(1).arg("x").arg(true).arg("n").arg(5))
            .await
            .unwrap_err(),
    );
    assert!(surplus.1.contains("at most"), "{via}: {}", surplus.1);
    let wrong_type = invalid(
        call(Mixed::new().arg("one").arg("x").kw("notify", true))
            .await
            .unwrap_err(),
    );
    assert_eq!(wrong_type.0.as_deref(), Some("id"), "{via}");
}

/// The mixed form's `$args` must be an array.
async fn not_an_array<T: Transport>(via: &str, remote: &T) {
    let body = serde_json::json!({"$args": 1, "notify": true});
    let error = invalid(
        remote
            .call_async_by_name::<String>("mixed.update", body)
            .await
            .unwrap_err(),
    );
    assert!(
        error.1.contains("`$args` holds the positional arguments"),
        "{via}: {}",
        error.1
    );
}

#[tokio::test]
async fn locally_by_name() {
    every_case("local", |args| call_async_by_name("mixed.update", args)).await;
    let error = invalid(
        call_async_by_name::<String>("mixed.update", serde_json::json!({"$args": "x"}))
            .await
            .unwrap_err(),
    );
    assert!(error.1.contains("must be an array"), "{}", error.1);
}

#[tokio::test]
async fn in_process() {
    let app = InProcess::default();
    every_case("in process", |args| {
        app.call_async_by_name("mixed.update", args)
    })
    .await;
    not_an_array("in process", &app).await;
}

#[tokio::test]
async fn over_http() {
    let url = support::http::serve(Server::builder().expose(["mixed.update"])).await;
    let remote = Remote::builder(url)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    every_case("http", |args| {
        remote.call_async_by_name("mixed.update", args)
    })
    .await;
    not_an_array("http", &remote).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_nats() {
    let server = NatsServer::start("");
    let connect = Connect::new([server.url()]);
    let worker = Worker::builder()
        .prefix("mixed")
        .expose(["mixed.update"])
        .start(&connect)
        .await
        .unwrap();
    let remote = nonblocking_runtime::nats::Remote::builder()
        .prefix("mixed")
        .connect(&connect)
        .await
        .unwrap();
    every_case("nats", |args| {
        remote.call_async_by_name("mixed.update", args)
    })
    .await;
    not_an_array("nats", &remote).await;
    worker.stop().await.unwrap();
}
