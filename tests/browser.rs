//! The todo example (`examples/browser_todo`) in a real browser: Debian's Chromium, driven
//! headless by playwright-core from the client's lockfile, no browser download. Chromium must
//! be installed (`apt-get install chromium`; `.ci/run` does it), and Node.js with npm. The
//! scenarios are in `clients/js/browser/todo.test.mjs`; the screenshot lands in
//! `target/browser-test/browser_todo.png`.

mod support;

use std::path::PathBuf;
use std::process::Command;

use nonblocking_runtime::CallError;
use nonblocking_runtime::http::Remote;
use serde_json::Value;
use support::{Example, build_example, free_ports, node_packages, run, target_dir};

#[test]
fn the_todo_page_works_in_chromium() {
    let chromium = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        chromium.exists(),
        "{} is missing: the browser tests need Debian's Chromium (apt-get install chromium), or CHROMIUM=/path/to/chromium",
        chromium.display()
    );
    let client = node_packages();
    let binary = build_example("browser_todo");
    // A second origin the example allows, and a third it does not: pages served there by the
    // Node test call it across origins.
    let [allowed, refused] = free_ports();
    let example = Example::start(
        &binary,
        &["--allow-origin", &format!("http://127.0.0.1:{allowed}")],
    );
    from_rust(&format!("{}/rpc", example.url));
    let output = target_dir().join("browser-test");
    run(
        Command::new("node")
            .args(["--test", "browser/todo.test.mjs"])
            .env("TODO_URL", format!("{}/", example.url))
            .env("ALLOWED_ORIGIN_PORT", allowed.to_string())
            .env("REFUSED_ORIGIN_PORT", refused.to_string())
            .env("CHROMIUM", &chromium)
            .env("TEST_OUTPUT_DIR", &output)
            .current_dir(&client),
        "the browser tests",
        "apt-get install nodejs npm",
    );
    assert!(output.join("browser_todo.png").exists());
}

/// The same app from Rust, with the same login header: a user sees their own items only, and
/// a caller without the header is refused before the function runs.
fn from_rust(rpc: &str) {
    let as_user = |name: &str| Remote::builder(rpc).header("x-user", name).build().unwrap();
    let titles = |remote: &Remote| -> Vec<String> {
        let items: Vec<Value> = remote.call_async_by_name("todo.list", ()).wait().unwrap();
        items
            .iter()
            .map(|item| item["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let carol = as_user("carol");
    let added: Value = carol
        .call_async_by_name("todo.add", ("file taxes",))
        .wait()
        .unwrap();
    assert_eq!(
        (added["id"].as_u64(), added["title"].as_str()),
        (Some(1), Some("file taxes"))
    );
    assert_eq!(titles(&carol), ["file taxes"]);
    assert!(
        titles(&as_user("dave")).is_empty(),
        "dave sees none of carol's items"
    );
    let anonymous = Remote::new(rpc).unwrap();
    let refused = anonymous
        .call_async_by_name::<Value>("todo.list", ())
        .wait()
        .unwrap_err();
    assert!(
        matches!(&refused, CallError::Rejected(rejected) if rejected.status == 401 && rejected.message.contains("requires `user`")),
        "{refused:?}"
    );

    // The import's progress reaches a Rust caller too: in order, the last before the result.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = std::sync::Arc::clone(&seen);
    let rows: u16 = as_user("erin")
        .call_async_by_name("todo.import", (5,))
        .on_progress(move |progress: Value| {
            record
                .lock()
                .unwrap()
                .push(progress["done"].as_u64().unwrap())
        })
        .wait()
        .unwrap();
    assert_eq!(rows, 5);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.last(), Some(&5), "{seen:?}");
    assert!(seen.windows(2).all(|pair| pair[0] < pair[1]), "{seen:?}");
}
