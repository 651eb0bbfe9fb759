//! The frames of a call that talks back while it runs: progress values, then one terminal
//! frame with the value or the error. Each frame is one JSON object on one line, the same on
//! every transport: HTTP sends them as newline-delimited JSON (`application/x-ndjson`) over a
//! chunked response, NATS one per reply message.
//!
//! ```text
//! {"progress":0.25}
//! {"progress":0.5}
//! {"value":42}                                   the end: the call's value
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

/// The frame that ends the call: its value or its error.
pub(crate) fn terminal(answer: Answer) -> Vec<u8> {
    let (status, body) = match answer {
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
    Value(&'a RawValue),
    /// The error object's JSON and its wire status.
    Error(u16, &'a RawValue),
}

impl<'a> Frame<'a> {
    /// Reads one line (without its newline). `None` for a line that is no frame of ours.
    pub(crate) fn parse(line: &'a [u8]) -> Option<Frame<'a>> {
        #[derive(Deserialize)]
        struct Fields<'a> {
            #[serde(borrow)]
            progress: Option<&'a RawValue>,
            #[serde(borrow)]
            value: Option<&'a RawValue>,
            #[serde(borrow)]
            error: Option<&'a RawValue>,
            status: Option<u16>,
        }
        let fields: Fields<'a> = serde_json::from_slice(line).ok()?;
        match fields {
            Fields { value: Some(value), .. } => Some(Frame::Value(value)),
            Fields { error: Some(error), status, .. } => {
                Some(Frame::Error(status.unwrap_or(codes::FAILED.status), error))
            }
            Fields { progress: Some(progress), .. } => Some(Frame::Progress(progress)),
            _ => None,
        }
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
                // A value that is no JSON `Value` cannot be: it parsed as a raw one.
                if let Ok(value) = serde_json::from_str(value.get()) {
                    self.reporter.report(value);
                }
                Step::Going
            }
            Some(Frame::Value(value)) => match self.decode.take() {
                Some(decode) => {
                    Step::Done(decode(value.get().as_bytes()).map_err(|failure| CallError::invalid_result(function, failure.to_string())))
                }
                None => Step::Malformed,
            },
            Some(Frame::Error(status, body)) => Step::Done(Err(error(status, body.get().as_bytes()))),
            None => Step::Malformed,
        }
    }
}

/// Splits bytes as they arrive into lines; a line may span any number of chunks (and a UTF-8
/// character may be cut between two: lines are bytes until they are whole).
#[derive(Debug, Default)]
pub(crate) struct Lines {
    pending: Vec<u8>,
}

impl Lines {
    /// Adds `chunk` and hands each whole line in it to `line`, stopping early when `line` says
    /// so (it returns `false`).
    pub(crate) fn push(&mut self, chunk: &[u8], mut line: impl FnMut(&[u8]) -> bool) {
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&byte| byte == b'\n') {
            let keep_going = if self.pending.is_empty() {
                line(&rest[..end])
            } else {
                self.pending.extend_from_slice(&rest[..end]);
                let whole = std::mem::take(&mut self.pending);
                line(&whole)
            };
            rest = &rest[end + 1..];
            if !keep_going {
                return;
            }
        }
        self.pending.extend_from_slice(rest);
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
                lines.push(chunk, |line| {
                    seen.push(String::from_utf8(line.to_vec()).expect("whole characters"));
                    true
                });
            }
            assert_eq!(seen, ["{\"progress\":\"caf\u{e9}\"}", "{\"value\":1}"], "cut at {cut}");
        }
    }
}
