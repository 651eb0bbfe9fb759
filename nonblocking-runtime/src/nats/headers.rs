//! The message headers the NATS transport reads and writes.

/// The caller's id for a call: what a cancel message names.
pub(crate) const CALL_ID: &str = "Nonblocking-Call-Id";
/// The services protocol's error code header: the wire table's status.
pub(crate) const SERVICE_ERROR_CODE: &str = "Nats-Service-Error-Code";
/// The services protocol's error message header.
pub(crate) const SERVICE_ERROR: &str = "Nats-Service-Error";
