//! The server functions of the NATS examples, in one file both programs include: the workers
//! serve them, the caller gets their typed `call_remote_*` stubs (in an application, a crate
//! both depend on).

use std::fs::File;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use nonblocking_runtime::server_function;

/// Where a worker records each executed call's id (`--record`), one per line.
pub static RECORD: Mutex<Option<File>> = Mutex::new(None);

/// Answers its argument; recorded, so a test can count which worker ran which call.
#[server_function(name = "work.echo")]
pub fn echo(id: u64) -> u64 {
    if let Some(file) = RECORD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .as_mut()
    {
        // Unbuffered: a worker killed with SIGKILL has recorded every call it ran.
        let _ = writeln!(file, "{id}");
    }
    id
}

/// Takes `ms` milliseconds: slow work that benefits from more workers.
#[server_function(name = "work.sleep")]
pub async fn sleep(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

/// Adds.
#[server_function(name = "work.add")]
pub async fn add(a: i64, b: i64) -> i64 {
    a + b
}
