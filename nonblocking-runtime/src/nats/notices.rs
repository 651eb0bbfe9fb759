//! The caller's side of a worker's accepted notices. A call's answer comes back through
//! async-nats's own request multiplexing (one reply, the fast path); a worker's notice that a
//! call runs there (sent only for a call still running after a moment) goes to a subject of
//! the caller's own instead: one wildcard subscription per [`Remote`](super::Remote), routing
//! each notice to the call it names by the subject's last token.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_nats::Message;
use futures_util::StreamExt;
use tokio::sync::oneshot;

use super::headers::ACCEPTED;

type Routes = Mutex<HashMap<u64, oneshot::Sender<String>>>;

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
                    let (Some(token), Some(cancel_to)) = (token(&message), accepted(&message)) else { continue };
                    // A notice for a call that is gone (it ended, or was dropped) is dropped too.
                    if let Some(route) = routes.lock().unwrap_or_else(PoisonError::into_inner).remove(&token) {
                        let _ = route.send(cancel_to);
                    }
                }
            })
        };
        Ok(Notices { prefix: format!("{inbox}."), routes, next: AtomicU64::new(0), task: task.abort_handle() })
    }

    /// A new call's notice subject and where its notice arrives, until the [`Notice`] is
    /// dropped.
    pub(crate) fn expect(self: &Arc<Self>) -> Notice {
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        self.routes.lock().unwrap_or_else(PoisonError::into_inner).insert(token, sender);
        Notice { subject: format!("{}{token}", self.prefix), receiver, token, notices: Arc::clone(self) }
    }
}

fn token(message: &Message) -> Option<u64> {
    message.subject.rsplit('.').next()?.parse().ok()
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
