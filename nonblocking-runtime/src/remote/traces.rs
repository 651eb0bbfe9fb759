//! Traces across transports: the span a served call runs in (the caller's child, by the
//! `traceparent` it sent) and the trace headers a Rust client sends with each call.

use tracing::Span;

use super::caller::Caller;
use super::intercept::OutgoingHeaders;
use crate::context::{Context, TRACEPARENT, TRACESTATE, TraceContext};

/// The span a served call of `function` runs in (none when no `tracing` subscriber was ever
/// set: nothing could record it), and `context` with the call's place in the trace: a child of
/// the caller's span when it sent a valid `traceparent`.
pub(crate) fn call_span(function: &str, caller: &Caller<'_>, context: Context) -> (Option<Span>, Context) {
    let parent = caller.trace();
    let own = parent.as_ref().map(TraceContext::child);
    let context = match &own {
        Some(own) => context.with_trace(own.clone()),
        None => context,
    };
    if !tracing::dispatcher::has_been_set() {
        return (None, context);
    }
    let span = tracing::info_span!(
        "nonblocking.call",
        function,
        via = ?caller.via(),
        trace_id = tracing::field::Empty,
        span_id = tracing::field::Empty,
        parent_span_id = tracing::field::Empty,
    );
    if let (Some(parent), Some(own)) = (&parent, &own) {
        #[cfg(feature = "opentelemetry")]
        super::otel::set_parent(&span, parent);
        if !span.is_disabled() {
            span.record("trace_id", own.trace_id_hex());
            span.record("span_id", format!("{:016x}", own.span_id()));
            span.record("parent_span_id", format!("{:016x}", parent.span_id()));
        }
    }
    (Some(span), context)
}

/// The trace a call made now continues: the current OpenTelemetry span's (feature
/// `opentelemetry`), else the current [`Context`]'s.
pub(crate) fn outgoing() -> Option<TraceContext> {
    #[cfg(feature = "opentelemetry")]
    if let Some(trace) = super::otel::current() {
        return Some(trace);
    }
    Context::current().trace().cloned()
}

/// Sets the trace headers of a call made now (an interceptor may still change them).
pub(crate) fn send(trace: Option<&TraceContext>, headers: &mut OutgoingHeaders<'_>) {
    let Some(trace) = trace else { return };
    // Both values are visible ASCII (ours, or a `tracestate` received as header text).
    let _ = headers.insert(TRACEPARENT, &trace.traceparent());
    if let Some(state) = trace.state() {
        let _ = headers.insert(TRACESTATE, state);
    }
}
