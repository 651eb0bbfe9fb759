//! The frames of a call that talks back while it runs: progress values and, from a function
//! that streams, its items, then one terminal frame with the value (or the number of items)
//! or the error. Each frame is one JSON object on one line, the same on every transport: HTTP
//! sends them as newline-delimited JSON (`application/x-ndjson`) over a chunked response,
//! NATS one per message.
//!
//! ```text
//! {"progress":0.25}
//! {"item":{"id":1}}                              an item (in order, each once)
//! {"progress":0.5}
//! {"item":{"id":2}}
//! {"end":2}                                      the end of a stream: how many items
//! {"value":42}                                   or the end of a call: its value
//! {"error":{"code":"timed_out",..},"status":504}  or the end: its error, with the wire status
//! ```
//!
//! Why newline-delimited JSON rather than server-sent events: a call is a `POST` with a JSON
//! body, which `EventSource` cannot send, so a browser reads either one through `fetch`; a
//! JSON text never holds a raw newline (strings escape it), so a newline always ends a frame
//! and a reader splits on bytes, never inside a UTF-8 character; and each frame is the wire's
//! own JSON with no `data:` prefix to strip. Once the status line is sent it cannot change:
//! an error after the first frame is the terminal `error` frame, with the status the error
//! would have had. A stream that ends without a terminal frame was cut off, which a client
//! reports as a transport error, never as a value.

// NATS sends progress frames only (its answer is the request's reply); HTTP reads them all.
#![cfg_attr(not(feature = "http"), allow(dead_code))]

use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::Decode;
use crate::items::{RawItems, Reply};
use super::dispatch::Answer;
use super::wire::codes;
use crate::errors::CallError;
use crate::progress::Reporter;

/// The media type of a framed reply, which a caller asks for in `Accept`.
pub(crate) const NDJSON: &str = "application/x-ndjson";

/// `{"progress":value}` and its newline.
pub(crate) fn progress(value: &serde_json::Value) -> Vec<u8> {
    let mut frame = br#"{"progress":"#.to_vec();
    // Writing a `Value` to a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut frame, value);
    frame.extend_from_slice(b"}\n");
    frame
}

/// `{"item":value}` and its newline.
pub(crate) fn item(value: &RawValue) -> Vec<u8> {
    let json = value.get().as_bytes();
    let mut frame = Vec::with_capacity(json.len() + 10);
    frame.extend_from_slice(br#"{"item":"#);
    frame.extend_from_slice(json);
    frame.extend_from_slice(b"}\n");
    frame
}

/// The frame that ends the call: its value, its number of items, or its error.
pub(crate) fn terminal(answer: Answer) -> Vec<u8> {
    let (status, body) = match answer {
        Answer::End(count) => return format!("{{\"end\":{count}}}\n").into_bytes(),
        // Not framed over HTTP (a function returning bytes answers them as the body): only a
        // transport that frames anyway gets them here, as the JSON a value of bytes would be.
        Answer::Bytes(bytes) => return terminal(Answer::Value(serde_json::to_vec(&bytes).unwrap_or_default())),
        Answer::Value(json) => {
            let mut frame = Vec::with_capacity(json.len() + 11);
            frame.extend_from_slice(br#"{"value":"#);
            frame.extend_from_slice(&json);
            frame.extend_from_slice(b"}\n");
            return frame;
        }
        Answer::Error(status, body) => (status, body),
        Answer::Dropped => (codes::SHUTTING_DOWN.status, codes::SHUTTING_DOWN.body("the call was cancelled")),
    };
    let mut frame = serde_json::to_vec(&serde_json::json!({ "error": body, "status": status })).unwrap_or_default();
    frame.push(b'\n');
    frame
}

/// One frame as a caller reads it.
#[derive(Debug)]
pub(crate) enum Frame<'a> {
    Progress(&'a RawValue),
    Item(&'a RawValue),
    /// The end of the items: how many there were.
    End(u64),
    Value(&'a RawValue),
    /// The error object's JSON and its wire status.
    Error(u16, &'a RawValue),
}

impl<'a> Frame<'a> {
    /// Reads one line (without its newline). `None` for a line that is no frame of ours.
    pub(crate) fn parse(line: &'a [u8]) -> Option<Frame<'a>> {
        #[derive(Deserialize)]
        struct Fields<'a> {
            #[serde(borrow, default)]
            progress: Present<'a>,
            #[serde(borrow, default)]
            item: Present<'a>,
            end: Option<u64>,
            #[serde(borrow, default)]
            value: Present<'a>,
            #[serde(borrow, default)]
            error: Present<'a>,
            status: Option<u16>,
        }
        let fields: Fields<'a> = serde_json::from_slice(line).ok()?;
        match fields {
            Fields { item: Present(Some(item)), .. } => Some(Frame::Item(item)),
            Fields { progress: Present(Some(progress)), .. } => Some(Frame::Progress(progress)),
            Fields { value: Present(Some(value)), .. } => Some(Frame::Value(value)),
            Fields { end: Some(count), .. } => Some(Frame::End(count)),
            Fields { error: Present(Some(error)), status, .. } => {
                Some(Frame::Error(status.unwrap_or(codes::FAILED.status), error))
            }
            _ => None,
        }
    }
}

/// A member that is there, `null` included (an `Option<&RawValue>` reads `null` as missing,
/// which would lose the `null` value of a function returning `()`).
#[derive(Debug, Default)]
struct Present<'a>(Option<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for Present<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'a RawValue>::deserialize(deserializer).map(|value| Present(Some(value)))
    }
}

/// A caller reading a call's frames: progress goes to the call's reporter, the terminal frame
/// is the call's outcome.
pub(crate) struct Reading<R> {
    reporter: Arc<Reporter>,
    decode: Option<Decode<R>>,
}

/// Where a caller is after a frame.
pub(crate) enum Step<R> {
    /// More frames to come.
    Going,
    /// The call's outcome (the terminal frame).
    Done(Result<R, CallError>),
    /// The first frame of a stream (an item, or the end of no items): the call's value is its
    /// items, read from this frame on by an [`ItemReader`].
    Items,
    /// A line that is no frame: the reply is not one of ours.
    Malformed,
}

impl<R> Reading<R> {
    pub(crate) fn new(reporter: Arc<Reporter>, decode: Decode<R>) -> Self {
        Reading { reporter, decode: Some(decode) }
    }

    /// Reads one frame. `function` names the call (for an undecodable value); `error` maps an
    /// error frame's status and object to the call's error, as the transport maps a reply's.
    pub(crate) fn frame(&mut self, line: &[u8], function: &str, error: impl FnOnce(u16, &[u8]) -> CallError) -> Step<R> {
        match Frame::parse(line) {
            Some(Frame::Progress(value)) => {
                report(&self.reporter, value);
                Step::Going
            }
            Some(Frame::Value(value)) => match self.decode.take() {
                Some(decode) => Step::Done(decode(Reply::Json(value.get().as_bytes()), function)),
                None => Step::Malformed,
            },
            Some(Frame::Item(_) | Frame::End(_)) => Step::Items,
            Some(Frame::Error(status, body)) => Step::Done(Err(error(status, body.get().as_bytes()))),
            None => Step::Malformed,
        }
    }

    /// The call's value once its frames turned out to be items: `items` read as `R`.
    pub(crate) fn items(mut self, items: RawItems, function: &str) -> Result<R, CallError> {
        match self.decode.take() {
            Some(decode) => decode(Reply::Items(items), function),
            None => Err(CallError::invalid_result(function, "the reply held items after its value".to_owned())),
        }
    }

    /// The reporter, for the items' reader.
    pub(crate) fn reporter(&self) -> Arc<Reporter> {
        Arc::clone(&self.reporter)
    }
}

fn report(reporter: &Reporter, value: &RawValue) {
    // A value that is no JSON `Value` cannot be: it parsed as a raw one.
    if let Ok(value) = serde_json::from_str(value.get()) {
        reporter.report(value);
    }
}

/// A caller reading a stream's frames: items in order, progress on the side, then the end.
pub(crate) struct ItemReader {
    /// Dropped at the end, which delivers the last progress.
    reporter: Option<Arc<Reporter>>,
    count: u64,
}

/// What a frame of a stream is to its reader.
pub(crate) enum Read {
    /// The next item.
    Item(Box<RawValue>),
    /// Progress, handed on: read on.
    Going,
    /// The end: `None` after every item, else the error that ended the items.
    End(Option<CallError>),
}

impl ItemReader {
    pub(crate) fn new(reporter: Arc<Reporter>) -> Self {
        ItemReader { reporter: Some(reporter), count: 0 }
    }

    /// Reads one frame. `error` maps an error frame as [`Reading::frame`] does; `broken` makes
    /// the transport's error for a reply that is not a stream of ours.
    pub(crate) fn frame(&mut self, line: &[u8], error: impl FnOnce(u16, &[u8]) -> CallError, broken: impl FnOnce(String) -> CallError) -> Read {
        let read = match Frame::parse(line) {
            Some(Frame::Item(item)) => {
                self.count += 1;
                return Read::Item(item.to_owned());
            }
            Some(Frame::Progress(value)) => {
                if let Some(reporter) = &self.reporter {
                    report(reporter, value);
                }
                return Read::Going;
            }
            Some(Frame::End(count)) if count == self.count => Read::End(None),
            Some(Frame::End(count)) => {
                Read::End(Some(broken(format!("the stream ended after {} items, but the server sent {count}", self.count))))
            }
            Some(Frame::Error(status, body)) => Read::End(Some(error(status, body.get().as_bytes()))),
            Some(Frame::Value(_)) | None => Read::End(Some(broken("the stream holds a line that is not an item's frame".to_owned()))),
        };
        self.reporter = None;
        read
    }

    /// The reply stopped before its end frame.
    pub(crate) fn cut_off(&mut self) {
        self.reporter = None;
    }
}

/// Splits bytes as they arrive into lines; a line may span any number of chunks (and a UTF-8
/// character may be cut between two: lines are bytes until they are whole).
#[derive(Debug, Default)]
pub(crate) struct Lines {
    buffer: Vec<u8>,
    /// Where the next line starts.
    start: usize,
    /// How far past `start` holds no newline.
    scanned: usize,
}

impl Lines {
    /// Adds a chunk as it arrived.
    pub(crate) fn feed(&mut self, chunk: &[u8]) {
        if self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        } else if self.start > self.buffer.len() / 2 {
            // Keep what is left of the buffer small: drop the lines already read.
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        self.buffer.extend_from_slice(chunk);
    }

    /// The next whole line (without its newline), if one has arrived.
    pub(crate) fn next_line(&mut self) -> Option<&[u8]> {
        let from = self.start + self.scanned;
        match self.buffer[from..].iter().position(|&byte| byte == b'\n') {
            Some(at) => {
                let line = self.start..from + at;
                self.start = from + at + 1;
                self.scanned = 0;
                Some(&self.buffer[line])
            }
            None => {
                self.scanned = self.buffer.len() - self.start;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_read_back() {
        let progress = super::progress(&serde_json::json!({"done": 3, "note": "a\nb"}));
        assert_eq!(progress.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
        let Some(Frame::Progress(value)) = Frame::parse(&progress[..progress.len() - 1]) else { panic!() };
        assert_eq!(value.get(), r#"{"done":3,"note":"a\nb"}"#);

        let value = terminal(Answer::Value(b"42".to_vec()));
        assert!(matches!(Frame::parse(&value[..value.len() - 1]), Some(Frame::Value(v)) if v.get() == "42"));

        let error = terminal(Answer::refusal(codes::TIMED_OUT, "late"));
        let Some(Frame::Error(status, body)) = Frame::parse(&error[..error.len() - 1]) else { panic!() };
        assert_eq!(status, codes::TIMED_OUT.status);
        assert!(body.get().contains("timed_out"));

        let item = super::item(&RawValue::from_string("null".to_owned()).unwrap());
        assert!(matches!(Frame::parse(&item[..item.len() - 1]), Some(Frame::Item(v)) if v.get() == "null"), "a null item is an item");
        let unit = terminal(Answer::Value(b"null".to_vec()));
        assert!(matches!(Frame::parse(&unit[..unit.len() - 1]), Some(Frame::Value(v)) if v.get() == "null"), "a null value is a value");
        let end = terminal(Answer::End(3));
        assert!(matches!(Frame::parse(&end[..end.len() - 1]), Some(Frame::End(3))));

        assert!(Frame::parse(b"{}").is_none());
        assert!(Frame::parse(b"not json").is_none());
    }

    #[test]
    fn lines_join_across_chunks_even_inside_a_character() {
        let text = "{\"progress\":\"caf\u{e9}\"}\n{\"value\":1}\n".as_bytes();
        for cut in 0..text.len() {
            let mut lines = Lines::default();
            let mut seen = Vec::new();
            for chunk in [&text[..cut], &text[cut..]] {
                lines.feed(chunk);
                while let Some(line) = lines.next_line() {
                    seen.push(String::from_utf8(line.to_vec()).expect("whole characters"));
                }
            }
            assert_eq!(seen, ["{\"progress\":\"caf\u{e9}\"}", "{\"value\":1}"], "cut at {cut}");
        }
    }
}
