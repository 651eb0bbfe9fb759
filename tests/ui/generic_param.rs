use nonblocking_runtime::server_function;

#[server_function]
fn echo<T: serde::Serialize>(value: T) -> T {
    value
}

fn main() {}
