//! Compile-time errors of `#[server_function]`, snapshot-tested with trybuild.
//!
//! The `.stderr` snapshots depend on the compiler's wording, so they are checked only on the
//! toolchain recorded in `tests/ui/RUSTC_VERSION`; on any other the test says so and skips.
//! They are recorded with every feature on (the README's test command), since the `http`
//! feature adds the typed remote stubs and their diagnostics; without it the test skips too.
//! To re-record: `TRYBUILD=overwrite cargo test --all-features --test ui`, then update that file.

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
    if !cfg!(feature = "http") {
        println!("SKIPPED: the UI snapshots are recorded with --all-features");
        eprintln!("SKIPPED: the UI snapshots are recorded with --all-features");
        return;
    }
    let cases = trybuild::TestCases::new();
    cases.compile_fail("../tests/ui/*.rs");
    cases.pass("../tests/ui/pass/*.rs");
}
