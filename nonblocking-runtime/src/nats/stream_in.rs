//! A caller reading a stream's items over NATS: numbered messages, routed here by the notice
//! subscription, read in order; a missing number (a message lost on the way) fails the call,
//! never skips an item. As it reads, the caller tells the worker how far it got, which lets
//! the worker send more (see the worker's side); the answer says how many items there were.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use async_nats::{HeaderMap, Message};

use super::headers::{ITEMS, READ};
use super::progress::Closing;
use super::stream_out::WINDOW;
use crate::errors::{CallError, TransportError};
use crate::items::{Stream, WireItem};
use crate::remote::frames::Frame;

/// How long a stream whose answer came waits for items sent before it and not routed yet.
const STRAGGLERS: Duration = Duration::from_secs(1);

/// The items that arrived for one call, in order.
#[derive(Default)]
pub(crate) struct ItemQueue {
    state: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<WireItem>,
    /// How many arrived in order.
    arrived: u64,
    /// The first number missing, once one was skipped.
    lost: Option<(u64, u64)>,
    /// Where to say how far the caller read (the first item names it).
    credit_to: Option<String>,
    /// The reader waiting for an item.
    waker: Option<Waker>,
}

impl ItemQueue {
    fn state(&self) -> MutexGuard<'_, Queue> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Item number `number` arrived with `payload` (its frame, or its bytes when `bytes`),
    /// naming `credit_to` if first.
    pub(crate) fn item(&self, number: u64, payload: &[u8], bytes: bool, credit_to: Option<String>) {
        let mut state = self.state();
        if state.lost.is_some() {
            return;
        }
        let item = match bytes {
            true => Some(WireItem::Bytes(payload.to_vec())),
            false => match Frame::parse(payload) {
                Some(Frame::Item(item)) => Some(WireItem::Json(item.to_owned())),
                _ => None,
            },
        };
        if number != state.arrived + 1 {
            state.lost = Some((state.arrived + 1, number));
        } else if let Some(item) = item {
            state.arrived = number;
            state.items.push_back(item);
            if credit_to.is_some() {
                state.credit_to = credit_to;
            }
        } else {
            state.lost = Some((number, number));
        }
        if let Some(waker) = state.waker.take() {
            waker.wake();
        }
    }

    /// Registers `waker` for the first item.
    pub(crate) fn poll_started(&self, context: &mut Context<'_>) -> Poll<()> {
        let mut state = self.state();
        if state.arrived > 0 || state.lost.is_some() {
            return Poll::Ready(());
        }
        state.waker = Some(context.waker().clone());
        Poll::Pending
    }
}

/// The reply a stream's items end with, as the request gives it.
pub(crate) type Reply = Pin<Box<dyn Future<Output = Result<Message, async_nats::RequestError>> + Send>>;

/// Where a stream's reply is.
pub(crate) enum Answer {
    Waiting(Reply),
    Came(Result<Message, async_nats::RequestError>),
}

/// A call's items as a stream: in order, then the end or the error the answer carries.
pub(crate) struct NatsItems {
    pub(crate) inbound: Closing,
    pub(crate) answer: Answer,
    /// Armed until the answer came: dropping the items cancels the call on its worker.
    pub(crate) call: super::client::Pending,
    pub(crate) client: async_nats::Client,
    pub(crate) read: u64,
    pub(crate) credited: u64,
    /// The answer came: the items before it have this long to arrive.
    pub(crate) stragglers: Option<Pin<Box<tokio::time::Sleep>>>,
    pub(crate) ended: bool,
    pub(crate) base: String,
    pub(crate) subject: String,
    pub(crate) function: String,
    pub(crate) timeout: Duration,
}

impl NatsItems {
    /// Tells the worker how far this caller read, every half window.
    fn credit(&mut self, credit_to: Option<&String>) {
        if self.read - self.credited < WINDOW / 2 {
            return;
        }
        let Some(credit_to) = credit_to.cloned() else { return };
        self.credited = self.read;
        let mut headers = HeaderMap::new();
        headers.insert(READ, self.read.to_string().as_str());
        let client = self.client.clone();
        tokio::spawn(async move {
            let _ = client.publish_with_headers(credit_to, headers, bytes::Bytes::new()).await;
        });
    }

    fn finish(&mut self, end: Option<CallError>) -> Poll<Option<Result<WireItem, CallError>>> {
        self.ended = true;
        self.inbound.0.close();
        Poll::Ready(end.map(Err))
    }

    fn broken(&self, what: String) -> CallError {
        TransportError::plain(self.subject.clone(), what)
    }
}

impl Stream for NatsItems {
    type Item = Result<WireItem, CallError>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        let queue = &this.inbound.0.items;
        let (next, lost, credit_to, arrived) = {
            let mut state = queue.state();
            let next = state.items.pop_front();
            if next.is_none() {
                state.waker = Some(context.waker().clone());
            }
            (next, state.lost, state.credit_to.clone(), state.arrived)
        };
        if let Some(item) = next {
            this.read += 1;
            this.credit(credit_to.as_ref());
            return Poll::Ready(Some(Ok(item)));
        }
        if let Some((missing, came)) = lost {
            let what = format!("item {missing} of the stream was lost on the way (item {came} came next)");
            let error = this.broken(what);
            return this.finish(Some(error));
        }
        if let Answer::Waiting(reply) = &mut this.answer {
            let Poll::Ready(came) = reply.as_mut().poll(context) else { return Poll::Pending };
            this.answer = Answer::Came(came);
        }
        let Answer::Came(came) = &this.answer else { return Poll::Pending };
        let message = match came {
            Ok(message) => message,
            Err(error) => {
                let error = match error.kind() {
                    async_nats::client::RequestErrorKind::TimedOut => CallError::TimedOut(this.timeout),
                    _ => TransportError::plain(this.subject.clone(), format!("the stream's answer did not come: {error}")),
                };
                return this.finish(Some(error));
            }
        };
        this.call.armed = false;
        let sent: u64 = header(message, ITEMS).unwrap_or(0);
        if arrived < sent {
            // Items sent before the answer may still be on their way.
            let stragglers = this.stragglers.get_or_insert_with(|| Box::pin(tokio::time::sleep(STRAGGLERS)));
            if stragglers.as_mut().poll(context).is_pending() {
                return Poll::Pending;
            }
            let what = format!("the stream sent {sent} items, {arrived} arrived");
            let error = this.broken(what);
            return this.finish(Some(error));
        }
        let status = super::client::error_status(message);
        let error = status.map(|status| {
            crate::remote::wire::from_wire(&this.base, &this.subject, &this.function, status, &message.payload)
        });
        this.finish(error)
    }
}

fn header<T: std::str::FromStr>(message: &Message, name: &str) -> Option<T> {
    message.headers.as_ref()?.get(name)?.as_str().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::frames;

    fn item(n: u64) -> Vec<u8> {
        frames::item(&serde_json::value::to_raw_value(&n).unwrap())
    }

    #[test]
    fn items_are_kept_in_order_and_a_missing_number_is_a_loss() {
        let queue = ItemQueue::default();
        queue.item(1, &item(10), false, Some("credit".to_owned()));
        queue.item(2, &item(20), false, None);
        queue.item(4, &item(40), false, None);
        queue.item(3, &item(30), false, None);
        let state = queue.state();
        let kept: Vec<&str> = state
            .items
            .iter()
            .map(|item| match item {
                WireItem::Json(item) => item.get(),
                WireItem::Bytes(_) => panic!("JSON items"),
            })
            .collect();
        assert_eq!(kept, ["10", "20"], "nothing after the gap");
        assert_eq!(state.lost, Some((3, 4)));
        assert_eq!(state.credit_to.as_deref(), Some("credit"));
    }

    #[test]
    fn a_payload_that_is_no_item_is_a_loss_too() {
        let queue = ItemQueue::default();
        queue.item(1, b"not a frame", false, None);
        assert_eq!(queue.state().lost, Some((1, 1)));
        // The same payload as a chunk of bytes is an item.
        let chunks = ItemQueue::default();
        chunks.item(1, b"not a frame", true, None);
        assert!(matches!(chunks.state().items.front(), Some(WireItem::Bytes(bytes)) if bytes == b"not a frame"));
    }
}
