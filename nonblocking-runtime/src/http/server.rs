//! The server: an axum `Router` that serves the registry, and `serve` for the common case.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Value, json};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::Semaphore;

use super::listen::{self, ConnectionLimits};
use super::wire::{Code, codes, to_wire};
use crate::errors::CallError;
use crate::panic::catching_async;
use crate::registry::{ServerFunction, invoke, registry};

/// Which registered functions a server lets clients call. Unexposed functions answer 404
/// exactly like missing ones, so exposure cannot be probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expose {
    /// Every registered function.
    All,
    /// Only these names.
    Only(HashSet<String>),
}

/// Why an [`Authorize`] hook refused a call: 401 or 403 with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No (valid) credentials: 401 `unauthorized` (Anvil's `AuthenticationFailed`).
    Unauthorized(String),
    /// Credentials, but not allowed: 403 `forbidden` (Anvil's `PermissionDenied`).
    Forbidden(String),
}

/// The authorization hook: sees the request headers and the function's registry entry (its
/// [`require`](ServerFunction::require) value among it) before the call starts.
pub type Authorize = Arc<dyn Fn(&HeaderMap, &ServerFunction) -> Result<(), Refusal> + Send + Sync>;

/// Builds a [`Server`]; every limit has a default.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use nonblocking_runtime::http::{Refusal, Server};
///
/// let server = Server::builder()
///     .prefix("/rpc")
///     .expose(["update", "stats.count"])
///     .authorize(|headers, function| match (function.require(), headers.get("x-user")) {
///         (None, _) => Ok(()),
///         (Some(_), None) => Err(Refusal::Unauthorized("log in first".into())),
///         (Some(role), Some(user)) if user == role => Ok(()),
///         (Some(role), Some(_)) => Err(Refusal::Forbidden(format!("needs {role}"))),
///     })
///     .body_limit(64 * 1024)
///     .timeout(Duration::from_secs(5))
///     .concurrency_limit(256)
///     .build();
/// let app: axum::Router = server.router(); // mount it into your own app, or `server.serve(..)`
/// ```
#[must_use = "a builder does nothing until `build()`"]
pub struct ServerBuilder {
    prefix: String,
    expose: Expose,
    authorize: Option<Authorize>,
    body_limit: usize,
    body_timeout: Duration,
    timeout: Duration,
    concurrency_limit: usize,
    max_connections: usize,
    header_read_timeout: Duration,
    shutdown_grace: Duration,
    show_panics: bool,
    listing: bool,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder {
            prefix: String::new(),
            expose: Expose::All,
            authorize: None,
            body_limit: 1024 * 1024,
            body_timeout: Duration::from_secs(30),
            timeout: Duration::from_secs(30),
            concurrency_limit: 1024,
            max_connections: 2048,
            header_read_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            show_panics: false,
            listing: true,
        }
    }
}

impl ServerBuilder {
    /// The path under which functions are served: `POST <prefix>/<name>`. Default: none.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().trim_end_matches('/').to_owned();
        self
    }

    /// Serves every registered function (the default).
    pub fn expose_all(mut self) -> Self {
        self.expose = Expose::All;
        self
    }

    /// Serves only these names.
    pub fn expose<I>(mut self, names: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.expose = Expose::Only(names.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the authorization hook.
    pub fn authorize(
        mut self,
        hook: impl Fn(&HeaderMap, &ServerFunction) -> Result<(), Refusal> + Send + Sync + 'static,
    ) -> Self {
        self.authorize = Some(Arc::new(hook));
        self
    }

    /// The largest request body, in bytes; larger ones get 413. Default 1 MiB.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How long a request body may take to arrive; a slower one gets 408 `body_timeout`, so a
    /// client that stalls mid-body holds its connection for this long at most. Default 30 s.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
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

    /// How long one call may run before it is stopped with 504. Default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many calls may run at once; more get 503 `overloaded` at once, never a queue.
    /// Only running calls count: a request whose body is still arriving holds no slot.
    /// Default 1,024.
    pub fn concurrency_limit(mut self, calls: usize) -> Self {
        self.concurrency_limit = calls.max(1);
        self
    }

    /// How long [`Server::serve`] lets in-flight calls finish after the shutdown signal.
    /// Default 10 s.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Sends a panic's message to the client (off by default: it may reveal internals).
    pub fn show_panics(mut self, show: bool) -> Self {
        self.show_panics = show;
        self
    }

    /// Answers `GET <prefix>` with the exposed functions and their parameters (on by default).
    pub fn listing(mut self, enabled: bool) -> Self {
        self.listing = enabled;
        self
    }

    /// The server.
    pub fn build(self) -> Server {
        Server {
            state: Arc::new(ServerState {
                running: Semaphore::new(self.concurrency_limit),
                body_limit: self.body_limit,
                body_timeout: self.body_timeout,
                listing_path: if self.prefix.is_empty() { "/".to_owned() } else { self.prefix.clone() },
                expose: self.expose,
                authorize: self.authorize,
                timeout: self.timeout,
                show_panics: self.show_panics,
                shutting_down: AtomicBool::new(false),
            }),
            prefix: self.prefix,
            max_connections: self.max_connections,
            header_read_timeout: self.header_read_timeout,
            shutdown_grace: self.shutdown_grace,
            listing: self.listing,
        }
    }
}

/// Serves the registry over HTTP; see the [module docs](super) for the wire format.
pub struct Server {
    state: Arc<ServerState>,
    prefix: String,
    max_connections: usize,
    header_read_timeout: Duration,
    shutdown_grace: Duration,
    listing: bool,
}

pub(super) struct ServerState {
    /// One permit per running call: the concurrency limit.
    running: Semaphore,
    body_limit: usize,
    body_timeout: Duration,
    /// `GET` of this path lists the functions (named in not-found messages).
    listing_path: String,
    expose: Expose,
    authorize: Option<Authorize>,
    timeout: Duration,
    show_panics: bool,
    pub(super) shutting_down: AtomicBool,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("prefix", &self.prefix)
            .field("expose", &self.state.expose)
            .field("body_limit", &self.state.body_limit)
            .field("body_timeout", &self.state.body_timeout)
            .field("timeout", &self.state.timeout)
            .field("max_connections", &self.max_connections)
            .field("header_read_timeout", &self.header_read_timeout)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A builder with the defaults (the README lists them all): everything exposed, 1 MiB
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
        let calls = Router::new().route(&format!("{}/{{name}}", self.prefix), post(call));
        let router = if self.listing {
            let root = if self.prefix.is_empty() { "/" } else { self.prefix.as_str() };
            calls.route(root, get(list))
        } else {
            calls
        };
        // Every refusal is a JSON error object from the one table, never an empty body.
        router
            .method_not_allowed_fallback(method_not_allowed)
            .fallback(no_route)
            .with_state(Arc::clone(&self.state))
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
            shutdown_grace: self.shutdown_grace,
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
    Server::builder().build().serve(listener, std::future::pending()).await
}

impl ServerState {
    fn exposes(&self, name: &str) -> bool {
        match &self.expose {
            Expose::All => true,
            Expose::Only(names) => names.contains(name),
        }
    }
}

async fn call(
    State(state): State<Arc<ServerState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if state.shutting_down.load(Ordering::Acquire) {
        return reply(codes::SHUTTING_DOWN, "the server is shutting down");
    }
    // A declared oversize body is refused from its header: before reading it (so hyper sends
    // no `100 Continue`) and before taking a slot.
    if content_length(&headers).is_some_and(|length| length > state.body_limit as u64) {
        return reply(codes::PAYLOAD_TOO_LARGE, format!("the body is over the limit of {} bytes", state.body_limit));
    }
    let function = match registry().get(&name) {
        Ok(function) if state.exposes(&name) => function,
        // Unexposed answers exactly like missing; suggestions never name an unexposed function.
        Ok(_) => return error(&CallError::not_found_remote(&name, None, &state.listing_path), &state, None),
        Err(CallError::NotFound(missing)) => {
            let suggestion = missing.suggestion.as_deref().filter(|close| state.exposes(close));
            return error(&CallError::not_found_remote(&name, suggestion, &state.listing_path), &state, None);
        }
        Err(other) => return error(&other, &state, None),
    };
    if let Some(authorize) = &state.authorize {
        match authorize(&headers, function) {
            Ok(()) => {}
            Err(Refusal::Unauthorized(message)) => return reply(codes::UNAUTHORIZED, message),
            Err(Refusal::Forbidden(message)) => return reply(codes::FORBIDDEN, message),
        }
    }
    // Every call is JSON, even one without arguments: a cross-site "simple" request (a form,
    // `text/plain`) gets no CORS preflight, so it must not be able to call anything.
    if !is_json(&headers) {
        return reply(
            codes::UNSUPPORTED_MEDIA_TYPE,
            "a call must be sent as Content-Type: application/json (an empty body for no arguments)",
        );
    }
    let body = match read_body(body, &state).await {
        Ok(body) => body,
        Err(refusal) => return refusal,
    };
    if state.shutting_down.load(Ordering::Acquire) {
        return reply(codes::SHUTTING_DOWN, "the server is shutting down");
    }
    // Only running calls count against the limit: taken once the body is in.
    let Ok(_running) = state.running.try_acquire() else {
        return reply(codes::OVERLOADED, "the server is at its concurrency limit; try again");
    };
    let args = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(args) => args,
            // Nested deeper than serde_json parses (128 levels): valid JSON, invalid arguments.
            Err(error) if error.to_string().starts_with("recursion limit exceeded") => {
                let deep = CallError::invalid_arguments(
                    function.name(),
                    None,
                    "the arguments nest deeper than 128 levels".to_owned(),
                );
                return self::error(&deep, &state, Some(function));
            }
            Err(error) => return reply(codes::BAD_REQUEST, format!("malformed JSON: {error}")),
        }
    };
    // The call runs inside this handler's own task: no second task, and dropping the handler
    // (the client went away, shutdown ran out of grace) drops the call with it.
    let invocation = match invoke(function, args) {
        Ok(invocation) => invocation,
        Err(failure) => return error(&failure, &state, Some(function)),
    };
    let outcome = match tokio::time::timeout(state.timeout, catching_async(invocation)).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(panic)) => Err(CallError::Panicked(panic)),
        Err(_) => Err(CallError::TimedOut(state.timeout)),
    };
    match outcome {
        Ok(value) => Json(value).into_response(),
        Err(failure) => error(&failure, &state, Some(function)),
    }
}

/// `GET <prefix>`: the functions this caller may call (exposed, and allowed by the authorize
/// hook for these headers), with their parameters.
async fn list(State(state): State<Arc<ServerState>>, headers: HeaderMap) -> Response {
    let functions: Vec<Value> = registry()
        .iter()
        .filter(|function| state.exposes(function.name()))
        .filter(|function| state.authorize.as_ref().is_none_or(|authorize| authorize(&headers, function).is_ok()))
        .map(|function| {
            json!({
                "name": function.name(),
                "params": function.params().iter().map(|p| json!({"name": p.name, "type": p.ty})).collect::<Vec<_>>(),
                "returns": function.returns(),
                "is_async": function.is_async(),
                "require": function.require(),
            })
        })
        .collect();
    Json(functions).into_response()
}

/// Reads the whole body, within the size limit and the body deadline.
async fn read_body(body: Body, state: &ServerState) -> Result<Bytes, Response> {
    let limited = Limited::new(body, state.body_limit);
    match tokio::time::timeout(state.body_timeout, limited.collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => Err(reply(
            codes::PAYLOAD_TOO_LARGE,
            format!("the body is over the limit of {} bytes", state.body_limit),
        )),
        Ok(Err(error)) => Err(reply(codes::BAD_REQUEST, format!("the body could not be read: {error}"))),
        Err(_) => Err(reply(
            codes::BODY_TIMEOUT,
            format!("the body did not arrive within {:?}", state.body_timeout),
        )),
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// A path that is no function of this server's.
async fn no_route(uri: Uri) -> Response {
    let mut body = codes::NOT_FOUND.body(format!("no route for {}: calls are POST <prefix>/<name>", uri.path()));
    // `path` (and no `name`) tells a client that it missed the routes, not a function.
    body.details = json!({ "path": uri.path() });
    (codes::NOT_FOUND.status, Json(body)).into_response()
}

/// A method the route does not take (axum adds the `Allow` header).
async fn method_not_allowed(method: Method) -> Response {
    reply(codes::METHOD_NOT_ALLOWED, format!("{method} is not allowed here: call a function with POST, list them with GET on the prefix"))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
        })
}

fn error(error: &CallError, state: &ServerState, function: Option<&ServerFunction>) -> Response {
    let (status, body) = to_wire(error, state.show_panics, function);
    (status, Json(body)).into_response()
}

fn reply(code: Code, message: impl Into<String>) -> Response {
    (code.status, Json(code.body(message))).into_response()
}
