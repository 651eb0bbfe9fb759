use nonblocking_runtime::server_function;
use std::rc::Rc;

#[server_function]
async fn count(items: Vec<u8>) -> usize {
    let shared = Rc::new(items);
    tokio::task::yield_now().await;
    shared.len()
}

fn main() {}
