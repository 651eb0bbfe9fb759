//! The request handlers behind [`Server::router`](super::Server::router): a call by name, the
//! listing, and the JSON refusals for unmatched paths and methods.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use hyper::body::Body as _;
use serde_json::{Value, json};

use super::respond::{self, http_status, last_segment, peer, reply, wrong_method};
use super::state::{Drain, ServerState};
use crate::errors::CallError;
use crate::registry::registry;
use crate::remote::Caller;
use crate::remote::dispatch::{BodyKind, Outlets, dispatch, ready_now};
use crate::remote::wire::{codes, to_wire};

pub(super) async fn call(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    // The request whole, not a `HeaderMap` extractor: that one clones every header.
    let (mut parts, body) = request.into_parts();
    // The route is `<prefix>/{name}`: the name is the path's last segment. Only an encoded one
    // needs axum's decoding (and its allocation).
    let decoded;
    let segment = last_segment(parts.uri.path());
    let name = if segment.contains('%') {
        decoded = match Path::<String>::from_request_parts(&mut parts, &()).await {
            Ok(Path(name)) => name,
            Err(rejection) => return reply(codes::BAD_REQUEST, format!("the function name in the path is not valid: {rejection}")),
        };
        decoded.as_str()
    } else {
        segment
    };
    let headers = &parts.headers;
    if state.shutting_down.load(Ordering::Acquire) {
        return reply(codes::SHUTTING_DOWN, "the server is shutting down");
    }
    // A declared oversize body is refused from its header: before reading it (so hyper sends
    // no `100 Continue`) and before taking a slot. hyper has parsed `Content-Length` already:
    // it is the body's lower size bound.
    if state.policy.refuse_size(body.size_hint().lower()).is_some() {
        // With `Expect: 100-continue` the body is never sent: nothing to drain.
        if !expects_continue(headers) {
            drain(body, state.drain);
        }
        return too_large(&state);
    }
    let mut caller = Caller::http(headers, peer(&parts.extensions));
    let function = match registry().lookup(name) {
        Ok(function) if state.policy.expose.allows(name) => function,
        // Unexposed answers exactly like missing.
        Ok(_) | Err(CallError::NotFound(_)) => {
            // A suggestion is a piece of the listing: only for a caller who may see it, and
            // only among the functions it shows this caller.
            let suggestion = if state.listing {
                registry().suggest(name, |close| state.policy.callable(&mut caller, close))
            } else {
                None
            };
            let missing = CallError::not_found_remote(name, suggestion, &state.listing_path);
            let (status, body) = to_wire(&missing, state.policy.show_panics, None);
            return respond::error(status, &body);
        }
        Err(other) => {
            let (status, body) = to_wire(&other, state.policy.show_panics, None);
            return respond::error(status, &body);
        }
    };
    // A function that streams, or reports progress to a caller that reads frames: its own
    // path, where the response goes on while the function runs. (A function returning bytes
    // answers them as the body: its progress is not framed over HTTP.)
    let frames = function.reports_progress() && !function.returns_bytes() && super::streamed::accepts_frames(headers);
    if function.streams() || frames {
        return super::streamed::call(state, function, parts, body).await;
    }
    // Read only for an authorized caller: the dispatch awaits it after the hook said yes.
    let body = call_body(headers, body, &state);
    // HTTP stops a call by dropping this handler (the client went away, the grace ran out).
    let kind = body_kind(headers).unwrap_or_default();
    match dispatch(&state.policy, function, &mut caller, body, std::future::pending(), Outlets::default(), kind).await {
        Ok(answer) => respond::answer(answer),
        Err(refusal) => refusal,
    }
}

/// A call's arguments: the body, once the caller is authorized.
pub(super) async fn call_body(headers: &HeaderMap, body: Body, state: &ServerState) -> Result<Bytes, Response> {
    // Every call is JSON (even one without arguments) or a bytes argument: a cross-site
    // "simple" request (a form, `text/plain`) gets no CORS preflight, so it must not be able to
    // call anything.
    if body_kind(headers).is_none() {
        return Err(reply(
            codes::UNSUPPORTED_MEDIA_TYPE,
            "a call must be sent as Content-Type: application/json (an empty body for no arguments), or application/octet-stream for a function taking bytes",
        ));
    }
    let body = read_body(body, state).await?;
    if state.shutting_down.load(Ordering::Acquire) {
        return Err(reply(codes::SHUTTING_DOWN, "the server is shutting down"));
    }
    Ok(body)
}

/// `GET <prefix>`: the functions this caller may call (exposed, and allowed by the authorize
/// hook for these headers), with their parameters.
pub(super) async fn list(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let mut caller = Caller::http(request.headers(), peer(request.extensions()));
    let functions: Vec<Value> = state
        .callable(&mut caller)
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

/// Reads the whole body, within the size limit and the body deadline. Frame by frame rather
/// than through `Limited`, so that an oversize body is still in hand to be drained.
async fn read_body(mut body: Body, state: &ServerState) -> Result<Bytes, Response> {
    let deadline = tokio::time::Instant::now() + state.body_timeout;
    // Nearly every body arrives in one frame: keep it as it is, copy only when a second comes.
    let mut first = Bytes::new();
    let mut joined: Option<Vec<u8>> = None;
    loop {
        // A frame already here needs no timer: only waiting for one arms the deadline.
        let frame = match ready_now(body.frame()).await {
            Some(frame) => Ok(frame),
            None => tokio::time::timeout_at(deadline, body.frame()).await,
        };
        let frame = match frame {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => break,
            Ok(Some(Err(error))) => {
                return Err(reply(codes::BAD_REQUEST, format!("the body could not be read: {error}")));
            }
            Err(_) => {
                return Err(reply(
                    codes::BODY_TIMEOUT,
                    format!("the body did not arrive within {:?}", state.body_timeout),
                ));
            }
        };
        let Ok(data) = frame.into_data() else { continue };
        let length = joined.as_ref().map_or(first.len(), Vec::len);
        if length + data.len() > state.policy.body_limit {
            drain(body, state.drain);
            return Err(too_large(state));
        }
        match &mut joined {
            Some(joined) => joined.extend_from_slice(&data),
            None if first.is_empty() => first = data,
            None => {
                let mut both = Vec::with_capacity(first.len() + data.len());
                both.extend_from_slice(&first);
                both.extend_from_slice(&data);
                joined = Some(both);
            }
        }
    }
    Ok(joined.map_or(first, Bytes::from))
}

/// The 413 for a body over the limit. The connection closes after it: the rest of the body
/// is still on its way (or, with `Expect: 100-continue`, was never sent).
fn too_large(state: &ServerState) -> Response {
    let mut response = respond::error(codes::PAYLOAD_TOO_LARGE.status, &state.policy.too_large());
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Reads and throws away what is left of a refused body, bounded in bytes and time, so that a
/// client still uploading can finish and read the 413. Closing under its upload would make the
/// kernel reset the connection, and a reset discards the answer from the client's buffer.
fn drain(mut body: Body, budget: Drain) {
    if budget.bytes == 0 || budget.within.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut left = budget.bytes;
        let _ = tokio::time::timeout(budget.within, async {
            while let Some(Ok(frame)) = body.frame().await {
                let read = frame.data_ref().map_or(0, |data| data.len() as u64);
                if read >= left {
                    break;
                }
                left -= read;
            }
        })
        .await;
        // Dropping the body here makes hyper close the connection (the 413 said `close`).
    });
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// A path that is no function of this server's.
pub(super) async fn no_route(uri: Uri) -> Response {
    let mut body = codes::NOT_FOUND.body(format!("no route for {}: calls are POST <prefix>/<name>", uri.path()));
    // `path` (and no `name`) tells a client that it missed the routes, not a function.
    body.details = json!({ "path": uri.path() });
    (http_status(codes::NOT_FOUND.status), Json(body)).into_response()
}

/// A method the route does not take, with the methods its path does take: `GET` for a file
/// or a description, `POST` for a function (axum's own `Allow` would say `POST,GET,HEAD` for
/// every name under the prefix; it adds one only where this sets none: the listing).
pub(super) async fn method_not_allowed(State(state): State<Arc<ServerState>>, method: Method, uri: Uri) -> Response {
    let mut response = wrong_method(&method);
    if uri.path() != state.listing_path {
        let allow = if super::assets::is_served(&state, last_segment(uri.path())) { "GET, HEAD" } else { "POST" };
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    response
}

/// What the body is by its `Content-Type`: JSON (`application/json`, `*+json`), the one
/// argument's bytes (`application/octet-stream`), or neither (`None`: refused).
pub(super) fn body_kind(headers: &HeaderMap) -> Option<BodyKind> {
    let value = headers.get(header::CONTENT_TYPE)?;
    // Nearly every client sends exactly this: no text parsing for it.
    if value.as_bytes().eq_ignore_ascii_case(b"application/json") {
        return Some(BodyKind::Json);
    }
    let mime = value.to_str().ok()?.split(';').next()?.trim();
    if mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json") {
        Some(BodyKind::Json)
    } else if mime.eq_ignore_ascii_case(OCTET_STREAM) {
        Some(BodyKind::Bytes)
    } else {
        None
    }
}

/// The media type of raw bytes.
pub(crate) const OCTET_STREAM: &str = "application/octet-stream";

