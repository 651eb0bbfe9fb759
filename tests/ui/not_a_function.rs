use nonblocking_runtime::server_function;

#[server_function]
struct Item {
    id: u32,
}

fn main() {}
