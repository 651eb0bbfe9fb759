//! [`TraceContext`]: a call's place in a distributed trace, as W3C Trace Context carries it
//! between processes (`traceparent`, `tracestate`).
//!
//! A server reads it from the request and runs the call in a span that is the caller's child;
//! a Rust client sends the current one with each call it makes, so one trace id follows a call
//! from a page through every server and worker it reaches. Without the `opentelemetry`
//! feature the ids live here, in the call's [`Context`](super::Context) and in the fields of the
//! server's `nonblocking.call` span; with it, they are the OpenTelemetry spans' own.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// The header that carries the trace id, the parent span's id and the sampling flag.
pub const TRACEPARENT: &str = "traceparent";
/// The header that carries vendors' trace state, passed on unchanged.
pub const TRACESTATE: &str = "tracestate";

/// Where a call stands in a distributed trace: the trace's id, the id of the span this
/// process runs it in, whether the trace is sampled, and the vendors' `tracestate`.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::context::TraceContext;
///
/// let parent = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None).unwrap();
/// assert_eq!(parent.trace_id(), 0x4bf92f3577b34da6a3ce929d0e0e4736);
/// assert!(parent.sampled());
///
/// // The span this process runs the call in: the same trace, a span id of its own.
/// let child = parent.child();
/// assert_eq!(child.trace_id(), parent.trace_id());
/// assert_ne!(child.span_id(), parent.span_id());
/// assert!(child.traceparent().starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: u128,
    span_id: u64,
    flags: u8,
    state: Option<String>,
}

impl TraceContext {
    /// Reads a `traceparent` header (and a `tracestate`, kept as it is) by the W3C rules:
    /// version `00` exactly as specified, a later version by its first four fields; `None` for
    /// anything malformed or with an all-zero id, which a receiver must ignore.
    pub fn parse(traceparent: &str, tracestate: Option<&str>) -> Option<Self> {
        let value = traceparent.trim();
        let version = value.get(0..2)?;
        if !is_lower_hex(version) || version == "ff" {
            return None;
        }
        // Version 00 is exactly 55 characters; a later version may append fields after a `-`.
        if value.len() < 55 || (version == "00" && value.len() != 55) || (value.len() > 55 && &value[55..56] != "-") {
            return None;
        }
        let bytes = value.as_bytes();
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        let (trace, span, flags) = (&value[3..35], &value[36..52], &value[53..55]);
        if !(is_lower_hex(trace) && is_lower_hex(span) && is_lower_hex(flags)) {
            return None;
        }
        let trace_id = u128::from_str_radix(trace, 16).ok()?;
        let span_id = u64::from_str_radix(span, 16).ok()?;
        if trace_id == 0 || span_id == 0 {
            return None;
        }
        let state = tracestate.map(str::trim).filter(|state| !state.is_empty()).map(str::to_owned);
        Some(TraceContext { trace_id, span_id, flags: u8::from_str_radix(flags, 16).ok()?, state })
    }

    #[cfg_attr(not(all(feature = "opentelemetry", any(feature = "http", feature = "nats"))), allow(dead_code))]
    pub(crate) fn from_parts(trace_id: u128, span_id: u64, flags: u8, state: Option<String>) -> Self {
        TraceContext { trace_id, span_id, flags, state }
    }

    /// A new trace, sampled, with a fresh span id.
    pub fn new_root() -> Self {
        let trace_id = loop {
            let id = (u128::from(random_u64()) << 64) | u128::from(random_u64());
            if id != 0 {
                break id;
            }
        };
        TraceContext { trace_id, span_id: random_span_id(), flags: 1, state: None }
    }

    /// The span of a call made under this one: the same trace and state, a new span id.
    pub fn child(&self) -> Self {
        TraceContext { span_id: random_span_id(), ..self.clone() }
    }

    /// The same trace with `span_id` as the current span (an OpenTelemetry span's own id).
    pub fn with_span_id(&self, span_id: u64) -> Self {
        TraceContext { span_id, ..self.clone() }
    }

    /// The trace's id.
    pub fn trace_id(&self) -> u128 {
        self.trace_id
    }

    /// The id of the span the call runs in (the parent of the calls it makes).
    pub fn span_id(&self) -> u64 {
        self.span_id
    }

    /// Whether the trace is sampled (the caller records it).
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The flags byte as sent.
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// The vendors' `tracestate`, as received.
    pub fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }

    /// The `traceparent` header naming this span as the parent (version `00`).
    pub fn traceparent(&self) -> String {
        format!("00-{:032x}-{:016x}-{:02x}", self.trace_id, self.span_id, self.flags)
    }

    /// The trace id as 32 lowercase hex digits, as logs and trace viewers show it.
    pub fn trace_id_hex(&self) -> String {
        format!("{:032x}", self.trace_id)
    }
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceContext")
            .field("traceparent", &self.traceparent())
            .field("tracestate", &self.state)
            .finish()
    }
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn random_span_id() -> u64 {
    loop {
        let id = random_u64();
        if id != 0 {
            return id;
        }
    }
}

/// Ids need to be unique, not secret: SipHash of a counter under a per-process random key
/// (std's `RandomState`), no dependency and ~20 ns.
fn random_u64() -> u64 {
    static KEYS: std::sync::OnceLock<std::collections::hash_map::RandomState> = std::sync::OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    KEYS.get_or_init(Default::default).hash_one(COUNTER.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::TraceContext;

    const EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_w3c_example_round_trips() {
        let parsed = TraceContext::parse(EXAMPLE, Some("congo=t61rcWkgMzE")).unwrap();
        assert_eq!(parsed.traceparent(), EXAMPLE);
        assert_eq!(parsed.span_id(), 0x00f067aa0ba902b7);
        assert_eq!(parsed.state(), Some("congo=t61rcWkgMzE"));
        assert!(parsed.sampled());
        let unsampled = TraceContext::parse(&EXAMPLE.replace("-01", "-00"), None).unwrap();
        assert!(!unsampled.sampled());
    }

    #[test]
    fn malformed_values_are_ignored() {
        for bad in [
            "",
            "00",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        ] {
            assert!(TraceContext::parse(bad, None).is_none(), "{bad:?}");
        }
        // A later version: its first four fields are read, the rest skipped.
        let future = TraceContext::parse(&format!("{}-whatever", EXAMPLE.replacen("00", "01", 1)), None);
        assert!(future.is_some());
    }

    #[test]
    fn children_and_roots_get_fresh_non_zero_ids() {
        let root = TraceContext::new_root();
        let mut ids = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let child = root.child();
            assert_eq!(child.trace_id(), root.trace_id());
            assert!(child.span_id() != 0 && ids.insert(child.span_id()));
        }
        assert_ne!(TraceContext::new_root().trace_id(), root.trace_id());
    }
}
