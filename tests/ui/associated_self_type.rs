// An associated function whose signature shows `Self`: the first and only error says to wrap it.
use nonblocking_runtime::server_function;

#[derive(serde::Serialize, serde::Deserialize)]
pub struct Counter(u32);

impl Counter {
    #[server_function]
    pub fn start(at: u32) -> Self {
        Counter(at)
    }
}

fn main() {}
