use nonblocking_runtime::server_function;

/// Attached to calls, but not `Clone`: a `#[context]` parameter is a copy.
struct Database;

#[server_function]
async fn count(#[context] database: Database) -> u32 {
    let _ = database;
    0
}

fn main() {}
