//! Two HTTP servers on one worker thread, for load tests from outside (wrk): ours serving the
//! registry (`POST /rpc/add`, `/rpc/add_sync` and `/rpc/add_inline` with `{"a":40,"b":2}`), and a bare axum JSON
//! handler doing the same work, the baseline. Prints `ours PORT` and `bare PORT`, then serves
//! until killed.

use nonblocking_bench::bare_router;
use nonblocking_runtime::http::Server;

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
        let server = Server::builder()
            .prefix("/rpc")
            .build()
            .expect("a valid prefix");
        let ours = tokio::spawn(server.serve(ours, std::future::pending()));
        let bare = tokio::spawn(async move { axum::serve(bare, bare_router()).await });
        let _ = ours.await;
        let _ = bare.await;
    });
}
