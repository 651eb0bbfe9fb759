// A type inside `Vec<..>` without serde derives: one error, at the parameter's type.
use nonblocking_runtime::server_function;

pub struct Item;

#[server_function]
fn store(items: Vec<Item>) -> usize {
    items.len()
}

fn main() {}
