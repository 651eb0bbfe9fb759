//! Compile-time errors of `#[server_function]`, snapshot-tested with trybuild.
//!
//! The `.stderr` snapshots depend on the compiler's wording, so they are checked only on the
//! toolchain recorded in `tests/ui/RUSTC_VERSION`. They are recorded with every feature on
//! (the README's test command), since the `http` feature adds the typed remote stubs and their
//! diagnostics. On another toolchain, or without the feature, the test skips visibly: a
//! `SKIPPED ui:` line with the reason goes straight to stderr, past the harness's capture, so
//! `cargo test` shows it. With `CI` set it fails instead: CI never passes a check it did not
//! run.
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
        return skip(&format!(
            "the snapshots were recorded with `{recorded}`, this is `{current}`"
        ));
    }
    if !cfg!(feature = "http") {
        return skip("the snapshots are recorded with --all-features");
    }
    let cases = trybuild::TestCases::new();
    cases.compile_fail("../tests/ui/*.rs");
    cases.pass("../tests/ui/pass/*.rs");
}

/// A skip that cannot go unnoticed: printed past the test harness's capture, and a failure in
/// CI (`CI` set), where every check must run.
fn skip(reason: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "the UI snapshot test cannot run here ({reason}), and CI does not skip"
    );
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED ui: {reason}");
}
