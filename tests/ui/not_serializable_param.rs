use nonblocking_runtime::server_function;

struct Opaque;

#[server_function]
fn store(id: u32, value: Opaque) -> u32 {
    let _ = value;
    id
}

fn main() {}
