//! The error object on the wire, both ways: a [`CallError`] to a status and JSON on the server,
//! and back to the same [`CallError`] on the client. Every transport uses this one table: HTTP
//! as the response's status, NATS as the `Nats-Service-Error-Code` header.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::errors::{CallError, RejectedError, RemoteFailure, TransportError};
use crate::registry::{RawError, ServerFunction};

/// One row of the wire's table: an HTTP status and the code the error object carries. Every
/// refusal and failure the server answers is one of these, and the client maps exactly these
/// back (the browser client and the NATS transport map the same table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Code {
    /// The HTTP status number.
    pub(crate) status: u16,
    pub(crate) code: &'static str,
}

impl Code {
    const fn new(status: u16, code: &'static str) -> Self {
        Code { status, code }
    }

    /// This code's error object with `message`.
    pub(crate) fn body(self, message: impl Into<String>) -> ErrorBody {
        ErrorBody::new(self.code, message)
    }
}

/// The table: the one place statuses and codes are written. (The module docs and the guide
/// show it to users; `every_code_is_documented` keeps them in step.)
pub(crate) mod codes {
    use super::Code;

    /// No such function, not exposed, or no route at that path.
    pub(crate) const NOT_FOUND: Code = Code::new(404, "not_found");
    /// A method other than `POST` on a function (or `GET` on the listing).
    pub(crate) const METHOD_NOT_ALLOWED: Code =
        Code::new(405, "method_not_allowed");
    /// A call without `Content-Type: application/json`.
    pub(crate) const UNSUPPORTED_MEDIA_TYPE: Code =
        Code::new(415, "unsupported_media_type");
    /// Malformed JSON, or a body that could not be read.
    pub(crate) const BAD_REQUEST: Code = Code::new(400, "bad_request");
    /// The arguments do not fit the parameters.
    pub(crate) const INVALID_ARGUMENTS: Code =
        Code::new(422, "invalid_arguments");
    /// The authorize hook wants credentials.
    pub(crate) const UNAUTHORIZED: Code = Code::new(401, "unauthorized");
    /// The authorize hook refused.
    pub(crate) const FORBIDDEN: Code = Code::new(403, "forbidden");
    /// The body did not arrive within the body deadline.
    pub(crate) const BODY_TIMEOUT: Code = Code::new(408, "body_timeout");
    /// The body is over the limit (by its `Content-Length`, or as it arrives).
    pub(crate) const PAYLOAD_TOO_LARGE: Code =
        Code::new(413, "payload_too_large");
    /// The call ran past the server's per-call timeout.
    pub(crate) const TIMED_OUT: Code = Code::new(504, "timed_out");
    /// A stream sent no item within the server's idle limit.
    pub(crate) const STREAM_IDLE: Code = Code::new(504, "stream_idle");
    /// The function returned an error.
    pub(crate) const FAILED: Code = Code::new(500, "failed");
    /// The function panicked.
    pub(crate) const PANICKED: Code = Code::new(500, "panicked");
    /// Two functions share the name.
    pub(crate) const DUPLICATE_NAME: Code =
        Code::new(500, "duplicate_name");
    /// The concurrency limit (or the connection cap) is reached: refused, not queued, not
    /// executed.
    pub(crate) const OVERLOADED: Code = Code::new(503, "overloaded");
    /// The server is shutting down.
    pub(crate) const SHUTTING_DOWN: Code =
        Code::new(503, "shutting_down");

    /// Every row, in the order the docs list them.
    #[cfg_attr(not(any(test, all(feature = "schema", feature = "http"))), allow(dead_code))]
    pub(crate) const ALL: [Code; 16] = [
        NOT_FOUND,
        METHOD_NOT_ALLOWED,
        UNSUPPORTED_MEDIA_TYPE,
        BAD_REQUEST,
        INVALID_ARGUMENTS,
        UNAUTHORIZED,
        FORBIDDEN,
        BODY_TIMEOUT,
        PAYLOAD_TOO_LARGE,
        TIMED_OUT,
        STREAM_IDLE,
        FAILED,
        PANICKED,
        DUPLICATE_NAME,
        OVERLOADED,
        SHUTTING_DOWN,
    ];
}

/// The body of every error reply.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ErrorBody {
    pub(crate) code: String,
    pub(crate) message: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub(crate) details: Value,
}

impl ErrorBody {
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Self {
        ErrorBody { code: code.to_owned(), message: message.into(), details: Value::Null }
    }
}

/// The status and body for a call's error. A panic's message stays on the server unless
/// `show_panics`; a failure carries its error's JSON value when `function` can encode it.
pub(crate) fn to_wire(error: &CallError, show_panics: bool, function: Option<&ServerFunction>) -> (u16, ErrorBody) {
    use serde_json::json;
    let message = error.to_string();
    let (code, details) = match error {
        CallError::NotFound(missing) => (codes::NOT_FOUND, json!({"name": missing.name, "suggestion": missing.suggestion})),
        CallError::InvalidArguments(invalid) => (
            codes::INVALID_ARGUMENTS,
            json!({"function": invalid.function, "parameter": invalid.parameter, "reason": invalid.reason}),
        ),
        CallError::DuplicateName(duplicate) => (
            codes::DUPLICATE_NAME,
            json!({"name": duplicate.name, "definitions": duplicate.definitions}),
        ),
        CallError::MissingContext(missing) => (
            codes::UNAUTHORIZED,
            json!({"function": missing.function, "parameter": missing.parameter, "type": missing.ty}),
        ),
        CallError::TimedOut(after) => (codes::TIMED_OUT, json!({"after_ms": after.as_millis() as u64})),
        CallError::Idle(after) => (codes::STREAM_IDLE, json!({"after_ms": after.as_millis() as u64})),
        CallError::Panicked(_) if !show_panics => {
            return (codes::PANICKED.status, codes::PANICKED.body("the server function panicked"));
        }
        CallError::Panicked(panic) => return (codes::PANICKED.status, codes::PANICKED.body(panic.to_string())),
        CallError::Cancelled => (codes::SHUTTING_DOWN, Value::Null),
        CallError::Failed(failure) => {
            let value = function.and_then(|function| function.error_value(failure.as_ref()));
            (codes::FAILED, value.map_or(Value::Null, |value| json!({"value": value})))
        }
        CallError::Rejected(rejected) => {
            let status = if (400..=599).contains(&rejected.status) { rejected.status } else { 500 };
            return (status, ErrorBody::new(&rejected.code, rejected.message.clone()));
        }
        // Anything a server function cannot otherwise produce.
        _ => (codes::FAILED, Value::Null),
    };
    (code.status, ErrorBody { code: code.code.to_owned(), message, details })
}

/// The status and body refusing a body whose arguments could not be split.
pub(crate) fn refuse_arguments(function: &ServerFunction, error: RawError, show_panics: bool) -> (u16, ErrorBody) {
    match error {
        // Nested deeper than serde_json parses (128 levels): valid JSON, invalid arguments.
        RawError::TooDeep => {
            let deep = CallError::invalid_arguments(function.name(), None, "the arguments nest deeper than 128 levels".to_owned());
            to_wire(&deep, show_panics, Some(function))
        }
        RawError::Malformed(error) => (codes::BAD_REQUEST.status, codes::BAD_REQUEST.body(format!("malformed JSON: {error}"))),
        RawError::NotUtf8 => (codes::BAD_REQUEST.status, codes::BAD_REQUEST.body("malformed JSON: the body is not UTF-8")),
    }
}

/// The error a reply with `status` and `body` stands for: the variant a local call would give,
/// [`CallError::Rejected`] for refusals only HTTP has, [`CallError::Transport`] for a reply
/// that is not ours. `base` is the server's address (an HTTP base URL, a NATS subject
/// prefix), `url` the request's.
pub(crate) fn from_wire(base: &str, url: &str, function: &str, status: u16, body: &[u8]) -> CallError {
    let Ok(body) = serde_json::from_slice::<ErrorBody>(body) else {
        let message = if status == codes::NOT_FOUND.status {
            // The usual cause: a base URL whose prefix differs from the server's.
            format!("no nonblocking server at {base}: check the prefix (the server answered {status} with a body that is not a nonblocking error object)")
        } else {
            format!("the server answered {status} with a body that is not a nonblocking error object")
        };
        return TransportError::plain(url.to_owned(), message);
    };
    let text = |key: &str| body.details.get(key).and_then(Value::as_str).map(str::to_owned);
    if body.code == codes::NOT_FOUND.code && body.details.get("path").is_some() {
        // The server is ours, but the URL missed its routes: the prefix is wrong.
        return TransportError::plain(
            url.to_owned(),
            format!("no nonblocking server at {base}: check the prefix (the server has no route for this URL: {})", body.message),
        );
    }
    match body.code.as_str() {
        "not_found" => {
            CallError::not_found_remote(&text("name").unwrap_or_else(|| function.to_owned()), text("suggestion").as_deref(), base)
        }
        "invalid_arguments" => CallError::invalid_arguments(
            &text("function").unwrap_or_else(|| function.to_owned()),
            text("parameter").as_deref(),
            text("reason").unwrap_or(body.message),
        ),
        "duplicate_name" => CallError::duplicate_name(
            &text("name").unwrap_or_else(|| function.to_owned()),
            serde_json::from_value(body.details.get("definitions").cloned().unwrap_or_default()).unwrap_or_default(),
        ),
        "timed_out" => CallError::TimedOut(Duration::from_millis(
            body.details.get("after_ms").and_then(Value::as_u64).unwrap_or_default(),
        )),
        "stream_idle" => CallError::Idle(Duration::from_millis(
            body.details.get("after_ms").and_then(Value::as_u64).unwrap_or_default(),
        )),
        "panicked" => CallError::Panicked(body.message.into()),
        "failed" => CallError::Failed(std::sync::Arc::new(RemoteFailure {
            message: body.message,
            value: body.details.get("value").cloned(),
        })),
        _ => CallError::Rejected(Box::new(RejectedError { status, code: body.code, message: body.message })),
    }
}

#[cfg(test)]
mod tests {
    use super::codes;

    /// The docs' table is the code's table: every row appears in the module docs and the
    /// guide with its status.
    #[test]
    fn every_code_is_documented() {
        let module = include_str!("../http/mod.rs");
        // Read at run time, not included: the published crate holds only its own folder, and
        // the guide lives in the workspace.
        let guide = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/guide.md");
        let readme = std::fs::read_to_string(guide).expect("the workspace's docs/guide.md");
        for code in codes::ALL {
            let row = format!("| {} | `{}` |", code.status, code.code);
            assert!(module.contains(&row), "http/mod.rs lacks the row {row}");
            assert!(readme.contains(&row), "docs/guide.md lacks the row {row}");
        }
    }
}
