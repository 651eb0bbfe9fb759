use nonblocking_runtime::server_function;

// Every problem is reported at once, and the function itself still compiles, so the caller
// below sees no follow-on error.
#[server_function(name = "")]
unsafe fn broken(&self, text: &str, (a, b): (u8, u8)) {}

fn main() {
    let _ = broken;
}
