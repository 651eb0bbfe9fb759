use nonblocking_runtime::server_function;

#[server_function(name = "a", name = "b", inline, inline)]
fn ping() {}

#[server_function(fallible, infallible)]
fn parse(text: String) -> Result<u8, std::num::ParseIntError> {
    text.parse()
}

fn main() {}
