//! A worker sending a stream's items to its caller: numbered messages to the caller's notice
//! subject, at most [`WINDOW`] ahead of what the caller says it has read (it says so on a
//! subject of this call's own, named on the first item), so a caller that reads slowly slows
//! the function down and no buffer on the way grows. Progress frames go beside them, as for
//! any call that reports.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use async_nats::HeaderMap;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::headers::{BODY, BYTES, CREDIT, ITEM, READ, SEQ};
use super::serve::Served;
use crate::items::WireItem;
use crate::progress::Cell;
use crate::remote::dispatch::Answer;
use crate::remote::frames;

/// How many items a worker sends beyond those its caller has read.
pub(crate) const WINDOW: u64 = 64;

/// What went to the caller before the answer.
pub(crate) struct Sent {
    pub(crate) progress: u64,
    pub(crate) items: u64,
}

/// Runs the call, sending its items and progress to `notify` as they come (items within the
/// window), then what it left once it answered. Returns the answer and what was sent.
pub(crate) async fn send_stream<E: Into<Infallible>>(
    served: &Served,
    notify: &str,
    running: impl Future<Output = Result<Answer, E>>,
    cell: &Cell,
    mut items: mpsc::Receiver<WireItem>,
) -> (Answer, Sent) {
    let mut running = pin!(running);
    let mut sent = Sent { progress: 0, items: 0 };
    // Where the caller says how far it read; named on the first item.
    let credit_to = served.reply.new_inbox();
    let mut credits = match served.reply.subscribe(credit_to.clone()).await {
        Ok(credits) => Some(credits),
        // Without it the caller cannot say it read: the window is all it gets.
        Err(error) => {
            tracing::warn!(%error, "no subject for a stream's flow control: it sends its first items only");
            None
        }
    };
    let mut read = 0u64;
    enum Next {
        Done(Answer),
        Item(WireItem),
        Progress(Arc<serde_json::Value>),
        Read(u64),
    }
    let answer = loop {
        let next = poll_fn(|context| {
            if let Poll::Ready(answer) = running.as_mut().poll(context) {
                return Poll::Ready(Next::Done(match answer {
                    Ok(answer) => answer,
                    Err(never) => match never.into() {},
                }));
            }
            let mut closed = false;
            if let Some(subscription) = &mut credits {
                while let Poll::Ready(message) = subscription.poll_next_unpin(context) {
                    let Some(message) = message else {
                        closed = true;
                        break;
                    };
                    if let Some(count) = read_count(&message) {
                        return Poll::Ready(Next::Read(count));
                    }
                }
            }
            if closed {
                credits = None;
            }
            if sent.items < read + WINDOW {
                if let Poll::Ready(Some(item)) = items.poll_recv(context) {
                    return Poll::Ready(Next::Item(item));
                }
            }
            cell.poll_report(context).map(Next::Progress)
        })
        .await;
        match next {
            Next::Done(answer) => break answer,
            Next::Item(item) => send_item(served, notify, &item, &mut sent, &credit_to).await,
            Next::Progress(value) => send_progress(served, notify, &value, &mut sent).await,
            // A count beyond what was sent is no caller's: ignored.
            Next::Read(count) => read = read.max(count.min(sent.items)),
        }
    };
    // The function is done: the few items it left in the buffer go without waiting (the
    // caller's reader bounds them), then its last progress.
    while let Ok(item) = items.try_recv() {
        send_item(served, notify, &item, &mut sent, &credit_to).await;
    }
    if let Some(last) = cell.take_report() {
        send_progress(served, notify, &last, &mut sent).await;
    }
    (answer, sent)
}

async fn send_item(served: &Served, notify: &str, item: &WireItem, sent: &mut Sent, credit_to: &str) {
    sent.items += 1;
    let mut headers = HeaderMap::new();
    headers.insert(ITEM, sent.items.to_string().as_str());
    if sent.items == 1 {
        headers.insert(CREDIT, credit_to);
    }
    let payload = match item {
        WireItem::Json(item) => frames::item(item),
        // A chunk of bytes is the payload itself.
        WireItem::Bytes(bytes) => {
            headers.insert(BODY, BYTES);
            bytes.clone()
        }
    };
    // An item that cannot go is a gap the caller sees by its numbers: its call fails.
    let _ = served.reply.publish_with_headers(notify.to_owned(), headers, payload.into()).await;
}

async fn send_progress(served: &Served, notify: &str, value: &serde_json::Value, sent: &mut Sent) {
    sent.progress += 1;
    publish_progress(served, notify, value, sent.progress).await;
}

/// Progress frame number `seq`, to the caller's notice subject.
pub(crate) async fn publish_progress(served: &Served, notify: &str, value: &serde_json::Value, seq: u64) {
    let mut headers = HeaderMap::new();
    headers.insert(SEQ, seq.to_string().as_str());
    // A frame that cannot go is a gap the caller sees by its numbers.
    let _ = served.reply.publish_with_headers(notify.to_owned(), headers, frames::progress(value).into()).await;
}

fn read_count(message: &async_nats::Message) -> Option<u64> {
    message.headers.as_ref()?.get(READ)?.as_str().parse().ok()
}
