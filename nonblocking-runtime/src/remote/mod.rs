//! What every transport shares (features `http`, `nats`): the one table of wire codes and the
//! error object, the exposure list and the authorization hook with its transport-neutral view
//! of a request ([`Caller`]), the concurrency limit, and [`Transport`], through which the typed
//! `call_remote_<name>` stubs call whichever transport they are given.

mod policy;
mod prefix;
pub(crate) mod slots;
mod transport;
pub(crate) mod wire;

pub use self::prefix::InvalidPrefix;

/// The largest body (HTTP) or payload (NATS) a server takes by default, the same for every
/// transport: larger ones are refused with `413 payload_too_large` before anything is decoded.
pub(crate) const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
pub(crate) use self::prefix::segments as prefix_segments;
pub use self::policy::{Authorize, Caller, Expose, HeaderText, NotText, Refusal, Via};
pub use self::transport::{Decode, Transport};
#[doc(hidden)]
pub use self::transport::call_typed;
pub(crate) use self::transport::sealed;
