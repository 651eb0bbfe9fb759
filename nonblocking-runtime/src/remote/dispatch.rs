//! The one pipeline every transport runs a call through: authorize, take the body, take a
//! slot, read the arguments, run the function under the timeout (catching a panic), and
//! answer with the value or the error object. A transport only frames what goes in (the body,
//! as a future, so it can refuse before reading it) and what comes out ([`Answer`]).

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tracing::Instrument;

use super::caller::Caller;
use super::traces::call_span;
use super::policy::Policy;
use super::wire::{ErrorBody, codes, refuse_arguments, to_wire};
use crate::context::Context;
use crate::errors::CallError;
use crate::panic::catching_async;
use crate::progress::Reporter;
use crate::items::{RawItems, Returned, WireItem};
use crate::registry::{RawArgs, ServerFunction, invoke_raw};

/// Where a streaming function's items go, each as the wire carries it, for the transport to
/// frame: a bounded channel, so a caller that reads slowly slows the function down.
pub(crate) type ItemSink = tokio::sync::mpsc::Sender<WireItem>;

/// How many items wait in a call's [`ItemSink`] for its transport at most.
pub(crate) const ITEM_BUFFER: usize = 16;

/// What a call may send its caller while it runs, besides its answer.
#[derive(Default)]
pub(crate) struct Outlets {
    /// For a caller that reads progress frames: where the function's reports go.
    pub(crate) progress: Option<Arc<Reporter>>,
    /// For a function that streams its items: where they go.
    pub(crate) items: Option<ItemSink>,
}

/// What a call's body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum BodyKind {
    /// The arguments, as JSON.
    #[default]
    Json,
    /// The one argument's bytes (`application/octet-stream`), for a function taking a bytes
    /// type.
    Bytes,
}

/// What a call answers, for the transport to frame.
#[derive(Debug)]
pub(crate) enum Answer {
    /// The function's value, as JSON.
    Value(Vec<u8>),
    /// The function's items, all sent (to the call's [`ItemSink`]): how many.
    End(u64),
    /// The function's value, of a bytes type: the bytes themselves.
    Bytes(Vec<u8>),
    /// An error object, with its status in the wire's table.
    Error(u16, ErrorBody),
    /// The transport stopped the call for its caller (a cancel): nobody waits for an answer.
    Dropped,
}

impl Answer {
    pub(crate) fn refusal(code: super::wire::Code, message: impl Into<String>) -> Self {
        Answer::Error(code.status, code.body(message))
    }

    fn failure(error: &CallError, policy: &Policy, function: &ServerFunction) -> Self {
        let (status, body) = to_wire(error, policy.show_panics, Some(function));
        Answer::Error(status, body)
    }
}

/// Why a transport stops a call before it finishes. (Only NATS sends these: HTTP stops a
/// call by dropping its handler.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "nats"), allow(dead_code))]
pub(crate) enum Interrupt {
    /// Its caller cancelled it: no answer is sent.
    Cancelled,
    /// The server's shutdown grace ran out: answered `shutting_down`.
    ShutDown,
}

/// Runs one call of `function` for `caller`, the same way on every transport.
///
/// `body` yields the request's bytes, or the transport's own refusal (a body that did not
/// arrive in time, a wrong content type), which is returned as it is; it is awaited only once
/// the caller is authorized, so an unauthorized request is never read. `interrupt` is polled only while the function is running (not for a
/// call that finishes in its first poll), and stops it when it resolves. `outlets` is where
/// the function's progress and items go while it runs.
pub(crate) async fn dispatch<B, E, I>(
    policy: &Policy,
    function: &'static ServerFunction,
    caller: &mut Caller<'_>,
    body: B,
    interrupt: I,
    outlets: Outlets,
    kind: BodyKind,
) -> Result<Answer, E>
where
    B: Future<Output = Result<bytes::Bytes, E>>,
    I: Future<Output = Interrupt>,
{
    if kind == BodyKind::Bytes && !function.takes_bytes() {
        let message = format!("`{}` takes no bytes: send its arguments as JSON", function.name());
        return Ok(Answer::refusal(codes::UNSUPPORTED_MEDIA_TYPE, message));
    }
    let context = match policy.authorize(caller, function) {
        Ok(context) => context,
        Err((code, message)) => return Ok(Answer::refusal(code, message)),
    };
    // The caller's deadline, sent as the time it still waits: the earlier one wins.
    let timeout = match caller.timeout() {
        Ok(None) => policy.timeout,
        Ok(Some(left)) if left.is_zero() => {
            let mut body = codes::TIMED_OUT.body("the caller's deadline had passed when the call arrived: not run");
            body.details = serde_json::json!({"after_ms": 0});
            return Ok(Answer::Error(codes::TIMED_OUT.status, body));
        }
        Ok(Some(left)) => left.min(policy.timeout),
        Err(invalid) => return Ok(Answer::refusal(codes::BAD_REQUEST, invalid.to_string())),
    };
    let body = body.await?;
    // The function can read its deadline (`Context::deadline`): set once the body is in, when
    // the timeout starts counting.
    let mut context = context.with_deadline(tokio::time::Instant::now() + timeout);
    if let Some(reporter) = outlets.progress {
        context = context.with_progress(reporter);
    }
    let (span, context) = call_span(function.name(), caller, context);
    let running = run(policy, function, (&body, kind), context, timeout, interrupt, outlets.items);
    Ok(match span {
        Some(span) => running.instrument(span).await,
        None => running.await,
    })
}

/// The rest of [`dispatch`], once the body is in: the call runs for `timeout` at most.
async fn run(
    policy: &Policy,
    function: &'static ServerFunction,
    (body, kind): (&[u8], BodyKind),
    context: Context,
    timeout: Duration,
    interrupt: impl Future<Output = Interrupt>,
    items: Option<ItemSink>,
) -> Answer {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut interrupt = pin!(interrupt);
    if let Some(refusal) = policy.refuse_size(body.len() as u64) {
        return Answer::Error(codes::PAYLOAD_TOO_LARGE.status, refusal);
    }
    // Only running calls count against the limit: taken once the body is in.
    let Some(_slot) = policy.slots.try_take() else {
        return Answer::refusal(codes::OVERLOADED, "the server is at its concurrency limit; try again");
    };
    // The arguments are read straight from the body, one raw slice per parameter: no `Value`
    // tree is built on the way to the function's own types.
    let parsed = match kind {
        BodyKind::Bytes => Ok(RawArgs::Bytes(body)),
        BodyKind::Json => RawArgs::parse(body),
    };
    let args = match parsed {
        Ok(args) => args,
        Err(refused) => {
            let (status, body) = refuse_arguments(function, refused, policy.show_panics);
            return Answer::Error(status, body);
        }
    };
    // The call runs inside the transport's own task: dropping that task (a client gone, a
    // shutdown out of grace) drops the call with it.
    let invocation = match invoke_raw(function, args, context) {
        Ok(invocation) => invocation,
        Err(failure) => return Answer::failure(&failure, policy, function),
    };
    let mut running = pin!(catching_async(invocation));
    // Most calls finish in their first poll: only one that does not gets a timer.
    let finished = match ready_now(running.as_mut()).await {
        Some(finished) => finished,
        None => match first_of(tokio::time::timeout_at(deadline, running), interrupt.as_mut()).await {
            Ok(Ok(finished)) => finished,
            Ok(Err(_elapsed)) => Ok(Err(CallError::TimedOut(timeout))),
            Err(Interrupt::Cancelled) => return Answer::Dropped,
            Err(Interrupt::ShutDown) => {
                return Answer::refusal(codes::SHUTTING_DOWN, "the server shut down before the call finished");
            }
        },
    };
    let value = match finished {
        Ok(Ok(value)) => value,
        Ok(Err(failure)) => return Answer::failure(&failure, policy, function),
        Err(panic) => return Answer::failure(&CallError::Panicked(panic.into()), policy, function),
    };
    let items = match (value, items) {
        (Returned::Value(value), _) => {
            return match serde_json::to_vec(&value) {
                Ok(bytes) => Answer::Value(bytes),
                Err(error) => Answer::failure(&CallError::invalid_result(function.name(), error.to_string()), policy, function),
            };
        }
        (Returned::Bytes(bytes), _) => return Answer::Bytes(bytes),
        (Returned::Items(items), Some(sink)) => (items, sink),
        (Returned::Items(_), None) => {
            let unread = CallError::invalid_result(function.name(), "it streams items, which this caller cannot read".to_owned());
            return Answer::failure(&unread, policy, function);
        }
    };
    // The items are made while they are sent: under the same deadline, slot and interrupt.
    let sending = catching_async(send_items(items.0.idle_limit(policy.stream_idle), items.1));
    let failure = match first_of(tokio::time::timeout_at(deadline, sending), interrupt).await {
        Ok(Ok(Ok(Ok(Ok(count))))) => return Answer::End(count),
        Ok(Ok(Ok(Ok(Err(Unread))))) => return Answer::Dropped,
        Ok(Ok(Ok(Err(failure)))) => failure,
        Ok(Ok(Err(panic))) => CallError::Panicked(panic.into()),
        Ok(Err(_elapsed)) => CallError::TimedOut(timeout),
        Err(Interrupt::Cancelled) => return Answer::Dropped,
        Err(Interrupt::ShutDown) => {
            return Answer::refusal(codes::SHUTTING_DOWN, "the server shut down before the call finished");
        }
    };
    Answer::failure(&failure, policy, function)
}

/// The transport stopped reading the items: its caller is gone.
struct Unread;

/// Reads `items` and sends each to `sink`, waiting while it is full; how many were sent.
async fn send_items(mut items: RawItems, sink: ItemSink) -> Result<Result<u64, Unread>, CallError> {
    let mut count = 0;
    while let Some(item) = items.next().await {
        if sink.send(item?).await.is_err() {
            return Ok(Err(Unread));
        }
        count += 1;
    }
    Ok(Ok(count))
}

/// The output of `future` if it is ready at its first poll; `None` (dropping it) if not.
pub(crate) async fn ready_now<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    poll_fn(|context| {
        Poll::Ready(match future.as_mut().poll(context) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        })
    })
    .await
}

/// The first of two futures to finish (`main` first when both are ready).
pub(crate) async fn first_of<A: Future, B: Future>(main: A, other: B) -> Result<A::Output, B::Output> {
    let (mut main, mut other) = (pin!(main), pin!(other));
    poll_fn(|context| {
        if let Poll::Ready(output) = main.as_mut().poll(context) {
            return Poll::Ready(Ok(output));
        }
        other.as_mut().poll(context).map(Err)
    })
    .await
}
