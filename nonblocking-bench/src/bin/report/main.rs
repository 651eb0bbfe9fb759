//! One command for every benchmark row: runs the criterion benches, the memory and repeat
//! binaries, and callgrind on the blocking-call binary; then prints the ratio table (ours ÷
//! tokio, medians) with the machine, and writes it with a chart to `target/bench-report/`.
//!
//! `cargo run --release -p nonblocking-bench --bin report` (add `--quick` for a fast, rougher run).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use plotters::prelude::*;

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = root.join("target");
    let out = target.join("bench-report");
    std::fs::create_dir_all(&out).expect("target/bench-report");

    let mut bench = Command::new(env!("CARGO"));
    bench
        .current_dir(&root)
        .args(["bench", "-p", "nonblocking-bench"]);
    if quick {
        bench.args(["--", "--quick"]);
    }
    if !std::env::args().any(|arg| arg == "--http-only") {
        run(&mut bench);
    }
    run(Command::new(env!("CARGO")).current_dir(&root).args([
        "build",
        "--release",
        "-p",
        "nonblocking-bench",
        "--bins",
    ]));
    if std::env::args().any(|arg| arg == "--http-only") {
        for (connections, ours, bare) in http_load(&target.join("release/http_pair"), &out, quick) {
            println!(
                "{connections}: ours {:.0}/s p50 {} p99 {} | bare {:.0}/s p50 {} p99 {}",
                ours.rate, ours.p50, ours.p99, bare.rate, bare.p50, bare.p99
            );
        }
        return;
    }
    let mut figures = key_values(&output(&mut Command::new(target.join("release/memory"))));
    figures.extend(key_values(&output(&mut Command::new(
        target.join("release/repeat_accuracy"),
    ))));
    figures.extend(instructions_per_call(
        &target.join("release/instructions"),
        &out,
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
    time_row(
        "typed call",
        "typed_call",
        "nonblocking",
        "tokio",
        "≤ 1.25",
        1.25,
    );
    time_row(
        "closure call",
        "closure_call",
        "nonblocking",
        "tokio",
        "≤ 1.25",
        1.25,
    );
    time_row(
        "handler, attached before",
        "handler_before",
        "nonblocking",
        "tokio",
        "≤ 0.7",
        0.7,
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
        let name = if shape == "tuple" {
            "by name, (1, 2)"
        } else {
            "by name, 5-field struct"
        };
        rows.push(Row::new(
            name,
            format!("+{:.0} ns over typed", ours - typed),
            format!("lookup + serde {floor:.0} ns"),
            (ours - typed) / floor,
            "(ours − typed) ≤ 1.2 × floor",
            1.2,
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
        "≤ 0.35",
        0.35,
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
    rows.push(Row::new(
        "repeat 1 ms for 2 s: ticks",
        format!("{ours:.0}"),
        format!("{base:.0}"),
        ours / base,
        "≥ 0.99",
        f64::NAN,
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

    for (connections, ours, bare) in http_load(&target.join("release/http_pair"), &out, quick) {
        rows.push(Row::new(
            &format!("HTTP, {connections} connections: calls/s"),
            format!("{:.0}/s (p50 {}, p99 {})", ours.rate, ours.p50, ours.p99),
            format!("{:.0}/s (p50 {}, p99 {})", bare.rate, bare.p50, bare.p99),
            ours.rate / bare.rate,
            "≥ 0.9 of bare axum",
            f64::NAN,
        ));
    }

    let mut table = format!("Machine: {} cores, {}\n\n", nproc(), cpu_model());
    table.push_str("| row | ours | baseline | ratio | target | met |\n|---|---|---|---|---|---|\n");
    for row in &rows {
        let met = row.met();
        let _ = writeln!(
            table,
            "| {} | {} | {} | {:.2} | {} | {} |",
            row.name,
            row.ours,
            row.base,
            row.ratio,
            row.target,
            if met { "yes" } else { "no" }
        );
    }
    let _ = writeln!(
        table,
        "\nAllocations per call: typed {} (tokio {}), closure {} (tokio {}). Registry build with 10,000 functions: {:.2} ms.",
        figures["typed_call_allocations_ours"],
        figures["typed_call_allocations_tokio"],
        figures["closure_call_allocations_ours"],
        figures["closure_call_allocations_tokio"],
        std::fs::read_to_string(out.join("registry_build_ns.txt"))
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .unwrap_or(f64::NAN)
            / 1e6,
    );
    println!("\n{table}");
    std::fs::write(out.join("table.md"), &table).expect("table.md");
    chart(&rows, &out.join("benchmarks.svg"));
    println!("written: {}", out.join("table.md").display());
    println!("written: {}", out.join("benchmarks.svg").display());
}

struct Row {
    name: String,
    ours: String,
    base: String,
    ratio: f64,
    target: String,
    limit: f64,
}

impl Row {
    /// Rows without a ceiling are "at least" rows: ticks (0.99) and HTTP throughput (0.9).
    fn met(&self) -> bool {
        if !self.limit.is_nan() {
            self.ratio <= self.limit
        } else if self.name.starts_with("HTTP") {
            self.ratio >= 0.9
        } else {
            self.ratio >= 0.99
        }
    }

    fn new(name: &str, ours: String, base: String, ratio: f64, target: &str, limit: f64) -> Row {
        Row {
            name: name.into(),
            ours,
            base,
            ratio,
            target: target.into(),
            limit,
        }
    }
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

/// Instructions per call under callgrind: the difference between 400 and 200 calls, over 200.
fn instructions_per_call(binary: &Path, out: &Path) -> BTreeMap<String, f64> {
    let mut figures = BTreeMap::new();
    for mode in ["spawn_blocking", "call_blocking"] {
        let count = |n: u32| {
            let file = out.join(format!("callgrind.{mode}.{n}"));
            let result = Command::new("valgrind")
                .args([
                    "--tool=callgrind",
                    &format!("--callgrind-out-file={}", file.display()),
                ])
                .arg(binary)
                .args([mode, &n.to_string()])
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
            (count(400) - count(200)) / 200.0,
        );
    }
    figures
}

struct Load {
    rate: f64,
    p50: String,
    p99: String,
}

/// wrk (one thread, on the other core) against our server and a bare axum handler, both on one
/// server core, at 32 and 128 keep-alive connections.
fn http_load(pair: &Path, out: &Path, quick: bool) -> Vec<(u32, Load, Load)> {
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("skipping the HTTP rows: wrk is not installed (apt-get install wrk)");
        return Vec::new();
    }
    let script = out.join("post-add.lua");
    std::fs::write(&script, "wrk.method = \"POST\"\nwrk.body = \"[1, 2]\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n").expect("lua");
    let mut servers = Command::new(pair)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("http_pair starts");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(
        servers.stdout.take().expect("stdout"),
    ));
    let mut port = |label: &str| -> u16 {
        let line = lines.next().expect("a port line").expect("utf-8");
        line.strip_prefix(label)
            .and_then(|p| p.trim().parse().ok())
            .expect("the port")
    };
    let (ours, bare) = (port("ours"), port("bare"));
    let seconds = if quick { "3s" } else { "8s" };
    let run = |port: u16, connections: u32| -> Load {
        let text = output(Command::new("wrk").args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}"),
            "--latency",
            "-s",
            &script.display().to_string(),
            &format!("http://127.0.0.1:{port}/rpc/add"),
        ]));
        let field = |prefix: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_owned()))
                .unwrap_or_default()
        };
        Load {
            rate: field("Requests/sec:").parse().unwrap_or(0.0),
            p50: field("50%"),
            p99: field("99%"),
        }
    };
    let rows = [32, 128]
        .map(|connections| (connections, run(ours, connections), run(bare, connections)))
        .into();
    let _ = servers.kill();
    let _ = servers.wait();
    rows
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

/// A horizontal bar per row: the ratio, with its target drawn as a tick.
fn chart(rows: &[Row], path: &Path) {
    let height = 60 + 34 * rows.len() as u32;
    let root = SVGBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE).expect("svg");
    let max = rows
        .iter()
        .map(|r| r.ratio.max(if r.limit.is_nan() { 1.0 } else { r.limit }))
        .fold(1.5_f64, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "nonblocking ÷ bare tokio (lower is better; ticks: ≥ target)",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(250)
        .build_cartesian_2d(0.0..max, (0..rows.len()).into_segmented())
        .expect("chart");
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(rows.len())
        .y_label_formatter(&|y| match y {
            SegmentValue::CenterOf(i) => rows.get(*i).map(|r| r.name.clone()).unwrap_or_default(),
            _ => String::new(),
        })
        .draw()
        .expect("mesh");
    chart
        .draw_series(rows.iter().enumerate().map(|(i, row)| {
            let met = row.met();
            let color = if met { GREEN.mix(0.7) } else { RED.mix(0.7) };
            Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (row.ratio, SegmentValue::Exact(i + 1)),
                ],
                color.filled(),
            )
        }))
        .expect("bars");
    chart
        .draw_series(
            rows.iter()
                .enumerate()
                .filter(|(_, r)| !r.limit.is_nan())
                .map(|(i, row)| {
                    PathElement::new(
                        vec![
                            (row.limit, SegmentValue::Exact(i)),
                            (row.limit, SegmentValue::Exact(i + 1)),
                        ],
                        BLACK.stroke_width(2),
                    )
                }),
        )
        .expect("targets");
    root.present().expect("svg written");
}
