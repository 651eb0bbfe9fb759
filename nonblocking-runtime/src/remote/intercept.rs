//! Interceptors: a function a client runs before every call, which may set headers on it (a
//! token refreshed elsewhere, a trace or tenant id). One type for the HTTP and NATS clients.

use std::fmt;
use std::sync::Arc;

/// A client's interceptor: runs in the caller before every call (not before each retry),
/// with the function's name and the call's headers, which it may set. It is sync: a token that
/// needs an async refresh is refreshed elsewhere (a `repeat`, say) into state the interceptor
/// reads.
pub type Intercept = Arc<dyn Fn(&str, &mut OutgoingHeaders<'_>) + Send + Sync>;

/// The headers of a call about to be sent, as an [`Intercept`] sees them: the client's own
/// already in, the interceptor's added or replacing them.
pub struct OutgoingHeaders<'a> {
    headers: Headers<'a>,
}

enum Headers<'a> {
    #[cfg(feature = "http")]
    Http(&'a mut axum::http::HeaderMap),
    #[cfg(feature = "nats")]
    Nats(&'a mut async_nats::HeaderMap),
}

/// A header name or value that a header cannot hold (names are tokens without `:` or
/// whitespace, values are one line of visible text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid header `{name}`: names hold no `:` or whitespace, values are one line of visible text")]
#[non_exhaustive]
pub struct InvalidHeader {
    /// The header's name, as given.
    pub name: String,
}

impl<'a> OutgoingHeaders<'a> {
    #[cfg(feature = "http")]
    pub(crate) fn http(headers: &'a mut axum::http::HeaderMap) -> Self {
        OutgoingHeaders { headers: Headers::Http(headers) }
    }

    #[cfg(feature = "nats")]
    pub(crate) fn nats(headers: &'a mut async_nats::HeaderMap) -> Self {
        OutgoingHeaders { headers: Headers::Nats(headers) }
    }

    /// Sets the header `name` to `value`, replacing any value it had.
    pub fn insert(&mut self, name: &str, value: &str) -> Result<(), InvalidHeader> {
        let invalid = || InvalidHeader { name: name.to_owned() };
        let valid_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        let valid_value = value.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b));
        if !valid_name || !valid_value {
            return Err(invalid());
        }
        match &mut self.headers {
            #[cfg(feature = "http")]
            Headers::Http(headers) => {
                let name = axum::http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
                let value = axum::http::HeaderValue::from_str(value).map_err(|_| invalid())?;
                headers.insert(name, value);
            }
            #[cfg(feature = "nats")]
            Headers::Nats(headers) => headers.insert(name, value),
        }
        Ok(())
    }

    /// The header `name`'s first value (case-insensitive), if the call has one.
    pub fn get(&self, name: &str) -> Option<&str> {
        match &self.headers {
            #[cfg(feature = "http")]
            Headers::Http(headers) => headers.get(name).and_then(|value| value.to_str().ok()),
            #[cfg(feature = "nats")]
            Headers::Nats(headers) => headers
                .iter()
                .find(|(key, _)| <_ as AsRef<str>>::as_ref(*key).eq_ignore_ascii_case(name))
                .and_then(|(_, values)| values.first())
                .map(|value| value.as_str()),
        }
    }
}

impl fmt::Debug for OutgoingHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingHeaders").finish_non_exhaustive()
    }
}
