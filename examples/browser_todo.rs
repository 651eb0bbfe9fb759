//! A todo page in the browser that calls this program's server functions with the JavaScript
//! client (feature `http`): every scenario of Anvil's `non_blocking` in one page.
//!
//! ```sh
//! cargo run --features http,schema --example browser_todo
//! # then open http://127.0.0.1:3000/
//! ```
//!
//! - **Sign in** names the user: the page's client then sends it in a login header
//!   (`x-user`), the server's authorize hook attaches that user to each call, and `todo.add`
//!   and `todo.list` read it as a `#[context]` parameter, so each user sees only their own
//!   items. (A toy login: a real app would check a session cookie or a token here.)
//! - **Add** calls `todo.add` and returns at once; the result handler shows a notification and
//!   the item, the error handler shows why an empty title (or a caller not signed in) was
//!   refused.
//! - The **heartbeat** badge is driven by `repeat`, calling `todo.ping`.
//! - The **draft** field is saved with `defer` / `reset`: typing fast gives one save, counted
//!   here on the server (`todo.saves`).
//! - **Slow call** starts a 30-second call that **Cancel** cancels: the server observes it
//!   (`todo.slow_stopped`).
//! - **Import** adds rows to the caller's list one at a time, reporting its progress (a
//!   `#[context] Progress`), which the page shows as a progress bar; **Cancel import** stops it
//!   on the server (`todo.imports_stopped`).
//! - **Export**: the list as a file, streamed a line at a time (`todo.export` returns
//!   `Items<Vec<u8>>`: a download, its bytes as themselves), saved through a link to a `Blob`.
//! - **Suggestions**: a stream (`todo.suggestions` returns `Items<Suggestion>`) fills a list
//!   item by item (`onItem`); **Stop** cancels it and the server stops making them
//!   (`todo.suggestions_stopped`).
//! - The **status** line follows the last call: pending, then completed, failed or cancelled.
//!
//! From Rust, the same functions with the same login header:
//!
//! ```no_run
//! # async fn example() -> Result<(), nonblocking_runtime::CallError> {
//! use nonblocking_runtime::http::Remote;
//!
//! let ada = Remote::builder("http://127.0.0.1:3000/rpc").header("x-user", "ada").build()?;
//! let item: serde_json::Value = ada.call_async_by_name("todo.add", ("buy milk",)).await?;
//! let mine: Vec<serde_json::Value> = ada.call_async_by_name("todo.list", ()).await?;
//! # Ok(()) }
//! ```
//!
//! `--addr 127.0.0.1:0` picks a free port; the first line printed is the page's URL.
//! `--allow-origin http://127.0.0.1:8080` (repeatable) lets pages of that origin call too
//! (CORS); without it the server is same-origin only.
//!
//! The page calls through typed stubs (`api.todo.add(title)`), whose declarations the server
//! generates from these signatures (feature `schema`) and serves at `/rpc/api.d.ts`, beside
//! the OpenAPI document at `/rpc/openapi.json`. `--write-api <file>` writes the declarations
//! to a file and exits, for a build step that type-checks the page's TypeScript.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use nonblocking_runtime::http::{Cors, Server};
use nonblocking_runtime::items::Items;
use nonblocking_runtime::progress::Progress;
use nonblocking_runtime::registry::ServerFunction;
use nonblocking_runtime::remote::{Caller, Refusal};
use nonblocking_runtime::schema::ApiSchema;
use nonblocking_runtime::{Identity, server_function};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A todo item.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Item {
    /// Its id, given by the server.
    pub id: u32,
    /// What to do.
    pub title: String,
}

/// Why an item was refused: sent to the page as the error's value.
#[derive(Debug, Serialize, Deserialize, JsonSchema, thiserror::Error)]
#[error("an item needs a title")]
pub struct NoTitle {
    /// The refused title, as typed.
    pub title: String,
}

/// Who is calling: the name the page signed in with.
#[derive(Debug, Clone)]
pub struct User {
    /// The name, as sent in the login header.
    pub name: String,
}

impl Identity for User {
    /// Every signed-in user may use the list (`require = "user"`).
    fn has_role(&self, role: &str) -> bool {
        role == "user"
    }
}

/// Attaches the user named by the `x-user` login header to every call that carries one.
/// Functions that need a user say so (`require = "user"`): a call without one is refused
/// `401 unauthorized` before they run.
fn sign_in(caller: &mut Caller<'_>, _: &ServerFunction) -> Result<(), Refusal> {
    let name = caller
        .get("x-user")
        .and_then(|name| name.to_str().ok())
        .map(str::trim);
    match name {
        Some("") => Err(Refusal::Unauthorized(
            "the login header names no one".into(),
        )),
        Some(name) => {
            caller.attach_identity(User {
                name: name.to_owned(),
            });
            Ok(())
        }
        None => Ok(()),
    }
}

/// Each user's items, by name.
static ITEMS: Mutex<Option<HashMap<String, Vec<Item>>>> = Mutex::new(None);
static SAVES: AtomicU32 = AtomicU32::new(0);
static DRAFT: Mutex<String> = Mutex::new(String::new());
static BEATS: AtomicU32 = AtomicU32::new(0);
static SLOW_STOPPED: AtomicU32 = AtomicU32::new(0);
static IMPORTS_STOPPED: AtomicU32 = AtomicU32::new(0);
static SUGGESTIONS_STOPPED: AtomicU32 = AtomicU32::new(0);

/// Adds an item to the caller's list; refuses a blank title.
#[server_function(name = "todo.add", require = "user")]
pub async fn add(#[context] user: User, title: String) -> Result<Item, NoTitle> {
    if title.trim().is_empty() {
        return Err(NoTitle { title });
    }
    let mut lists = ITEMS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let items = lists
        .get_or_insert_with(HashMap::new)
        .entry(user.name)
        .or_default();
    let item = Item {
        id: items.len() as u32 + 1,
        title,
    };
    items.push(item.clone());
    Ok(item)
}

/// The caller's items, and only theirs.
#[server_function(name = "todo.list", require = "user")]
pub async fn list(#[context] user: User) -> Vec<Item> {
    let lists = ITEMS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    lists
        .as_ref()
        .and_then(|lists| lists.get(&user.name))
        .cloned()
        .unwrap_or_default()
}

/// The caller's list as a text file, one `id<TAB>title` line per item, streamed a line at a
/// time: a download, whose chunks travel as the bytes themselves (`application/octet-stream`);
/// the page saves them as a file.
#[server_function(name = "todo.export", require = "user")]
pub async fn export(#[context] user: User) -> Items<Vec<u8>> {
    let lines = list(user)
        .await
        .into_iter()
        .map(|item| format!("{}\t{}\n", item.id, item.title).into_bytes());
    Items::from_iter(lines.collect::<Vec<_>>())
}

/// How many bytes a file the page sends has: a file goes as its bytes, not as JSON.
#[server_function(name = "todo.measure", require = "user")]
pub async fn measure(file: Vec<u8>) -> usize {
    file.len()
}

/// Answers the heartbeat with how many beats arrived.
#[server_function(name = "todo.ping")]
pub async fn ping() -> u32 {
    BEATS.fetch_add(1, Ordering::SeqCst) + 1
}

/// Saves the draft (the debounced autosave).
#[server_function(name = "todo.save_draft")]
pub async fn save_draft(text: String) -> u32 {
    *DRAFT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = text;
    SAVES.fetch_add(1, Ordering::SeqCst) + 1
}

/// The draft as the server has it.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Draft {
    /// How many times it was saved.
    pub saves: u32,
    /// Its text at the last save.
    pub text: String,
}

/// How many times the draft was saved, and what it is.
#[server_function(name = "todo.saves")]
pub async fn saves() -> Draft {
    let text = DRAFT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    Draft {
        saves: SAVES.load(Ordering::SeqCst),
        text,
    }
}

/// Records that the slow call was cancelled: dropped before it finished.
struct OnCancel;

impl Drop for OnCancel {
    fn drop(&mut self) {
        SLOW_STOPPED.fetch_add(1, Ordering::SeqCst);
        println!("[server] the slow call was stopped before it finished");
    }
}

/// Takes 30 seconds, unless cancelled (or its caller's deadline comes first).
#[server_function(name = "todo.slow")]
pub async fn slow() -> String {
    let on_cancel = OnCancel;
    tokio::time::sleep(Duration::from_secs(30)).await;
    std::mem::forget(on_cancel);
    "slow work done".into()
}

/// How many slow calls the server stopped before they finished: cancelled, or past their
/// caller's deadline.
#[server_function(name = "todo.slow_stopped")]
pub async fn slow_stopped() -> u32 {
    SLOW_STOPPED.load(Ordering::SeqCst)
}

/// How far an import got.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
pub struct Imported {
    /// Rows imported so far.
    pub done: u16,
    /// Rows in all.
    pub of: u16,
}

/// Counts an import stopped before it finished.
struct ImportStopped;

impl Drop for ImportStopped {
    fn drop(&mut self) {
        IMPORTS_STOPPED.fetch_add(1, Ordering::SeqCst);
        println!("[server] an import was stopped before it finished");
    }
}

/// Imports `rows` items into the caller's list, one every 20 ms, reporting how far it got.
/// Returns how many it imported.
#[server_function(name = "todo.import", require = "user")]
pub async fn import(
    #[context] user: User,
    #[context] progress: Progress<Imported>,
    rows: u16,
) -> u16 {
    let stopped = ImportStopped;
    for done in 1..=rows {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let title = format!("imported row {done} of {rows}");
        // `add` itself, called directly: a server function is still a plain function.
        let _ = add(user.clone(), title).await;
        progress.report(Imported { done, of: rows });
    }
    std::mem::forget(stopped);
    rows
}

/// How many imports the server stopped before they finished.
#[server_function(name = "todo.imports_stopped")]
pub async fn imports_stopped() -> u32 {
    IMPORTS_STOPPED.load(Ordering::SeqCst)
}

/// A suggested item, as the suggestions stream makes them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Suggestion {
    /// Its place in the stream, from 1.
    pub n: u16,
    /// What to do.
    pub title: String,
}

/// Counts a suggestions stream stopped before its end.
struct SuggestionsStopped;

impl Drop for SuggestionsStopped {
    fn drop(&mut self) {
        SUGGESTIONS_STOPPED.fetch_add(1, Ordering::SeqCst);
        println!("[server] a suggestions stream was stopped before its end");
    }
}

/// Streams `count` suggestions for the signed-in user, one every 30 ms: the page fills its
/// list item by item.
#[server_function(name = "todo.suggestions", require = "user")]
pub async fn suggestions(count: u16) -> Items<Suggestion> {
    Items::produce(4, move |items| async move {
        let stopped = SuggestionsStopped;
        for n in 1..=count {
            tokio::time::sleep(Duration::from_millis(30)).await;
            let title = format!("suggestion {n}: water the plants \u{1f331}");
            items.send(Suggestion { n, title }).await?;
        }
        std::mem::forget(stopped);
        Ok(())
    })
}

/// How many suggestions streams the server stopped before their end.
#[server_function(name = "todo.suggestions_stopped")]
pub async fn suggestions_stopped() -> u32 {
    SUGGESTIONS_STOPPED.load(Ordering::SeqCst)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.windows(2)
            .filter(|pair| pair[0] == name)
            .map(|pair| pair[1].clone())
            .collect::<Vec<_>>()
    };
    if let Some(path) = flag("--write-api").pop() {
        return ApiSchema::registry().write_typescript(path);
    }
    let addr = flag("--addr")
        .pop()
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let mut server = Server::builder()
        .prefix("/rpc")
        .authorize(sign_in)
        .api_info("browser_todo", env!("CARGO_PKG_VERSION"));
    let origins = flag("--allow-origin");
    if !origins.is_empty() {
        match Cors::allow_origins(&origins) {
            Ok(cors) => server = server.cors(cors),
            Err(invalid) => {
                eprintln!("--allow-origin: {invalid}");
                std::process::exit(2);
            }
        }
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("http://{}/", listener.local_addr()?);
    // The page at `/`, the functions (and the client's module) under `/rpc`.
    let page = axum::Router::new().route(
        "/",
        get(|| async { Html(include_str!("browser_todo/index.html")) }),
    );
    axum::serve(
        listener,
        page.merge(server.build().expect("a valid prefix").router()),
    )
    .await
}
