use nonblocking_runtime::server_function;

#[server_function(name = "")]
fn empty() {}

#[server_function(name = "billing/update")]
fn slash() {}

#[server_function(name = "white space")]
fn space() {}

fn main() {}
