//! A call that talks back while it runs: a function that streams its items (to any caller),
//! or reports progress (to a caller that reads frames: `Accept: application/x-ndjson`). The
//! response starts with the first item or report and goes on while the function runs: each
//! item, in order, a progress frame per value the connection had room for, then the terminal
//! frame (see the frames' module for the format and why).
//!
//! Until the function first reports, the call is an ordinary one: a refusal (unauthorized,
//! bad arguments, overloaded) or a call that finishes without reporting is answered with its
//! own status and JSON, as to any caller. Once it streams, the call runs as a task of its own,
//! which the response's body owns: a client that goes away drops the body and the task is
//! aborted, as an ordinary call's handler is dropped; a client that stops reading stops nothing
//! (the timeout and the caller's deadline still end the call and free its slot), and nothing
//! queues up behind it: the body takes the latest progress when the connection takes a frame,
//! and a streaming function waits while its few buffered items are not taken.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Frame;
use tokio::sync::mpsc;

use super::handlers::call_body;
use super::respond::{self, peer};
use super::state::ServerState;
use crate::items::WireItem;
use crate::progress::{self, Cell};
use crate::registry::ServerFunction;
use crate::remote::Caller;
use crate::remote::dispatch::{Answer, ITEM_BUFFER, Outlets, dispatch, first_of};
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
    // Progress goes only to a caller that asked for frames; items always go (a caller of a
    // streaming function gets frames whatever it accepts: there is no other form of items).
    // A download (items of a bytes type) is one body of the bytes themselves, not frames: no
    // progress in it.
    let chunks = function.streams_bytes();
    let reads_progress = function.reports_progress() && !chunks && accepts_frames(&parts.headers);
    let (sink, mut items) = match function.streams() {
        true => {
            let (sink, items) = mpsc::channel(ITEM_BUFFER);
            (Some(sink), Some(items))
        }
        false => (None, None),
    };
    let outlets = Outlets { progress: reads_progress.then_some(reporter), items: sink };
    let mut running: Running = Box::pin(async move {
        let mut caller = Caller::http(&parts.headers, peer(&parts.extensions));
        let body = call_body(&parts.headers, body, &state);
        let kind = super::handlers::body_kind(&parts.headers).unwrap_or_default();
        dispatch(&state.policy, function, &mut caller, body, std::future::pending(), outlets, kind).await
    });
    // Until it first talks back, the call is an ordinary one.
    let first = poll_fn(|context| {
        if let Some(items) = &mut items {
            if let Poll::Ready(item) = items.poll_recv(context) {
                return Poll::Ready(item.map(item_bytes));
            }
        }
        cell.poll_report(context).map(|value| Some(frames::progress(&value)))
    });
    let frames = match first_of(running.as_mut(), first).await {
        Ok(Err(refusal)) => return refusal,
        Ok(Ok(answer)) => {
            let left = items.as_ref().is_some_and(|items| !items.is_empty());
            let last = cell.take_report();
            if !left && last.is_none() && !matches!(answer, Answer::End(_)) {
                return respond::answer(answer);
            }
            // Done before anything could go: what it left goes, then the answer.
            Frames { running: None, items, cell, next: last.map(|last| Bytes::from(frames::progress(&last))), end: Some(answer), chunks }
        }
        // The call goes on as a task: it must not wait for the client to read.
        Err(first) => Frames {
            running: Some(Detached(crate::runtime::spawn(running))),
            items,
            cell,
            next: first.map(Bytes::from),
            end: None,
            chunks,
        },
    };
    let mut response = Body::new(frames).into_response();
    let headers = response.headers_mut();
    let media_type = if chunks { BYTE_STREAM } else { NDJSON };
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    // No cache and no proxy buffering (nginx reads `X-Accel-Buffering`): each frame is worth
    // something only when it arrives.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The media type of a download: the bytes themselves, marked as a stream of chunks (a
/// parameter the media type's readers ignore, and that a browser may read across origins).
pub(crate) const BYTE_STREAM: &str = "application/octet-stream; stream=items";

/// An item as the body sends it: a frame, or a chunk of a download as it is.
fn item_bytes(item: WireItem) -> Vec<u8> {
    match item {
        WireItem::Json(item) => frames::item(&item),
        WireItem::Bytes(bytes) => bytes,
    }
}

/// A download that failed after its first bytes: the body stops without its end, so that no
/// client takes what came for the whole file.
#[derive(Debug, thiserror::Error)]
#[error("the download failed after its first bytes: {0}")]
struct Broken(String);

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
    /// A streaming function's items, until the call is done with them.
    items: Option<mpsc::Receiver<WireItem>>,
    cell: Arc<Cell>,
    /// A frame ready to go (the first one, found before the response started).
    next: Option<Bytes>,
    /// The call's answer, once it answered: its frame goes after the items and the last
    /// progress.
    end: Option<Answer>,
    /// A download: the items are chunks of bytes, and the end is the body's.
    chunks: bool,
}

impl Frames {
    fn item(items: &mut Option<mpsc::Receiver<WireItem>>, context: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let Some(receiver) = items else { return Poll::Ready(None) };
        match receiver.poll_recv(context) {
            Poll::Ready(Some(item)) => Poll::Ready(Some(Bytes::from(item_bytes(item)))),
            Poll::Ready(None) => {
                *items = None;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl hyper::body::Body for Frames {
    type Data = Bytes;
    type Error = Broken;

    fn poll_frame(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let data = |bytes: Bytes| Poll::Ready(Some(Ok(Frame::data(bytes))));
        if let Some(next) = this.next.take() {
            return data(next);
        }
        // Items first, in order: each is lossless, and the buffer they wait in is what slows
        // the function down when the connection is full.
        if let Poll::Ready(Some(item)) = Self::item(&mut this.items, context) {
            return data(item);
        }
        if let Some(running) = &mut this.running {
            match Pin::new(&mut running.0).poll(context) {
                Poll::Ready(answer) => {
                    this.running = None;
                    this.end = Some(match answer {
                        Ok(Ok(answer)) => answer,
                        // The body was read before the function started: no refusal can come now.
                        Ok(Err(_refusal)) => Answer::refusal(codes::BAD_REQUEST, "the request was refused after the call started"),
                        // The dispatch catches the function's panic; its own task never panics.
                        Err(_) => Answer::refusal(codes::SHUTTING_DOWN, "the call's task was stopped"),
                    });
                }
                Poll::Pending => {
                    return this.cell.poll_report(context).map(|value| Some(Ok(Frame::data(Bytes::from(frames::progress(&value))))));
                }
            }
        }
        // The call has answered (its items' sender went with it): what it left goes first.
        match Self::item(&mut this.items, context) {
            Poll::Ready(Some(item)) => return data(item),
            Poll::Ready(None) => {}
            Poll::Pending => return Poll::Pending,
        }
        if let Some(last) = this.cell.take_report() {
            return data(Bytes::from(frames::progress(&last)));
        }
        let end = this.end.take();
        if this.chunks {
            // A download ends with the body; a failure breaks it off.
            return Poll::Ready(match end {
                Some(Answer::Error(_, body)) => Some(Err(Broken(body.message))),
                Some(Answer::Dropped) => Some(Err(Broken("the call was cancelled".into()))),
                _ => None,
            });
        }
        Poll::Ready(end.map(|end| Ok(Frame::data(Bytes::from(frames::terminal(end))))))
    }

    fn is_end_stream(&self) -> bool {
        self.next.is_none() && self.running.is_none() && self.items.is_none() && self.end.is_none()
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
