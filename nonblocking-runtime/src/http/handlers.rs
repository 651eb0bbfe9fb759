//! The request handlers behind [`Server::router`](super::Server::router): a call by name, the
//! listing, and the JSON refusals for unmatched paths and methods.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Value, json};

use super::server::{Expose, Refusal, ServerState};
use super::wire::{Code, codes, to_wire};
use crate::errors::CallError;
use crate::panic::catching_async;
use crate::registry::{ServerFunction, invoke, registry};

impl ServerState {
    fn exposes(&self, name: &str) -> bool {
        match &self.expose {
            Expose::All => true,
            Expose::Only(names) => names.contains(name),
        }
    }
}

pub(super) async fn call(
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
pub(super) async fn list(State(state): State<Arc<ServerState>>, headers: HeaderMap) -> Response {
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
pub(super) async fn no_route(uri: Uri) -> Response {
    let mut body = codes::NOT_FOUND.body(format!("no route for {}: calls are POST <prefix>/<name>", uri.path()));
    // `path` (and no `name`) tells a client that it missed the routes, not a function.
    body.details = json!({ "path": uri.path() });
    (codes::NOT_FOUND.status, Json(body)).into_response()
}

/// A method the route does not take (axum adds the `Allow` header).
pub(super) async fn method_not_allowed(method: Method) -> Response {
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
