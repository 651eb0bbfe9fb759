//! What every transport shares (features `http`, `nats`): one settings type and its checks
//! (the policy: prefix, exposure, authorization hook, timeout, concurrency and body limits,
//! shutdown grace), one pipeline that runs a call under it, the one table of wire codes and
//! the error object, the transport-neutral view of a request ([`Caller`]), and [`Transport`],
//! through which the typed `call_remote_<name>` stubs call whichever transport they are given.
//!
//! Two transports here serve tests: [`InProcess`] runs this process's functions through the
//! same dispatch as a server (no socket), and [`Mock`] answers with closures and records calls.

mod caller;
pub(crate) mod dispatch;
pub(crate) mod failures;
pub(crate) mod frames;
mod channeled;
mod in_process;
mod intercept;
mod mock;
#[cfg(feature = "opentelemetry")]
mod otel;
mod policy;
mod prefix;
pub(crate) mod slots;
mod traces;
mod transport;
pub(crate) mod wire;

pub use self::caller::{Caller, HeaderText, InvalidTimeout, NotText, TIMEOUT_HEADER, Via};
pub use self::in_process::{InProcess, InProcessBuilder};
pub use self::intercept::{Intercept, InvalidHeader, OutgoingHeaders};
pub use self::mock::{Mock, MockCall};
pub use self::policy::{Authorize, Expose, InvalidPolicy, Refusal};
pub(crate) use self::policy::{Policy, Settings, policy_setters};
pub use self::prefix::InvalidPrefix;
pub use self::transport::{Body, Decode, Transport, Wire};
#[doc(hidden)]
pub use self::transport::{Progress as ReadProgress, call_typed};
pub(crate) use self::transport::sealed;
pub(crate) use self::traces::{outgoing as outgoing_trace, send as send_trace};
