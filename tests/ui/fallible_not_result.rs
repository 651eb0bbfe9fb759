use nonblocking_runtime::server_function;

#[server_function(fallible)]
fn version() -> String {
    "1.0".into()
}

fn main() {}
