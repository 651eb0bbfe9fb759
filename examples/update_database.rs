//! Anvil's "call a server function to update the database", twice: first fire-and-forget,
//! then with result and error handlers.
//!
//! Run it with `cargo run --example update_database`.

use std::sync::mpsc;
use std::time::Duration;

use nonblocking_runtime::{CallError, try_call_async};

#[derive(Debug, Clone)]
struct Item {
    id: u32,
    title: String,
}

/// Stands in for the database: slow, and it refuses empty titles.
async fn update(item: Item) -> Result<u32, String> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    if item.title.is_empty() {
        return Err(format!("item {} has no title", item.id));
    }
    println!("  [db] stored item {} ({:?})", item.id, item.title);
    Ok(item.id)
}

fn main() {
    let (done, finished) = mpsc::channel::<String>();

    println!("fire and forget: the click handler returns at once");
    let item = Item {
        id: 1,
        title: "groceries".into(),
    };
    // The handle is dropped: the call still runs (dropping detaches, it never cancels).
    try_call_async(update(item));
    println!("  click handler returned");

    println!("with handlers:");
    for item in [
        Item {
            id: 2,
            title: "laundry".into(),
        },
        Item {
            id: 3,
            title: String::new(),
        },
    ] {
        let (ok, err) = (done.clone(), done.clone());
        try_call_async(update(item))
            .on_result(move |id| {
                ok.send(format!("  notification: item {id} successfully saved"))
                    .unwrap()
            })
            .on_error(move |error: &CallError| {
                err.send(format!(
                    "  notification (danger): there was a problem: {error}"
                ))
                .unwrap()
            });
    }
    drop(done);

    // A real UI would go on with its event loop; here we print the two notifications.
    for message in finished.iter().take(2) {
        println!("{message}");
    }
}
