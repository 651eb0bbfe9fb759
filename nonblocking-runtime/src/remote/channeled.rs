//! Items that arrive through a channel, with the call's answer after them: a call in this
//! process through the server's dispatch ([`InProcess`](super::InProcess)).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::mpsc;

use super::dispatch::Answer;
use crate::errors::CallError;
use crate::items::{Stream, WireItem};

/// The items a dispatch sends to a channel, then its answer: the end, or the error that ended
/// them. Dropping it drops the dispatch (its task is aborted): the function stops.
pub(crate) struct Channeled {
    first: Option<WireItem>,
    items: mpsc::Receiver<WireItem>,
    answer: Option<Ending>,
    /// Maps the answer's error as the transport's caller would see it.
    error: MapError,
}

/// Maps a wire error (status and JSON) to the caller's error.
type MapError = Box<dyn Fn(u16, &[u8]) -> CallError + Send>;

/// How a stream's dispatch ends.
pub(crate) enum Ending {
    /// It runs on, as this task.
    Running(AbortOnDrop),
    /// It has answered (the items it left are still in the channel).
    Known(Answer),
}

/// The dispatch's task.
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<Answer>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Channeled {
    pub(crate) fn new(
        first: Option<WireItem>,
        items: mpsc::Receiver<WireItem>,
        answer: Ending,
        error: impl Fn(u16, &[u8]) -> CallError + Send + 'static,
    ) -> Self {
        Channeled { first, items, answer: Some(answer), error: Box::new(error) }
    }
}

impl Stream for Channeled {
    type Item = Result<WireItem, CallError>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(first)));
        }
        // The channel closes when the dispatch is done with it: then its answer.
        if let Some(item) = std::task::ready!(this.items.poll_recv(context)) {
            return Poll::Ready(Some(Ok(item)));
        }
        let answer = match &mut this.answer {
            None => return Poll::Ready(None),
            Some(Ending::Running(task)) => std::task::ready!(Pin::new(&mut task.0).poll(context)),
            Some(Ending::Known(_)) => match this.answer.take() {
                Some(Ending::Known(answer)) => Ok(answer),
                _ => return Poll::Ready(None),
            },
        };
        this.answer = None;
        Poll::Ready(match answer {
            Ok(Answer::End(_)) => None,
            Ok(Answer::Error(status, body)) => Some(Err((this.error)(status, &serde_json::to_vec(&body).unwrap_or_default()))),
            Ok(Answer::Value(_) | Answer::Bytes(_)) => None,
            Ok(Answer::Dropped) | Err(_) => Some(Err(CallError::Cancelled)),
        })
    }
}
