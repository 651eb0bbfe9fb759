// An associated function whose signature cannot show that it is one (no `self`, no `Self`): the
// attribute cannot tell, but nothing it generates fails to parse in an `impl` block, so the
// errors are only rustc's "cannot find" ones, never "`const` items in this context need a name".
use nonblocking_runtime::server_function;

pub struct Calculator;

impl Calculator {
    #[server_function]
    pub fn add(a: i64, b: i64) -> i64 {
        a + b
    }
}

fn main() {}
