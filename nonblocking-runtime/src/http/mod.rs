//! Server functions over HTTP (feature `http`): [`Server`] serves the registry, [`Remote`] calls
//! it from another process, with the same [`AsyncCall`](crate::AsyncCall) handle as a local call.
//!
//! The wire format is plain JSON over HTTP/1.1: `POST <prefix>/<name>` with the arguments as the
//! body (an array is positional, an object is by keyword, an empty body or `null` means none,
//! any other value is the single argument: the rule of
//! [`call_async_by_name`](crate::call_async_by_name)), answered `200` with the result, or with an
//! error object `{"code": "...", "message": "...", "details": {...}}`:
//!
//! | status | code | meaning |
//! |---|---|---|
//! | 404 | `not_found` | no such function, not exposed by this server, or no route at that path |
//! | 405 | `method_not_allowed` | a method other than `POST` on a function, or than `GET` on the listing (with `Allow`) |
//! | 415 | `unsupported_media_type` | a call not sent as `Content-Type: application/json` (even one with no arguments) |
//! | 400 | `bad_request` | malformed JSON, or a body that could not be read |
//! | 422 | `invalid_arguments` | the arguments do not fit the parameters |
//! | 401 | `unauthorized` | the authorization hook wants credentials |
//! | 403 | `forbidden` | the authorization hook refused |
//! | 408 | `body_timeout` | the body did not arrive within the body deadline |
//! | 413 | `payload_too_large` | the body is over the server's limit (refused from `Content-Length` before it is read) |
//! | 504 | `timed_out` | the call ran past the server's per-call timeout |
//! | 504 | `stream_idle` | a streaming function sent no item within the server's idle limit |
//! | 500 | `failed` | the function returned an error: its message, and its JSON value in `details.value` when the error type is `Serialize` ([`RemoteFailure`](crate::errors::RemoteFailure) on the client) |
//! | 500 | `panicked` | the function panicked (its message only if the server shows panics) |
//! | 500 | `duplicate_name` | two functions share the name |
//! | 503 | `overloaded` | the concurrency limit or the connection cap is reached: refused, not queued, not executed |
//! | 503 | `shutting_down` | the server is shutting down |
//!
//! `GET <prefix>` lists the functions the caller may call: exposed, and allowed by the
//! authorization hook for the request's headers. [`ServerBuilder::listing`] turns it off.
//!
//! `GET <prefix>/nonblocking.js` serves the browser client (an ES module with the seed's API:
//! `callAsync`, `AsyncCall`, `repeat`, `defer`, `cancel`), and `GET <prefix>/nonblocking.d.ts`
//! its declarations; both are embedded in the binary. A `GET` of any other name under the
//! prefix is the JSON 405. Pages of other origins need [`Cors`].
//!
//! With the feature `schema`, the server also describes the functions the caller may call (the
//! listing's rules): `GET <prefix>/openapi.json` is an OpenAPI 3.1 document of them, `GET
//! <prefix>/api.d.ts` declares typed stubs for the browser client
//! ([`ApiSchema::typescript`](crate::schema::ApiSchema::typescript)), and `GET <prefix>/api.js`
//! is the module those declarations describe: `import { api } from "/rpc/api.js"; await
//! api.todo.add(item)`.

mod assets;
mod client;
mod connector;
mod cors;
mod framed;
mod handlers;
mod respond;
mod listen;
#[cfg(feature = "schema")]
mod openapi;
mod server;
mod state;
mod streamed;

pub use self::client::{Remote, RemoteBuilder};
pub use self::cors::{Cors, InvalidCors};
pub use self::server::{Server, ServerBuilder, serve};
// The policy every transport shares, where HTTP users first met it.
pub use crate::remote::{Authorize, Caller, Expose, Refusal};
