//! The JS client's own cost: `clients/js/bench/client_cost.mjs` against our HTTP server (the
//! `http_pair` binary), `callAsync` and a bare `fetch` loop in the same run.

use std::path::Path;
use std::process::Command;

use crate::row::{Bound, Row};

/// The row, or `None` (with a message) where Node.js is missing.
pub(crate) fn row(root: &Path, target: &Path) -> Option<Row> {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("node not found: the JS client row is skipped (apt-get install nodejs)");
        return None;
    }
    let (mut server, ports) =
        crate::http::start(&target.join("release/http_pair"), false, &["ours", "bare"]);
    let out = Command::new("node")
        .arg(root.join("clients/js/bench/client_cost.mjs"))
        .arg(format!("http://127.0.0.1:{}/rpc", ports[0]))
        .args(["2000", "10"])
        .output()
        .expect("node starts");
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        out.status.success(),
        "client_cost.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures = crate::key_values(&String::from_utf8_lossy(&out.stdout));
    let shown = |side: &str| {
        format!(
            "{:.0} calls/s (p50 {:.0} µs, p99 {:.0} µs)",
            figures[&format!("js_{side}_calls_per_s")],
            figures[&format!("js_{side}_p50_us")],
            figures[&format!("js_{side}_p99_us")],
        )
    };
    Some(Row::bounded(
        "JS client: callAsync, time per call",
        shown("ours"),
        format!("bare fetch + JSON.parse {}", shown("bare")),
        figures["js_time_ratio"],
        "≤ 1.05 of the bare loop",
        Bound::AtMost(1.05),
    ))
}
