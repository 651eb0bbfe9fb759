//! Reading a framed reply as it arrives: progress and the answer, or a stream's items, which
//! are read from the connection only as the caller reads them (so a slow reader leaves them
//! in the server's buffers and slows the function down, never fills this process's memory).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::body::{Body, Incoming};

use crate::errors::{CallError, TransportError};
use crate::items::{Items, Stream, WireItem};
use crate::remote::frames::{ItemReader, Lines, Read, Reading, Step};
use crate::remote::wire::from_wire;

/// Reads frames until the call's outcome: its value or error, or its items (the rest of the
/// body, read as the caller reads them).
pub(super) async fn read<R>(mut body: Incoming, mut reading: Reading<R>, base: Arc<str>, url: String, function: String) -> Result<R, CallError> {
    let mut lines = Lines::default();
    loop {
        while let Some(line) = lines.next_line() {
            match reading.frame(line, &function, |status, error| from_wire(&base, &url, &function, status, error)) {
                Step::Going => {}
                Step::Done(outcome) => return outcome,
                Step::Items => {
                    // This line is the stream's first frame.
                    let mut reader = ItemReader::new(reading.reporter());
                    let first = reader.frame(
                        line,
                        |status, error| from_wire(&base, &url, &function, status, error),
                        |what| TransportError::plain(url.clone(), what),
                    );
                    let items = HttpItems { body, lines, reader, first: Some(first), ended: false, base, url, function: function.clone() };
                    return reading.items(Items::from_calls(items), &function);
                }
                Step::Malformed => {
                    return Err(TransportError::plain(url, "the reply holds a line that is not a frame".to_owned()));
                }
            }
        }
        match std::future::poll_fn(|context| Pin::new(&mut body).poll_frame(context)).await {
            Some(Ok(frame)) => {
                if let Ok(chunk) = frame.into_data() {
                    lines.feed(&chunk);
                }
            }
            Some(Err(error)) => {
                return Err(TransportError::caused(url, "the connection broke while reading the reply", Box::new(error)));
            }
            None => return Err(TransportError::plain(url, "the reply ended before the call's answer".to_owned())),
        }
    }
}

/// The rest of a framed reply, as items.
struct HttpItems {
    body: Incoming,
    lines: Lines,
    reader: ItemReader,
    /// The stream's first frame, read before the call's value was made.
    first: Option<Read>,
    ended: bool,
    base: Arc<str>,
    url: String,
    function: String,
}

impl Stream for HttpItems {
    type Item = Result<WireItem, CallError>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        let mut next = this.first.take();
        loop {
            if next.is_none() {
                if let Some(line) = this.lines.next_line() {
                    let (base, url, function) = (&this.base, &this.url, &this.function);
                    next = Some(this.reader.frame(
                        line,
                        |status, error| from_wire(base, url, function, status, error),
                        |what| TransportError::plain(url.clone(), what),
                    ));
                }
            }
            match next.take() {
                Some(Read::Item(item)) => return Poll::Ready(Some(Ok(WireItem::Json(item)))),
                Some(Read::Going) => continue,
                Some(Read::End(error)) => {
                    this.ended = true;
                    return Poll::Ready(error.map(Err));
                }
                None => {}
            }
            let failure = match Pin::new(&mut this.body).poll_frame(context) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(chunk) = frame.into_data() {
                        this.lines.feed(&chunk);
                    }
                    continue;
                }
                Poll::Ready(Some(Err(error))) => {
                    TransportError::caused(this.url.clone(), "the connection broke while reading the items", Box::new(error))
                }
                Poll::Ready(None) => TransportError::plain(this.url.clone(), "the reply ended before the end of its items".to_owned()),
            };
            this.ended = true;
            this.reader.cut_off();
            return Poll::Ready(Some(Err(failure)));
        }
    }
}

/// A download's value: its body's chunks as items, read as the caller reads them. The body's
/// end is the items' end; a body broken off is a transport error (the server breaks it off when
/// the function fails after its first bytes).
pub(super) fn chunks<R>(body: Incoming, decode: crate::remote::Decode<R>, url: String, function: String) -> Result<R, CallError> {
    let chunks = Chunks { body, ended: false, url };
    decode(crate::items::Reply::Items(Items::from_calls(chunks)), &function)
}

struct Chunks {
    body: Incoming,
    ended: bool,
    url: String,
}

impl Stream for Chunks {
    type Item = Result<WireItem, CallError>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        while !this.ended {
            match std::task::ready!(Pin::new(&mut this.body).poll_frame(context)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(chunk) if !chunk.is_empty() => return Poll::Ready(Some(Ok(WireItem::Bytes(chunk.to_vec())))),
                    _ => {}
                },
                Some(Err(error)) => {
                    this.ended = true;
                    let broken = TransportError::caused(this.url.clone(), "the download broke off before its end", Box::new(error));
                    return Poll::Ready(Some(Err(broken)));
                }
                None => this.ended = true,
            }
        }
        Poll::Ready(None)
    }
}
