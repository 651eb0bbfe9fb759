//! The client: calls server functions of another process by name, or through typed stubs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;

use super::connector::{Connector, TlsRoots};
use crate::progress::{self, Reporter};
use crate::remote::ReadProgress;
use crate::items::{CallValue, Reply};
use crate::remote::frames::{NDJSON, Reading};
use crate::remote::wire::from_wire;
use super::handlers::OCTET_STREAM;
use super::streamed::BYTE_STREAM;
use crate::remote::{Body, Decode, Intercept, OutgoingHeaders, TIMEOUT_HEADER, Transport, outgoing_trace, sealed, send_trace};
use crate::calls::{AsyncCall, call_with_outcome};
use crate::errors::{CallError, TransportError};

/// What a call accepts: frames, or the plain value.
const ACCEPTED: &str = "application/x-ndjson, application/json";

/// A server of server functions, called over HTTP with pooled keep-alive connections.
/// Cloning it shares the pool; so do [`with_header`](Self::with_header) and the other
/// `with_` methods, which make a variant for some calls.
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
/// # async fn main() -> Result<(), nonblocking_runtime::CallError> {
/// let remote = Remote::builder("http://127.0.0.1:3000/rpc")
///     .timeout(Duration::from_secs(5))
///     .bearer_token("secret-token")
///     .build()?;
/// let sum = remote.call_async_by_name::<i64>("add", (1, 2)).await?;
///
/// // One call with one more header; the connection pool is shared.
/// let traced = remote.with_header("x-request-id", "7")?;
/// let sum = traced.call_async_by_name::<i64>("add", (1, 2)).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Remote {
    base: Arc<str>,
    client: Client<Connector, Full<Bytes>>,
    headers: Arc<HeaderMap>,
    timeout: Option<Duration>,
    intercept: Option<Intercept>,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be credentials: show only their names.
        f.debug_struct("Remote")
            .field("base", &self.base)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Remote`]: default headers, credentials, a timeout and trusted certificates.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::http::Remote;
/// use std::time::Duration;
///
/// let remote = Remote::builder("http://127.0.0.1:3000/rpc")
///     .header("x-client", "inventory-app")
///     .bearer_token("secret-token")
///     .timeout(Duration::from_secs(5))
///     .build()
///     .unwrap();
/// assert_eq!(remote.base_url(), "http://127.0.0.1:3000/rpc");
///
/// // A header that is not valid HTTP is refused, naming the header.
/// let error = Remote::builder("http://127.0.0.1:3000").header("x-bad", "a\nb").build().unwrap_err();
/// assert!(error.to_string().contains("x-bad"));
/// ```
#[must_use = "a builder does nothing until `build()`"]
pub struct RemoteBuilder {
    base: String,
    headers: Vec<(String, String)>,
    timeout: Option<Duration>,
    roots: TlsRoots,
    intercept: Option<Intercept>,
}

impl fmt::Debug for RemoteBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteBuilder")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RemoteBuilder {
    /// Sends this header with every call (for per-call headers, see [`Remote::with_header`]).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends `Authorization: Bearer <token>` with every call.
    pub fn bearer_token(self, token: impl fmt::Display) -> Self {
        self.header(AUTHORIZATION.as_str(), format!("Bearer {token}"))
    }

    /// Stops every call that has not answered within `timeout` with
    /// [`CallError::TimedOut`] (and drops its request). Per call: [`AsyncCall::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Runs `intercept` before every call, in the caller, with the function's name and the
    /// call's headers (this remote's already in), which it may set: a token refreshed
    /// elsewhere, a tenant or request id. The NATS [`Remote`](crate::nats::Remote) takes the
    /// same function.
    ///
    /// ```
    /// use std::sync::{Arc, RwLock};
    /// use nonblocking_runtime::http::Remote;
    ///
    /// // Kept fresh by the app (a `repeat` that refreshes it, say).
    /// let token = Arc::new(RwLock::new(String::from("t1")));
    /// let current = Arc::clone(&token);
    /// let remote = Remote::builder("http://127.0.0.1:3000/rpc")
    ///     .intercept(move |_function, headers| {
    ///         let bearer = format!("Bearer {}", current.read().unwrap());
    ///         headers.insert("authorization", &bearer).expect("a valid header");
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # drop(remote);
    /// ```
    pub fn intercept(
        mut self,
        intercept: impl Fn(&str, &mut crate::remote::OutgoingHeaders<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.intercept = Some(Arc::new(intercept));
        self
    }

    /// Trusts the certificate authority in `pem` (one or more PEM certificates) for `https://`
    /// servers, besides the built-in web roots: for a private CA or a self-signed test server.
    #[cfg(feature = "https")]
    #[cfg_attr(docsrs, doc(cfg(feature = "https")))]
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.roots.add_pem(pem.into());
        self
    }

    /// The client. Fails with [`CallError::Transport`] for a URL that is not
    /// `http://host[:port][/prefix]` (or `https://` with the `https` feature), a header that is
    /// not valid HTTP, or a certificate that cannot be read.
    pub fn build(self) -> Result<Remote, CallError> {
        let base = self.base.trim_end_matches('/').to_owned();
        let uri: Uri = base.parse().map_err(|error| {
            TransportError::plain(base.clone(), format!("invalid base URL: {error}"))
        })?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") if cfg!(feature = "https") => {}
            Some("https") => {
                return Err(TransportError::plain(
                    base,
                    "https:// needs the `https` feature of nonblocking-runtime".to_owned(),
                ));
            }
            _ => {
                return Err(TransportError::plain(
                    base,
                    "the base URL must be http://host[:port][/prefix] or https://..".to_owned(),
                ));
            }
        }
        if uri.host().is_none() {
            return Err(TransportError::plain(
                base,
                "the base URL has no host".to_owned(),
            ));
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let (name, value) = parse_header(&base, name, value)?;
            headers.append(name, value);
        }
        let connector = self.roots.connector().map_err(|message| TransportError::plain(base.clone(), message))?;
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Remote {
            base: base.into(),
            client,
            headers: Arc::new(headers),
            timeout: self.timeout,
            intercept: self.intercept,
        })
    }
}

fn parse_header(base: &str, name: &str, value: &str) -> Result<(HeaderName, HeaderValue), CallError> {
    let invalid = |what: String| TransportError::plain(base.to_owned(), what);
    let header = HeaderName::try_from(name)
        .map_err(|error| invalid(format!("invalid header name {name:?}: {error}")))?;
    let value = HeaderValue::try_from(value)
        .map_err(|error| invalid(format!("invalid value for header `{name}`: {error}")))?;
    Ok((header, value))
}

impl Remote {
    /// A client of the server at `base_url` (`http://host:port/prefix`, the server's prefix
    /// included) with no default headers and no timeout; see [`Remote::builder`] for those.
    /// Fails with [`CallError::Transport`] for a URL it cannot use.
    pub fn new(base_url: impl Into<String>) -> Result<Remote, CallError> {
        Remote::builder(base_url).build()
    }

    /// A builder for a client of the server at `base_url`.
    // Without the `https` feature `TlsRoots` is a unit struct; with it, it is not.
    #[allow(clippy::default_constructed_unit_structs)]
    pub fn builder(base_url: impl Into<String>) -> RemoteBuilder {
        RemoteBuilder {
            base: base_url.into(),
            headers: Vec::new(),
            timeout: None,
            roots: TlsRoots::default(),
            intercept: None,
        }
    }

    /// The server's base URL, as given (without a trailing `/`).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// A client sharing this one's connections with a default timeout of `timeout`; see
    /// [`RemoteBuilder::timeout`]. Like every `with_*` method of both transports' clients, it
    /// leaves `self` as it is.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Remote {
            timeout: Some(timeout),
            ..self.clone()
        }
    }

    /// A client sharing this one's connections that also sends the header `name: value`:
    /// a header for some calls only (a request id, another user's token).
    /// Fails with [`CallError::Transport`] if the header is not valid HTTP.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::http::Remote;
    /// let remote = Remote::new("http://127.0.0.1:3000").unwrap();
    /// let admin = remote.with_header("x-role", "admin").unwrap();
    /// assert!(format!("{admin:?}").contains("x-role"));
    /// assert!(!format!("{remote:?}").contains("x-role"));
    /// ```
    pub fn with_header(&self, name: &str, value: &str) -> Result<Remote, CallError> {
        let (name, value) = parse_header(&self.base, name, value)?;
        let mut headers = HeaderMap::clone(&self.headers);
        headers.insert(name, value);
        Ok(Remote {
            headers: Arc::new(headers),
            ..self.clone()
        })
    }

    /// [`with_header`](Self::with_header) for `Authorization: Bearer <token>`.
    pub fn with_bearer_token(&self, token: impl fmt::Display) -> Result<Remote, CallError> {
        self.with_header(AUTHORIZATION.as_str(), &format!("Bearer {token}"))
    }

    /// Calls the server function `name` without waiting: the remote form of
    /// [`call_async_by_name`](crate::call_async_by_name), with the same arguments rule and the
    /// same errors, plus [`CallError::Rejected`] and [`CallError::Transport`].
    /// `cancel()` drops the request; the server then cancels the call.
    pub fn call_async_by_name<R: CallValue>(&self, name: &str, args: impl Serialize) -> AsyncCall<R> {
        Transport::call_async_by_name(self, name, args)
    }
}

impl sealed::Sealed for Remote {}

impl Transport for Remote {
    fn call_json<R: Send + 'static>(&self, name: &str, body: Result<Body, CallError>, decode: Decode<R>, progress: ReadProgress) -> AsyncCall<R> {
        let request = body.and_then(|body| self.request(name, body, progress));
        let client = self.client.clone();
        let base = Arc::clone(&self.base);
        let function = name.to_owned();
        // Progress may be watched (`on_progress`) once the call has started: a call that may
        // read it keeps a cell for it, and the server sends it only for a function that reports.
        let start = move |reporter: Option<Arc<Reporter>>| {
            call_with_outcome(async move {
                let (url, request) = request?;
                let response = client.request(request).await.map_err(|error| {
                    let what = if error.is_connect() {
                        "could not connect to the server"
                    } else {
                        "the call could not be sent"
                    };
                    TransportError::caused(url.clone(), what, Box::new(error))
                })?;
                let status = response.status();
                let content_type = response.headers().get(CONTENT_TYPE);
                let framed = content_type.is_some_and(|value| value.as_bytes() == NDJSON.as_bytes());
                let raw = content_type.is_some_and(|value| value.as_bytes() == OCTET_STREAM.as_bytes());
                let download = content_type.is_some_and(|value| value.as_bytes() == BYTE_STREAM.as_bytes());
                let body = response.into_body();
                if status == StatusCode::OK && download {
                    // A download: its chunks as they arrive.
                    return super::framed::chunks(body, decode, url, function);
                }
                if status == StatusCode::OK && framed {
                    // Frames this call did not ask for (an `Accept` header of the caller's own)
                    // are still read: their progress goes nowhere.
                    let reporter = reporter.unwrap_or_else(|| progress::channel().0);
                    let reading = Reading::new(reporter, decode);
                    return super::framed::read(body, reading, base, url, function).await;
                }
                let body = body
                    .collect()
                    .await
                    .map_err(|error| {
                        TransportError::caused(url.clone(), "the connection broke while reading the reply", Box::new(error))
                    })?
                    .to_bytes();
                if status == StatusCode::OK {
                    // A value of a bytes type comes as the bytes themselves.
                    decode(if raw { Reply::Bytes(&body) } else { Reply::Json(&body) }, &function)
                } else {
                    Err(from_wire(&base, &url, &function, status.as_u16(), &body))
                }
            })
        };
        let call = match progress {
            ReadProgress::Read => progress::tracked(|reporter| start(Some(reporter))),
            ReadProgress::Ignore => start(None),
        };
        match self.timeout {
            Some(timeout) => call.timeout(timeout),
            None => call,
        }
    }

}

impl Remote {
    fn request(&self, name: &str, body: Body, progress: ReadProgress) -> Result<(String, Request<Full<Bytes>>), CallError> {
        // Registered names are URL-safe; anything else cannot name a function.
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
            return Err(CallError::not_found_remote(name, None, &self.base));
        }
        let url = format!("{}/{name}", self.base);
        let content_type = match body {
            Body::Json(_) => "application/json",
            Body::Bytes(_) => OCTET_STREAM,
        };
        let mut request = Request::post(&url)
            .header(CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body.into_bytes())))
            .map_err(|error| TransportError::caused(url.clone(), "the request could not be built", Box::new(error)))?;
        if progress == ReadProgress::Read {
            // Frames (progress, then the answer) from a function that reports progress.
            request.headers_mut().insert(ACCEPT, HeaderValue::from_static(ACCEPTED));
        }
        request.headers_mut().extend(self.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
        // The deadline travels: the server stops the call when this client stops waiting.
        if let Some(timeout) = self.timeout {
            request.headers_mut().insert(TIMEOUT_HEADER, HeaderValue::from(timeout.as_millis().min(u128::from(u64::MAX)) as u64));
        }
        // The trace goes on: the server's span for the call is this one's child.
        send_trace(outgoing_trace().as_ref(), &mut OutgoingHeaders::http(request.headers_mut()));
        if let Some(intercept) = &self.intercept {
            intercept(name, &mut OutgoingHeaders::http(request.headers_mut()));
        }
        Ok((url, request))
    }
}
