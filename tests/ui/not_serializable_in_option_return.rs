// A return type with a non-serde type inside `Option<..>`: one error, at the return type.
use nonblocking_runtime::server_function;

pub struct Item;

#[server_function]
async fn find(id: u32) -> Option<Item> {
    let _ = id;
    None
}

fn main() {}
