//! `register()` before the registry is built. Its own test binary: the registry is built once
//! per process, and every other test binary builds it early.

use nonblocking_runtime::registry::register;
use nonblocking_runtime::{CallError, call_async_by_name, registry, server_function};

#[server_function(name = "explicit.ping")]
fn ping() -> String {
    "pong".into()
}

#[test]
fn register_before_first_use_then_refused_after() {
    // Registered twice (automatically and explicitly): listed once, callable.
    register(&PING_SERVER_FUNCTION).unwrap();
    register(&PING_SERVER_FUNCTION).unwrap();
    let listed: Vec<_> = registry()
        .iter()
        .filter(|f| f.name() == "explicit.ping")
        .collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        call_async_by_name::<String>("explicit.ping", ())
            .wait()
            .unwrap(),
        "pong"
    );
    assert_eq!(registry().conflicts().count(), 0);

    let error = register(&PING_SERVER_FUNCTION).unwrap_err();
    assert!(matches!(error, CallError::RegistryBuilt(ref name) if &**name == "explicit.ping"));
    assert!(
        error.to_string().contains("register before the first call"),
        "{error}"
    );
}
