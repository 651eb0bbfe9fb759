//! The browser client (`clients/js`): served by the server under its prefix, and run in Node
//! against a live server. Node.js and npm must be installed (`apt-get install nodejs npm`);
//! the client's dev packages come from its lockfile (`npm ci`, run here when they are
//! missing). The Node suite type-checks the tests against the published `.d.ts` with
//! `tsc --strict`, then runs the semantics tests (fake fetch) and the live ones (this server).

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use nonblocking_runtime::context::Roles;
use nonblocking_runtime::http::{Refusal, Server};
use nonblocking_runtime::items::Items;
use nonblocking_runtime::progress::Progress;
use nonblocking_runtime::registry::ServerFunction;
use nonblocking_runtime::remote::Caller;
use nonblocking_runtime::{Context, server_function};
use serde::{Deserialize, Serialize};
use support::{node_packages, run};

#[server_function(name = "js.add")]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[derive(Debug, Serialize, Deserialize, thiserror::Error)]
#[error("item {id} has no title")]
struct NoTitle {
    id: u32,
}

#[server_function(name = "js.check")]
async fn check(id: u32) -> Result<u8, NoTitle> {
    Err(NoTitle { id })
}

static SLOW_STARTED: AtomicBool = AtomicBool::new(false);
static SLOW_CANCELLED: AtomicBool = AtomicBool::new(false);

/// Records a cancellation: dropped before the function finished.
struct Watch;

impl Drop for Watch {
    fn drop(&mut self) {
        SLOW_CANCELLED.store(true, Ordering::SeqCst);
    }
}

#[server_function(name = "js.slow")]
async fn slow() -> u8 {
    SLOW_STARTED.store(true, Ordering::SeqCst);
    let watch = Watch;
    tokio::time::sleep(Duration::from_secs(20)).await;
    std::mem::forget(watch);
    1
}

#[server_function(name = "js.slow_started")]
async fn slow_started() -> bool {
    SLOW_STARTED.load(Ordering::SeqCst)
}

#[server_function(name = "js.slow_was_cancelled")]
async fn slow_was_cancelled() -> bool {
    SLOW_CANCELLED.load(Ordering::SeqCst)
}

#[server_function(name = "js.secret", require = "token")]
async fn secret() -> String {
    "the secret".into()
}

/// Who is calling, as the authorize hook learned it from the request.
#[derive(Clone)]
struct User(String);

#[server_function(name = "js.whoami")]
async fn whoami(#[context] user: User) -> String {
    user.0
}

/// The milliseconds left until the call's deadline.
#[server_function(name = "js.time_left")]
async fn time_left(#[context] context: Context) -> u64 {
    context
        .time_left()
        .map_or(0, |left| left.as_millis() as u64)
}

static NAPS_STOPPED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Counts a nap stopped before it finished.
struct NapWatch;

impl Drop for NapWatch {
    fn drop(&mut self) {
        NAPS_STOPPED.fetch_add(1, Ordering::SeqCst);
    }
}

/// Sleeps `ms` milliseconds, unless stopped first (its caller's deadline).
#[server_function(name = "js.nap")]
async fn nap(ms: u64) -> u64 {
    let watch = NapWatch;
    tokio::time::sleep(Duration::from_millis(ms)).await;
    std::mem::forget(watch);
    ms
}

/// How many naps the server stopped before they finished.
#[server_function(name = "js.naps_stopped")]
async fn naps_stopped() -> u32 {
    NAPS_STOPPED.load(Ordering::SeqCst)
}

/// The id of the trace the call runs in, if its caller sent one.
#[server_function(name = "js.trace_id")]
async fn trace_id(#[context] context: Context) -> Option<String> {
    context.trace().map(|trace| trace.trace_id_hex())
}

/// Reports `1..=to` (and a text with characters of two, three and four bytes each time),
/// pausing `pause_ms` between reports.
#[server_function(name = "js.count")]
async fn count(to: u32, pause_ms: u64, #[context] progress: Progress<(u32, String)>) -> u32 {
    for done in 1..=to {
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        progress.report((done, format!("caf\u{e9} \u{20ac} \u{1f600} {done}")));
    }
    to
}

/// Reports `1..at`, then fails with its row.
#[server_function(name = "js.breaks")]
async fn breaks(at: u32, #[context] progress: Progress<u32>) -> Result<u32, Broke> {
    for row in 1..at {
        tokio::time::sleep(Duration::from_millis(5)).await;
        progress.report(row);
    }
    Err(Broke { row: at })
}

#[derive(Debug, thiserror::Error, serde::Serialize)]
#[error("the import broke at row {row}")]
struct Broke {
    row: u32,
}

static TICKING_STOPPED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

struct TickWatch;

impl Drop for TickWatch {
    fn drop(&mut self) {
        TICKING_STOPPED.fetch_add(1, Ordering::SeqCst);
    }
}

/// Reports a tick every 20 ms until stopped.
#[server_function(name = "js.ticking")]
async fn ticking(#[context] progress: Progress<u32>) -> u8 {
    let _watch = TickWatch;
    for tick in 1.. {
        progress.report(tick);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    unreachable!()
}

/// How many `js.ticking` calls were stopped.
#[server_function(name = "js.ticking_stopped")]
async fn ticking_stopped() -> u32 {
    TICKING_STOPPED.load(Ordering::SeqCst)
}

/// Items made so far by `js.letters` calls, and those stopped before their end.
static LETTERS_MADE: AtomicU32 = AtomicU32::new(0);
static LETTERS_STOPPED: AtomicU32 = AtomicU32::new(0);

struct LettersWatch;

impl Drop for LettersWatch {
    fn drop(&mut self) {
        LETTERS_STOPPED.fetch_add(1, Ordering::SeqCst);
    }
}

/// Streams `count` items holding characters of every width and `pad` more bytes (then fails,
/// at `fail_at`), as fast as they are read.
#[server_function(name = "js.letters")]
async fn letters(count: u32, fail_at: Option<u32>, pad: Option<usize>) -> Items<String> {
    let pad = " ".repeat(pad.unwrap_or(0));
    Items::produce(2, move |items| async move {
        let watch = LettersWatch;
        for n in 1..=count {
            if fail_at == Some(n) {
                std::mem::forget(watch);
                return Err(format!("no letter {n}").into());
            }
            items
                .send(format!("{n} caf\u{e9} \u{20ac} \u{1f600}{pad}"))
                .await?;
            LETTERS_MADE.fetch_add(1, Ordering::SeqCst);
        }
        std::mem::forget(watch);
        Ok(())
    })
}

/// How many `js.letters` items were made, and how many calls were stopped.
#[server_function(name = "js.letters_seen")]
async fn letters_seen() -> (u32, u32) {
    (
        LETTERS_MADE.load(Ordering::SeqCst),
        LETTERS_STOPPED.load(Ordering::SeqCst),
    )
}

/// The bytes reversed: raw bytes both ways.
#[server_function(name = "js.reverse")]
async fn reverse(data: Vec<u8>) -> Vec<u8> {
    data.into_iter().rev().collect()
}

/// A download of `count` chunks of `size` bytes (chunk `n` all `n % 256`), failing before chunk
/// `fail_at`.
#[server_function(name = "js.download")]
async fn download(count: u32, size: usize, fail_at: Option<u32>) -> Items<Vec<u8>> {
    Items::produce(2, move |chunks| async move {
        for n in 0..count {
            if fail_at == Some(n) {
                return Err(format!("the disk failed at chunk {n}").into());
            }
            chunks.send(vec![n as u8; size]).await?;
        }
        Ok(())
    })
}

async fn start() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .prefix("/rpc")
        .authorize(|headers, function| {
            if let Some(name) = headers.get("x-user").and_then(|name| name.to_str().ok()) {
                headers.attach(User(name.to_owned()));
            }
            authorize_token(headers, function)
        })
        .build()
        .unwrap();
    tokio::spawn(server.serve(listener, std::future::pending()));
    addr
}

fn authorize_token(headers: &mut Caller<'_>, function: &ServerFunction) -> Result<(), Refusal> {
    match function.require() {
        None => Ok(()),
        Some(role)
            if headers
                .get("authorization")
                .is_some_and(|v| v == "Bearer let-me-in") =>
        {
            headers.attach_identity(Roles::new([role]));
            Ok(())
        }
        Some(_) => Err(Refusal::Unauthorized("a bearer token is needed".into())),
    }
}

async fn get(addr: SocketAddr, path: &str) -> (String, String) {
    support::request(addr, "GET", path, "").await
}

fn client_dir() -> PathBuf {
    support::workspace().join("clients/js")
}

const NODE: &str = "apt-get install nodejs npm";

#[tokio::test]
async fn the_client_is_served_under_the_prefix_and_other_gets_stay_405() {
    let addr = start().await;
    for (file, content_type) in [
        ("nonblocking.js", "content-type: text/javascript"),
        ("nonblocking.d.ts", "content-type: application/typescript"),
        ("api.js", "content-type: text/javascript"),
    ] {
        let (head, body) = get(addr, &format!("/rpc/{file}")).await;
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(head.contains(content_type), "{head}");
        let shipped = std::fs::read_to_string(client_dir().join(file)).unwrap();
        assert!(
            body == shipped,
            "{file}: the served file is the one in clients/js"
        );
    }
    let (head, body) = get(addr, "/rpc/js.add").await;
    assert!(
        head.starts_with("http/1.1 405") && head.contains("allow: post"),
        "{head}"
    );
    assert!(body.contains("\"code\":\"method_not_allowed\""), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_passes_its_node_suite_against_a_live_server() {
    let dir = node_packages();
    // Type-checks every test against the `.d.ts` (tsc --strict), then the semantics tests.
    let suite = tokio::task::spawn_blocking(move || {
        run(
            Command::new("npm")
                .args(["test", "--silent"])
                .current_dir(&dir),
            "npm test in clients/js",
            NODE,
        );
        dir
    });
    let dir = suite.await.unwrap();
    let addr = start().await;
    let live = tokio::task::spawn_blocking(move || {
        run(
            Command::new("node")
                .args(["--test", "build/live.test.js"])
                .env("NONBLOCKING_URL", format!("http://{addr}/rpc"))
                .current_dir(&dir),
            "the live Node tests",
            NODE,
        );
    });
    live.await.unwrap();
}

/// The crate serves copies of the client's files (a published crate holds only its own
/// folder); `clients/js` is where they are written and tested. The copies must be the same.
#[test]
fn the_crate_ships_the_client_files_of_clients_js() {
    let shipped = support::workspace().join("nonblocking-runtime/assets/js");
    for file in ["nonblocking.js", "nonblocking.d.ts", "api.js"] {
        let source = std::fs::read(client_dir().join(file)).unwrap();
        let copy = std::fs::read(shipped.join(file)).unwrap();
        assert!(
            source == copy,
            "nonblocking-runtime/assets/js/{file} differs from clients/js/{file}: copy it over \
             (cp clients/js/{{nonblocking.js,nonblocking.d.ts,api.js}} nonblocking-runtime/assets/js/)"
        );
    }
}
