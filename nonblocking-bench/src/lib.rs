//! Shared pieces of the benchmarks: the runtime they run on, the server functions they call,
//! and the one way every timed loop runs (inside a spawned task, like its baseline).

use std::future::Future;
use std::time::Duration;

pub mod frames;

use nonblocking_runtime::server_function;
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;

/// A multi-thread runtime with two workers, the shape of the machine.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("a runtime")
}

/// [`runtime`] with the I/O driver too, for the benchmarks that serve and call over sockets.
pub fn net_runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Serves this process's registry under `/rpc` on a free loopback port, in a task of the
/// current runtime; the address.
pub async fn serve_ours() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("bound");
    let server = nonblocking_runtime::http::Server::builder()
        .prefix("/rpc")
        .build()
        .expect("a valid prefix");
    tokio::spawn(server.serve(listener, std::future::pending()));
    address
}

/// Serves `router` (a hand-written baseline endpoint) on a free loopback port, in a task of the
/// current runtime; the address.
pub async fn serve_bare(router: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = listener.local_addr().expect("bound");
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

/// A benchmark binary's arguments, each a number; `defaults` for those not given.
pub fn numeric_args<const N: usize>(defaults: [u64; N]) -> [u64; N] {
    let mut values = defaults;
    for (value, arg) in values.iter_mut().zip(std::env::args().skip(1)) {
        *value = arg.parse().expect("a number");
    }
    values
}

/// Runs a timed loop inside one spawned task and returns what it measured. Driving every
/// iteration with `block_on` would cost ~18 µs each on this machine and flatten every ratio.
pub fn in_task<F, Fut>(runtime: &Runtime, timed: F) -> Duration
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Duration> + Send + 'static,
{
    let task = timed();
    runtime.block_on(async move { tokio::spawn(task).await.expect("the timed task") })
}

/// The trivial async server function of the call rows.
#[server_function]
pub async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// The same work as a plain `fn`, the form a user writes first: a sync function, which runs on
/// the blocking pool (a thread hop per call).
#[server_function]
pub fn add_sync(a: i64, b: i64) -> i64 {
    a + b
}

/// The same work as a sync function its author marked `inline`: it runs on the async worker,
/// the author's promise that it never blocks.
#[server_function(inline)]
pub fn add_inline(a: i64, b: i64) -> i64 {
    a + b
}

/// The signed-in user, as the bench server's authorize hook attaches it.
#[derive(Clone)]
pub struct User(pub String);

/// `add` that reads the caller's user from its context (the cost of the context, per call).
#[server_function]
pub async fn add_for(#[context] user: User, a: i64, b: i64) -> i64 {
    a + b + i64::from(user.0.is_empty())
}

/// The bench servers' authorize hook: the `x-user` header becomes the call's `User`.
pub fn sign_in(
    caller: &mut nonblocking_runtime::remote::Caller<'_>,
    _: &nonblocking_runtime::registry::ServerFunction,
) -> Result<(), nonblocking_runtime::remote::Refusal> {
    if let Some(name) = caller.get("x-user").and_then(|name| name.to_str().ok()) {
        caller.attach(User(name.to_owned()));
    }
    Ok(())
}

/// The HTTP rows' baseline: a bare axum JSON handler doing `add` from the same keyword body
/// (`POST /rpc/add` with `{"a":40,"b":2}`), with no limits of any kind.
pub fn bare_router() -> axum::Router {
    #[derive(Deserialize)]
    struct Add {
        a: i64,
        b: i64,
    }

    async fn bare_add(axum::Json(Add { a, b }): axum::Json<Add>) -> axum::Json<i64> {
        axum::Json(a + b)
    }

    axum::Router::new().route("/rpc/add", axum::routing::post(bare_add))
}

/// A five-field argument, for the by-name row with a struct.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Order id.
    pub id: u64,
    /// Customer name.
    pub customer: String,
    /// Quantity.
    pub quantity: u32,
    /// Unit price in cents.
    pub unit_cents: i64,
    /// Express shipping.
    pub express: bool,
}

impl Order {
    /// A typical order.
    pub fn sample() -> Order {
        Order {
            id: 42,
            customer: "Ada Lovelace".into(),
            quantity: 3,
            unit_cents: 1_250,
            express: true,
        }
    }
}

/// The async server function that takes the five-field struct.
#[server_function]
pub async fn total(order: Order) -> i64 {
    i64::from(order.quantity) * order.unit_cents + if order.express { 500 } else { 0 }
}

/// The floor of a call by name of `add(1, 2)`: what any call by name must do at the least,
/// without calling anything: find the function, and serde of the same values (the arguments
/// to JSON and back, the result to JSON and back).
pub fn by_name_floor_tuple(name: &str, (a, b): (i64, i64)) -> i64 {
    let function = nonblocking_runtime::registry().get(name);
    let serde_json::Value::Array(args) = serde_json::to_value((a, b)).expect("JSON") else {
        unreachable!("a tuple is an array")
    };
    let mut args = args.into_iter();
    let mut next = || serde_json::from_value::<i64>(args.next().expect("two")).expect("an i64");
    let (a, b) = (next(), next());
    let result = serde_json::to_value(a + b).expect("JSON");
    std::hint::black_box(function.is_ok());
    serde_json::from_value(result).expect("an i64")
}

/// The floor of a call by name of `total(order)`, as [`by_name_floor_tuple`].
pub fn by_name_floor_struct(name: &str, order: &Order) -> i64 {
    let function = nonblocking_runtime::registry().get(name);
    let serde_json::Value::Array(args) = serde_json::to_value((order,)).expect("JSON") else {
        unreachable!("a tuple is an array")
    };
    let order: Order =
        serde_json::from_value(args.into_iter().next().expect("one")).expect("an order");
    let result = serde_json::to_value(i64::from(order.quantity)).expect("JSON");
    std::hint::black_box(function.is_ok());
    serde_json::from_value(result).expect("an i64")
}
