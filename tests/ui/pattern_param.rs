use nonblocking_runtime::server_function;

#[server_function]
fn sum((a, b): (u32, u32)) -> u32 {
    a + b
}

#[server_function]
fn ignore(_: u32) {}

fn main() {}
