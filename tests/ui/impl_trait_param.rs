use nonblocking_runtime::server_function;

#[server_function]
fn show(value: impl std::fmt::Display) -> String {
    value.to_string()
}

fn main() {}
