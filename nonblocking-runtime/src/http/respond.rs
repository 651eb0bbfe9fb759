//! Answers as HTTP responses: the wire table's statuses, the JSON error object for every
//! refusal, and what a request's path and connection tell about it.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::remote::dispatch::Answer;
use crate::remote::wire::{Code, ErrorBody, codes};

/// A call's answer as a response (a value is `200` with its JSON).
pub(super) fn answer(answer: Answer) -> Response {
    match answer {
        Answer::Value(json) => value(json),
        Answer::Bytes(bytes) => {
            let mut response = Body::from(bytes).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(super::handlers::OCTET_STREAM));
            response
        }
        Answer::Error(status, body) => error(status, &body),
        // Items are always framed (the streamed path): no plain answer ends them.
        Answer::End(count) => value(count.to_string().into_bytes()),
        // HTTP has no cancel of its own: the client closes the connection and the handler is
        // dropped with the call. Nothing reads this.
        Answer::Dropped => error(codes::SHUTTING_DOWN.status, &codes::SHUTTING_DOWN.body("the call was cancelled")),
    }
}

/// `200` with a value's JSON.
fn value(json: Vec<u8>) -> Response {
    let mut response = Body::from(json).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// An error object with its status.
pub(super) fn error(status: u16, body: &ErrorBody) -> Response {
    (http_status(status), axum::Json(body)).into_response()
}

/// A refusal of the wire table with `message`.
pub(super) fn reply(code: Code, message: impl Into<String>) -> Response {
    error(code.status, &code.body(message))
}

/// A status of the wire table as HTTP's (every row is a valid status).
pub(super) fn http_status(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A `GET` (or `HEAD`) of a name that is not one of the client's files: a function's path
/// takes only `POST`.
pub(super) fn method_not_allowed_on_call(method: &Method) -> Response {
    let mut response = wrong_method(method);
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

pub(super) fn wrong_method(method: &Method) -> Response {
    reply(
        codes::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed here: call a function with POST, list them with GET on the prefix"),
    )
}

/// The last segment of a path: under `<prefix>/{name}`, the name (or an asset's file name).
pub(super) fn last_segment(path: &str) -> &str {
    path.rfind('/').map_or(path, |slash| &path[slash + 1..])
}

/// The client's address, which [`Server::serve`](super::Server::serve) (or axum's
/// `into_make_service_with_connect_info`) records on each request.
pub(super) fn peer(extensions: &axum::http::Extensions) -> Option<std::net::SocketAddr> {
    extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|info| info.0)
}
