use nonblocking_runtime::server_function;

#[derive(Clone)]
struct User;

#[server_function]
fn with_arguments(#[context(optional)] _user: User) {}

#[server_function]
fn borrowed(#[context] _user: &User) {}

#[server_function]
fn twice(#[context] #[context] _user: User) {}

fn main() {}
