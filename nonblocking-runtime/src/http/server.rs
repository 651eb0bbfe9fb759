//! The server's configuration: [`ServerBuilder`] with every limit, [`Server`] with its
//! routes and `serve`, and `serve(addr)` for the common case. The request handlers are in
//! `handlers.rs`, the connection-level serving in `listen.rs`.

use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::{TcpListener, ToSocketAddrs};

use super::assets::asset;
use super::cors::Cors;
use super::handlers::{call, list, method_not_allowed, no_route};
use super::listen::{self, ConnectionLimits};
use super::state::{Drain, ServerState};
use crate::remote::{InvalidPolicy, Settings, policy_setters};

/// Builds a [`Server`]; every limit has a default.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use nonblocking_runtime::http::{Refusal, Server};
/// use nonblocking_runtime::context::Roles;
/// use nonblocking_runtime::server_function;
///
/// #[server_function(name = "items.rename", require = "editor")]
/// fn rename(id: u32, title: String) {}
///
/// #[server_function(name = "stats.count")]
/// fn count() -> u64 { 0 }
///
/// let server = Server::builder()
///     .prefix("/rpc")
///     .expose(["items.rename", "stats.count"]) // each must be registered: `build` checks
///     .authorize(|headers, function| match (function.require(), headers.get("x-user")) {
///         (None, _) => Ok(()),
///         (Some(_), None) => Err(Refusal::Unauthorized("log in first".into())),
///         (Some(role), Some(user)) if user == role => {
///             // What `require` is checked against, and what the function may read.
///             headers.attach_identity(Roles::new([role]));
///             Ok(())
///         }
///         (Some(role), Some(_)) => Err(Refusal::Forbidden(format!("needs {role}"))),
///     })
///     .body_limit(64 * 1024)
///     .timeout(Duration::from_secs(5))
///     .concurrency_limit(256)
///     .build()?;
/// let app: axum::Router = server.router(); // mount it into your own app, or `server.serve(..)`
/// # Ok::<(), nonblocking_runtime::remote::InvalidPolicy>(())
/// ```
#[must_use = "a builder does nothing until `build()`"]
pub struct ServerBuilder {
    /// What every transport shares (its setters are written once, for both builders).
    policy: Settings,
    body_timeout: Duration,
    drain: Drain,
    max_connections: usize,
    header_read_timeout: Duration,
    listing: bool,
    cors: Option<Cors>,
    #[cfg(feature = "schema")]
    api_info: super::openapi::ApiInfo,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder {
            policy: Settings::with_prefix(""),
            body_timeout: Duration::from_secs(30),
            drain: Drain { bytes: 8 * 1024 * 1024, within: Duration::from_secs(5) },
            max_connections: 2048,
            header_read_timeout: Duration::from_secs(30),
            listing: true,
            cors: None,
            #[cfg(feature = "schema")]
            api_info: super::openapi::ApiInfo::default(),
        }
    }
}

impl ServerBuilder {
    /// The path under which functions are served: `POST <prefix>/<name>`. Default: none.
    ///
    /// The rule every transport shares: segments of `[A-Za-z0-9_-]`, separated by `/` (or
    /// `.`); `rpc`, `/rpc` and `/rpc/` are one prefix. [`build`](Self::build) refuses any
    /// other with [`InvalidPolicy::Prefix`].
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.policy.prefix = prefix.into();
        self
    }

    policy_setters!();

    /// How long a request body may take to arrive; a slower one gets 408 `body_timeout`, so a
    /// client that stalls mid-body holds its connection for this long at most. Default 30 s.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// After refusing an oversize body with 413, how much more of it the server reads and
    /// throws away (at most `bytes`, for at most `within`) before it closes the connection.
    /// A client that uploads its whole body before reading (as `curl` does) then reads the
    /// 413; closing under its upload would reset the connection and lose the answer. Never
    /// done for `Expect: 100-continue`, whose body is not sent. `drain_oversize(0,
    /// Duration::ZERO)` closes at once. Default 8 MiB within 5 s.
    pub fn drain_oversize(mut self, bytes: u64, within: Duration) -> Self {
        self.drain = Drain { bytes, within };
        self
    }

    /// How many connections [`Server::serve`] keeps open at once; one more is answered `503
    /// overloaded` and closed at once. Bodies being read are bounded by this times the body
    /// limit (2,048 × 1 MiB by default). Keep it below the process's file-descriptor limit.
    /// Default 2,048.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// How long [`Server::serve`] waits for a request's head (its line and headers); a client
    /// that is slower, or a keep-alive connection idle for longer, is closed. Default 30 s.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// The title and version of the OpenAPI document at `GET <prefix>/openapi.json`. Default:
    /// "nonblocking server functions", "0.0.0".
    #[cfg(feature = "schema")]
    #[cfg_attr(docsrs, doc(cfg(feature = "schema")))]
    pub fn api_info(mut self, title: impl Into<String>, version: impl Into<String>) -> Self {
        self.api_info = super::openapi::ApiInfo { title: title.into(), version: version.into() };
        self
    }

    /// Answers `GET <prefix>` with the functions the caller may call and their parameters (on
    /// by default). With the feature `schema` it also serves their descriptions: `GET
    /// <prefix>/openapi.json` and `GET <prefix>/api.d.ts`. Off, those answer like any other
    /// name (405), so nothing reveals which functions exist.
    pub fn listing(mut self, enabled: bool) -> Self {
        self.listing = enabled;
        self
    }

    /// Lets pages of other origins call from a browser (see [`Cors`]). Without it the server
    /// is same-origin only: it sends no CORS headers.
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = Some(cors);
        self
    }

    /// The server, or [`InvalidPolicy`] naming what breaks the rules every transport shares:
    /// a [`prefix`](Self::prefix) outside the rule, or an [`expose`](Self::expose)d name that
    /// is not registered.
    pub fn build(self) -> Result<Server, InvalidPolicy> {
        let policy = self.policy.check()?;
        let prefix: String = policy.prefix.iter().map(|segment| format!("/{segment}")).collect();
        Ok(Server {
            prefix: prefix.clone(),
            max_connections: self.max_connections,
            header_read_timeout: self.header_read_timeout,
            listing: self.listing,
            cors: self.cors,
            state: Arc::new(ServerState {
                policy,
                body_timeout: self.body_timeout,
                drain: self.drain,
                listing_path: if prefix.is_empty() { "/".to_owned() } else { prefix.clone() },
                prefix,
                listing: self.listing,
                shutting_down: AtomicBool::new(false),
                #[cfg(feature = "schema")]
                api_info: self.api_info,
            }),
        })
    }
}

/// Serves the registry over HTTP; see the [module docs](super) for the wire format.
pub struct Server {
    state: Arc<ServerState>,
    prefix: String,
    max_connections: usize,
    header_read_timeout: Duration,
    listing: bool,
    cors: Option<Cors>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("prefix", &self.prefix)
            .field("policy", &self.state.policy)
            .field("body_timeout", &self.state.body_timeout)
            .field("drain_oversize", &self.state.drain)
            .field("max_connections", &self.max_connections)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("cors", &self.cors)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A builder with the defaults (the guide lists them all): everything exposed, 1 MiB
    /// bodies arriving within 30 s, 30 s per call, 1,024 calls at once, 2,048 connections, 30 s
    /// to send a request head.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The routes, to serve yourself or to mount into your own axum app. They carry the
    /// request-level limits (body size by `Content-Length` and as it arrives, body deadline,
    /// concurrency, per-call timeout, JSON refusals); the connection-level ones (connection
    /// cap, header-read timeout, idle connections) need the listener: [`Server::serve`].
    pub fn router(&self) -> Router {
        // `POST` calls a function; `GET` of the same path serves the browser client's files.
        let calls = Router::new().route(&format!("{}/{{name}}", self.prefix), post(call).get(asset));
        let router = if self.listing {
            let root = if self.prefix.is_empty() { "/" } else { self.prefix.as_str() };
            calls.route(root, get(list))
        } else {
            calls
        };
        // Every refusal is a JSON error object from the one table, never an empty body.
        let router = router
            .method_not_allowed_fallback(method_not_allowed)
            .fallback(no_route)
            .with_state(Arc::clone(&self.state));
        // Outermost, so that a preflight is answered before routing, and every answer (errors
        // included) carries the headers a page needs to read it.
        match &self.cors {
            Some(cors) => router.layer(cors.layer()),
            None => router,
        }
    }

    /// Serves on `listener` until `shutdown` resolves, then stops accepting, answers 503
    /// `shutting_down` to requests that still arrive, and lets in-flight calls finish for up to
    /// the shutdown grace; calls still running then are cancelled. On top of the router's
    /// limits it caps open connections and times out slow or idle request heads.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let limits = ConnectionLimits {
            max_connections: self.max_connections,
            header_read_timeout: self.header_read_timeout,
            shutdown_grace: self.state.policy.shutdown_grace,
        };
        listen::serve(self.router(), Arc::clone(&self.state), listener, shutdown, limits).await
    }
}

/// Serves every registered function at `addr` with the default limits, until the process ends.
///
/// ```no_run
/// # #[tokio::main]
/// # async fn main() -> std::io::Result<()> {
/// nonblocking_runtime::http::serve("127.0.0.1:3000").await
/// # }
/// ```
pub async fn serve(addr: impl ToSocketAddrs) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let server = Server::builder().build().map_err(io::Error::other)?;
    server.serve(listener, std::future::pending()).await
}
