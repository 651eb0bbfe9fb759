//! [`Items::produce`](super::Items::produce): items sent by a producer that runs as they are
//! read, through a bounded buffer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::mpsc;

use crate::errors::{BoxError, CallError};

/// Sends a producer's items to their reader; see [`Items::produce`](super::Items::produce).
/// Cloning it lets several parts of the producer send.
#[derive(Debug)]
pub struct Sender<T> {
    channel: mpsc::Sender<T>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender { channel: self.channel.clone() }
    }
}

/// Nobody reads the items any more (the caller dropped them or cancelled its call): the
/// producer should stop. `?` passes it on as the producer's error, which nobody sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("nobody reads the items any more: the caller cancelled or dropped them")]
#[non_exhaustive]
pub struct Stopped;

impl<T> Sender<T> {
    /// Sends `item`, waiting while the buffer is full (the reader is behind).
    pub async fn send(&self, item: T) -> Result<(), Stopped> {
        self.channel.send(item).await.map_err(|_| Stopped)
    }

    /// Whether the items are still read (`false` once the caller is gone).
    pub fn is_read(&self) -> bool {
        !self.channel.is_closed()
    }
}

type Producer = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

/// The producer's future and its items' buffer, polled as one stream.
pub(super) struct Produce<T> {
    items: mpsc::Receiver<T>,
    producer: Option<Producer>,
    /// The producer's error, read after the items it sent before it.
    failure: Option<BoxError>,
}

impl<T> Produce<T> {
    pub(super) fn new<F, Fut>(buffer: usize, producer: F) -> Self
    where
        F: FnOnce(Sender<T>) -> Fut,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        assert!(buffer > 0, "Items::produce needs a buffer of at least one item");
        let (channel, items) = mpsc::channel(buffer);
        Produce { items, producer: Some(Box::pin(producer(Sender { channel }))), failure: None }
    }
}

impl<T> Stream for Produce<T> {
    type Item = Result<T, CallError>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Poll::Ready(Some(item)) = this.items.poll_recv(context) {
                return Poll::Ready(Some(Ok(item)));
            }
            let Some(producer) = &mut this.producer else {
                // The producer is done: what it sent is read; its error (if any) is last. A
                // sender it cloned into a task of its own may still send.
                if let Some(failure) = this.failure.take() {
                    return Poll::Ready(Some(Err(CallError::Failed(failure.into()))));
                }
                return this.items.poll_recv(context).map(|item| item.map(Ok));
            };
            match producer.as_mut().poll(context) {
                // It may have filled the buffer before waiting: the channel woke this task.
                Poll::Pending => return Poll::Pending,
                Poll::Ready(outcome) => {
                    this.producer = None;
                    this.failure = outcome.err();
                    // Its own `Sender` is dropped with it: read what is left, then the end.
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Items;
    use crate::errors::CallError;

    #[tokio::test]
    async fn a_producer_s_items_come_in_order_then_its_error() {
        let items = Items::produce(2, |items| async move {
            for n in 0..5 {
                items.send(n).await?;
            }
            Err("disk full".into())
        });
        let mut items = items;
        let mut seen = Vec::new();
        let error = loop {
            match items.next().await {
                Some(Ok(n)) => seen.push(n),
                Some(Err(error)) => break error,
                None => panic!("the error comes before the end"),
            }
        };
        assert_eq!(seen, [0, 1, 2, 3, 4]);
        assert!(matches!(&error, CallError::Failed(_)) && error.to_string() == "disk full", "{error}");
        assert!(items.next().await.is_none(), "nothing after the error");
    }

    #[tokio::test]
    async fn a_producer_waits_for_its_reader_and_stops_when_dropped() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU32, Ordering};
        let sent = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&sent);
        let mut items = Items::produce(3, move |items| async move {
            for n in 0.. {
                items.send(n).await?;
                counter.fetch_add(1, Ordering::SeqCst);
            }
            Ok(())
        });
        assert_eq!(items.next().await.unwrap().unwrap(), 0);
        // One read; the buffer holds three more: the producer waits, four sends done at most.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(sent.load(Ordering::SeqCst) <= 4, "sent {}", sent.load(Ordering::SeqCst));
        drop(items);
        // Dropping the items dropped the producer itself.
        assert_eq!(Arc::strong_count(&sent), 1);
    }
}
