//! One command for every benchmark row: runs the criterion benches, the memory and repeat
//! binaries, and callgrind on the blocking-call binary; then prints the ratio table (ours ÷
//! tokio, medians) with the machine, and writes it with a chart to `target/bench-report/`.
//!
//! `cargo run --release -p nonblocking-bench --bin report` (add `--quick` for a fast, rougher run;
//! `--http-only` or `--js-only` for those rows alone).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

mod chart;
mod http;
mod js;
mod row;

use row::{Bound, Row};

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = root.join("target");
    let out = target.join("bench-report");
    std::fs::create_dir_all(&out).expect("target/bench-report");

    let mut bench = Command::new(env!("CARGO"));
    bench
        .current_dir(&root)
        // `--bench '*'`: only the criterion targets, which take `--quick` (the test harness of
        // the library and the binaries would refuse it).
        .args(["bench", "-p", "nonblocking-bench", "--bench", "*"]);
    if quick {
        bench.args(["--", "--quick"]);
    }
    if !std::env::args().any(|arg| arg == "--http-only" || arg == "--js-only") {
        run(&mut bench);
    }
    run(Command::new(env!("CARGO")).current_dir(&root).args([
        "build",
        "--release",
        "-p",
        "nonblocking-bench",
        "--bins",
    ]));
    // Fifteen alternating rounds of 2 s (one short round with --quick). This machine's speed
    // swings by a third over seconds: short runs close together compare ours and the baseline
    // under the same conditions, and many of them steady the median (5 rounds of 6 s gave
    // medians from 0.82 to 0.97 for the same build).
    let (rounds, seconds) = if quick { (1, 3) } else { (15, 2) };
    if std::env::args().any(|arg| arg == "--js-only") {
        let rows: Vec<Row> = js::row(&root, &target).into_iter().collect();
        println!("\n{}", render(&rows));
        return;
    }
    if std::env::args().any(|arg| arg == "--http-only") {
        let mut rows = Vec::new();
        http_rows(
            &http::measure(&root, &target, &out, rounds, seconds),
            &target,
            &out,
            &mut rows,
        );
        let table = render(&rows);
        println!("\n{table}");
        std::fs::write(out.join("http.md"), &table).expect("http.md");
        return;
    }
    let mut figures = key_values(&output(&mut Command::new(target.join("release/memory"))));
    figures.extend(key_values(&output(&mut Command::new(
        target.join("release/repeat_accuracy"),
    ))));
    figures.extend(key_values(&output(&mut Command::new(
        target.join("release/ui_delivery"),
    ))));
    figures.extend(instructions_per_call(
        &target.join("release/instructions"),
        &out,
        &["spawn_blocking", "call_blocking"],
        (200, 400),
    ));
    // Async calls are cheap and steady: more of them, so start-up is a smaller share.
    figures.extend(instructions_per_call(
        &target.join("release/instructions"),
        &out,
        &[
            "spawn",
            "call_async",
            "typed",
            "by_name",
            "floor",
            "typed_struct",
            "by_name_struct",
            "floor_struct",
            "after_baseline",
            "after",
        ],
        (2_000, 12_000),
    ));

    let median = |group: &str, function: &str| criterion_median(&target, group, function);
    let mut rows: Vec<Row> = Vec::new();
    let mut time_row =
        |row: &str, group: &str, ours: &str, base: &str, target: &str, limit: f64| {
            let (ours, base) = (median(group, ours), median(group, base));
            rows.push(Row::new(
                row,
                format!("{ours:.0} ns"),
                format!("{base:.0} ns"),
                ours / base,
                target,
                limit,
            ));
        };
    // Targets of issue 14 (one allocation per call): a plain call within 10% of
    // `tokio::spawn`; handlers attached before completion allowed to cost more than the old
    // 0.7 (they now run in tokio's completion wake-up), up to the hand-written baseline.
    time_row(
        "typed call",
        "typed_call",
        "nonblocking",
        "tokio",
        "≤ 1.10",
        1.10,
    );
    time_row(
        "closure call",
        "closure_call",
        "nonblocking",
        "tokio",
        "≤ 1.10",
        1.10,
    );
    time_row(
        "handler, attached before",
        "handler_before",
        "nonblocking",
        "tokio",
        "≤ 1.0",
        1.0,
    );
    time_row(
        "on_result + on_error pair, attached before",
        "handler_pair_before",
        "nonblocking",
        "tokio",
        "≤ 1.0",
        1.0,
    );
    time_row(
        "handler, attached after",
        "handler_after",
        "nonblocking",
        "tokio",
        "≤ 1.1",
        1.1,
    );
    time_row(
        "defer create",
        "defer_create",
        "nonblocking",
        "tokio",
        "≤ 0.5",
        0.5,
    );
    time_row(
        "defer cancel",
        "defer_cancel",
        "nonblocking",
        "tokio",
        "≤ 1.0",
        1.0,
    );
    time_row(
        "debounce: cancel + new",
        "debounce",
        "cancel_and_new",
        "tokio",
        "≤ 0.5",
        0.5,
    );
    time_row(
        "debounce: reset",
        "debounce",
        "reset",
        "tokio",
        "≤ 0.3",
        0.3,
    );
    time_row(
        "registry lookup (10,000)",
        "registry_lookup",
        "nonblocking",
        "hashmap",
        "≤ 1.2",
        1.2,
    );
    for shape in ["tuple", "struct"] {
        let (ours, typed) = (
            median(&format!("by_name_{shape}"), "nonblocking"),
            median(&format!("by_name_{shape}"), "typed"),
        );
        let floor = median("by_name_floor", shape);
        let (name, limit) = if shape == "tuple" {
            ("by name, (1, 2)", 1.5)
        } else {
            ("by name, 5-field struct", 1.2)
        };
        rows.push(Row::new(
            name,
            format!("+{:.0} ns over typed", ours - typed),
            format!("lookup + serde {floor:.0} ns"),
            (ours - typed) / floor,
            &format!("(ours − typed) ≤ {limit} × floor"),
            limit,
        ));
    }
    let (ours, base) = (
        figures["pending_defer_bytes"],
        figures["pending_task_bytes"],
    );
    rows.push(Row::new(
        "pending defers, memory",
        format!("{ours:.0} B each"),
        format!("{base:.0} B each"),
        ours / base,
        "≤ 100 B each (0.38)",
        100.0 / base,
    ));
    let (ours, base) = (
        figures["typed_call_allocations_ours"],
        figures["typed_call_allocations_tokio"],
    );
    rows.push(Row::new(
        "typed call: allocations",
        format!(
            "{ours:.2} (closure {:.2})",
            figures["closure_call_allocations_ours"]
        ),
        format!(
            "{base:.2} (closure {:.2})",
            figures["closure_call_allocations_tokio"]
        ),
        ours / base,
        "1, as tokio",
        1.0,
    ));
    let (ours, base) = (
        figures["call_async_instructions"],
        figures["spawn_instructions"],
    );
    rows.push(Row::new(
        "plain call (callgrind)",
        format!("{ours:.0} instr ({:+.0})", ours - base),
        format!("{base:.0} instr"),
        ours / base,
        "≤ baseline + 150 instr",
        (base + 150.0) / base,
    ));
    // The by-name and late-handler rows again in instructions, which do not move with the
    // machine: the wall-time floor of the tuple row read 41 ns one day and 73 ns another.
    for (shape, name, limit) in [
        ("", "by name, (1, 2) (callgrind)", 1.5),
        ("_struct", "by name, 5-field struct (callgrind)", 1.2),
    ] {
        let ours = figures[&format!("by_name{shape}_instructions")];
        let typed = figures[&format!("typed{shape}_instructions")];
        let floor = figures[&format!("floor{shape}_instructions")];
        rows.push(Row::new(
            name,
            format!("+{:.0} instr over typed", ours - typed),
            format!("lookup + serde {floor:.0} instr"),
            (ours - typed) / floor,
            &format!("(ours − typed) ≤ {limit} × floor"),
            limit,
        ));
    }
    let (ours, base) = (
        figures["after_instructions"],
        figures["after_baseline_instructions"],
    );
    rows.push(Row::new(
        "handler, attached after (callgrind)",
        format!("{ours:.0} instr"),
        format!("{base:.0} instr"),
        ours / base,
        "≤ 1.1",
        1.1,
    ));
    let (ours, base) = (
        figures["call_blocking_instructions"],
        figures["spawn_blocking_instructions"],
    );
    rows.push(Row::new(
        "blocking call (callgrind)",
        format!("{ours:.0} instr"),
        format!("{base:.0} instr"),
        ours / base,
        "≤ baseline + 1,000 instr",
        (base + 1_000.0) / base,
    ));
    let (ours, base) = (figures["repeat_ticks_ours"], figures["repeat_ticks_tokio"]);
    rows.push(Row::bounded(
        "repeat 1 ms for 2 s: ticks",
        format!("{ours:.0}"),
        format!("{base:.0}"),
        ours / base,
        "≥ 0.99",
        Bound::AtLeast(0.99),
    ));
    let (ours, base) = (
        figures["repeat_p99_ms_ours"],
        figures["repeat_p99_ms_tokio"],
    );
    rows.push(Row::new(
        "repeat: p99 lateness",
        format!("{ours:.3} ms (p50 {:.3})", figures["repeat_p50_ms_ours"]),
        format!("{base:.3} ms (p50 {:.3})", figures["repeat_p50_ms_tokio"]),
        ours / base,
        "≤ baseline + 0.2 ms",
        (base + 0.2) / base,
    ));

    let (ours, base) = (
        figures["ui_delivery_latency_us"],
        figures["channel_delivery_latency_us"],
    );
    rows.push(Row::new(
        "handler on a parked UI thread: latency",
        format!(
            "{ours:.1} µs, {:.2} allocs",
            figures["ui_delivery_allocations"]
        ),
        format!(
            "{base:.1} µs, {:.2} allocs (mpsc)",
            figures["channel_delivery_allocations"]
        ),
        ours / base,
        "≤ 1.2, ≤ 1 alloc more",
        1.2,
    ));

    http_rows(
        &http::measure(&root, &target, &out, rounds, seconds),
        &target,
        &out,
        &mut rows,
    );
    rows.extend(js::row(&root, &target));

    let mut table = render(&rows);
    let _ = writeln!(
        table,
        "\nRegistry build with 10,000 functions: {:.2} ms.",
        std::fs::read_to_string(out.join("registry_build_ns.txt"))
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .unwrap_or(f64::NAN)
            / 1e6,
    );
    println!("\n{table}");
    std::fs::write(out.join("table.md"), &table).expect("table.md");
    chart::chart(&rows, &out.join("benchmarks.svg"));
    println!("written: {}", out.join("table.md").display());
    println!("written: {}", out.join("benchmarks.svg").display());
}

fn run(command: &mut Command) {
    let status = command.status().expect("the command starts");
    assert!(status.success(), "{command:?} failed: {status}");
}

fn output(command: &mut Command) -> String {
    let out = command.output().expect("the command starts");
    assert!(out.status.success(), "{command:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn key_values(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(' ')?;
            Some((key.to_owned(), value.trim().parse().ok()?))
        })
        .collect()
}

/// Instructions per call under callgrind, for each mode of `binary` (`<binary> <mode> <n>`):
/// the difference between `high` and `low` calls, over `high - low`, so that start-up cancels.
/// Keys are `<mode>_instructions`.
fn instructions_per_call(
    binary: &Path,
    out: &Path,
    modes: &[&str],
    (low, high): (u32, u32),
) -> BTreeMap<String, f64> {
    let mut figures = BTreeMap::new();
    for mode in modes {
        let count = |n: u32| {
            let file = out.join(format!("callgrind.{mode}.{n}"));
            let result = Command::new("valgrind")
                .args([
                    "--tool=callgrind",
                    &format!("--callgrind-out-file={}", file.display()),
                ])
                .arg(binary)
                .args([mode, &n.to_string().as_str()])
                .output()
                .expect("valgrind runs (apt-get install valgrind)");
            let text = String::from_utf8_lossy(&result.stderr);
            text.lines()
                .find_map(|line| line.split("Collected :").nth(1))
                .and_then(|n| n.trim().parse::<f64>().ok())
                .expect("callgrind's total")
        };
        figures.insert(
            format!("{mode}_instructions"),
            (count(high) - count(low)) / f64::from(high - low),
        );
    }
    figures
}

/// The machine, then one line per row.
fn render(rows: &[Row]) -> String {
    let mut table = format!("Machine: {} cores, {}\n\n", nproc(), cpu_model());
    table.push_str("| row | ours | baseline | ratio | target | met |\n|---|---|---|---|---|---|\n");
    for row in rows {
        let met = match row.met() {
            Some(true) => "yes",
            Some(false) => "no",
            None => "—",
        };
        let _ = writeln!(
            table,
            "| {} | {} | {} | {:.2} | {} | {met} |",
            row.name, row.ours, row.base, row.ratio, row.target
        );
    }
    table
}

/// Ours (sync and async) and the Leptos peer, each against bare axum in the same rounds; then
/// the instructions per request under callgrind, which do not swing with the machine.
fn http_rows(measured: &[http::Measured], target: &Path, out: &Path, rows: &mut Vec<Row>) {
    let shown =
        |row: &http::Measured| format!("{:.0}/s (p50 {}, p99 {})", row.rate(), row.p50, row.p99);
    for row in measured
        .iter()
        .filter(|row| row.server != http::Server::Bare)
    {
        let Some(bare) = measured
            .iter()
            .find(|bare| bare.server == http::Server::Bare && bare.connections == row.connections)
        else {
            continue;
        };
        let (target, bound) = match row.server {
            http::Server::OursAsync | http::Server::OursInline => {
                ("≥ 0.95 of bare axum", Bound::AtLeast(0.95))
            }
            // A thread hop per call, the price of never blocking a worker: reported, with
            // no target to bend the default for.
            http::Server::OursSync => ("safe default: the hop is the cost", Bound::Peer),
            _ => ("peer, for comparison", Bound::Peer),
        };
        rows.push(Row::bounded(
            &format!("HTTP {} conns: {}", row.connections, row.server.label()),
            shown(row),
            format!("bare axum {}", shown(bare)),
            row.ratio(),
            target,
            bound,
        ));
    }
    if measured.is_empty() {
        return;
    }
    let counts = instructions_per_call(
        &target.join("release/http_instructions"),
        out,
        &[
            "ours",
            "ours_sync",
            "ours_inline",
            "ours_router",
            "ours_signed_in",
            "ours_context",
            "bare",
        ],
        (200, 400),
    );
    let bare = counts["bare_instructions"];
    for (mode, label) in [
        ("ours", "async fn"),
        ("ours_sync", "sync fn (blocking pool)"),
        ("ours_inline", "sync fn, inline"),
        (
            "ours_router",
            "async fn, router() without serve()'s connection limits",
        ),
    ] {
        let ours = counts[&format!("{mode}_instructions")];
        rows.push(Row::bounded(
            &format!("HTTP instructions per request (callgrind, with the client): {label}"),
            format!("{ours:.0} instr (+{:.0})", ours - bare),
            format!("bare axum {bare:.0} instr"),
            ours / bare,
            "(for the profile)",
            Bound::Peer,
        ));
    }
    // The cost of the caller's context: the same hook attaching the same user to the same
    // request, read by the function as a `#[context]` parameter or not at all.
    let (read, unread) = (
        counts["ours_context_instructions"],
        counts["ours_signed_in_instructions"],
    );
    rows.push(Row::bounded(
        "HTTP instructions per request (callgrind): async fn reading a #[context] value",
        format!("{read:.0} instr (+{:.0})", read - unread),
        format!("the same fn without it {unread:.0} instr"),
        read / unread,
        "≤ 1.03 of the same fn without",
        Bound::AtMost(1.03),
    ));
}

fn criterion_median(target: &Path, group: &str, function: &str) -> f64 {
    let path = target
        .join("criterion")
        .join(group)
        .join(function)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("no criterion result at {}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).expect("criterion's estimates");
    json["median"]["point_estimate"].as_f64().expect("a median")
}

fn nproc() -> usize {
    std::thread::available_parallelism().map_or(0, usize::from)
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}
