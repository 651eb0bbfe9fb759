use nonblocking_runtime::server_function;

struct Store;

impl Store {
    #[server_function]
    fn save(&self, id: u32) -> u32 {
        id
    }
}

fn main() {}
