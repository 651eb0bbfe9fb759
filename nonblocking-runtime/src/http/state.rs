//! [`ServerState`]: what the request handlers, the asset routes and the listener share of a
//! built [`Server`](super::Server): the policy every transport applies, and HTTP's own limits.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::registry::{ServerFunction, registry};
use crate::remote::{Caller, Policy};

pub(super) struct ServerState {
    /// Prefix, exposure, authorization, timeout, concurrency and body limits, grace.
    pub(super) policy: Policy,
    pub(super) body_timeout: Duration,
    pub(super) drain: Drain,
    /// The prefix as a path (`/api/v1`; empty for none): the OpenAPI document's paths start
    /// with it.
    #[cfg_attr(not(feature = "schema"), allow(dead_code))]
    pub(super) prefix: String,
    /// `GET` of this path lists the functions (named in not-found messages).
    pub(super) listing_path: String,
    /// Whether the listing and the descriptions are served.
    pub(super) listing: bool,
    pub(super) shutting_down: AtomicBool,
    #[cfg(feature = "schema")]
    pub(super) api_info: super::openapi::ApiInfo,
}

impl ServerState {
    /// The functions a caller with these headers may call: exposed, and allowed by the
    /// authorize hook. What the listing, the OpenAPI document and the stubs show.
    pub(super) fn callable<'a>(&'a self, caller: &'a mut Caller<'a>) -> impl Iterator<Item = &'static ServerFunction> + 'a {
        registry().iter().filter(|function| self.policy.callable(caller, function))
    }
}

/// How much of a refused oversize body is read and thrown away before the connection closes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Drain {
    pub(super) bytes: u64,
    pub(super) within: Duration,
}
