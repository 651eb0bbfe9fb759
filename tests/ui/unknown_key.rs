use nonblocking_runtime::server_function;

#[server_function(nmae = "ping")]
fn ping() {}

fn main() {}
