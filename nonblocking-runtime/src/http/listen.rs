//! Serving connections on a listener we own: the limits that only the owner of the socket can
//! set. (A `router()` mounted into someone else's server gets the request-level ones.)
//!
//! * a cap on open connections: one more is accepted and answered `503 overloaded` at once,
//!   then closed, so it neither hangs nor takes a file descriptor for long;
//! * a header-read timeout (hyper's, with tokio's timer): a client that does not send a whole
//!   request head in time is closed. It also bounds idle keep-alive connections, which wait
//!   for their next request head under the same timer;
//! * a graceful shutdown: stop accepting, let requests in flight finish for the grace, then
//!   drop what is left.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::state::ServerState;
use crate::remote::wire::codes;

/// The connection-level limits of [`Server::serve`](super::Server::serve).
pub(super) struct ConnectionLimits {
    pub(super) max_connections: usize,
    pub(super) header_read_timeout: Duration,
    pub(super) shutdown_grace: Duration,
}

/// How long a refused connection may take to read its `503` before it is dropped.
const REFUSAL_WRITE: Duration = Duration::from_secs(1);
/// How long to wait before accepting again after the listener failed (out of descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

pub(super) async fn serve(
    router: Router,
    state: Arc<ServerState>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    limits: ConnectionLimits,
) -> io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let mut shutdown = pin!(shutdown);
    loop {
        // Finished connections leave the set as they go, so it holds only open ones.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of descriptors, or a connection reset before it was accepted: the
                // listener itself is fine; try again shortly instead of spinning.
                Err(_) => {
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            connections.spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        // Only an authorize hook reads the peer: without one, no extension per request.
        let peer = state.policy.authorize.is_some().then_some(peer);
        let service = WithPeer { inner: TowerToHyperService::new(router.clone()), peer };
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        connections.spawn(async move {
            // An error here is the client's (reset, header timeout): nothing to report.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    state.shutting_down.store(true, Ordering::Release);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        // Calls still running after the grace are cancelled with their connections.
        connections.abort_all();
    }
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// Answers a connection over the cap with `503 overloaded` and closes it.
async fn refuse(mut stream: TcpStream) {
    let body = serde_json::to_string(&codes::OVERLOADED.body(
        "the server is at its connection limit; try again",
    ))
    .unwrap_or_default();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(REFUSAL_WRITE, async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// Records the client's address on each request, as axum's `ConnectInfo`, for the authorize
/// hook's [`Caller::peer`](crate::remote::Caller::peer).
struct WithPeer<S> {
    inner: S,
    peer: Option<std::net::SocketAddr>,
}

impl<S, B> hyper::service::Service<hyper::Request<B>> for WithPeer<S>
where
    S: hyper::service::Service<hyper::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, mut request: hyper::Request<B>) -> Self::Future {
        if let Some(peer) = self.peer {
            request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        }
        self.inner.call(request)
    }
}
