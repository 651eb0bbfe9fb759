//! The expansion passes strict lints in a crate that forbids unsafe code and documents
//! everything.
#![forbid(unsafe_code)]
#![deny(missing_docs, unused_qualifications, unused_results, clippy::all, clippy::pedantic)]

use nonblocking_runtime::server_function;

/// A documented server function.
#[server_function]
pub async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// A sync one, with a parameter called `args`.
#[server_function(name = "text.shout")]
pub fn shout(args: String) -> Result<String, std::fmt::Error> {
    Ok(args.to_uppercase())
}

fn main() {
    drop(call_async_add(1, 2));
    drop(call_async_shout(String::new()));
}
