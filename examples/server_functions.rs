//! Server functions: annotate functions with `#[server_function]`, then call them through their
//! typed `call_async_<name>` stubs or by name with serde arguments, with handlers.
//!
//! Run it with `cargo run --example server_functions`.

use std::time::Duration;

use nonblocking_runtime::{CallError, call_async_by_name, registry, server_function};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A row of the todo list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    id: u32,
    title: String,
    done: bool,
}

/// Stores an item; fails on an empty title. A sync function: it runs on the blocking pool.
#[server_function]
pub fn update(item: Item) -> Result<u32, String> {
    std::thread::sleep(Duration::from_millis(5)); // a slow database
    if item.title.is_empty() {
        return Err(format!("item {} has no title", item.id));
    }
    Ok(item.id)
}

/// An async function, registered under a dotted name.
#[server_function(name = "stats.count")]
pub async fn count_done(items: Vec<Item>) -> usize {
    tokio::time::sleep(Duration::from_millis(5)).await;
    items.iter().filter(|item| item.done).count()
}

/// Cheap and synchronous: `inline` runs it on the async worker, skipping the blocking pool.
#[server_function(inline)]
pub fn greet(name: String, title: Option<String>) -> String {
    match title {
        Some(title) => format!("hello, {title} {name}"),
        None => format!("hello, {name}"),
    }
}

fn main() {
    println!("registered server functions:");
    for function in registry() {
        println!("  {function}    ({})", function.location());
    }

    let milk = Item {
        id: 1,
        title: "milk".into(),
        done: true,
    };
    let bread = Item {
        id: 2,
        title: "bread".into(),
        done: false,
    };

    // Typed stubs: argument and result types are checked at compile time.
    let saved = call_async_update(milk.clone())
        .on_result(|id| println!("typed stub: saved item {id}"))
        .on_error(|error| println!("typed stub: there was a problem: {error}"));
    let counted = call_async_count_done(vec![milk.clone(), bread.clone()]);
    println!("typed results: {:?} {:?}", saved.wait(), counted.wait());

    // By name, positional: a tuple (a single struct argument is a 1-tuple).
    let by_position = call_async_by_name::<u32>("update", (&bread,));
    // By name, by keyword: an object. The trailing Option may be left out.
    let by_keyword = call_async_by_name::<String>("greet", json!({"name": "Ada", "title": "Dr"}));
    let defaulted = call_async_by_name::<String>("greet", ("Grace",));
    println!(
        "by name: {:?} {:?} {:?}",
        by_position.wait(),
        by_keyword.wait(),
        defaulted.wait()
    );

    // The function's own error, and the errors of calling by name.
    let failing = call_async_by_name::<u32>(
        "update",
        (Item {
            id: 3,
            title: String::new(),
            done: false,
        },),
    )
    .on_error(|error| println!("error handler: {error}"));
    let _ = failing.wait();
    for error in [
        call_async_by_name::<u32>("updte", (&milk,))
            .wait()
            .unwrap_err(),
        call_async_by_name::<String>("greet", (1, 2, 3))
            .wait()
            .unwrap_err(),
        call_async_by_name::<String>("stats.count", (vec![&milk],))
            .wait()
            .unwrap_err(),
    ] {
        let kind = match &error {
            CallError::NotFound(_) => "not found",
            CallError::InvalidArguments(_) => "invalid arguments",
            CallError::InvalidResult(_) => "invalid result",
            _ => "other",
        };
        println!("{kind}: {error}");
    }
}
