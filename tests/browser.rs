//! The todo example (`examples/browser_todo`) in a real browser: Debian's Chromium, driven
//! headless by playwright-core from the client's lockfile, no browser download. Chromium must
//! be installed (`apt-get install chromium`; `.ci/run` does it), and Node.js with npm. The
//! scenarios are in `clients/js/browser/todo.test.mjs`; the screenshot lands in
//! `target/browser-test/browser_todo.png`.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{Example, build_example, free_port, node_packages, run, target_dir};

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
    let (allowed, refused) = (free_port(), free_port());
    let example = Example::start(
        &binary,
        &["--allow-origin", &format!("http://127.0.0.1:{allowed}")],
    );
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
