//! One call arriving at a worker: the shared dispatch runs it; this frames its answer as a
//! NATS reply (the services protocol's error headers, the error object as the body), counts it
//! for `$SRV.STATS`, and tells the caller of a call still running after a moment where to send
//! a cancel.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use async_nats::client::PublishErrorKind;
use async_nats::{HeaderMap, Message, Subject};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::cancels::Cancels;
use super::headers::{ACCEPTED, BODY, BYTES, CALL_ID, FRAMES, ITEMS, NOTIFY, SERVICE_ERROR, SERVICE_ERROR_CODE};
use super::service::Service;
use crate::progress::{self, Cell};
use crate::registry::ServerFunction;
use super::stream_out::{publish_progress, send_stream};
use crate::remote::dispatch::{Answer, BodyKind, ITEM_BUFFER, Interrupt, Outlets, dispatch, first_of};
use crate::remote::wire::{ErrorBody, codes};
use crate::remote::{Caller, Policy};

/// How long a call runs before its caller is told where to cancel it. Most calls answer
/// sooner and cost one reply; a cancel sent before the notice waits for it on the caller's
/// side, so no cancel is lost and none is broadcast.
pub(crate) const ACCEPTED_AFTER: Duration = Duration::from_millis(20);

/// What a worker's calls share.
pub(crate) struct Served {
    /// The connection replies go out on: it stays open while the serving one drains.
    pub(crate) reply: async_nats::Client,
    pub(crate) policy: Policy,
    pub(crate) service: Arc<Service>,
    pub(crate) cancels: Cancels,
    /// Where this worker takes cancels (its accepted notices name it).
    pub(crate) cancel_subject: String,
    /// Stops the calls still running when the shutdown grace is over.
    pub(crate) stop_now: CancellationToken,
}

/// Runs the request `message` for `function` (served by endpoint number `endpoint`) and
/// answers it on `reply`.
pub(crate) async fn handle(served: Arc<Served>, endpoint: usize, function: &'static ServerFunction, message: Message, reply: Subject) {
    let arrived = Instant::now();
    let mut caller = Caller::nats(message.headers.as_ref());
    let header = |name: &str| message.headers.as_ref().and_then(|headers| headers.get(name)).map(|value| value.as_str());
    let cancellable = header(CALL_ID).zip(header(NOTIFY));
    let kind = if header(BODY) == Some(BYTES) { BodyKind::Bytes } else { BodyKind::Json };
    let body = std::future::ready(Ok::<_, Infallible>(message.payload.clone()));
    let interrupt = interrupt(&served, cancellable, function);
    // A caller that reads frames (this crate's) gets them at its notice subject while the call
    // runs: a stream's items, a reporting function's progress; their counts go on the answer.
    let frames_to = header(NOTIFY).filter(|_| header(FRAMES).is_some());
    let (answer, mut headers) = match frames_to {
        Some(notify) if function.streams() => {
            let (reporter, cell) = progress::channel();
            let (sink, items) = tokio::sync::mpsc::channel(ITEM_BUFFER);
            let outlets = Outlets { progress: function.reports_progress().then_some(reporter), items: Some(sink) };
            let running = dispatch(&served.policy, function, &mut caller, body, interrupt, outlets, kind);
            let (answer, sent) = send_stream(&served, notify, running, &cell, items).await;
            let mut headers = HeaderMap::new();
            headers.insert(FRAMES, sent.progress.to_string().as_str());
            // Only a call that streamed counts its items: a refusal before the first is plain.
            if sent.items > 0 || matches!(answer, Answer::End(_)) {
                headers.insert(ITEMS, sent.items.to_string().as_str());
            }
            (answer, Some(headers))
        }
        Some(notify) if function.reports_progress() => {
            let (reporter, cell) = progress::channel();
            let outlets = Outlets { progress: Some(reporter), items: None };
            let running = dispatch(&served.policy, function, &mut caller, body, interrupt, outlets, kind);
            let (answer, sent) = send_progress(&served, notify, running, &cell).await;
            let mut headers = HeaderMap::new();
            headers.insert(FRAMES, sent.to_string().as_str());
            (answer, Some(headers))
        }
        // A stream to a caller that reads no frames is answered with an error by the dispatch.
        _ => match dispatch(&served.policy, function, &mut caller, body, interrupt, Outlets::default(), kind).await {
            Ok(answer) => (answer, None),
            Err(never) => match never {},
        },
    };
    // A stream's answer is its number of items (the header says it too); a value of a bytes
    // type goes as the bytes themselves, which a header says.
    let answer = match answer {
        Answer::End(count) => Answer::Value(count.to_string().into_bytes()),
        Answer::Bytes(bytes) => {
            headers.get_or_insert_with(HeaderMap::new).insert(BODY, BYTES);
            Answer::Value(bytes)
        }
        answer => answer,
    };
    let error = match answer {
        Answer::Value(bytes) => {
            let length = bytes.len();
            // async-nats checks the servers' `max_payload` itself (reading it here would copy
            // the whole server info per call).
            let sent = match headers.take() {
                Some(headers) => served.reply.publish_with_headers(reply.clone(), headers, bytes.into()).await,
                None => served.reply.publish(reply.clone(), bytes.into()).await,
            };
            match sent {
                Err(error) if error.kind() == PublishErrorKind::MaxPayloadExceeded => {
                    let max_payload = served.reply.server_info().max_payload;
                    let body = codes::PAYLOAD_TOO_LARGE.body(format!(
                        "the result is {length} bytes, over the NATS servers' max_payload of {max_payload} bytes"
                    ));
                    send_error(&served, reply, codes::PAYLOAD_TOO_LARGE.status, &body, None).await;
                    Some((codes::PAYLOAD_TOO_LARGE.status, body.message))
                }
                // Any other reply that cannot be sent has nobody to tell: the caller times out.
                _ => None,
            }
        }
        Answer::Error(status, body) => {
            send_error(&served, reply, status, &body, headers).await;
            Some((status, body.message))
        }
        // Cancelled by its caller, who waits for nothing: a request, not an error.
        Answer::Dropped => None,
        // Made a value above.
        Answer::End(_) | Answer::Bytes(_) => None,
    };
    let error = error.as_ref().map(|(status, message)| (*status, message.as_str()));
    served.service.endpoints[endpoint].record(arrived.elapsed(), error);
}

/// Runs the call, sending each progress value the connection takes to `notify` as a numbered
/// frame (the latest one when the function reports faster), and the last one once it is done.
/// Returns the answer and how many frames went.
async fn send_progress<E>(
    served: &Served,
    notify: &str,
    running: impl Future<Output = Result<Answer, E>>,
    cell: &Cell,
) -> (Answer, u64)
where
    E: Into<Infallible>,
{
    let mut running = pin!(running);
    let mut sent = 0u64;
    let publish = |value: Arc<serde_json::Value>, seq: u64| async move { publish_progress(served, notify, &value, seq).await };
    let answer = loop {
        match first_of(running.as_mut(), poll_fn(|context| cell.poll_report(context))).await {
            Ok(Ok(answer)) => break answer,
            Ok(Err(never)) => match never.into() {},
            Err(value) => {
                sent += 1;
                publish(value, sent).await;
            }
        }
    };
    if let Some(last) = cell.take_report() {
        sent += 1;
        publish(last, sent).await;
    }
    (answer, sent)
}

/// What stops a running call on a worker: the end of the shutdown grace, or (for a call sent
/// with an id and a notice subject, by this crate's callers) a cancel from its caller, routed
/// here by the accepted notice this sends once the call has run for [`ACCEPTED_AFTER`].
async fn interrupt(served: &Served, cancellable: Option<(&str, &str)>, function: &'static ServerFunction) -> Interrupt {
    let stopped = served.stop_now.cancelled();
    let cancelled = async {
        let Some((id, notify)) = cancellable else { return std::future::pending().await };
        tokio::time::sleep(ACCEPTED_AFTER).await;
        // A second request with the id of a running one is not the caller's to cancel.
        let Some((_running, cancelled)) = served.cancels.register(id, function) else {
            return std::future::pending().await;
        };
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPTED, served.cancel_subject.as_str());
        let _ = served.reply.publish_with_headers(notify.to_owned(), headers, bytes::Bytes::new()).await;
        // Only a cancel sends on it; the registration (and its sender) lives as long as this.
        let _ = cancelled.await;
    };
    match first_of(stopped, cancelled).await {
        Ok(()) => Interrupt::ShutDown,
        Err(()) => Interrupt::Cancelled,
    }
}

/// An error reply: the services protocol's headers, and the error object as the body (the
/// protocol's own error reply has an empty one).
async fn send_error(served: &Served, reply: Subject, status: u16, body: &ErrorBody, headers: Option<HeaderMap>) {
    let mut headers = headers.unwrap_or_default();
    headers.insert(SERVICE_ERROR_CODE, status.to_string().as_str());
    // A header value is one line.
    let one_line: String = body.message.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    headers.insert(SERVICE_ERROR, one_line.as_str());
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let _ = served.reply.publish_with_headers(reply, headers, bytes.into()).await;
}
