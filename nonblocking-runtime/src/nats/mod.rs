//! Server functions over NATS (feature `nats`): many [`Worker`]s serve the registry, callers
//! ([`Remote`]) need no addresses, and the NATS servers spread the calls.
//!
//! The names follow the HTTP transport's (`http::Remote` and `nats::Remote`, each with its
//! `RemoteBuilder`), except where the roles differ: an HTTP [`Server`](crate::http::Server)
//! listens on an address and callers connect to it, while a `Worker` listens on nothing and
//! takes its share of calls from a queue group, beside any number of others.
//!
//! A worker serves each exposed function as one endpoint of a NATS *service* (the protocol
//! `nats micro` reads), on the subject `<prefix>.<name>`, in one queue group: start three
//! workers and each takes about a third of the calls; stop one (deploys, crashes) and the
//! others take its share. `$SRV.PING`, `$SRV.INFO` and `$SRV.STATS` describe what runs: every
//! endpoint's metadata names its function, parameters, return type and `require` value, and
//! its stats count the requests it answered, the errors among them, their processing time and
//! the last error.
//!
//! The wire is the HTTP transport's: the same arguments rule, the same JSON, the same
//! [exposure](WorkerBuilder::expose) and [authorization hook](WorkerBuilder::authorize) (which
//! sees the message's headers), the same per-call timeout and concurrency limit. An error reply
//! carries the `Nats-Service-Error-Code` header (the status of the [wire
//! table](crate::http#the-wire)) and `Nats-Service-Error` (the message), and the error object as
//! its body. On top of HTTP's errors a caller may get [`CallError::NoResponders`] (no worker
//! serves the subject).
//!
//! The typed stubs `call_remote_<name>(&remote, ..)` take a [`Remote`] as they take an HTTP
//! [`Remote`](crate::http::Remote).
//!
//! [`CallError::NoResponders`]: crate::CallError::NoResponders

mod cancels;
mod client;
mod connect;
mod headers;
mod notices;
mod progress;
mod serve;
mod stream_in;
mod stream_out;
mod service;
mod subjects;
mod worker;

pub use async_nats;

pub use self::client::{Remote, RemoteBuilder};
pub use self::connect::Connect;
pub use self::subjects::InvalidNames;
pub use self::worker::{Worker, WorkerBuilder, WorkerError};
