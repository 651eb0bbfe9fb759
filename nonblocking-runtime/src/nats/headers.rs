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
/// On an item of a stream: its number, from 1 (a missing number is a lost item: the caller's
/// call fails). On the final reply of a stream: how many items went before it.
pub(crate) const ITEM: &str = "Nonblocking-Item";
/// On the final reply of a call that streamed: how many items it sent.
pub(crate) const ITEMS: &str = "Nonblocking-Items";
/// On the first item of a stream: where its caller says how far it has read.
pub(crate) const CREDIT: &str = "Nonblocking-Credit";
/// On a caller's message to a stream's [`CREDIT`] subject: how many items it has read.
pub(crate) const READ: &str = "Nonblocking-Read";
/// On a request or a reply: the payload is raw bytes ([`BYTES`]), the one argument or the value
/// of a bytes type, not JSON.
pub(crate) const BODY: &str = "Nonblocking-Body";
/// The value of [`BODY`] for raw bytes.
pub(crate) const BYTES: &str = "bytes";
