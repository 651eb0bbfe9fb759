//! [`Remote`]: calls the server functions that workers serve over NATS, by name or through
//! the typed `call_remote_<name>` stubs, without knowing where any worker is.

use std::fmt;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use async_nats::client::RequestErrorKind;
use async_nats::{HeaderMap, Message};
use serde::Serialize;

use tokio::sync::OnceCell;
use tokio::time::Instant;

use super::connect::Connect;
use super::headers::{CALL_ID, FRAMES, NOTIFY, SERVICE_ERROR_CODE};
use super::notices::{Notice, Notices};
use super::progress::{Closing, Inbound};
use super::subjects::subject;
use crate::calls::{AsyncCall, call_with_outcome};
use crate::progress::{self, Reporter};
use crate::remote::ReadProgress;
use crate::errors::{CallError, NoRespondersError, RejectedError, TransportError};
use crate::remote::wire::{codes, from_wire};
use super::headers::{BODY, BYTES, ITEMS};
use super::stream_in;
use crate::items::{CallValue, Items, Reply};
use crate::remote::dispatch::first_of;
use std::future::poll_fn;
use crate::remote::{Body, Decode, Intercept, OutgoingHeaders, TIMEOUT_HEADER, Transport, outgoing_trace, sealed, send_trace};

/// How often a call that found no worker is tried again, and how long apart at first (a
/// worker may be restarting); after that, [`CallError::NoResponders`] at once.
const NO_RESPONDERS_RETRIES: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(2);
const MAX_BACKOFF: Duration = Duration::from_millis(100);
/// Retries stop this long before the deadline, so that the last refusal is reported rather
/// than lost to the call's timeout firing in the same timer tick.
const DEADLINE_MARGIN: Duration = Duration::from_millis(10);
/// How long a dropped call waits for its worker's accepted notice (sent once a call has run
/// for a moment) to learn where to send its cancel.
const NOTICE_WAIT: Duration = Duration::from_secs(5);

/// The workers serving under one subject prefix, called over NATS. Cloning shares the
/// connection; [`with_header`](Self::with_header) makes a variant for some calls.
///
/// Every call has a deadline (the remote's timeout, 30 s by default; an
/// [`AsyncCall::timeout`] can shorten it): a reply lost with a crashed worker ends in
/// [`CallError::TimedOut`], never a hang. A worker at its concurrency limit refuses with
/// `overloaded` (not executed) and no worker at all is `no responders`: those two are retried,
/// with jitter, within the deadline, so that another worker takes the call. Nothing else is
/// retried, so no call runs twice. Cancelling a call (or its timeout, or dropping the
/// `AsyncCall` with `cancel_on_drop`) tells the worker running it, which stops it.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use nonblocking_runtime::nats::{Connect, Remote};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), nonblocking_runtime::CallError> {
/// let remote = Remote::builder()
///     .prefix("rpc")
///     .timeout(Duration::from_secs(5))
///     .connect(&Connect::new(["nats://127.0.0.1:4222"]))
///     .await?;
/// let sum: i64 = remote.call_async_by_name("add", (40, 2)).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Remote {
    client: async_nats::Client,
    prefix: Arc<str>,
    headers: Arc<HeaderMap>,
    timeout: Duration,
    intercept: Option<Intercept>,
    notices: Arc<OnceCell<Arc<Notices>>>,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be credentials: show only their names.
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_ref()).collect();
        f.debug_struct("Remote")
            .field("prefix", &self.prefix)
            .field("headers", &names)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Remote`].
#[must_use = "a builder does nothing until `connect()` or `client()`"]
pub struct RemoteBuilder {
    prefix: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
    intercept: Option<Intercept>,
}

impl fmt::Debug for RemoteBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be credentials: show only their names.
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("RemoteBuilder")
            .field("prefix", &self.prefix)
            .field("headers", &names)
            .field("timeout", &self.timeout)
            .field("intercept", &self.intercept.is_some())
            .finish()
    }
}

impl RemoteBuilder {
    /// The workers' subject prefix. Default `rpc`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sends this header with every call (the authorize hook sees it).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Every call's deadline. Default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs `intercept` before every call (not before each retry), in the caller, with the
    /// function's name and the call's headers (this remote's already in), which it may set; see
    /// the HTTP [`RemoteBuilder::intercept`](crate::http::RemoteBuilder::intercept).
    pub fn intercept(
        mut self,
        intercept: impl Fn(&str, &mut crate::remote::OutgoingHeaders<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.intercept = Some(Arc::new(intercept));
        self
    }

    /// Connects to the servers of `connect` (every node of a cluster: the connection fails over
    /// and reconnects by itself).
    pub async fn connect(self, connect: &Connect) -> Result<Remote, CallError> {
        let client = connect.open("nonblocking caller").await?;
        self.client(client)
    }

    /// Calls over a connection you already have.
    pub fn client(self, client: async_nats::Client) -> Result<Remote, CallError> {
        if !super::subjects::valid_tokens(&self.prefix) {
            return Err(TransportError::plain(
                format!("nats:{}", self.prefix),
                "the prefix is not one or more dot-separated tokens of [A-Za-z0-9_-]".into(),
            ));
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            if name.is_empty() || name.contains([':', ' ', '\r', '\n']) || value.contains(['\r', '\n']) {
                return Err(TransportError::plain(
                    format!("nats:{}", self.prefix),
                    format!("invalid header `{name}`: names hold no `:` or whitespace, values are one line"),
                ));
            }
            headers.append(name.as_str(), value.as_str());
        }
        Ok(Remote {
            client,
            prefix: self.prefix.into(),
            headers: Arc::new(headers),
            timeout: self.timeout,
            notices: Arc::default(),
            intercept: self.intercept,
        })
    }
}

impl Remote {
    /// A builder: prefix `rpc`, no headers, 30 s per call.
    pub fn builder() -> RemoteBuilder {
        RemoteBuilder { prefix: "rpc".into(), headers: Vec::new(), timeout: Duration::from_secs(30), intercept: None }
    }

    /// The subject prefix it calls under.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The connection, to publish or subscribe beside the calls.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// A remote sharing this connection with every call's deadline at `timeout`. Like every
    /// `with_*` method of both transports' clients, it leaves `self` as it is.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Remote {
            timeout,
            ..self.clone()
        }
    }

    /// A remote sharing this connection that also sends the header `name: value`.
    pub fn with_header(&self, name: &str, value: &str) -> Result<Remote, CallError> {
        let mut builder = Remote::builder().prefix(&*self.prefix).timeout(self.timeout);
        for (known, values) in self.headers.iter() {
            for existing in values {
                builder = builder.header(<_ as AsRef<str>>::as_ref(known), existing.as_str());
            }
        }
        let variant = builder.header(name, value).client(self.client.clone())?;
        Ok(Remote { notices: Arc::clone(&self.notices), intercept: self.intercept.clone(), ..variant })
    }

    /// Calls the server function `name` without waiting; see [`Transport::call_async_by_name`].
    pub fn call_async_by_name<R: CallValue>(&self, name: &str, args: impl Serialize) -> AsyncCall<R> {
        Transport::call_async_by_name(self, name, args)
    }

    /// The routing of this remote's accepted notices, subscribed on first use.
    async fn notices(&self) -> Result<&Arc<Notices>, CallError> {
        self.notices
            .get_or_try_init(|| async {
                Notices::open(&self.client).await.map(Arc::new).map_err(|error| {
                    TransportError::caused(format!("nats:{}", self.prefix), "the notice subscription could not be made", Box::new(error))
                })
            })
            .await
    }

    async fn run<R>(
        self,
        name: String,
        body: Body,
        decode: Decode<R>,
        deadline: Instant,
        reporter: Option<Arc<Reporter>>,
    ) -> Result<R, CallError> {
        let Some(subject) = subject(&self.prefix, &name) else {
            return Err(CallError::not_found_remote(&name, None, &format!("nats:{}", self.prefix)));
        };
        let max_payload = self.client.server_info().max_payload;
        let length = match &body {
            Body::Json(bytes) | Body::Bytes(bytes) => bytes.len(),
        };
        if length > max_payload {
            return Err(CallError::Rejected(Box::new(RejectedError {
                status: codes::PAYLOAD_TOO_LARGE.status,
                code: codes::PAYLOAD_TOO_LARGE.code.into(),
                message: format!("the arguments are {} bytes, over the NATS servers' max_payload of {max_payload} bytes", length),
            })));
        }
        let inbound = reporter.map(|reporter| Closing(Arc::new(Inbound::new(reporter))));
        let notice = self.notices().await?.expect(inbound.as_ref().map(|inbound| Arc::clone(&inbound.0)));
        let id = call_id().map_err(|error| TransportError::caused(subject.clone(), "no random call id", Box::new(error)))?;
        let mut headers = HeaderMap::clone(&self.headers);
        // The trace goes on: the worker's span for the call is this one's child.
        send_trace(outgoing_trace().as_ref(), &mut OutgoingHeaders::nats(&mut headers));
        if let Some(intercept) = &self.intercept {
            intercept(&name, &mut OutgoingHeaders::nats(&mut headers));
        }
        headers.insert(CALL_ID, id.as_str());
        headers.insert(NOTIFY, notice.subject.as_str());
        if inbound.is_some() {
            headers.insert(FRAMES, "progress");
        }
        if let Body::Bytes(_) = body {
            headers.insert(BODY, BYTES);
        }
        let payload = bytes::Bytes::from(body.into_bytes());
        // Armed until the call's outcome is known: a call dropped before then (cancel,
        // timeout) is cancelled on the worker running it.
        let mut call = Pending { remote: self.clone(), id, notice: Some(notice), armed: true };
        let mut retries = 0u32;
        let mut no_responders = 0u32;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(CallError::TimedOut(self.timeout));
            }
            // The deadline travels as the time left (the worker's clock need not agree with
            // this one's): the worker stops the call when this caller stops waiting.
            headers.insert(TIMEOUT_HEADER, remaining.as_millis().to_string().as_str());
            let request = async_nats::Request::new()
                .payload(payload.clone())
                .headers(headers.clone())
                .timeout(Some(remaining));
            let mut reply: stream_in::Reply = {
                let (client, subject) = (self.client.clone(), subject.clone());
                Box::pin(async move { client.send_request(subject, request).await })
            };
            // A call that reads frames may turn out to stream: its value is then its items,
            // from the first one on, and the reply is their end.
            let replied = match &inbound {
                Some(frames) => match first_of(reply.as_mut(), poll_fn(|context| frames.0.items.poll_started(context))).await {
                    Ok(replied) => replied,
                    Err(()) => return self.stream(call, inbound, stream_in::Answer::Waiting(reply), decode, name, subject),
                },
                None => reply.await,
            };
            let retry = match replied {
                Ok(message) if inbound.is_some() && (message.headers.as_ref().is_some_and(|headers| headers.get(ITEMS).is_some())) => {
                    let answer = stream_in::Answer::Came(Ok(message));
                    return self.stream(call, inbound, answer, decode, name, subject);
                }
                Ok(message) => {
                    if let (Some(sent), Some(inbound)) = (frames_sent(&message), &inbound) {
                        // Progress frames went before this answer: they reach the handlers first.
                        inbound.0.finish(sent).await;
                    }
                    match error_status(&message) {
                        None => {
                            call.armed = false;
                            let raw = message.headers.as_ref().and_then(|headers| headers.get(BODY)).is_some_and(|value| value.as_str() == BYTES);
                            let reply = if raw { Reply::Bytes(&message.payload) } else { Reply::Json(&message.payload) };
                            return decode(reply, &name);
                        }
                        Some(status) => {
                            let error = from_wire(&format!("nats:{}", self.prefix), &subject, &name, status, &message.payload);
                            if !is_overloaded(&error) {
                                call.armed = false;
                                return Err(error);
                            }
                            error
                        }
                    }
                }
                Err(error) => match error.kind() {
                    RequestErrorKind::NoResponders if no_responders < NO_RESPONDERS_RETRIES => {
                        no_responders += 1;
                        CallError::NoResponders(Box::new(NoRespondersError { function: name.clone(), subject: subject.clone() }))
                    }
                    RequestErrorKind::NoResponders => {
                        call.armed = false;
                        return Err(CallError::NoResponders(Box::new(NoRespondersError { function: name, subject })));
                    }
                    RequestErrorKind::TimedOut => return Err(CallError::TimedOut(self.timeout)),
                    RequestErrorKind::Other => {
                        call.armed = false;
                        return Err(TransportError::caused(subject, "the request could not be sent", Box::new(error)));
                    }
                },
            };
            // Not executed: try again after a jittered pause, if the deadline leaves room (with a
            // margin for the timer's millisecond ticks: the refusal, not the deadline, is the
            // news).
            let pause = backoff(retries);
            retries += 1;
            if Instant::now() + pause + DEADLINE_MARGIN >= deadline {
                call.armed = false;
                return Err(retry);
            }
            tokio::time::sleep(pause).await;
        }
    }
}

impl Remote {
    /// The call's value once it turned out to stream: its items, read as they arrive.
    fn stream<R>(
        &self,
        call: Pending,
        inbound: Option<Closing>,
        answer: stream_in::Answer,
        decode: Decode<R>,
        name: String,
        subject: String,
    ) -> Result<R, CallError> {
        let Some(inbound) = inbound else {
            return Err(TransportError::plain(subject, "items came to a call that reads no frames".to_owned()));
        };
        let items = stream_in::NatsItems {
            inbound,
            answer,
            call,
            client: self.client.clone(),
            read: 0,
            credited: 0,
            stragglers: None,
            ended: false,
            base: format!("nats:{}", self.prefix),
            subject,
            function: name.clone(),
            timeout: self.timeout,
        };
        decode(Reply::Items(Items::from_calls(items)), &name)
    }
}

impl sealed::Sealed for Remote {}

impl Transport for Remote {
    fn call_json<R: Send + 'static>(&self, name: &str, body: Result<Body, CallError>, decode: Decode<R>, progress: ReadProgress) -> AsyncCall<R> {
        let remote = self.clone();
        let name = name.to_owned();
        let timeout = self.timeout;
        // One deadline for every step inside (the request's own timeout, the retries' pauses):
        // `run` ends with `TimedOut` by it, so the call needs no timer of its own on top (nor the
        // task that would watch it).
        let deadline = Instant::now() + timeout;
        // Progress may be watched (`on_progress`) once the call has started: a call that may
        // read it keeps a cell for it, and a worker sends frames only for a function that reports.
        match progress {
            ReadProgress::Read => progress::tracked(|reporter| {
                call_with_outcome(async move { remote.run(name, body?, decode, deadline, Some(reporter)).await })
            }),
            ReadProgress::Ignore => call_with_outcome(async move { remote.run(name, body?, decode, deadline, None).await }),
        }
    }
}

/// A call id nobody can guess: a cancel must name it, and only the caller and the worker see
/// it (and whoever may read the prefix's subjects on the NATS servers).
fn call_id() -> Result<String, getrandom::Error> {
    let mut random = [0u8; 16];
    getrandom::getrandom(&mut random)?;
    Ok(random.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// How many progress frames went before this answer, for a call that sent any.
fn frames_sent(message: &Message) -> Option<u64> {
    message.headers.as_ref()?.get(FRAMES)?.as_str().parse().ok()
}

/// The wire status of an error reply (the services protocol's header), `None` for a value.
pub(super) fn error_status(message: &Message) -> Option<u16> {
    let code = message.headers.as_ref()?.get(SERVICE_ERROR_CODE)?;
    Some(code.as_str().parse().unwrap_or(codes::FAILED.status))
}

fn is_overloaded(error: &CallError) -> bool {
    matches!(error, CallError::Rejected(rejected) if rejected.code == codes::OVERLOADED.code)
}

/// Exponential from 2 ms to 100 ms, each pause drawn from its upper half, so that callers
/// refused together do not come back together.
fn backoff(retry: u32) -> Duration {
    let ceiling = FIRST_BACKOFF.saturating_mul(1 << retry.min(16)).min(MAX_BACKOFF);
    let mut random = RandomState::new().build_hasher();
    random.write_u32(retry);
    let fraction = (random.finish() % 1_000) as u32;
    ceiling / 2 + ceiling / 2 * fraction / 1_000
}

/// A call in flight: what it needs to cancel itself on the worker running it when it is
/// dropped while still armed.
pub(super) struct Pending {
    remote: Remote,
    id: String,
    /// Always `Some` until dropped.
    notice: Option<Notice>,
    pub(super) armed: bool,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let Some(notice) = self.notice.take() else { return };
        if !self.armed {
            return;
        }
        // Dropped by the runtime that ran the call; without one there is no connection either.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let (remote, id) = (self.remote.clone(), std::mem::take(&mut self.id));
        runtime.spawn(async move {
            // No notice yet: the call is queued, just started, or already answered. Only a
            // notice says it runs, and where.
            let Notice { receiver, .. } = &mut { notice };
            let Ok(Ok(cancel_to)) = tokio::time::timeout(NOTICE_WAIT, receiver).await else { return };
            // The remote's headers go with it: the worker's authorize hook decides whether they
            // may cancel this function's calls.
            let headers = HeaderMap::clone(&remote.headers);
            let _ = remote.client.publish_with_headers(cancel_to, headers, id.into()).await;
            let _ = remote.client.flush().await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_ceiling_and_is_jittered() {
        for retry in 0..40 {
            let pause = backoff(retry);
            let ceiling = FIRST_BACKOFF.saturating_mul(1 << retry.min(16)).min(MAX_BACKOFF);
            assert!(pause >= ceiling / 2 && pause <= ceiling, "{retry}: {pause:?}");
        }
        let draws: std::collections::HashSet<Duration> = (0..20).map(|_| backoff(6)).collect();
        assert!(draws.len() > 1, "jittered");
    }
}
