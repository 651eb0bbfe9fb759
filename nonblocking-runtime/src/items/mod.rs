//! Streams: a server function that returns its results one by one, as they are made.
//!
//! The function returns [`Items<T>`]; its call's value is that `Items<T>`, which the caller
//! reads item by item (it is a [`Stream`] of `Result<T, CallError>`, and has
//! [`next`](Items::next)), or hands to [`on_item`](crate::AsyncCall::on_item). Items arrive in
//! order, each once; an error in the middle is the last thing read, after the items made
//! before it. The caller pulls: a producer runs only as fast as its caller reads (through a
//! bounded buffer when it runs on its own), so a slow reader never makes memory grow.
//!
//! ```
//! use nonblocking_runtime::items::Items;
//! use nonblocking_runtime::server_function;
//!
//! #[server_function]
//! async fn countdown(from: u32) -> Items<u32> {
//!     Items::produce(4, move |items| async move {
//!         for n in (0..=from).rev() {
//!             tokio::task::yield_now().await; // the work
//!             items.send(n).await?;
//!         }
//!         Ok(())
//!     })
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mut items = call_async_countdown(3).await.unwrap();
//! let mut seen = Vec::new();
//! while let Some(n) = items.next().await {
//!     seen.push(n.unwrap());
//! }
//! assert_eq!(seen, [3, 2, 1, 0]);
//!
//! // Or with a handler per item; the call's value is then how many there were.
//! let count = call_async_countdown(9).on_item(|n| println!("{n}")).await.unwrap();
//! assert_eq!(count, 10);
//! # }
//! ```
//!
//! Streams reach every caller: typed stubs and calls by name in this process, over HTTP (as
//! frames of newline-delimited JSON) and NATS (numbered messages), and the browser client's
//! `onItem` and `for await`.

mod handlers;
mod produce;
mod reply;

use std::fmt;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use std::future::Future as _;

pub use futures_core::Stream;
use serde_json::value::RawValue;

pub use self::produce::{Sender, Stopped};
pub use self::reply::CallValue;
#[doc(hidden)]
pub use self::reply::{Reply, Returned};
use crate::errors::{BoxError, CallError};

/// The items of a streaming server function, read in order: each `Ok(item)` once, then, if the
/// stream failed, one `Err` (then nothing).
///
/// Make one from a [`Stream`] ([`from_stream`](Self::from_stream), or
/// [`from_results`](Self::from_results) when items can fail), an iterator
/// ([`from_iter`](Self::from_iter)), or a producer that sends them
/// ([`produce`](Self::produce)). Reading is pulling: nothing is made ahead of the reader but
/// what a producer's buffer holds.
pub struct Items<T> {
    // A mutex only to be `Sync` (a call's value is lent as `&T` across threads); it is never
    // locked: reading takes `&mut self`, and `get_mut` is free.
    stream: Mutex<Boxed<T>>,
    idle: Option<Idle>,
    ended: bool,
}

/// Any stream of items.
type Boxed<T> = Pin<Box<dyn Stream<Item = Result<T, CallError>> + Send>>;

/// A limit on the time a read waits for its item.
struct Idle {
    limit: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
    /// A read is waiting: its clock runs.
    waiting: bool,
}

impl<T: Send + 'static> Items<T> {
    /// The items of `stream`.
    pub fn from_stream(stream: impl Stream<Item = T> + Send + 'static) -> Self {
        Self::new(Ok_ { stream })
    }

    /// The items of `stream`, whose first `Err` ends it: the caller reads the items before it,
    /// then the error (as [`CallError::Failed`]).
    pub fn from_results<E>(stream: impl Stream<Item = Result<T, E>> + Send + 'static) -> Self
    where
        E: Into<BoxError>,
    {
        Self::new(Failing { stream })
    }

    /// The items of `iter`, made as they are read.
    #[allow(clippy::should_implement_trait)] // `FromIterator` is implemented too; this one names no type
    pub fn from_iter(iter: impl IntoIterator<Item = T, IntoIter: Send + 'static>) -> Self {
        Self::new(Ok_ { stream: Iter { iter: iter.into_iter() } })
    }

    /// No items.
    pub fn empty() -> Self {
        Self::from_iter(std::iter::empty())
    }

    /// The items `producer` sends: it runs while the items are read (inside the reader's
    /// task: no task of its own, so dropping the items stops it at its next `.await`), and
    /// `buffer` items at most wait to be read, so a producer ahead of its reader waits in
    /// [`Sender::send`]. The producer's `Err` ends the items after those it sent; so does
    /// [`Stopped`], which `send` returns once nobody reads (the caller cancelled).
    ///
    /// # Panics
    ///
    /// If `buffer` is 0.
    pub fn produce<F, Fut>(buffer: usize, producer: F) -> Self
    where
        F: FnOnce(Sender<T>) -> Fut,
        Fut: std::future::Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        Self::new(produce::Produce::new(buffer, producer))
    }

    /// The items of a stream whose first `Err` ends them (a transport's reader).
    #[cfg_attr(not(any(feature = "http", feature = "nats")), allow(dead_code))]
    pub(crate) fn from_calls(stream: impl Stream<Item = Result<T, CallError>> + Send + 'static) -> Self {
        Self::new(stream)
    }

    fn new(stream: impl Stream<Item = Result<T, CallError>> + Send + 'static) -> Self {
        Items { stream: Mutex::new(Box::pin(stream)), idle: None, ended: false }
    }

    /// Ends the items with [`CallError::Idle`] when a read waits longer than `limit` for its
    /// item (a producer or a server gone silent). Only waiting counts: the time the reader
    /// takes between two reads does not.
    #[must_use]
    pub fn idle_limit(mut self, limit: Duration) -> Self {
        let sleep = Box::pin(tokio::time::sleep(limit));
        self.idle = Some(Idle { limit, sleep, waiting: false });
        self
    }

    /// The next item, `None` at the end.
    pub async fn next(&mut self) -> Option<Result<T, CallError>> {
        std::future::poll_fn(|context| Pin::new(&mut *self).poll_next(context)).await
    }

    /// Reads every item into a `Vec`, or the error that ended the items.
    pub async fn collect(mut self) -> Result<Vec<T>, CallError> {
        let mut all = Vec::new();
        while let Some(item) = self.next().await {
            all.push(item?);
        }
        Ok(all)
    }
}

impl<T: Send + 'static> FromIterator<T> for Items<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let all: Vec<T> = iter.into_iter().collect();
        Items::from_iter(all)
    }
}

impl<T> Stream for Items<T> {
    type Item = Result<T, CallError>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        let stream = this.stream.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        match stream.as_mut().poll_next(context) {
            Poll::Ready(item) => {
                // After an error or the end, nothing more.
                this.ended = !matches!(item, Some(Ok(_)));
                if let Some(idle) = &mut this.idle {
                    idle.waiting = false;
                }
                Poll::Ready(item)
            }
            Poll::Pending => {
                let Some(idle) = &mut this.idle else { return Poll::Pending };
                if !idle.waiting {
                    // A new read: its clock starts now.
                    idle.waiting = true;
                    idle.sleep.as_mut().reset(tokio::time::Instant::now() + idle.limit);
                }
                ready!(idle.sleep.as_mut().poll(context));
                this.ended = true;
                Poll::Ready(Some(Err(CallError::Idle(idle.limit))))
            }
        }
    }
}

impl<T> fmt::Debug for Items<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Items")
            .field("item", &std::any::type_name::<T>())
            .field("idle_limit", &self.idle.as_ref().map(|idle| idle.limit))
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

/// One item as the wire carries it: its JSON, or the bytes of an item of a bytes type (a chunk
/// of a download).
#[doc(hidden)]
#[derive(Debug)]
pub enum WireItem {
    Json(Box<RawValue>),
    Bytes(Vec<u8>),
}

/// The items of a call by name, as the wire carries them.
pub type RawItems = Items<WireItem>;

impl<T: serde::Serialize + Send + 'static> Items<T> {
    /// Each item as the wire carries it (a server sending them): the bytes of a bytes type,
    /// else its JSON; one that cannot be encoded ends the items with
    /// [`CallError::InvalidResult`] naming `function`.
    pub(crate) fn encoded(self, function: &'static str) -> RawItems {
        // Known once, from the type: not asked again for every item.
        let bytes = crate::binary::is_bytes::<T>();
        Items::new(Mapped { items: self, map: move |item: T| {
            let item = match bytes {
                true => match crate::binary::into_bytes(item) {
                    Ok(bytes) => return Ok(WireItem::Bytes(bytes)),
                    Err(item) => item,
                },
                false => item,
            };
            serde_json::value::to_raw_value(&item).map(WireItem::Json).map_err(|error| {
                CallError::invalid_result(function, format!("an item could not be encoded as JSON: {error}"))
            })
        }})
    }
}

impl RawItems {
    /// The items decoded as `T` (a caller reading them); one that does not decode ends the
    /// items with [`CallError::InvalidResult`].
    pub(crate) fn decoded<T: serde::de::DeserializeOwned + Send + 'static>(self, function: String) -> Items<T> {
        Items::new(Mapped { items: self, map: move |item: WireItem| {
            let decoded = match &item {
                WireItem::Json(raw) => serde_json::from_str(raw.get()),
                WireItem::Bytes(bytes) => crate::binary::from_bytes(bytes),
            };
            decoded.map_err(|error| {
                CallError::invalid_result(&function, format!("an item does not decode as `{}`: {error}", std::any::type_name::<T>()))
            })
        }})
    }
}

/// Items with each `Ok` mapped through `map`, whose `Err` ends them.
struct Mapped<T, F> {
    items: Items<T>,
    map: F,
}

impl<T, U, F> Stream for Mapped<T, F>
where
    F: FnMut(T) -> Result<U, CallError> + Unpin,
{
    type Item = Result<U, CallError>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let item = ready!(Pin::new(&mut this.items).poll_next(context));
        Poll::Ready(item.map(|item| {
            let mapped = item.and_then(&mut this.map);
            if mapped.is_err() {
                this.items.ended = true;
            }
            mapped
        }))
    }
}

pin_project_lite::pin_project! {
    /// A stream of plain items, each `Ok`.
    struct Ok_<S> {
        #[pin]
        stream: S,
    }
}

impl<S: Stream> Stream for Ok_<S> {
    type Item = Result<S::Item, CallError>;

    fn poll_next(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.project().stream.poll_next(context).map(|item| item.map(Ok))
    }
}

pin_project_lite::pin_project! {
    /// A stream of results, its errors boxed.
    struct Failing<S> {
        #[pin]
        stream: S,
    }
}

impl<S, T, E> Stream for Failing<S>
where
    S: Stream<Item = Result<T, E>>,
    E: Into<BoxError>,
{
    type Item = Result<T, CallError>;

    fn poll_next(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = ready!(self.project().stream.poll_next(context));
        Poll::Ready(item.map(|item| item.map_err(|error| CallError::Failed(error.into().into()))))
    }
}

pin_project_lite::pin_project! {
    /// An iterator as a stream that is always ready.
    struct Iter<I> {
        iter: I,
    }
}

impl<I: Iterator> Stream for Iter<I> {
    type Item = I::Item;

    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<I::Item>> {
        Poll::Ready(self.project().iter.next())
    }
}

/// The schema of a stream is the list of its items (`{"type": "array", "items": ..}`), inline:
/// the API description reads the item type from it and describes the call's value as their
/// number.
#[cfg(feature = "schema")]
impl<T: schemars::JsonSchema> schemars::JsonSchema for Items<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Items_of_{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "array", "items": generator.subschema_for::<T>() })
    }
}
