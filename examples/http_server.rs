//! Serves the server functions of this program over HTTP (feature `http`).
//!
//! ```sh
//! cargo run --features http --example http_server            # terminal 1
//! cargo run --features http --example http_client            # terminal 2
//! curl -s -X POST localhost:3000/rpc/update -H 'content-type: application/json' \
//!      -d '[{"id": 1, "title": "milk", "done": false}]'
//! ```
//!
//! `http_client` starts this server itself when nothing answers on the port, so it also runs on
//! its own. Stop the server with Ctrl-C... or let it end after `--for-seconds N`.

use std::time::Duration;

use nonblocking_runtime::context::Roles;
use nonblocking_runtime::http::{Refusal, Server};
use nonblocking_runtime::server_function;
use serde::{Deserialize, Serialize};

/// A row of the todo list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    /// Its id.
    pub id: u32,
    /// What to do.
    pub title: String,
    /// Done yet?
    pub done: bool,
}

/// Stores an item; refuses an empty title.
#[server_function]
pub async fn update(item: Item) -> Result<u32, String> {
    tokio::time::sleep(Duration::from_millis(5)).await;
    if item.title.is_empty() {
        return Err(format!("item {} has no title", item.id));
    }
    println!("[server] stored item {} ({:?})", item.id, item.title);
    Ok(item.id)
}

/// Saves a batch of changes at once (the debounced save).
#[server_function]
pub fn save(changes: Vec<String>) -> usize {
    println!("[server] saved {} changes: {changes:?}", changes.len());
    changes.len()
}

/// Answers a heartbeat.
#[server_function(inline)]
pub fn heartbeat(beat: u32) -> u32 {
    beat
}

/// Only for admins (`Authorization: Bearer admin-token`).
#[server_function(require = "admin")]
pub fn reset_all() -> String {
    "everything reset".into()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let seconds: Option<u64> = std::env::args()
        .skip_while(|a| a != "--for-seconds")
        .nth(1)
        .and_then(|s| s.parse().ok());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("[server] serving on http://127.0.0.1:3000/rpc (GET /rpc lists the functions)");
    let server = Server::builder()
        .prefix("/rpc")
        // A toy token check: role `r` is granted by the bearer token `r-token`.
        .authorize(|headers, function| {
            let Some(role) = function.require() else {
                return Ok(());
            };
            match headers.get("authorization").and_then(|v| v.to_str().ok()) {
                None => Err(Refusal::Unauthorized(format!(
                    "{} needs a bearer token",
                    function.name()
                ))),
                Some(token) if token == format!("Bearer {role}-token") => {
                    // What `require = ".."` is checked against, and what a function may read.
                    headers.attach_identity(Roles::new([role]));
                    Ok(())
                }
                Some(_) => Err(Refusal::Forbidden(format!(
                    "{} needs role {role}",
                    function.name()
                ))),
            }
        })
        .build()
        .expect("a valid prefix");
    server
        .serve(listener, async move {
            match seconds {
                Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
                None => std::future::pending().await,
            }
        })
        .await
}
