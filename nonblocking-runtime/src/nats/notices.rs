//! The caller's side of a worker's accepted notices. A call's answer comes back through
//! async-nats's own request multiplexing (one reply, the fast path); a worker's notice that a
//! call runs there (sent only for a call still running after a moment) goes to a subject of
//! the caller's own instead: one wildcard subscription per [`Remote`](super::Remote), routing
//! each notice to the call it names by the subject's last token. A call's progress frames
//! and a stream's items come the same way.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_nats::Message;
use futures_util::StreamExt;
use tokio::sync::oneshot;

use super::headers::{ACCEPTED, BODY, BYTES, CREDIT, ITEM, SEQ};
use super::progress::Inbound;

type Routes = Mutex<HashMap<u64, Route>>;

/// Where one call's messages go.
struct Route {
    /// The accepted notice, until it came.
    accepted: Option<oneshot::Sender<String>>,
    /// Its progress frames, for a call that reads them.
    frames: Option<Arc<Inbound>>,
}

/// The routing of one remote's notices.
pub(crate) struct Notices {
    /// `<inbox>.`: a call's notice subject is this and its token.
    prefix: String,
    routes: Arc<Routes>,
    next: AtomicU64,
    task: tokio::task::AbortHandle,
}

impl Notices {
    /// Subscribes to `<new inbox>.*` on `client` and starts routing.
    pub(crate) async fn open(client: &async_nats::Client) -> Result<Notices, async_nats::SubscribeError> {
        let inbox = client.new_inbox();
        let mut notices = client.subscribe(format!("{inbox}.*")).await?;
        let routes: Arc<Routes> = Arc::default();
        let task = {
            let routes = Arc::clone(&routes);
            tokio::spawn(async move {
                while let Some(message) = notices.next().await {
                    let Some(token) = token(&message) else { continue };
                    // A message for a call that is gone (it ended, or was dropped) is dropped too.
                    let mut routes = routes.lock().unwrap_or_else(PoisonError::into_inner);
                    let Some(route) = routes.get_mut(&token) else { continue };
                    if let Some(number) = header(&message, ITEM) {
                        let Some(frames) = route.frames.clone() else { continue };
                        drop(routes);
                        let headers = message.headers.as_ref();
                        let credit = headers.and_then(|headers| headers.get(CREDIT)).map(|value| value.as_str().to_owned());
                        let bytes = headers.and_then(|headers| headers.get(BODY)).is_some_and(|value| value.as_str() == BYTES);
                        frames.items.item(number, &message.payload, bytes, credit);
                    } else if let Some(seq) = seq(&message) {
                        let Some(frames) = route.frames.clone() else { continue };
                        drop(routes);
                        frames.frame(seq, &message.payload);
                    } else if let Some(cancel_to) = accepted(&message) {
                        if let Some(accepted) = route.accepted.take() {
                            let _ = accepted.send(cancel_to);
                        }
                    }
                }
            })
        };
        Ok(Notices { prefix: format!("{inbox}."), routes, next: AtomicU64::new(0), task: task.abort_handle() })
    }

    /// A new call's notice subject and where its notice arrives (and its progress frames, to
    /// `frames`), until the [`Notice`] is dropped.
    pub(crate) fn expect(self: &Arc<Self>, frames: Option<Arc<Inbound>>) -> Notice {
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        let route = Route { accepted: Some(sender), frames };
        self.routes.lock().unwrap_or_else(PoisonError::into_inner).insert(token, route);
        Notice { subject: format!("{}{token}", self.prefix), receiver, token, notices: Arc::clone(self) }
    }
}

fn token(message: &Message) -> Option<u64> {
    message.subject.rsplit('.').next()?.parse().ok()
}

/// A progress frame's number.
fn seq(message: &Message) -> Option<u64> {
    header(message, SEQ)
}

fn header(message: &Message, name: &str) -> Option<u64> {
    message.headers.as_ref()?.get(name)?.as_str().parse().ok()
}

/// The subject a worker's accepted notice names for cancels.
fn accepted(message: &Message) -> Option<String> {
    Some(message.headers.as_ref()?.get(ACCEPTED)?.as_str().to_owned())
}

impl Drop for Notices {
    fn drop(&mut self) {
        // Ends the subscription with the last `Remote` (and the last call) using it.
        self.task.abort();
    }
}

/// One call's notice: where the worker sends it, and the worker's cancel subject once it came.
pub(crate) struct Notice {
    pub(crate) subject: String,
    pub(crate) receiver: oneshot::Receiver<String>,
    token: u64,
    notices: Arc<Notices>,
}

impl Drop for Notice {
    fn drop(&mut self) {
        self.notices.routes.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.token);
    }
}
