//! A call whose function reports progress, for a caller that reads frames (`Accept:
//! application/x-ndjson`): the response starts with the first report and goes on while the
//! function runs, a progress frame per value the connection had room for, then the terminal
//! frame (see the frames' module for the format and why).
//!
//! Until the function first reports, the call is an ordinary one: a refusal (unauthorized,
//! bad arguments, overloaded) or a call that finishes without reporting is answered with its
//! own status and JSON, as to any caller. Once it streams, the call runs as a task of its own,
//! which the response's body owns: a client that goes away drops the body and the task is
//! aborted, as an ordinary call's handler is dropped; a client that stops reading stops nothing
//! (the timeout and the caller's deadline still end the call and free its slot), and nothing
//! queues up behind it: the body takes the latest value when the connection takes a frame.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Frame;

use super::handlers::call_body;
use super::respond::{self, peer};
use super::state::ServerState;
use crate::progress::{self, Cell};
use crate::registry::ServerFunction;
use crate::remote::Caller;
use crate::remote::dispatch::{Answer, dispatch, first_of};
use crate::remote::frames::{self, NDJSON};
use crate::remote::wire::codes;

type Running = Pin<Box<dyn Future<Output = Result<Answer, Response>> + Send>>;

/// Whether the caller reads frames: `application/x-ndjson` among its `Accept` media types.
pub(super) fn accepts_frames(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().any(|value| {
        value.to_str().is_ok_and(|value| {
            value
                .split(',')
                .any(|item| item.split(';').next().is_some_and(|mime| mime.trim().eq_ignore_ascii_case(NDJSON)))
        })
    })
}

pub(super) async fn call(
    state: Arc<ServerState>,
    function: &'static ServerFunction,
    parts: axum::http::request::Parts,
    body: Body,
) -> Response {
    let (reporter, cell) = progress::channel();
    let mut running: Running = Box::pin(async move {
        let mut caller = Caller::http(&parts.headers, peer(&parts.extensions));
        let body = call_body(&parts.headers, body, &state);
        dispatch(&state.policy, function, &mut caller, body, std::future::pending(), Some(reporter)).await
    });
    let frames = match first_of(running.as_mut(), poll_fn(|context| cell.poll_report(context))).await {
        Ok(Err(refusal)) => return refusal,
        Ok(Ok(answer)) => match cell.take_report() {
            // Done before its first report could go: the last one still goes, then the answer.
            Some(last) => Frames {
                running: None,
                cell,
                next: Some(Bytes::from(frames::progress(&last))),
                end: Some(Bytes::from(frames::terminal(answer))),
            },
            None => return respond::answer(answer),
        },
        // The call goes on as a task: it must not wait for the client to read.
        Err(first) => Frames {
            running: Some(Detached(crate::runtime::spawn(running))),
            cell,
            next: Some(Bytes::from(frames::progress(&first))),
            end: None,
        },
    };
    let mut response = Body::new(frames).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    // No cache and no proxy buffering (nginx reads `X-Accel-Buffering`): each frame is worth
    // something only when it arrives.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The call's task, aborted when dropped (the client went away).
struct Detached(tokio::task::JoinHandle<Result<Answer, Response>>);

impl Drop for Detached {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The response's body: sends the call's frames.
struct Frames {
    /// The call, until it has answered.
    running: Option<Detached>,
    cell: Arc<Cell>,
    /// A frame ready to go (the first report, found before the response started).
    next: Option<Bytes>,
    /// The terminal frame, once the call answered (after the last progress).
    end: Option<Bytes>,
}

impl hyper::body::Body for Frames {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Some(next) = this.next.take() {
            return Poll::Ready(Some(Ok(Frame::data(next))));
        }
        if let Some(running) = &mut this.running {
            match Pin::new(&mut running.0).poll(context) {
                Poll::Ready(answer) => {
                    this.running = None;
                    let answer = match answer {
                        Ok(Ok(answer)) => answer,
                        // The body was read before the function started: no refusal can come now.
                        Ok(Err(_refusal)) => Answer::refusal(codes::BAD_REQUEST, "the request was refused after the call started"),
                        // The dispatch catches the function's panic; its own task never panics.
                        Err(_) => Answer::refusal(codes::SHUTTING_DOWN, "the call's task was stopped"),
                    };
                    this.end = Some(Bytes::from(frames::terminal(answer)));
                    // The function is done: its last report, if not sent yet, goes first.
                    if let Some(last) = this.cell.take_report() {
                        return Poll::Ready(Some(Ok(Frame::data(Bytes::from(frames::progress(&last))))));
                    }
                }
                Poll::Pending => {
                    return this
                        .cell
                        .poll_report(context)
                        .map(|value| Some(Ok(Frame::data(Bytes::from(frames::progress(&value))))));
                }
            }
        }
        Poll::Ready(this.end.take().map(|end| Ok(Frame::data(end))))
    }

    fn is_end_stream(&self) -> bool {
        self.next.is_none() && self.running.is_none() && self.end.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_lists_are_read_by_media_type() {
        let accepts = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
            accepts_frames(&headers)
        };
        assert!(accepts("application/x-ndjson"));
        assert!(accepts("application/json, Application/X-NDJSON;q=0.9"));
        assert!(!accepts("application/json"));
        assert!(!accepts("*/*"));
        assert!(!accepts_frames(&HeaderMap::new()));
    }
}
