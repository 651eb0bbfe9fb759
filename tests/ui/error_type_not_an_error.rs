// An `E` that is not an error type: one error, at the return type.
use nonblocking_runtime::server_function;

#[derive(Debug)]
pub struct NotAnError;

#[server_function]
fn check(id: u32) -> Result<u32, NotAnError> {
    if id == 0 { Err(NotAnError) } else { Ok(id) }
}

fn main() {}
