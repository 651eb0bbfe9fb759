//! The details of what only a remote call can fail with: a server's refusal
//! ([`RejectedError`]), a transport that could not deliver ([`TransportError`]), no worker at
//! all ([`NoRespondersError`]), and a remote function's own error ([`RemoteFailure`]). They are
//! re-exported from [`errors`](crate::errors), beside the local-only details.

use std::error::Error as StdError;

use crate::errors::{BoxError, CallError, NotFoundError, SharedError};

/// The details of [`CallError::NoResponders`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no worker is serving `{function}`: nothing subscribes to `{subject}` on the NATS servers")]
#[non_exhaustive]
pub struct NoRespondersError {
    /// The function's name.
    pub function: String,
    /// The subject the call was sent to.
    pub subject: String,
}

/// The details of [`CallError::Rejected`]: the HTTP status and the server's code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the server refused the call ({status} {code}): {message}")]
#[non_exhaustive]
pub struct RejectedError {
    /// The HTTP status, such as 401 or 503.
    pub status: u16,
    /// The machine-readable code, such as `unauthorized` or `overloaded`.
    pub code: String,
    /// The server's message.
    pub message: String,
}

/// The details of [`CallError::Transport`]: which URL could not be reached or answered
/// something that is not ours, why, and the underlying error as the
/// [`source`](StdError::source).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "http")] {
/// use nonblocking_runtime::{CallError, http::Remote};
///
/// // Nothing listens on port 9 here.
/// let remote = Remote::new("http://127.0.0.1:9/rpc").unwrap();
/// let error = remote.call_async_by_name::<i64>("add", (1, 2)).wait().unwrap_err();
/// let CallError::Transport(transport) = &error else { panic!("{error:?}") };
/// assert_eq!(transport.url, "http://127.0.0.1:9/rpc/add");
/// assert!(error.to_string().contains("http://127.0.0.1:9/rpc/add"));
/// # }
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message} ({url})")]
#[non_exhaustive]
pub struct TransportError {
    /// The URL of the request.
    pub url: String,
    /// What went wrong, ending with the innermost cause where there is one.
    pub message: String,
    /// The error of the HTTP stack, if one caused this.
    #[source]
    pub source: Option<SharedError>,
}

impl TransportError {
    /// A transport error for `url`, caused by `source` (its innermost cause is added to the
    /// message, so a one-line report still says "connection refused").
    pub(crate) fn caused(url: String, what: &str, source: BoxError) -> CallError {
        let mut root: &(dyn StdError + 'static) = &*source;
        while let Some(next) = root.source() {
            root = next;
        }
        let message = format!("{what}: {root}");
        CallError::Transport(Box::new(TransportError {
            url,
            message,
            source: Some(source.into()),
        }))
    }

    /// A transport error for `url` with no underlying error.
    pub(crate) fn plain(url: String, message: String) -> CallError {
        CallError::Transport(Box::new(TransportError {
            url,
            message,
            source: None,
        }))
    }
}

/// The error a remote server function returned, as [`CallError::Failed`] carries it on the
/// client: its message, and its JSON value when the error type is `Serialize`. Get it with
/// `error.downcast_ref::<RemoteFailure>()`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct RemoteFailure {
    /// The function's error message.
    pub message: String,
    /// The error itself as JSON, when its type is `Serialize` (decode it with `serde_json`).
    pub value: Option<serde_json::Value>,
}

impl CallError {
    /// A function the server at `server` (its base URL, or `nats:<prefix>`) does not offer to
    /// this caller.
    pub(crate) fn not_found_remote(
        name: &str,
        suggestion: Option<&str>,
        server: &str,
    ) -> CallError {
        CallError::NotFound(Box::new(NotFoundError {
            name: name.to_owned(),
            suggestion: suggestion.map(str::to_owned),
            server: Some(server.to_owned()),
        }))
    }
}
