//! One call arriving at a worker: authorize, read the arguments, run the function under the
//! timeout (cancellable by the caller), answer with the value or the error object.

use std::sync::Arc;
use std::time::Duration;

use async_nats::{HeaderMap, Message, Subject};
use tokio::sync::Notify;

use super::headers::{CALL_ID, SERVICE_ERROR, SERVICE_ERROR_CODE};
use crate::errors::CallError;
use crate::panic::catching_async;
use crate::registry::{RawArgs, ServerFunction, invoke_raw};
use crate::remote::slots::{OwnedSlot, Slots};
use crate::remote::wire::{ErrorBody, codes, refuse_arguments, to_wire};
use crate::remote::{Authorize, Caller, Refusal};

use super::cancels::Cancels;

/// What a worker's calls share.
pub(crate) struct Served {
    /// The connection replies go out on: it stays open while the serving one drains.
    pub(crate) reply: async_nats::Client,
    pub(crate) authorize: Option<Authorize>,
    pub(crate) timeout: Duration,
    pub(crate) show_panics: bool,
    /// The largest payload a call may carry.
    pub(crate) body_limit: usize,
    pub(crate) slots: Arc<Slots>,
    pub(crate) cancels: Cancels,
    /// Wakes calls still running when the shutdown grace is over.
    pub(crate) stop_now: Notify,
}

/// Refuses a call at the concurrency limit: not executed, so the caller may retry elsewhere.
pub(crate) async fn answer_overloaded(served: Arc<Served>, reply: Subject) {
    let body = codes::OVERLOADED.body("this worker is at its concurrency limit; try again");
    send_error(&served, reply, codes::OVERLOADED.status, body).await;
}

/// Refuses a call whose payload is over the body limit: not decoded, not executed.
pub(crate) async fn answer_too_large(served: Arc<Served>, reply: Subject) {
    let message = format!("the payload is over the limit of {} bytes", served.body_limit);
    send_error(&served, reply, codes::PAYLOAD_TOO_LARGE.status, codes::PAYLOAD_TOO_LARGE.body(message)).await;
}

pub(crate) async fn handle(
    served: Arc<Served>,
    function: &'static ServerFunction,
    message: Message,
    reply: Subject,
    slot: OwnedSlot,
    started: impl FnOnce(),
) {
    let _slot = slot;
    let headers = message.headers.as_ref();
    if let Some(authorize) = &served.authorize {
        let refused = match authorize(&Caller::nats(headers), function) {
            Ok(()) => None,
            Err(Refusal::Unauthorized(message)) => Some((codes::UNAUTHORIZED, message)),
            Err(Refusal::Forbidden(message)) => Some((codes::FORBIDDEN, message)),
        };
        if let Some((code, message)) = refused {
            return send_error(&served, reply, code.status, code.body(message)).await;
        }
    }
    let args = match RawArgs::parse(&message.payload) {
        Ok(args) => args,
        Err(refused) => {
            let (status, body) = refuse_arguments(function, refused, served.show_panics);
            return send_error(&served, reply, status, body).await;
        }
    };
    let id = headers.and_then(|headers| headers.get(CALL_ID)).map(|id| id.as_str().to_owned());
    let registration = match &id {
        Some(id) => match served.cancels.start(id) {
            Some(registration) => Some(registration),
            // Cancelled before it arrived: the caller is gone.
            None => return,
        },
        None => None,
    };
    let invocation = match invoke_raw(function, args) {
        Ok(invocation) => invocation,
        Err(error) => return send_call_error(&served, reply, &error, function).await,
    };
    started();
    let cancelled = async {
        match registration {
            Some((_running, cancelled)) => {
                let _ = cancelled.await;
            }
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        finished = tokio::time::timeout(served.timeout, catching_async(invocation)) => match finished {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(panic)) => Err(CallError::Panicked(panic)),
            Err(_) => Err(CallError::TimedOut(served.timeout)),
        },
        // The caller cancelled: the function is dropped here, and nobody waits for an answer.
        () = cancelled => return,
        () = served.stop_now.notified() => {
            let body = codes::SHUTTING_DOWN.body("the worker shut down before the call finished");
            return send_error(&served, reply, codes::SHUTTING_DOWN.status, body).await;
        }
    };
    match outcome.and_then(|value| serde_json::to_vec(&value).map_err(|error| CallError::invalid_result(function.name(), error.to_string()))) {
        Ok(bytes) if bytes.len() as u64 > served.reply.server_info().max_payload as u64 => {
            let body = codes::PAYLOAD_TOO_LARGE.body(format!(
                "the result is {} bytes, over the NATS servers' max_payload of {} bytes",
                bytes.len(),
                served.reply.server_info().max_payload
            ));
            send_error(&served, reply, codes::PAYLOAD_TOO_LARGE.status, body).await;
        }
        Ok(bytes) => {
            // A reply that cannot be sent has nobody to tell: the caller times out.
            let _ = served.reply.publish(reply, bytes.into()).await;
        }
        Err(error) => send_call_error(&served, reply, &error, function).await,
    }
}

async fn send_call_error(served: &Served, reply: Subject, error: &CallError, function: &ServerFunction) {
    let (status, body) = to_wire(error, served.show_panics, Some(function));
    send_error(served, reply, status, body).await;
}

/// An error reply: the services protocol's headers, and the error object as the body (the
/// library's own error reply would send an empty one).
async fn send_error(served: &Served, reply: Subject, status: u16, body: ErrorBody) {
    let mut headers = HeaderMap::new();
    headers.insert(SERVICE_ERROR_CODE, status.to_string().as_str());
    // A header value is one line.
    let one_line: String = body.message.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    headers.insert(SERVICE_ERROR, one_line.as_str());
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let _ = served.reply.publish_with_headers(reply, headers, bytes.into()).await;
}
