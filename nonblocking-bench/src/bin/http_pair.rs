//! Two HTTP servers on one server core, for load tests from outside (wrk): ours serving the
//! registry (`POST /rpc/add` with `[1, 2]`), and a bare axum JSON handler doing the same work.
//! Prints `ours PORT` and `bare PORT`, then serves until killed.

use axum::Json;
use axum::routing::post;
use nonblocking_runtime::http::Server;

// Links the bench library, whose `add` is the server function under test.
use nonblocking_bench as _;

async fn bare_add(Json((a, b)): Json<(i64, i64)>) -> Json<i64> {
    Json(a + b)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let ours = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let bare = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        println!("ours {}", ours.local_addr().expect("bound").port());
        println!("bare {}", bare.local_addr().expect("bound").port());
        let server = Server::builder().prefix("/rpc").build();
        let ours = tokio::spawn(server.serve(ours, std::future::pending()));
        let bare = tokio::spawn(async move {
            axum::serve(bare, axum::Router::new().route("/rpc/add", post(bare_add))).await
        });
        let _ = ours.await;
        let _ = bare.await;
    });
}
