//! The transports for tests: [`InProcess`] runs the real functions through the dispatch a
//! server runs (so a call fails as it would over HTTP or NATS), [`Mock`] answers with closures
//! and records the calls.

use std::time::Duration;

use nonblocking_runtime::context::Roles;
use nonblocking_runtime::errors::RemoteFailure;
use nonblocking_runtime::remote::{InProcess, InvalidPolicy, Mock, Refusal, Transport, Via};
use nonblocking_runtime::{CallError, server_function};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[server_function(name = "ip.add")]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[derive(Debug, Serialize, Deserialize, thiserror::Error)]
#[error("only {left} left")]
struct OutOfStock {
    left: u32,
}

#[server_function(name = "ip.order")]
fn order(quantity: u32) -> Result<u32, OutOfStock> {
    if quantity > 3 {
        Err(OutOfStock { left: 3 })
    } else {
        Ok(quantity)
    }
}

#[server_function(name = "ip.whoami", require = "user")]
async fn whoami() -> String {
    "someone".into()
}

#[server_function(name = "ip.slow")]
async fn slow() -> u8 {
    tokio::time::sleep(Duration::from_secs(30)).await;
    1
}

#[server_function(name = "ip.panics")]
fn panics() -> u8 {
    panic!("a bug")
}

#[server_function(name = "ip.hidden")]
fn hidden() {}

/// Generic code under test: it only knows a transport.
async fn sum(remote: &impl Transport) -> Result<i64, CallError> {
    remote.call_async_by_name("ip.add", (40, 2)).await
}

fn app() -> InProcess {
    InProcess::builder()
        .expose(["ip.add", "ip.order", "ip.whoami", "ip.slow", "ip.panics"])
        // Room for a panic's backtrace to be printed (symbolized) before it is caught.
        .timeout(Duration::from_millis(1_500))
        .authorize(|caller, function| {
            assert_eq!(caller.via(), Via::InProcess);
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
        .build()
        .unwrap()
}

fn refusal(error: &CallError) -> (u16, &str) {
    match error {
        CallError::Rejected(rejected) => (rejected.status, rejected.code.as_str()),
        other => panic!("not a refusal: {other:?}"),
    }
}

#[tokio::test]
async fn in_process_runs_the_real_functions_by_name_and_typed() {
    let app = app();
    assert_eq!(sum(&app).await.unwrap(), 42);
    assert_eq!(call_remote_add(&app, 1, 2).await.unwrap(), 3);
    let keyword: i64 = app
        .call_async_by_name("ip.add", json!({"a": 5, "b": 6}))
        .await
        .unwrap();
    assert_eq!(keyword, 11);
}

#[tokio::test]
async fn in_process_fails_as_a_server_would() {
    let app = app();
    // The hook, with this transport's headers.
    let anonymous = call_remote_whoami(&app).await.unwrap_err();
    assert_eq!(refusal(&anonymous), (401, "unauthorized"), "{anonymous}");
    let guest = call_remote_whoami(&app.with_header("x-role", "guest"))
        .await
        .unwrap_err();
    assert_eq!(refusal(&guest), (403, "forbidden"));
    assert_eq!(
        call_remote_whoami(&app.with_header("x-role", "user"))
            .await
            .unwrap(),
        "someone"
    );
    // Exposure: unexposed answers like missing.
    assert!(matches!(
        app.call_async_by_name::<()>("ip.hidden", ()).await,
        Err(CallError::NotFound(_))
    ));
    assert!(matches!(
        app.call_async_by_name::<()>("ip.nothing", ()).await,
        Err(CallError::NotFound(_))
    ));
    // Arguments, the function's own error (with its value), a panic, the timeout.
    let bad = app
        .call_async_by_name::<i64>("ip.add", ("one", 2))
        .await
        .unwrap_err();
    assert!(
        matches!(&bad, CallError::InvalidArguments(invalid) if invalid.parameter.as_deref() == Some("a")),
        "{bad:?}"
    );
    let failed = call_remote_order(&app, 5).await.unwrap_err();
    let failure = failed
        .downcast_ref::<RemoteFailure>()
        .expect("a remote failure");
    assert_eq!(failure.message, "only 3 left");
    assert_eq!(failure.value, Some(json!({"left": 3})));
    let panicked = call_remote_panics(&app).await.unwrap_err();
    assert!(panicked.is_panic(), "{panicked:?}");
    assert!(call_remote_slow(&app).await.unwrap_err().is_timeout());
}

#[test]
fn in_process_checks_its_policy_as_a_server_does() {
    let error = InProcess::builder()
        .expose(["ip.add", "ip.typo"])
        .build()
        .unwrap_err();
    assert_eq!(error, InvalidPolicy::NotRegistered(vec!["ip.typo".into()]));
}

#[tokio::test]
async fn the_concurrency_limit_holds_in_process() {
    let app = InProcess::builder()
        .concurrency_limit(1)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let running = call_remote_slow(&app);
    // Let the first call take its slot.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = call_remote_add(&app, 1, 1).await.unwrap_err();
    assert_eq!(refusal(&refused), (503, "overloaded"));
    running.cancel();
}

#[tokio::test]
async fn a_mock_answers_chosen_names_and_records_every_call() {
    let mock = Mock::new();
    mock.answer("ip.add", |args| {
        let (a, b): (i64, i64) = serde_json::from_value(args).unwrap();
        Ok(a * 100 + b)
    });
    mock.answer("ip.whoami", |_| Err::<String, _>(CallError::Cancelled));
    assert_eq!(sum(&mock).await.unwrap(), 4002);
    assert_eq!(call_remote_add(&mock, 1, 2).await.unwrap(), 102);
    assert!(call_remote_whoami(&mock).await.unwrap_err().is_cancelled());
    let missing = mock
        .call_async_by_name::<u8>("ip.order", (2,))
        .await
        .unwrap_err();
    assert!(matches!(missing, CallError::NotFound(_)), "{missing:?}");
    let calls = mock.calls();
    let named: Vec<&str> = calls.iter().map(|call| call.name.as_str()).collect();
    assert_eq!(named, ["ip.add", "ip.add", "ip.whoami", "ip.order"]);
    assert_eq!(calls[1].args, json!([1, 2]));
    assert_eq!(calls[2].args, json!([]));
    assert_eq!(mock.calls_of("ip.order")[0].args, json!([2]));
    // A value that does not fit the caller's type is the same error as over a real transport.
    let wrong = mock
        .call_async_by_name::<String>("ip.add", (1, 2))
        .await
        .unwrap_err();
    assert!(matches!(wrong, CallError::InvalidResult(_)), "{wrong:?}");
}
