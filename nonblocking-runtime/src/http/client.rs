//! The client: calls server functions of another process by name, or through typed stubs.

use std::fmt;
use std::time::Duration;

use axum::http::{Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::wire::from_wire;
use crate::call::{AsyncCall, call_with_outcome};
use crate::error::CallError;

/// A server of server functions, called over HTTP with pooled keep-alive connections.
/// Cloning it shares the pool.
///
/// Each `#[server_function]` also gets a typed stub, `call_remote_<name>(&remote, args..)`,
/// next to its local `call_async_<name>(args..)`.
///
/// # Examples
///
/// ```no_run
/// use nonblocking_runtime::http::Remote;
/// use std::time::Duration;
///
/// # #[tokio::main]
/// # async fn main() {
/// let remote = Remote::new("http://127.0.0.1:3000/rpc").unwrap().with_timeout(Duration::from_secs(5));
/// let sum = remote.call_async_by_name::<i64>("add", (1, 2)).await;
/// # }
/// ```
#[derive(Clone)]
pub struct Remote {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Option<Duration>,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote").field("base", &self.base).field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl Remote {
    /// A client of the server at `base_url` (`http://host:port/prefix`). Fails with
    /// [`CallError::Transport`] for a URL that is not plain `http` with a host.
    pub fn new(base_url: impl Into<String>) -> Result<Remote, CallError> {
        let base = base_url.into().trim_end_matches('/').to_owned();
        let uri: Uri = base.parse().map_err(|error| CallError::Transport(format!("invalid base URL {base:?}: {error}")))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(CallError::Transport(format!("base URL {base:?} must be http://host[:port][/prefix]")));
        }
        let client = Client::builder(TokioExecutor::new()).build_http();
        Ok(Remote { base, client, timeout: None })
    }

    /// Stops every call that has not answered within `timeout` with
    /// [`CallError::TimedOut`] (and drops its request). Per call: [`AsyncCall::timeout`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Calls the server function `name` without waiting: the remote form of
    /// [`call_async_by_name`](crate::call_async_by_name), with the same arguments rule and the
    /// same errors, plus [`CallError::Rejected`] and [`CallError::Transport`].
    /// `cancel()` drops the request; the server then cancels the call.
    pub fn call_async_by_name<R>(&self, name: &str, args: impl Serialize) -> AsyncCall<R>
    where
        R: DeserializeOwned + Send + Sync + 'static,
    {
        let request = self.request(name, &args);
        let client = self.client.clone();
        let function = name.to_owned();
        let call = call_with_outcome(async move {
            let response = client
                .request(request?)
                .await
                .map_err(|error| CallError::Transport(format!("server function `{function}`: {error}")))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|error| CallError::Transport(format!("server function `{function}`: {error}")))?
                .to_bytes();
            if status == StatusCode::OK {
                serde_json::from_slice::<R>(&body).map_err(|error| CallError::invalid_result(&function, error.to_string()))
            } else {
                Err(from_wire(&function, status, &body))
            }
        });
        match self.timeout {
            Some(timeout) => call.timeout(timeout),
            None => call,
        }
    }

    fn request(&self, name: &str, args: &impl Serialize) -> Result<Request<Full<Bytes>>, CallError> {
        // Registered names are URL-safe; anything else cannot name a function.
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
            return Err(CallError::not_found(name, None));
        }
        let body = serde_json::to_vec(args).map_err(|error| {
            CallError::invalid_arguments(name, None, format!("the arguments could not be encoded as JSON: {error}"))
        })?;
        Request::post(format!("{}/{name}", self.base))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| CallError::Transport(format!("server function `{name}`: {error}")))
    }
}
