use nonblocking_runtime::server_function;

#[server_function]
fn shout(text: &str) -> String {
    text.to_uppercase()
}

#[server_function]
fn total(values: &[u32]) -> u32 {
    values.iter().sum()
}

fn main() {}
