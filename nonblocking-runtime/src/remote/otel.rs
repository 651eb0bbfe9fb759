//! OpenTelemetry (feature `opentelemetry`): the W3C trace context a call carries, turned into
//! the parent of the served call's span, and read back from the current span for the calls a
//! client makes. Spans become OpenTelemetry spans through `tracing-opentelemetry`'s layer, which
//! the application installs with its own exporter.

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::context::TraceContext;

/// Makes the remote caller's span the parent of `span`.
pub(crate) fn set_parent(span: &Span, parent: &TraceContext) {
    // A `tracestate` that OpenTelemetry cannot read is dropped, as the W3C rules allow.
    let state = parent.state().and_then(|state| state.parse::<TraceState>().ok()).unwrap_or_default();
    let remote = SpanContext::new(
        TraceId::from_bytes(parent.trace_id().to_be_bytes()),
        SpanId::from_bytes(parent.span_id().to_be_bytes()),
        TraceFlags::new(parent.flags()),
        true,
        state,
    );
    // Without the OpenTelemetry layer installed there is nothing to set: not an error here.
    let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
}

/// The current span's OpenTelemetry context, when it has a valid one.
pub(crate) fn current() -> Option<TraceContext> {
    let context = Span::current().context();
    let span = context.span();
    let current = span.span_context();
    if !current.is_valid() {
        return None;
    }
    let state = current.trace_state().header();
    Some(TraceContext::from_parts(
        u128::from_be_bytes(current.trace_id().to_bytes()),
        u64::from_be_bytes(current.span_id().to_bytes()),
        current.trace_flags().to_u8(),
        (!state.is_empty()).then_some(state),
    ))
}
