use nonblocking_runtime::server_function;

#[server_function]
unsafe fn dangerous(address: usize) -> usize {
    address
}

fn main() {}
