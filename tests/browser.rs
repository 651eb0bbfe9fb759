//! The todo example (`examples/browser_todo`) in a real browser: Debian's Chromium, driven
//! headless by playwright-core from the client's lockfile, no browser download. Chromium must
//! be installed (`apt-get install chromium`; `.ci/run` does it), and Node.js with npm. The
//! scenarios are in `clients/js/browser/todo.test.mjs`; the screenshot lands in
//! `target/browser-test/browser_todo.png`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(command: &mut Command, what: &str, install: &str) {
    let output = command.output().unwrap_or_else(|error| {
        panic!("{what}: could not start it ({error}); install it: {install}")
    });
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    print!("{}", String::from_utf8_lossy(&output.stdout));
}

/// The example server, killed when dropped.
struct Example(Child);

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_todo_page_works_in_chromium() {
    let chromium = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        chromium.exists(),
        "{} is missing: the browser tests need Debian's Chromium (apt-get install chromium), or CHROMIUM=/path/to/chromium",
        chromium.display()
    );
    let root = workspace();
    let client = root.join("clients/js");
    if !client.join("node_modules/playwright-core").exists() {
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&client),
            "npm ci in clients/js",
            "apt-get install nodejs npm",
        );
    }
    // `cargo test --test browser` alone does not build the examples: build this one, with all
    // features as the README's test command builds it (then this is a no-op; another feature
    // set would rebuild the crate here).
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    run(
        Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "nonblocking-runtime",
                "--all-features",
                "--example",
                "browser_todo",
            ])
            .current_dir(&root),
        "building examples/browser_todo",
        "rustup",
    );
    // A second origin the example allows, and a third it does not: pages served there by the
    // Node test call it across origins.
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (allowed, refused) = (free_port(), free_port());
    let mut example = Example(
        Command::new(target.join("debug/examples/browser_todo"))
            .args([
                "--addr",
                "127.0.0.1:0",
                "--allow-origin",
                &format!("http://127.0.0.1:{allowed}"),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("the example starts"),
    );
    let mut lines = BufReader::new(example.0.stdout.take().expect("stdout"));
    let mut first = String::new();
    lines
        .read_line(&mut first)
        .expect("the example prints its URL");
    // Keep reading what the server prints (it reports the cancelled call): a closed pipe would
    // make its `println!` panic.
    std::thread::spawn(move || {
        for line in lines.lines().map_while(Result::ok) {
            println!("[example] {line}");
        }
    });
    let url = first.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    run(
        Command::new("node")
            .args(["--test", "browser/todo.test.mjs"])
            .env("TODO_URL", &url)
            .env("ALLOWED_ORIGIN_PORT", allowed.to_string())
            .env("REFUSED_ORIGIN_PORT", refused.to_string())
            .env("CHROMIUM", &chromium)
            .env("TEST_OUTPUT_DIR", target.join("browser-test"))
            .current_dir(&client),
        "the browser tests",
        "apt-get install nodejs npm",
    );
    assert!(target.join("browser-test/browser_todo.png").exists());
}
