use nonblocking_runtime::server_function;

struct Opaque;

#[server_function]
fn load() -> Opaque {
    Opaque
}

fn main() {}
