//! The message headers the NATS transport reads and writes.

/// The caller's id for a call: secret between the caller and the worker, it is what a cancel
/// names. Only this crate's callers send it (with [`NOTIFY`]); a request without one cannot
/// be cancelled, and gets exactly one reply like any NATS request.
pub(crate) const CALL_ID: &str = "Nonblocking-Call-Id";
/// Where the caller takes the worker's accepted notice for this call.
pub(crate) const NOTIFY: &str = "Nonblocking-Notify";
/// On a worker's accepted notice: the subject that takes cancels for the call.
pub(crate) const ACCEPTED: &str = "Nonblocking-Accepted";
/// The services protocol's error code header: the wire table's status.
pub(crate) const SERVICE_ERROR_CODE: &str = "Nats-Service-Error-Code";
/// The services protocol's error message header.
pub(crate) const SERVICE_ERROR: &str = "Nats-Service-Error";
/// On a request: the caller reads progress frames, sent to its [`NOTIFY`] subject. On the
/// final reply of a call that sent frames: how many it sent (the end marker: the caller waits
/// for each, and knows when one was lost).
pub(crate) const FRAMES: &str = "Nonblocking-Frames";
/// On a frame: its number, from 1, so the caller sees a lost or reordered one.
pub(crate) const SEQ: &str = "Nonblocking-Seq";
