//! The HTTP rows: wrk (one thread, pinned to one core) against four servers pinned to the
//! other core, each doing the same `add` from the keyword body `{"a":40,"b":2}`: ours with an
//! async function, ours with a plain `fn` (on the blocking pool), ours with an `inline` plain
//! `fn` (on the worker), a bare axum JSON handler (the baseline), and Leptos
//! `server_fn` 0.8 as a peer. Runs alternate (every server at one connection count, then the
//! next round), so a drift of the machine spreads over all of them; each row is the median.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// One server under load.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Server {
    OursAsync,
    OursSync,
    OursInline,
    Bare,
    Leptos,
}

impl Server {
    pub fn label(self) -> &'static str {
        match self {
            Server::OursAsync => "ours, async fn",
            Server::OursSync => "ours, sync fn (blocking pool)",
            Server::OursInline => "ours, sync fn, inline",
            Server::Bare => "bare axum",
            Server::Leptos => "Leptos server_fn 0.8",
        }
    }
}

/// What one server did at one connection count, over all rounds.
pub struct Measured {
    pub server: Server,
    pub connections: u32,
    /// Requests per second, one per round.
    pub rates: Vec<f64>,
    /// Ratio to bare axum in the same round, one per round.
    pub ratios: Vec<f64>,
    /// Latency percentiles of the median round.
    pub p50: String,
    pub p99: String,
}

impl Measured {
    pub fn rate(&self) -> f64 {
        median(&self.rates)
    }

    pub fn ratio(&self) -> f64 {
        median(&self.ratios)
    }
}

struct Load {
    rate: f64,
    p50: String,
    p99: String,
}

/// The processes serving, killed when dropped.
struct Running(Vec<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs the rounds; empty when wrk is missing (the report says so and goes on).
pub fn measure(
    root: &Path,
    target: &Path,
    out: &Path,
    rounds: usize,
    seconds: u32,
) -> Vec<Measured> {
    if Command::new("wrk").arg("--version").output().is_err() {
        println!("skipping the HTTP rows: wrk is not installed (apt-get install wrk)");
        return Vec::new();
    }
    let pinned = Command::new("taskset").arg("--version").output().is_ok() && crate::nproc() >= 2;
    if !pinned {
        println!("note: taskset or a second core is missing; the HTTP rows run unpinned");
    }
    let script = out.join("post-add.lua");
    std::fs::write(
        &script,
        "wrk.method = \"POST\"\nwrk.body = '{\"a\":40,\"b\":2}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n",
    )
    .expect("lua");

    let mut running = Running(Vec::new());
    let mut ports = Vec::new();
    let (pair, pair_ports) = start(&target.join("release/http_pair"), pinned, &["ours", "bare"]);
    running.0.push(pair);
    ports.push((Server::OursAsync, pair_ports[0], "/rpc/add"));
    ports.push((Server::OursSync, pair_ports[0], "/rpc/add_sync"));
    ports.push((Server::OursInline, pair_ports[0], "/rpc/add_inline"));
    ports.push((Server::Bare, pair_ports[1], "/rpc/add"));
    match build_leptos(root, target) {
        Some(binary) => {
            let (leptos, leptos_ports) = start(&binary, pinned, &["leptos"]);
            running.0.push(leptos);
            ports.push((Server::Leptos, leptos_ports[0], "/rpc/add"));
        }
        None => println!("skipping the Leptos row: its peer did not build"),
    }

    let mut measured: Vec<Measured> = Vec::new();
    for connections in [32, 128] {
        let first = measured.len();
        for &(server, _, _) in &ports {
            measured.push(Measured {
                server,
                connections,
                rates: Vec::new(),
                ratios: Vec::new(),
                p50: String::new(),
                p99: String::new(),
            });
        }
        let mut latencies: Vec<Vec<(f64, String, String)>> = vec![Vec::new(); ports.len()];
        for round in 0..rounds {
            // Forward in even rounds, backward in odd ones: a drift of the machine within a
            // round then favours no server.
            let mut order: Vec<usize> = (0..ports.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            let mut loads: Vec<Option<Load>> = ports.iter().map(|_| None).collect();
            for index in order {
                let (_, port, path) = ports[index];
                loads[index] = Some(wrk(&script, port, path, connections, seconds, pinned));
            }
            let loads: Vec<Load> = loads
                .into_iter()
                .map(|load| load.expect("every server ran"))
                .collect();
            let bare = loads[ports
                .iter()
                .position(|port| port.0 == Server::Bare)
                .expect("the baseline")]
            .rate;
            for (index, load) in loads.into_iter().enumerate() {
                let row = &mut measured[first + index];
                row.rates.push(load.rate);
                row.ratios.push(load.rate / bare);
                latencies[index].push((load.rate, load.p50, load.p99));
            }
            println!(
                "HTTP round {}/{rounds}, {connections} connections: {}",
                round + 1,
                measured[first..]
                    .iter()
                    .map(|row| format!("{} {:.0}/s", row.server.label(), row.rates[round]))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        for (index, mut rounds) in latencies.into_iter().enumerate() {
            rounds.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (_, p50, p99) = rounds.swap_remove(rounds.len() / 2);
            measured[first + index].p50 = p50;
            measured[first + index].p99 = p99;
        }
    }
    measured
}

/// Starts a server binary (pinned to core 0) and reads the ports it prints, one per label.
pub(crate) fn start(binary: &Path, pinned: bool, labels: &[&str]) -> (Child, Vec<u16>) {
    let mut command = if pinned {
        let mut command = Command::new("taskset");
        command.args(["-c", "0"]).arg(binary);
        command
    } else {
        Command::new(binary)
    };
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{} starts: {error}", binary.display()));
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ports = labels
        .iter()
        .map(|label| {
            let line = lines.next().expect("a port line").expect("utf-8");
            line.strip_prefix(label)
                .and_then(|port| port.trim().parse().ok())
                .unwrap_or_else(|| panic!("a port after {label:?} in {line:?}"))
        })
        .collect();
    (child, ports)
}

/// Builds the Leptos peer, a crate outside the workspace so that its dependencies stay out of
/// the project's build; `None` if it does not build (the report goes on without it).
fn build_leptos(root: &Path, target: &Path) -> Option<std::path::PathBuf> {
    let target_dir = target.join("leptos-peer");
    let status = Command::new(env!("CARGO"))
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--quiet",
            "--manifest-path",
            "nonblocking-bench/peers/leptos/Cargo.toml",
            "--target-dir",
        ])
        .arg(&target_dir)
        .status()
        .ok()?;
    status
        .success()
        .then(|| target_dir.join("release/leptos-peer"))
}

fn wrk(script: &Path, port: u16, path: &str, connections: u32, seconds: u32, pinned: bool) -> Load {
    let mut command = if pinned {
        let mut command = Command::new("taskset");
        command.args(["-c", "1", "wrk"]);
        command
    } else {
        Command::new("wrk")
    };
    let output = command
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&output.stdout);
    // A server that answers errors would look fast: every answer must have been a 200.
    assert!(
        !text.contains("Non-2xx"),
        "{path} on port {port} answered errors under load:\n{text}"
    );
    let field = |prefix: &str| {
        text.lines()
            .find_map(|line| {
                line.trim()
                    .strip_prefix(prefix)
                    .map(|value| value.trim().to_owned())
            })
            .unwrap_or_default()
    };
    Load {
        rate: field("Requests/sec:").parse().unwrap_or(0.0),
        p50: field("50%"),
        p99: field("99%"),
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}
