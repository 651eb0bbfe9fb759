//! Cross-origin calls: which other origins' pages may call this server from a browser.
//!
//! Without [`ServerBuilder::cors`](super::ServerBuilder::cors) a server is same-origin only: it
//! sends no CORS headers, so a browser lets a page read answers only from its own origin. With
//! it, tower-http's `CorsLayer` wraps every route: a preflight (`OPTIONS` with
//! `Access-Control-Request-Method`) is answered by the layer before routing, so it never meets
//! the authorize hook, the concurrency limit or the 405 handling, and every answer, errors
//! included, carries the headers a page needs to read it. The one exception is the connection
//! cap's 503: `serve()` refuses that connection before reading a request, so it cannot know
//! the origin.

use std::fmt;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The origins (and what they may send) allowed to call from a browser.
///
/// ```
/// use nonblocking_runtime::http::{Cors, Server};
///
/// let cors = Cors::allow_origins(["https://app.example", "http://localhost:5173"])?
///     .allow_headers(["authorization"])?
///     .allow_credentials(true);
/// let server = Server::builder().cors(cors).build().expect("no prefix is a valid one");
/// # Ok::<(), nonblocking_runtime::http::InvalidCors>(())
/// ```
#[derive(Clone)]
pub struct Cors {
    origins: Vec<HeaderValue>,
    methods: Vec<Method>,
    headers: Vec<HeaderName>,
    credentials: bool,
    max_age: Duration,
}

/// A CORS setting that a browser could never match, named with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} {reason}")]
#[non_exhaustive]
pub struct InvalidCors {
    /// The value given.
    pub value: String,
    /// Why it cannot work.
    pub reason: String,
}

impl Cors {
    /// Allows calls from pages of these origins, each exactly as a browser sends it in the
    /// `Origin` header: a scheme, a host and an optional port, with no path and no trailing
    /// slash (`https://app.example`, `http://localhost:5173`). There is no wildcard: an origin
    /// that sends cookies or a token must be named.
    ///
    /// By default the allowed methods are `POST` (calls) and `GET` (the listing and the
    /// client's files), the allowed request headers are `Content-Type` and those the JavaScript
    /// client sends for the call itself (`Nonblocking-Timeout`, the deadline; `traceparent`
    /// and `tracestate`, the trace), credentials are not allowed, and a preflight may be
    /// cached for 10 minutes.
    pub fn allow_origins<I>(origins: I) -> Result<Cors, InvalidCors>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let origins = origins
            .into_iter()
            .map(|origin| parse_origin(origin.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Cors {
            origins,
            methods: vec![Method::POST, Method::GET],
            headers: vec![
                header::CONTENT_TYPE,
                HeaderName::from_static("nonblocking-timeout"),
                HeaderName::from_static("traceparent"),
                HeaderName::from_static("tracestate"),
            ],
            credentials: false,
            max_age: Duration::from_secs(600),
        })
    }

    /// The methods a page may use (default `POST` and `GET`).
    pub fn allow_methods(mut self, methods: impl IntoIterator<Item = Method>) -> Self {
        self.methods = methods.into_iter().collect();
        self
    }

    /// Request headers a page may send besides the defaults, for example `authorization` for a
    /// bearer token read by the authorize hook.
    pub fn allow_headers<I>(mut self, headers: I) -> Result<Self, InvalidCors>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        for name in headers {
            let name = name.as_ref();
            let parsed = HeaderName::from_bytes(name.as_bytes()).map_err(|_| InvalidCors {
                value: name.to_owned(),
                reason: "is not a header name".to_owned(),
            })?;
            if !self.headers.contains(&parsed) {
                self.headers.push(parsed);
            }
        }
        Ok(self)
    }

    /// Whether a page may send cookies and HTTP authentication (the client's `credentials:
    /// "include"`), and read the answer. Off by default.
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.credentials = allow;
        self
    }

    /// How long a browser may cache a preflight's answer (default 10 minutes).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    pub(super) fn layer(&self) -> CorsLayer {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(self.origins.iter().cloned()))
            .allow_methods(self.methods.clone())
            .allow_headers(self.headers.clone())
            .allow_credentials(self.credentials)
            .max_age(self.max_age)
    }
}

impl fmt::Debug for Cors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cors")
            .field("origins", &self.origins)
            .field("methods", &self.methods)
            .field("headers", &self.headers)
            .field("credentials", &self.credentials)
            .field("max_age", &self.max_age)
            .finish()
    }
}

/// An origin as browsers send it; anything else could never match, so it is refused here
/// rather than failing silently in the browser.
fn parse_origin(origin: &str) -> Result<HeaderValue, InvalidCors> {
    let invalid = |reason: &str| InvalidCors {
        value: origin.to_owned(),
        reason: reason.to_owned(),
    };
    if origin == "*" {
        return Err(invalid("is a wildcard: name each origin that may call"));
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Err(invalid("is not an origin: it needs a scheme (`https://app.example`)"));
    };
    if !matches!(scheme, "http" | "https") {
        return Err(invalid("is not an origin: the scheme must be http or https"));
    }
    if rest.is_empty() {
        return Err(invalid("is not an origin: it has no host"));
    }
    if rest.contains('/') {
        return Err(InvalidCors {
            value: origin.to_owned(),
            reason: format!(
                "is not an origin: an origin has no path or trailing slash (write `{scheme}://{}`)",
                rest.split('/').next().unwrap_or_default()
            ),
        });
    }
    if rest.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(invalid("is not an origin as browsers send it: write the host in lower case"));
    }
    HeaderValue::from_str(origin).map_err(|_| invalid("is not a valid header value"))
}

#[cfg(test)]
mod tests {
    use super::Cors;

    #[test]
    fn origins_a_browser_could_never_send_are_refused_with_the_reason() {
        for (origin, reason) in [
            ("*", "wildcard"),
            ("app.example", "needs a scheme"),
            ("ftp://app.example", "http or https"),
            ("https://", "no host"),
            ("https://app.example/", "write `https://app.example`"),
            ("https://app.example/page", "no path"),
            ("https://App.example", "lower case"),
        ] {
            let error = Cors::allow_origins([origin]).unwrap_err();
            assert!(error.to_string().contains(reason), "{origin}: {error}");
        }
        assert!(Cors::allow_origins(["http://localhost:5173", "https://app.example"]).is_ok());
    }

    #[test]
    fn header_names_are_checked() {
        let cors = Cors::allow_origins(["https://app.example"]).unwrap();
        assert!(cors.clone().allow_headers(["authorization", "x-trace"]).is_ok());
        let error = cors.allow_headers(["bad header"]).unwrap_err();
        assert_eq!(error.value, "bad header");
    }
}
