//! `#[server_function]` end to end: typed stubs, calls by name, bad input, the registry.

use std::io;
use std::num::ParseIntError;
use std::time::Duration;

use nonblocking_runtime::registry::register;
use nonblocking_runtime::{CallError, CallStatus, call_async_by_name, registry, server_function};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

// Calls by name reach functions of every crate the binary links; this line makes it link one.
use nonblocking_test_fixture as _;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// An argument that is a struct.
pub struct Item {
    id: u32,
    title: String,
}

#[server_function]
fn shout(text: String) -> String {
    text.to_uppercase()
}

#[server_function]
/// A public async function.
pub async fn add(a: i64, b: i64) -> i64 {
    tokio::task::yield_now().await;
    a + b
}

#[server_function(inline)]
fn double(x: i32) -> i32 {
    x * 2
}

#[server_function]
fn touch() {}

#[server_function]
async fn touch_async() {}

#[server_function]
fn parse(text: String) -> Result<i32, ParseIntError> {
    text.trim().parse()
}

#[server_function]
async fn read_flag(ok: bool) -> io::Result<u8> {
    if ok {
        Ok(1)
    } else {
        Err(io::Error::new(io::ErrorKind::NotFound, "no flag"))
    }
}

type Outcome = Result<u8, String>;

#[server_function(fallible)]
fn aliased(ok: bool) -> Outcome {
    if ok {
        Ok(5)
    } else {
        Err("aliased failure".into())
    }
}

#[server_function(infallible)]
fn result_as_value(ok: bool) -> Result<u8, String> {
    if ok {
        Ok(6)
    } else {
        Err("a value, not a failure".into())
    }
}

#[server_function(inline)]
fn inline_fallible(ok: bool) -> Result<u8, String> {
    if ok {
        Ok(7)
    } else {
        Err("inline failure".into())
    }
}

#[server_function]
fn save(item: Item) -> u32 {
    item.id
}

#[server_function]
fn describe(name: String, title: Option<String>) -> String {
    match title {
        Some(title) => format!("{title} {name}"),
        None => name,
    }
}

#[server_function]
fn version() -> String {
    "1.0".into()
}

#[server_function]
fn explode() -> u8 {
    panic!("exploded on purpose")
}

/// A parameter called `args` must not collide with the generated handler's own.
#[server_function]
fn hygiene(args: Vec<u8>) -> usize {
    args.len()
}

#[server_function(name = "billing.update", require = "admin")]
/// A function with a dotted name and a `require` value.
pub async fn update_billing(account: String, cents: u64) -> u64 {
    let _ = account;
    cents
}

#[server_function(name = "shared.duplicate")]
fn duplicate_in_tests() -> u8 {
    2
}

#[server_function(crate = nonblocking_runtime)]
fn explicit_crate_path() -> u8 {
    3
}

#[server_function]
async fn slow() -> u8 {
    tokio::time::sleep(Duration::from_secs(60)).await;
    0
}

#[server_function]
fn non_json_result() -> std::collections::HashMap<Vec<u8>, u8> {
    [(vec![1], 1)].into_iter().collect()
}

#[cfg(any())]
#[server_function]
fn compiled_out() -> u8 {
    0
}

#[tokio::test]
async fn typed_stubs_call_the_function_directly() {
    assert_eq!(call_async_shout("hi".into()).await.unwrap(), "HI");
    assert_eq!(call_async_add(2, 3).await.unwrap(), 5);
    assert_eq!(call_async_double(21).await.unwrap(), 42);
    call_async_touch().await.unwrap();
    call_async_touch_async().await.unwrap();
    assert_eq!(
        call_async_save(Item {
            id: 9,
            title: "x".into()
        })
        .await
        .unwrap(),
        9
    );
    assert_eq!(
        call_async_describe("Ada".into(), None).await.unwrap(),
        "Ada"
    );
    assert_eq!(call_async_hygiene(vec![1, 2, 3]).await.unwrap(), 3);
    assert_eq!(call_async_explicit_crate_path().await.unwrap(), 3);
    assert_eq!(
        call_async_update_billing("acme".into(), 250).await.unwrap(),
        250
    );
}

#[tokio::test]
async fn typed_stubs_of_fallible_functions_fail_with_the_original_error() {
    assert_eq!(call_async_parse(" 12 ".into()).await.unwrap(), 12);
    let error = call_async_parse("twelve".into()).await.unwrap_err();
    assert!(error.downcast_ref::<ParseIntError>().is_some());

    assert_eq!(call_async_read_flag(true).await.unwrap(), 1);
    let error = call_async_read_flag(false).await.unwrap_err();
    assert_eq!(
        error.downcast_ref::<io::Error>().unwrap().kind(),
        io::ErrorKind::NotFound
    );

    assert_eq!(call_async_aliased(true).await.unwrap(), 5);
    assert_eq!(
        call_async_aliased(false).await.unwrap_err().to_string(),
        "aliased failure"
    );

    // `infallible`: the Result is the value.
    assert_eq!(
        call_async_result_as_value(false).await.unwrap(),
        Err("a value, not a failure".into())
    );

    assert_eq!(call_async_inline_fallible(true).await.unwrap(), 7);
    assert!(matches!(
        call_async_inline_fallible(false).await,
        Err(CallError::Failed(_))
    ));
}

#[tokio::test]
async fn typed_stub_panics_become_panicked() {
    let error = call_async_explode().await.unwrap_err();
    assert!(
        matches!(error, CallError::Panicked(ref message) if &**message == "exploded on purpose")
    );
}

#[tokio::test]
async fn by_name_positional_keyword_no_arg_and_single_arg() {
    assert_eq!(call_async_by_name::<i64>("add", (1, 2)).await.unwrap(), 3);
    assert_eq!(
        call_async_by_name::<i64>("add", vec![4, 5]).await.unwrap(),
        9
    );
    assert_eq!(
        call_async_by_name::<i64>("add", json!({"a": 10, "b": 20}))
            .await
            .unwrap(),
        30
    );
    assert_eq!(
        call_async_by_name::<String>("version", ()).await.unwrap(),
        "1.0"
    );
    assert_eq!(
        call_async_by_name::<String>("version", Value::Null)
            .await
            .unwrap(),
        "1.0"
    );
    assert_eq!(
        call_async_by_name::<String>("shout", "single")
            .await
            .unwrap(),
        "SINGLE"
    );
    assert_eq!(call_async_by_name::<i32>("double", 4).await.unwrap(), 8);
    call_async_by_name::<()>("touch", ()).await.unwrap();
    call_async_by_name::<()>("touch_async", ()).await.unwrap();

    // A struct argument is wrapped in a 1-tuple (a bare struct would be read as keywords).
    let item = Item {
        id: 4,
        title: "t".into(),
    };
    assert_eq!(
        call_async_by_name::<u32>("save", (&item,)).await.unwrap(),
        4
    );
    assert_eq!(
        call_async_by_name::<u32>("save", json!({"item": item}))
            .await
            .unwrap(),
        4
    );

    // A trailing Option may be left out, positionally or by keyword.
    assert_eq!(
        call_async_by_name::<String>("describe", ("Ada",))
            .await
            .unwrap(),
        "Ada"
    );
    assert_eq!(
        call_async_by_name::<String>("describe", json!({"name": "Ada", "title": "Dr"}))
            .await
            .unwrap(),
        "Dr Ada"
    );

    // Any result type that deserializes works, serde_json::Value included.
    assert_eq!(
        call_async_by_name::<Value>("add", (1, 1)).await.unwrap(),
        json!(2)
    );
    assert_eq!(
        call_async_by_name::<u64>("billing.update", ("acme", 12))
            .await
            .unwrap(),
        12
    );
}

#[tokio::test]
async fn by_name_failures_keep_the_functions_error() {
    let error = call_async_by_name::<i32>("parse", ("x",))
        .await
        .unwrap_err();
    assert!(matches!(error, CallError::Failed(_)));
    assert!(error.downcast_ref::<ParseIntError>().is_some());
    let error = call_async_by_name::<u8>("read_flag", (false,))
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "no flag");
    let error = call_async_by_name::<u8>("explode", ()).await.unwrap_err();
    assert!(error.is_panic());
    let error = call_async_by_name::<Value>("non_json_result", ())
        .await
        .unwrap_err();
    assert!(
        matches!(error, CallError::InvalidResult(ref invalid) if invalid.function == "non_json_result"),
        "{error}"
    );
}

#[tokio::test]
async fn functions_of_another_crate_are_found_by_name() {
    assert_eq!(
        call_async_by_name::<String>("fixture.greet", ("crate",))
            .await
            .unwrap(),
        "hello, crate"
    );
    assert_eq!(
        call_async_by_name::<i64>("fixture_add", (2, 2))
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        nonblocking_test_fixture::call_async_fixture_add(1, 1)
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn an_unknown_name_is_not_found_with_a_suggestion_and_a_hint() {
    let error = call_async_by_name::<Value>("shuot", ("x",))
        .await
        .unwrap_err();
    match &error {
        CallError::NotFound(missing) => {
            assert_eq!(missing.name, "shuot");
            assert_eq!(missing.suggestion.as_deref(), Some("shout"));
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("did you mean `shout`"), "{message}");
    assert!(
        message.contains("registry()"),
        "the message says how to list what is registered: {message}"
    );

    let error = call_async_by_name::<Value>("completely-unrelated", ())
        .await
        .unwrap_err();
    assert!(matches!(error, CallError::NotFound(missing) if missing.suggestion.is_none()));
}

#[tokio::test]
async fn bad_arguments_name_the_function_and_parameter() {
    let invalid = |error: CallError| match error {
        CallError::InvalidArguments(invalid) => {
            (invalid.function, invalid.parameter, invalid.reason)
        }
        other => panic!("expected InvalidArguments, got {other:?}"),
    };

    let (function, parameter, reason) = invalid(
        call_async_by_name::<i64>("add", (1, 2, 3))
            .await
            .unwrap_err(),
    );
    assert_eq!((function.as_str(), parameter), ("add", None));
    assert!(
        reason.contains("expected 2 arguments at most, got 3"),
        "{reason}"
    );

    let (_, parameter, reason) = invalid(
        call_async_by_name::<i64>("add", (1, "two"))
            .await
            .unwrap_err(),
    );
    assert_eq!(parameter.as_deref(), Some("b"));
    assert!(reason.contains("invalid type"), "serde's reason: {reason}");

    let (_, parameter, reason) = invalid(call_async_by_name::<i64>("add", (1,)).await.unwrap_err());
    assert_eq!(parameter.as_deref(), Some("b"));
    assert!(
        reason.contains("missing argument of type `i64`"),
        "{reason}"
    );

    let (_, parameter, reason) = invalid(
        call_async_by_name::<i64>("add", json!({"a": 1, "c": 2}))
            .await
            .unwrap_err(),
    );
    assert_eq!(parameter.as_deref(), Some("c"));
    assert!(
        reason.contains("unknown keyword") && reason.contains("a, b"),
        "{reason}"
    );

    let (_, parameter, _) = invalid(
        call_async_by_name::<i64>("add", json!({"a": 1}))
            .await
            .unwrap_err(),
    );
    assert_eq!(parameter.as_deref(), Some("b"));

    let (_, _, reason) = invalid(call_async_by_name::<i64>("add", 5).await.unwrap_err());
    assert!(
        reason.contains("a single argument was given, but it takes 2 arguments"),
        "{reason}"
    );

    let (_, _, reason) = invalid(
        call_async_by_name::<String>("version", (1,))
            .await
            .unwrap_err(),
    );
    assert!(
        reason.contains("expected no arguments at most, got 1"),
        "{reason}"
    );

    // The message names function and parameter.
    let message = call_async_by_name::<i64>("add", (1, "two"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("invalid arguments for server function `add`, parameter `b`: "),
        "{message}"
    );
}

#[tokio::test]
async fn a_result_of_the_wrong_type_is_an_error_naming_the_function() {
    let error = call_async_by_name::<String>("add", (1, 2))
        .await
        .unwrap_err();
    match error {
        CallError::InvalidResult(invalid) => {
            assert_eq!(invalid.function, "add");
            assert!(
                invalid.reason.contains("invalid type"),
                "{}",
                invalid.reason
            );
        }
        other => panic!("expected InvalidResult, got {other:?}"),
    }
}

#[tokio::test]
async fn a_duplicate_name_fails_naming_both_definitions_and_others_keep_working() {
    let error = call_async_by_name::<u8>("shared.duplicate", ())
        .await
        .unwrap_err();
    match &error {
        CallError::DuplicateName(duplicate) => {
            let (name, definitions) = (&duplicate.name, &duplicate.definitions);
            assert_eq!(name, "shared.duplicate");
            assert_eq!(definitions.len(), 2);
            assert!(
                definitions.iter().any(|d| d.starts_with(
                    "nonblocking_test_fixture::duplicate_in_fixture at tests/fixture/src/lib.rs:"
                )),
                "{definitions:?}"
            );
            assert!(
                definitions
                    .iter()
                    .any(|d| d.starts_with("server_functions::duplicate_in_tests at ")),
                "{definitions:?}"
            );
        }
        other => panic!("expected DuplicateName, got {other:?}"),
    }
    // The typed stubs are unaffected, and so are other names.
    assert_eq!(call_async_duplicate_in_tests().await.unwrap(), 2);
    assert_eq!(call_async_by_name::<i64>("add", (1, 1)).await.unwrap(), 2);
    assert_eq!(registry().conflicts().count(), 1);
}

#[test]
fn the_registry_lists_every_function_with_its_metadata() {
    let registry = registry();
    let names: Vec<&str> = registry.iter().map(|f| f.name()).collect();
    for expected in [
        "add",
        "shout",
        "double",
        "fixture.greet",
        "fixture_add",
        "billing.update",
        "hygiene",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        !names.contains(&"compiled_out"),
        "a cfg'd-out function is not registered"
    );
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "listed by name");

    let billing = registry.get("billing.update").unwrap();
    assert_eq!(billing.rust_path(), "server_functions::update_billing");
    assert!(
        billing.file().ends_with("tests/server_functions.rs"),
        "{}",
        billing.file()
    );
    assert!(billing.line() > 0);
    assert!(billing.is_async());
    assert_eq!(billing.require(), Some("admin"));
    assert_eq!(billing.returns(), "u64");
    let params: Vec<(&str, &str)> = billing.params().iter().map(|p| (p.name, p.ty)).collect();
    assert_eq!(params, [("account", "String"), ("cents", "u64")]);
    assert_eq!(
        billing.to_string(),
        "billing.update(account: String, cents: u64) -> u64"
    );

    let shout = registry.get("shout").unwrap();
    assert!(!shout.is_async());
    assert_eq!(shout.require(), None);
    assert_eq!(registry.get("touch").unwrap().returns(), "()");
    assert_eq!(
        registry.get("parse").unwrap().returns(),
        "Result<i32, ParseIntError>"
    );

    // The entry constant is the registered one.
    assert_eq!(ADD_SERVER_FUNCTION.name(), "add");
    assert_eq!(registry.len(), names.len());
}

#[test]
fn register_after_the_registry_was_built_is_refused() {
    let _ = registry();
    let error = register(&SHOUT_SERVER_FUNCTION).unwrap_err();
    assert!(matches!(error, CallError::RegistryBuilt(ref name) if &**name == "shout"));
}

#[tokio::test]
async fn by_name_calls_can_be_cancelled() {
    let call = call_async_by_name::<u8>("slow", ());
    call.cancel();
    assert_eq!(call.status(), CallStatus::Cancelled);
    assert!(matches!(call.await, Err(CallError::Cancelled)));
}

#[test]
fn by_name_calls_work_without_a_runtime() {
    assert_eq!(
        call_async_by_name::<i64>("add", (20, 22)).wait().unwrap(),
        42
    );
    assert_eq!(
        call_async_by_name::<String>("shout", ("plain thread",))
            .wait()
            .unwrap(),
        "PLAIN THREAD"
    );
}
