//! [`Caller`]: what the authorization hook (and, through it, the call) sees of a request,
//! whatever transport brought it.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::context::{Context, Identity, TRACEPARENT, TRACESTATE, TraceContext};

/// The transport a call arrived by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Via {
    /// `POST <prefix>/<name>` over HTTP.
    Http,
    /// A request on `<prefix>.<name>` over NATS.
    Nats,
    /// A call through [`InProcess`](super::InProcess): no network, the same dispatch.
    InProcess,
}

/// What an [`Authorize`](super::Authorize) hook sees of a call's request, whatever its transport: its headers
/// (HTTP headers, NATS message headers), the transport, and the peer's address where the
/// transport knows it (HTTP's connection; NATS hides the publisher behind its server).
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::remote::{Caller, Refusal};
/// use nonblocking_runtime::registry::ServerFunction;
///
/// fn bearer_only(caller: &mut Caller<'_>, function: &ServerFunction) -> Result<(), Refusal> {
///     match (function.require(), caller.get("authorization").and_then(|v| v.to_str().ok())) {
///         (None, _) => Ok(()),
///         (Some(role), Some(token)) if token == format!("Bearer {role}-token") => Ok(()),
///         (Some(_), Some(_)) => Err(Refusal::Forbidden("wrong token".into())),
///         (Some(_), None) => Err(Refusal::Unauthorized(format!("{} needs a token", function.name()))),
///     }
/// }
/// ```
pub struct Caller<'a> {
    headers: Headers<'a>,
    via: Via,
    peer: Option<SocketAddr>,
    /// What every call of this request starts with (an `InProcess` transport's chosen one).
    base: Context,
    /// What the hook attached so far.
    context: Context,
}

enum Headers<'a> {
    #[cfg(feature = "http")]
    Http(&'a axum::http::HeaderMap),
    #[cfg(feature = "nats")]
    Nats(Option<&'a async_nats::HeaderMap>),
    /// An [`InProcess`](super::InProcess) transport's headers, as given.
    Given(&'a [(String, String)]),
}

impl<'a> Caller<'a> {
    #[cfg(feature = "http")]
    pub(crate) fn http(headers: &'a axum::http::HeaderMap, peer: Option<SocketAddr>) -> Self {
        Caller { headers: Headers::Http(headers), via: Via::Http, peer, base: Context::new(), context: Context::new() }
    }

    #[cfg(feature = "nats")]
    pub(crate) fn nats(headers: Option<&'a async_nats::HeaderMap>) -> Self {
        Caller {
            headers: Headers::Nats(headers),
            via: Via::Nats,
            peer: None,
            base: Context::new(),
            context: Context::new(),
        }
    }

    pub(crate) fn in_process(headers: &'a [(String, String)], base: Context) -> Self {
        Caller { headers: Headers::Given(headers), via: Via::InProcess, peer: None, context: base.clone(), base }
    }

    /// Attaches `value` to the call, replacing any value of the same type: the server
    /// function reads it as a `#[context]` parameter (or from its [`Context`]). Meant for the
    /// authorize hook, which attaches what it learned from the request (the signed-in user, a
    /// tenant); a client can never send it.
    pub fn attach<T: Send + Sync + 'static>(&mut self, value: T) {
        self.context = std::mem::take(&mut self.context).with(value);
    }

    /// Attaches `identity` as the caller's [`Identity`], which `require = ".."` is checked
    /// against; it is also attached as a value of its own type.
    pub fn attach_identity<I: Identity>(&mut self, identity: I) {
        self.context = std::mem::take(&mut self.context).with_identity(identity);
    }

    /// What is attached to the call so far.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Starts over from the base context, for the next function the hook is asked about.
    pub(crate) fn reset_context(&mut self) {
        self.context = self.base.clone();
    }

    /// The attached context, for the call.
    pub(crate) fn take_context(&mut self) -> Context {
        std::mem::take(&mut self.context)
    }

    /// The first value of the header `name` (case-insensitive), if the request has one.
    pub fn get(&self, name: &str) -> Option<HeaderText<'a>> {
        match &self.headers {
            #[cfg(feature = "http")]
            Headers::Http(headers) => headers.get(name).map(|value| HeaderText(value.as_bytes())),
            #[cfg(feature = "nats")]
            Headers::Nats(headers) => (*headers)?
                .iter()
                .find(|(key, _)| <_ as AsRef<str>>::as_ref(*key).eq_ignore_ascii_case(name))
                .and_then(|(_, values)| values.first())
                .map(|value| HeaderText(value.as_str().as_bytes())),
            Headers::Given(headers) => headers
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| HeaderText(value.as_bytes())),
        }
    }

    /// A header the runtime itself reads on every call: on HTTP by its name parsed once, at
    /// compile time, instead of on every request.
    fn get_known(&self, known: &Known) -> Option<HeaderText<'a>> {
        match &self.headers {
            #[cfg(feature = "http")]
            Headers::Http(headers) => headers.get(&known.http).map(|value| HeaderText(value.as_bytes())),
            _ => self.get(known.name),
        }
    }

    /// Every header as a name and a value, a name once per value, in no set order.
    pub fn headers(&self) -> Vec<(&'a str, HeaderText<'a>)> {
        match &self.headers {
            #[cfg(feature = "http")]
            Headers::Http(headers) => {
                headers.iter().map(|(name, value)| (name.as_str(), HeaderText(value.as_bytes()))).collect()
            }
            #[cfg(feature = "nats")]
            Headers::Nats(headers) => headers
                .iter()
                .flat_map(|headers| headers.iter())
                .flat_map(|(name, values)| {
                    values.iter().map(move |value| (name.as_ref(), HeaderText(value.as_str().as_bytes())))
                })
                .collect(),
            Headers::Given(headers) => {
                headers.iter().map(|(name, value)| (name.as_str(), HeaderText(value.as_bytes()))).collect()
            }
        }
    }

    /// The transport the call arrived by.
    pub fn via(&self) -> Via {
        self.via
    }

    /// The peer's address, where the transport knows it: the HTTP client's (as seen by
    /// [`Server::serve`](crate::http::Server::serve); behind a proxy, the proxy's), never for
    /// NATS.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The caller's place in a distributed trace, from its `traceparent` and `tracestate`
    /// headers (W3C Trace Context); `None` when it sent none, or a malformed one.
    pub fn trace(&self) -> Option<TraceContext> {
        let parent = self.get_known(&KNOWN_TRACEPARENT)?.to_str().ok()?;
        let state = self.get_known(&KNOWN_TRACESTATE).and_then(|state| state.to_str().ok());
        TraceContext::parse(parent, state)
    }

    /// How long the caller still waits for the answer, as it sent it ([`TIMEOUT_HEADER`]:
    /// whole milliseconds, the time left rather than an instant, so that the two machines'
    /// clocks need not agree). `None` when it sent none; an error for a value that is not a
    /// whole number of milliseconds.
    pub fn timeout(&self) -> Result<Option<Duration>, InvalidTimeout> {
        let Some(value) = self.get_known(&KNOWN_TIMEOUT) else { return Ok(None) };
        let text = value.to_str().map_err(|_| InvalidTimeout)?;
        let millis: u64 = text.trim().parse().map_err(|_| InvalidTimeout)?;
        Ok(Some(Duration::from_millis(millis)))
    }
}

/// A header name the runtime reads on every call, with its HTTP form made at compile time.
struct Known {
    name: &'static str,
    #[cfg(feature = "http")]
    http: axum::http::HeaderName,
}

impl Known {
    /// `lowercase` is `name` in lowercase (HTTP/2 and `http`'s parsed names are lowercase).
    #[cfg_attr(not(feature = "http"), allow(unused_variables))]
    const fn new(name: &'static str, lowercase: &'static str) -> Self {
        Known {
            name,
            #[cfg(feature = "http")]
            http: axum::http::HeaderName::from_static(lowercase),
        }
    }
}

const KNOWN_TIMEOUT: Known = Known::new(TIMEOUT_HEADER, "nonblocking-timeout");
const KNOWN_TRACEPARENT: Known = Known::new(TRACEPARENT, "traceparent");
const KNOWN_TRACESTATE: Known = Known::new(TRACESTATE, "tracestate");

/// The header in which a caller sends how long it still waits, in whole milliseconds: a server
/// runs the call until the earlier of its own timeout and this, and refuses a call that
/// arrives with none left (`0`) without running it. The Rust and JavaScript clients send it.
pub const TIMEOUT_HEADER: &str = "Nonblocking-Timeout";

/// A [`TIMEOUT_HEADER`] value that is not a whole number of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the Nonblocking-Timeout header is not a whole number of milliseconds")]
pub struct InvalidTimeout;

impl fmt::Debug for Caller<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be credentials: show only their names.
        let names: Vec<&str> = self.headers().into_iter().map(|(name, _)| name).collect();
        f.debug_struct("Caller").field("via", &self.via).field("peer", &self.peer).field("headers", &names).finish()
    }
}

/// A header's value as the request carried it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HeaderText<'a>(&'a [u8]);

impl<'a> HeaderText<'a> {
    /// The value as text; fails for bytes that are not visible ASCII (as `http`'s
    /// `HeaderValue::to_str` does).
    pub fn to_str(&self) -> Result<&'a str, NotText> {
        if self.0.iter().all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)) {
            // Visible ASCII is UTF-8.
            std::str::from_utf8(self.0).map_err(|_| NotText)
        } else {
            Err(NotText)
        }
    }

    /// The value's bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

impl fmt::Debug for HeaderText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(self.0), f)
    }
}

impl PartialEq<str> for HeaderText<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for HeaderText<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<String> for HeaderText<'_> {
    fn eq(&self, other: &String) -> bool {
        self.0 == other.as_bytes()
    }
}

/// A header value that is not text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the header value is not visible ASCII text")]
pub struct NotText;
