use nonblocking_runtime::server_function;

#[server_function(inline)]
async fn ping() {}

fn main() {}
