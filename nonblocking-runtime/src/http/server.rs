//! The server: an axum `Router` that serves the registry, and `serve` for the common case.

use std::collections::HashSet;
use std::fmt;
use std::future::{Future, IntoFuture, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde_json::{Value, json};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::Notify;
use tower::ServiceBuilder;

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
    timeout: Duration,
    concurrency_limit: usize,
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
            timeout: Duration::from_secs(30),
            concurrency_limit: 1024,
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

    /// How long one call may run before it is stopped with 504. Default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many calls may run at once; more get 503 `overloaded` at once, never a queue.
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
                listing_path: if self.prefix.is_empty() { "/".to_owned() } else { self.prefix.clone() },
                expose: self.expose,
                authorize: self.authorize,
                timeout: self.timeout,
                show_panics: self.show_panics,
                shutting_down: AtomicBool::new(false),
            }),
            prefix: self.prefix,
            body_limit: self.body_limit,
            concurrency_limit: self.concurrency_limit,
            shutdown_grace: self.shutdown_grace,
            listing: self.listing,
        }
    }
}

/// Serves the registry over HTTP; see the [module docs](super) for the wire format.
pub struct Server {
    state: Arc<ServerState>,
    prefix: String,
    body_limit: usize,
    concurrency_limit: usize,
    shutdown_grace: Duration,
    listing: bool,
}

struct ServerState {
    /// `GET` of this path lists the functions (named in not-found messages).
    listing_path: String,
    expose: Expose,
    authorize: Option<Authorize>,
    timeout: Duration,
    show_panics: bool,
    shutting_down: AtomicBool,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("prefix", &self.prefix)
            .field("expose", &self.state.expose)
            .field("body_limit", &self.body_limit)
            .field("timeout", &self.state.timeout)
            .field("concurrency_limit", &self.concurrency_limit)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A builder with the defaults: everything exposed, 1 MiB bodies, 30 s per call, 1,024
    /// calls at once.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The routes, to serve yourself or to mount into your own axum app.
    pub fn router(&self) -> Router {
        let overloaded = HandleErrorLayer::new(|_: tower::BoxError| async {
            reply(codes::OVERLOADED, "the server is at its concurrency limit; try again")
        });
        let calls = Router::new()
            .route(&format!("{}/{{name}}", self.prefix), post(call))
            .layer(ServiceBuilder::new().layer(overloaded).load_shed().concurrency_limit(self.concurrency_limit))
            .layer(DefaultBodyLimit::max(self.body_limit));
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
    /// the shutdown grace; calls still running then are cancelled.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let stop = Arc::new(Notify::new());
        let stopped = Arc::clone(&stop);
        let mut serving = tokio::spawn(
            axum::serve(listener, self.router())
                .with_graceful_shutdown(async move { stopped.notified().await })
                .into_future(),
        );
        let mut shutdown = pin!(shutdown);
        let ended_early = poll_fn(|cx| {
            if let Poll::Ready(ended) = Pin::new(&mut serving).poll(cx) {
                return Poll::Ready(Some(ended));
            }
            shutdown.as_mut().poll(cx).map(|()| None)
        })
        .await;
        if let Some(ended) = ended_early {
            return ended.map_err(io::Error::other)?;
        }
        self.state.shutting_down.store(true, Ordering::Release);
        stop.notify_one();
        match tokio::time::timeout(self.shutdown_grace, &mut serving).await {
            Ok(ended) => ended.map_err(io::Error::other)?,
            Err(_) => {
                serving.abort();
                Ok(())
            }
        }
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
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if state.shutting_down.load(Ordering::Acquire) {
        return reply(codes::SHUTTING_DOWN, "the server is shutting down");
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return reply(codes::PAYLOAD_TOO_LARGE, rejection.body_text());
        }
        Err(rejection) => return reply(codes::BAD_REQUEST, rejection.body_text()),
    };
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
