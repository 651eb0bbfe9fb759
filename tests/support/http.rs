//! A server of this test binary's functions on a free loopback port.

use nonblocking_runtime::http::ServerBuilder;

/// Serves `server` under the prefix `/rpc` until the test's runtime ends; the base URL to call.
pub async fn serve(server: ServerBuilder) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/rpc", listener.local_addr().unwrap());
    let server = server.prefix("/rpc").build().unwrap();
    tokio::spawn(server.serve(listener, std::future::pending()));
    url
}
