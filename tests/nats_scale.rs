//! Scale-out over NATS with separate worker processes (`examples/nats_worker`) and a real
//! `nats-server`: three workers share 10,000 calls; a worker killed with SIGKILL mid-load costs
//! only calls it held (none runs twice, none hangs); one leaving on SIGTERM costs none; a
//! caller survives the loss of the cluster node it is connected to; and the loss of a
//! worker's node costs only the calls that worker held, new calls going to the others.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use nonblocking_runtime::CallError;
use nonblocking_runtime::nats::async_nats::ConnectOptions;
use nonblocking_runtime::nats::{Connect, Remote};
use support::nats_server::NatsServer;
use support::{build_example, target_dir};

/// One `nats_worker` process, killed when dropped.
struct WorkerProcess {
    child: Child,
    record: PathBuf,
}

impl WorkerProcess {
    fn start(binary: &Path, servers: &[String], record: PathBuf, extra: &[&str]) -> WorkerProcess {
        let _ = std::fs::remove_file(&record);
        let mut command = Command::new(binary);
        for server in servers {
            command.args(["--server", server]);
        }
        let mut child = command
            .arg("--record")
            .arg(&record)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats_worker starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        lines.read_line(&mut first).unwrap();
        assert!(
            first.starts_with("ready "),
            "the worker did not start: {first:?}"
        );
        std::thread::spawn(move || for _ in lines.lines() {});
        WorkerProcess { child, record }
    }

    /// The ids of the calls this worker executed.
    fn executed(&self) -> Vec<u64> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .map(|id| id.parse().unwrap())
            .collect()
    }

    fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn terminate(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "a clean leave exits 0: {status}");
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

fn record(test: &str, worker: usize) -> PathBuf {
    let dir = target_dir().join("nats-test").join(test);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("worker-{worker}.log"))
}

/// How many workers answer `$SRV.PING` within a moment.
async fn workers_answering(remote: &Remote) -> usize {
    let client = remote.client();
    let inbox = client.new_inbox();
    let mut answers = client.subscribe(inbox.clone()).await.unwrap();
    client
        .publish_with_reply("$SRV.PING.nonblocking-examples", inbox, "".into())
        .await
        .unwrap();
    let mut count = 0;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(250), answers.next()).await {
        count += 1;
    }
    count
}

async fn wait_for_workers(remote: &Remote, expected: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answering = workers_answering(remote).await;
        if answering == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{answering} workers answer $SRV.PING, not {expected}"
        );
    }
}

/// `work.echo(id)` for every id, `in_flight` at once: each outcome with how long it took.
async fn load(
    remote: &Remote,
    ids: std::ops::Range<u64>,
    in_flight: usize,
    done: &AtomicUsize,
) -> Vec<(u64, Result<u64, CallError>, Duration)> {
    futures_util::stream::iter(ids)
        .map(|id| {
            let remote = remote.clone();
            async move {
                let started = Instant::now();
                let outcome = remote.call_async_by_name::<u64>("work.echo", (id,)).await;
                done.fetch_add(1, Ordering::Relaxed);
                (id, outcome, started.elapsed())
            }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await
}

/// A NATS server and three `nats_worker` processes serving on it, recording under `test`.
fn three_workers(test: &str) -> (NatsServer, Vec<WorkerProcess>) {
    let server = NatsServer::start("");
    let binary = build_example("nats_worker");
    let servers = [server.url()];
    let workers = (0..3)
        .map(|i| WorkerProcess::start(&binary, &servers, record(test, i), &[]))
        .collect();
    (server, workers)
}

async fn caller(servers: &[String], timeout: Duration) -> Remote {
    Remote::builder()
        .prefix("rpc")
        .timeout(timeout)
        .connect(&Connect::new(servers.to_vec()))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_ten_thousand_calls() {
    let (server, workers) = three_workers("share");
    let servers = [server.url()];
    let remote = caller(&servers, Duration::from_secs(10)).await;
    wait_for_workers(&remote, 3).await;
    let started = Instant::now();
    let outcomes = load(&remote, 0..10_000, 64, &AtomicUsize::new(0)).await;
    println!("10,000 calls over 3 workers in {:?}", started.elapsed());
    for (id, outcome, _) in &outcomes {
        assert_eq!(outcome.as_ref().unwrap(), id);
    }
    let shares: Vec<usize> = workers
        .iter()
        .map(|worker| worker.executed().len())
        .collect();
    println!("calls executed per worker: {shares:?}");
    assert_eq!(shares.iter().sum::<usize>(), 10_000);
    for share in shares {
        assert!(share >= 2_000, "a worker ran only {share} of 10,000 calls");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_load_loses_only_its_calls_and_none_runs_twice() {
    let (server, mut workers) = three_workers("crash");
    let servers = [server.url()];
    let deadline = Duration::from_secs(2);
    let remote = caller(&servers, deadline).await;
    wait_for_workers(&remote, 3).await;
    let done = AtomicUsize::new(0);
    let (outcomes, ()) = tokio::join!(load(&remote, 0..10_000, 64, &done), async {
        while done.load(Ordering::Relaxed) < 3_000 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        workers[0].kill_hard();
    });
    let mut failed: HashMap<String, usize> = HashMap::new();
    for (id, outcome, took) in &outcomes {
        // Generous for a loaded 2-core machine: the deadline plus scheduling.
        assert!(
            *took < deadline + Duration::from_secs(2),
            "call {id} took {took:?}"
        );
        match outcome {
            Ok(value) => assert_eq!(value, id),
            Err(error) => {
                let kind = match error {
                    CallError::TimedOut(_) => "timed out (its worker died holding it)".to_owned(),
                    other => other.to_string(),
                };
                *failed.entry(kind).or_default() += 1;
            }
        }
    }
    println!(
        "crash test: {} of 10,000 calls failed: {failed:?}",
        failed.values().sum::<usize>()
    );
    let mut seen = HashMap::new();
    for id in workers.iter().flat_map(WorkerProcess::executed) {
        *seen.entry(id).or_insert(0) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, runs)| **runs > 1).collect();
    assert!(twice.is_empty(), "calls executed twice: {twice:?}");
    // Once the dead worker is gone from discovery, every call succeeds.
    wait_for_workers(&remote, 2).await;
    let after = load(&remote, 10_000..11_000, 64, &AtomicUsize::new(0)).await;
    let failures: Vec<_> = after
        .iter()
        .filter(|(_, outcome, _)| outcome.is_err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} calls failed after the crash: {:?}",
        failures.len(),
        failures.first()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_leaving_on_sigterm_mid_load_fails_no_call() {
    let (server, mut workers) = three_workers("leave");
    let servers = [server.url()];
    let remote = caller(&servers, Duration::from_secs(10)).await;
    wait_for_workers(&remote, 3).await;
    let done = AtomicUsize::new(0);
    let (outcomes, ()) = tokio::join!(load(&remote, 0..10_000, 64, &done), async {
        while done.load(Ordering::Relaxed) < 3_000 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let leaving = &mut workers[0];
        tokio::task::block_in_place(|| leaving.terminate());
    });
    let failed: Vec<_> = outcomes
        .iter()
        .filter(|(_, outcome, _)| outcome.is_err())
        .collect();
    assert!(
        failed.is_empty(),
        "{} calls failed: {:?}",
        failed.len(),
        failed.first()
    );
    let executed: usize = workers.iter().map(|worker| worker.executed().len()).sum();
    assert_eq!(executed, 10_000, "every call ran exactly once");
    println!(
        "the leaving worker ran {} calls before it left",
        workers[0].executed().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_fails_over_when_its_cluster_node_dies() {
    let mut nodes = NatsServer::cluster();
    let binary = build_example("nats_worker");
    let urls: Vec<String> = nodes.iter().map(NatsServer::url).collect();
    // The worker on the two nodes that stay; the caller on all three, the first one first.
    let _worker = WorkerProcess::start(&binary, &urls[1..], record("cluster", 0), &[]);
    let connect =
        Connect::new(urls.clone()).options(|| ConnectOptions::new().retain_servers_order());
    let remote = Remote::builder()
        .prefix("rpc")
        .timeout(Duration::from_millis(500))
        .connect(&connect)
        .await
        .unwrap();
    // The routes between the nodes form in the background: wait until a call crosses them.
    let deadline = Instant::now() + Duration::from_secs(15);
    while remote
        .call_async_by_name::<u64>("work.echo", (1,))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "the cluster never routed a call");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        remote.client().server_info().port,
        nodes[0].port,
        "the caller is on the first node"
    );
    nodes[0].kill();
    let killed = Instant::now();
    let mut id = 0;
    let recovered = loop {
        id += 1;
        if remote
            .call_async_by_name::<u64>("work.echo", (id,))
            .await
            .is_ok()
        {
            break killed.elapsed();
        }
        assert!(
            killed.elapsed() < Duration::from_secs(5),
            "no call succeeded within 5 s of the node's death"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    println!("failover: calls succeed again {recovered:?} after the caller's node died");
    assert_ne!(remote.client().server_info().port, nodes[0].port);
    for id in 1000..1100 {
        assert_eq!(
            remote
                .call_async_by_name::<u64>("work.echo", (id,))
                .await
                .unwrap(),
            id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workers_node_dying_fails_its_calls_by_the_deadline_and_new_ones_go_elsewhere() {
    let mut nodes = NatsServer::cluster();
    let binary = build_example("nats_worker");
    let urls: Vec<String> = nodes.iter().map(NatsServer::url).collect();
    // One worker on the node that dies, kept from failing over to the others (or it would
    // reconnect and still answer); one on another node; the caller on the third.
    let only = ["--only-given-servers"];
    let doomed = WorkerProcess::start(&binary, &urls[1..2], record("worker-node", 0), &only);
    let survivor = WorkerProcess::start(&binary, &urls[2..3], record("worker-node", 1), &only);
    let deadline = Duration::from_millis(1_500);
    let remote = Remote::builder()
        .prefix("rpc")
        .timeout(deadline)
        .connect(&Connect::new(urls[..1].to_vec()))
        .await
        .unwrap();
    // The routes form in the background: wait until both workers have answered.
    let settle = Instant::now() + Duration::from_secs(15);
    let mut id = 0;
    while doomed.executed().is_empty() || survivor.executed().is_empty() {
        id += 1;
        let _ = remote.call_async_by_name::<u64>("work.echo", (id,)).await;
        assert!(
            Instant::now() < settle,
            "the cluster never routed calls to both workers"
        );
    }

    // 40 calls of 600 ms in flight, spread over both workers; the doomed worker's node dies
    // under them.
    let calls: Vec<_> = (0..40)
        .map(|_| {
            remote
                .call_async_by_name::<u64>("work.sleep", (600,))
                .into_future()
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let killed = Instant::now();
    nodes[1].kill();
    let outcomes = futures_util::future::join_all(calls).await;
    let ended = killed.elapsed();
    let failed: Vec<&CallError> = outcomes
        .iter()
        .filter_map(|outcome| outcome.as_ref().err())
        .collect();
    println!(
        "{} of 40 calls failed with the worker's node, all ended {ended:?} after the kill",
        failed.len()
    );
    // Every call ended by its deadline (plus a margin for a loaded machine), none hung.
    assert!(ended < deadline + Duration::from_secs(1), "took {ended:?}");
    // The doomed worker's calls are lost, and say so by timing out; the survivor's answered.
    assert!(
        failed
            .iter()
            .all(|error| matches!(error, CallError::TimedOut(_))),
        "{failed:?}"
    );
    assert!(
        !failed.is_empty() && failed.len() < 40,
        "{} failed: the calls were not spread over both workers",
        failed.len()
    );

    // New calls go to the surviving worker (the cluster forgets the dead node's interest).
    let before = survivor.executed().len();
    for id in 10_000..10_100u64 {
        let answered = remote.call_async_by_name::<u64>("work.echo", (id,)).await;
        assert_eq!(answered.unwrap(), id, "call {id} after the node died");
    }
    assert_eq!(survivor.executed().len(), before + 100);
}
