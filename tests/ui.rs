//! Compile-time errors of `#[server_function]`, snapshot-tested with trybuild.
//!
//! The `.stderr` snapshots depend on the compiler's wording, so they are checked only on the
//! toolchain recorded in `tests/ui/RUSTC_VERSION`; on any other the test says so and skips.
//! To re-record: `TRYBUILD=overwrite cargo test --test ui`, then update that file.

use std::process::Command;

#[test]
fn ui() {
    let recorded = include_str!("ui/RUSTC_VERSION").trim();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let current = Command::new(rustc)
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default();
    if current != recorded {
        println!("SKIPPED: the UI snapshots were recorded with `{recorded}`, this is `{current}`");
        eprintln!("SKIPPED: the UI snapshots were recorded with `{recorded}`, this is `{current}`");
        return;
    }
    let cases = trybuild::TestCases::new();
    cases.compile_fail("../tests/ui/*.rs");
    cases.pass("../tests/ui/pass/*.rs");
}
