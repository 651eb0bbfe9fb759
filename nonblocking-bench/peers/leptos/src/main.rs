//! The peer row of the report's HTTP table: `add` as a Leptos `server_fn` 0.8 function on
//! axum, taking the same keyword JSON body (`{"a":40,"b":2}`) at `POST /rpc/add`, on one
//! worker thread. Prints `leptos PORT`, then serves until killed.

use server_fn::ServerFnError;
use server_fn::codec::Json;
use server_fn_macro_default::server;

#[server(prefix = "/rpc", endpoint = "add", input = Json)]
pub async fn add(a: i64, b: i64) -> Result<i64, ServerFnError> {
    Ok(a + b)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        println!("leptos {}", listener.local_addr().expect("bound").port());
        let app = axum::Router::new().route(
            "/rpc/{*name}",
            axum::routing::post(server_fn::axum::handle_server_fn),
        );
        axum::serve(listener, app).await.expect("serves");
    });
}
