//! The error object on the wire, both ways: a [`CallError`] to a status and JSON on the server,
//! and back to the same [`CallError`] on the client.

use std::time::Duration;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::errors::{CallError, RejectedError, RemoteFailure, TransportError};
use crate::registry::ServerFunction;

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
pub(crate) fn to_wire(error: &CallError, show_panics: bool, function: Option<&ServerFunction>) -> (StatusCode, ErrorBody) {
    use serde_json::json;
    let message = error.to_string();
    let (status, code, details) = match error {
        CallError::NotFound(missing) => (StatusCode::NOT_FOUND, "not_found", json!({"name": missing.name, "suggestion": missing.suggestion})),
        CallError::InvalidArguments(invalid) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_arguments",
            json!({"function": invalid.function, "parameter": invalid.parameter, "reason": invalid.reason}),
        ),
        CallError::DuplicateName(duplicate) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "duplicate_name",
            json!({"name": duplicate.name, "definitions": duplicate.definitions}),
        ),
        CallError::TimedOut(after) => (StatusCode::GATEWAY_TIMEOUT, "timed_out", json!({"after_ms": after.as_millis() as u64})),
        CallError::Panicked(_) if !show_panics => {
            return (StatusCode::INTERNAL_SERVER_ERROR, ErrorBody::new("panicked", "the server function panicked"));
        }
        CallError::Panicked(panic) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, ErrorBody::new("panicked", panic.clone()));
        }
        CallError::Cancelled => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down", Value::Null),
        CallError::Failed(failure) => {
            let value = function.and_then(|function| function.error_value(failure.as_ref()));
            (StatusCode::INTERNAL_SERVER_ERROR, "failed", value.map_or(Value::Null, |value| json!({"value": value})))
        }
        CallError::Rejected(rejected) => {
            let status = StatusCode::from_u16(rejected.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, ErrorBody::new(&rejected.code, rejected.message.clone()));
        }
        // Failed, and anything a server function cannot otherwise produce.
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "failed", Value::Null),
    };
    (status, ErrorBody { code: code.to_owned(), message, details })
}

/// The error a reply with `status` and `body` stands for: the variant a local call would give,
/// [`CallError::Rejected`] for refusals only HTTP has, [`CallError::Transport`] for a reply
/// that is not ours. `base` is the server's base URL, `url` the request's.
pub(crate) fn from_wire(base: &str, url: &str, function: &str, status: StatusCode, body: &[u8]) -> CallError {
    let Ok(body) = serde_json::from_slice::<ErrorBody>(body) else {
        let message = if status == StatusCode::NOT_FOUND {
            // The usual cause: a base URL whose prefix differs from the server's.
            format!("no nonblocking server at {base}: check the prefix (the server answered {status} with a body that is not a nonblocking error object)")
        } else {
            format!("the server answered {status} with a body that is not a nonblocking error object")
        };
        return TransportError::plain(url.to_owned(), message);
    };
    let text = |key: &str| body.details.get(key).and_then(Value::as_str).map(str::to_owned);
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
        "panicked" => CallError::Panicked(body.message),
        "failed" => CallError::Failed(Box::new(RemoteFailure {
            message: body.message,
            value: body.details.get("value").cloned(),
        })),
        _ => CallError::Rejected(Box::new(RejectedError { status: status.as_u16(), code: body.code, message: body.message })),
    }
}
