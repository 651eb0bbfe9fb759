//! [`Worker`]: serves the registry as a NATS service, one endpoint per exposed function, all in
//! one queue group, so that every worker started with the same prefix shares the calls.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::service::ServiceExt;
use futures_util::StreamExt;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

use super::cancels::Cancels;
use super::connect::Connect;
use super::serve::{Served, answer_overloaded, answer_too_large, handle};
use super::subjects::{InvalidNames, Route, cancel_subject, routes};
use crate::errors::CallError;
use crate::registry::{ServerFunction, registry};
use crate::remote::slots::Slots;
use crate::remote::{Authorize, Caller, Expose, InvalidPrefix, Refusal};

/// Serves the registry over NATS: start any number of workers with the same prefix (on any
/// machines) and callers' requests are spread across them by the NATS servers.
///
/// Each exposed function is one endpoint of a NATS service (the *services* protocol that
/// `nats micro` reads: `$SRV.PING`, `$SRV.INFO`, `$SRV.STATS`), on the subject
/// `<prefix>.<name>`, in one queue group. Arguments, results and errors are the HTTP transport's
/// JSON; an error reply also carries the `Nats-Service-Error-Code` (the wire table's status) and
/// `Nats-Service-Error` headers.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use nonblocking_runtime::nats::{Connect, Worker};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), nonblocking_runtime::nats::WorkerError> {
/// let worker = Worker::builder()
///     .prefix("rpc")
///     .service("inventory", "1.4.0")
///     .timeout(Duration::from_secs(10))
///     .concurrency_limit(64)
///     .start(&Connect::new(["nats://127.0.0.1:4222"]))
///     .await?;
/// tokio::time::sleep(Duration::from_secs(3600)).await; // or until a shutdown signal
/// worker.stop().await // stops taking calls, finishes the accepted ones, leaves
/// # }
/// ```
#[derive(Debug)]
pub struct Worker {
    id: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), WorkerError>>,
}

/// Why a worker could not start, or did not stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// Some functions cannot be served over NATS; each reason is listed.
    #[error(transparent)]
    InvalidNames(#[from] InvalidNames),
    /// The prefix breaks the rule every transport shares.
    #[error(transparent)]
    InvalidPrefix(#[from] InvalidPrefix),
    /// The builder's settings are not usable (the service's name or version).
    #[error("invalid worker settings: {0}")]
    InvalidSettings(String),
    /// The NATS servers could not be reached.
    #[error(transparent)]
    Connect(CallError),
    /// NATS refused something the worker needs (a subscription, the service).
    #[error("NATS: {0}")]
    Nats(String),
}

/// Builds a [`Worker`]; every setting has a default.
#[must_use = "a builder does nothing until `start()` or `serve()`"]
pub struct WorkerBuilder {
    prefix: String,
    expose: Expose,
    authorize: Option<Authorize>,
    timeout: Duration,
    concurrency_limit: usize,
    body_limit: usize,
    show_panics: bool,
    name: String,
    version: String,
    description: String,
    queue_group: String,
    shutdown_grace: Duration,
}

impl fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("prefix", &self.prefix)
            .field("expose", &self.expose)
            .field("timeout", &self.timeout)
            .field("concurrency_limit", &self.concurrency_limit)
            .field("body_limit", &self.body_limit)
            .field("service", &(&self.name, &self.version))
            .field("queue_group", &self.queue_group)
            .finish_non_exhaustive()
    }
}

impl Default for WorkerBuilder {
    fn default() -> Self {
        WorkerBuilder {
            prefix: "rpc".into(),
            expose: Expose::All,
            authorize: None,
            timeout: Duration::from_secs(30),
            concurrency_limit: 1024,
            body_limit: crate::remote::DEFAULT_BODY_LIMIT,
            show_panics: false,
            name: "nonblocking".into(),
            version: "0.1.0".into(),
            description: "server functions of nonblocking".into(),
            queue_group: "nonblocking".into(),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl WorkerBuilder {
    /// The subject prefix: function `name` is served on `<prefix>.<name>`. One or more
    /// dot-separated tokens of `[A-Za-z0-9_-]`. Default `rpc`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Serves every registered function (the default).
    pub fn expose_all(mut self) -> Self {
        self.expose = Expose::All;
        self
    }

    /// Serves only these names (each must be registered).
    pub fn expose<I>(mut self, names: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.expose = Expose::Only(names.into_iter().map(Into::into).collect());
        self
    }

    /// The authorization hook, the same one an HTTP [`Server`](crate::http::Server) takes: it
    /// sees the message's headers through [`Caller`] (whose [`via`](Caller::via) is `Nats`).
    pub fn authorize(
        mut self,
        hook: impl Fn(&Caller<'_>, &ServerFunction) -> Result<(), Refusal> + Send + Sync + 'static,
    ) -> Self {
        self.authorize = Some(Arc::new(hook));
        self
    }

    /// How long one call may run before it is stopped with `timed_out`. Default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many calls this worker runs at once; one more is refused with `overloaded` (not
    /// executed), which callers retry, so an idle worker of the group takes it. Default 1,024.
    pub fn concurrency_limit(mut self, calls: usize) -> Self {
        self.concurrency_limit = calls.max(1);
        self
    }

    /// The largest payload a call may carry; a larger one is refused with `413
    /// payload_too_large`, not executed, whatever the NATS server's own `max_payload` lets
    /// through. Default 1 MiB, the HTTP server's default body limit.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Sends a panic's message to the caller (off by default: it may reveal internals).
    pub fn show_panics(mut self, show: bool) -> Self {
        self.show_panics = show;
        self
    }

    /// The service's name (`[A-Za-z0-9_-]`) and version (semver), as `$SRV` reports them.
    /// Default `nonblocking`, `0.1.0`.
    pub fn service(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.name = name.into();
        self.version = version.into();
        self
    }

    /// The service's description in `$SRV.INFO`.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// The queue group the endpoints join: workers in one group share the calls. Default
    /// `nonblocking`.
    pub fn queue_group(mut self, group: impl Into<String>) -> Self {
        self.queue_group = group.into();
        self
    }

    /// On [`Worker::stop`], how long accepted calls may take to finish; calls still running
    /// then are stopped and answered `shutting_down`. Default 10 s.
    ///
    /// `stop()` returns within the grace plus one second (for those answers and the last
    /// flush) in every state of the connection: with NATS unreachable, the drain and the flush
    /// that cannot complete are given up at that deadline, and `stop()` says so in its error.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Connects and starts serving; returns once every endpoint is subscribed on the server.
    pub async fn start(mut self, connect: &Connect) -> Result<Worker, WorkerError> {
        let segments = crate::remote::prefix_segments(&self.prefix)?;
        if segments.is_empty() {
            return Err(WorkerError::InvalidPrefix(InvalidPrefix {
                given: self.prefix.clone(),
                reason: "a NATS worker needs at least one segment to serve its subjects under".into(),
            }));
        }
        self.prefix = segments.join(".");
        if !self.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-')) || self.name.is_empty() {
            return Err(WorkerError::InvalidSettings(format!(
                "the service name {:?} may hold only [A-Za-z0-9_-]",
                self.name
            )));
        }
        let routes = self.routes()?;
        let serving = connect.open(&format!("{} worker", self.name)).await.map_err(WorkerError::Connect)?;
        let replying = connect.open(&format!("{} worker replies", self.name)).await.map_err(WorkerError::Connect)?;
        let nats = |error: async_nats::Error| WorkerError::Nats(error.to_string());

        let executed: Arc<HashMap<String, Arc<AtomicU64>>> =
            Arc::new(routes.iter().map(|route| (route.endpoint.clone(), Arc::new(AtomicU64::new(0)))).collect());
        let stats = {
            let executed = Arc::clone(&executed);
            move |endpoint: String, _| {
                let calls = executed.get(&endpoint).map_or(0, |count| count.load(Ordering::Relaxed));
                serde_json::json!({ "executed": calls })
            }
        };
        let service = serving
            .service_builder()
            .description(&self.description)
            .metadata(HashMap::from([("prefix".to_owned(), self.prefix.clone())]))
            .queue_group(&self.queue_group)
            .stats_handler(stats)
            .start(&self.name, &self.version)
            .await
            .map_err(|error| WorkerError::InvalidSettings(error.to_string()))?;
        let id = service.info().await.id;

        let served = Arc::new(Served {
            reply: replying.clone(),
            authorize: self.authorize,
            timeout: self.timeout,
            show_panics: self.show_panics,
            body_limit: self.body_limit,
            slots: Arc::new(Slots::new(self.concurrency_limit)),
            cancels: Cancels::default(),
            stop_now: Notify::new(),
        });
        let tracker = TaskTracker::new();
        let mut loops = Vec::new();
        for route in routes {
            let endpoint = service
                .endpoint_builder()
                .name(&route.endpoint)
                .metadata(metadata(&route))
                .add(&route.subject)
                .await
                .map_err(nats)?;
            let served = Arc::clone(&served);
            let tracker = tracker.clone();
            let counter = Arc::clone(&executed[&route.endpoint]);
            loops.push(tokio::spawn(serve_endpoint(endpoint, route, served, tracker, counter)));
        }
        let mut cancels = replying.subscribe(cancel_subject(&self.prefix)).await.map_err(|error| nats(error.into()))?;
        let listener = {
            let served = Arc::clone(&served);
            tokio::spawn(async move {
                while let Some(message) = cancels.next().await {
                    if let Ok(id) = std::str::from_utf8(&message.payload) {
                        served.cancels.cancel(id);
                    }
                }
            })
        };
        // Every subscription is on the server before `start` returns.
        serving.flush().await.map_err(|error| nats(error.into()))?;
        replying.flush().await.map_err(|error| nats(error.into()))?;

        let (stop, stopped) = oneshot::channel();
        let grace = self.shutdown_grace;
        let task = tokio::spawn(async move {
            // A dropped `Worker` (no `stop()`) leaves the same way.
            let _ = stopped.await;
            // Every step below is bounded by one deadline, whatever state the connection is
            // in: with NATS unreachable a drain or a flush never completes, and a worker that
            // cannot leave cannot be rolled during an outage.
            let deadline = tokio::time::Instant::now() + grace;
            // Draining unsubscribes every endpoint (and `$SRV`), then takes in what the server
            // sent before it saw that: no accepted request is lost.
            let drained = tokio::time::timeout_at(deadline, serving.drain()).await.is_ok();
            let aborts: Vec<_> = loops.iter().map(JoinHandle::abort_handle).collect();
            if !drained || tokio::time::timeout_at(deadline, futures_util::future::join_all(loops)).await.is_err() {
                // Still waiting for requests that cannot come: stop taking them.
                aborts.iter().for_each(tokio::task::AbortHandle::abort);
            }
            drop(service);
            tracker.close();
            // After the grace, one more moment for the calls stopped now to answer
            // `shutting_down` and for the last replies to reach NATS.
            let last = deadline + ANSWER_STOPPED;
            if tokio::time::timeout_at(deadline, tracker.wait()).await.is_err() {
                served.stop_now.notify_waiters();
                let _ = tokio::time::timeout_at(last, tracker.wait()).await;
            }
            listener.abort();
            let flushed = tokio::time::timeout_at(last, replying.flush()).await;
            match flushed {
                Ok(result) => result.map_err(|error| WorkerError::Nats(error.to_string())),
                Err(_) => Err(WorkerError::Nats("the last replies could not be sent before the shutdown grace ended: NATS did not take them".into())),
            }
        });
        Ok(Worker { id, stop: Some(stop), task })
    }

    /// [`start`](Self::start), then serves until `shutdown` resolves and [`stop`](Worker::stop)s.
    pub async fn serve(self, connect: &Connect, shutdown: impl Future<Output = ()>) -> Result<(), WorkerError> {
        let worker = self.start(connect).await?;
        shutdown.await;
        worker.stop().await
    }

    /// The exposed functions' routes, or why some cannot be served.
    fn routes(&self) -> Result<Vec<Route>, WorkerError> {
        let registry = registry();
        let mut problems = Vec::new();
        if let Expose::Only(names) = &self.expose {
            let mut missing: Vec<&String> = names.iter().filter(|name| registry.get(name).is_err()).collect();
            missing.sort();
            problems.extend(missing.into_iter().map(|name| format!("`{name}` is exposed but not registered (or defined twice)")));
        }
        let exposed = registry.iter().filter(|function| self.expose.allows(function.name()));
        match routes(&self.prefix, exposed) {
            Ok(routes) if problems.is_empty() => Ok(routes),
            Ok(_) => Err(InvalidNames(problems).into()),
            Err(InvalidNames(more)) => {
                problems.extend(more);
                Err(InvalidNames(problems).into())
            }
        }
    }
}

/// An endpoint's `$SRV.INFO` metadata: what the function is and takes.
fn metadata(route: &Route) -> HashMap<String, String> {
    let function = route.function;
    let params: Vec<serde_json::Value> =
        function.params().iter().map(|param| serde_json::json!({"name": param.name, "type": param.ty})).collect();
    HashMap::from([
        ("function".to_owned(), function.name().to_owned()),
        ("params".to_owned(), serde_json::Value::from(params).to_string()),
        ("returns".to_owned(), function.returns().to_owned()),
        ("require".to_owned(), function.require().unwrap_or_default().to_owned()),
    ])
}

/// How long a stopping worker gives the calls it stopped at the end of its grace to answer
/// `shutting_down`, and its last replies to reach NATS.
const ANSWER_STOPPED: Duration = Duration::from_secs(1);

/// Takes one endpoint's requests until it is drained: a slot or an `overloaded` refusal, then a
/// task per call.
async fn serve_endpoint(
    mut endpoint: async_nats::service::endpoint::Endpoint,
    route: Route,
    served: Arc<Served>,
    tracker: TaskTracker,
    executed: Arc<AtomicU64>,
) {
    while let Some(request) = endpoint.next().await {
        let message = request.message;
        let Some(reply) = message.reply.clone() else {
            // Published without a reply subject: nobody waits for an answer.
            continue;
        };
        if message.payload.len() > served.body_limit {
            tracker.spawn(answer_too_large(Arc::clone(&served), reply));
            continue;
        }
        let Some(slot) = served.slots.try_take_owned() else {
            tracker.spawn(answer_overloaded(Arc::clone(&served), reply));
            continue;
        };
        let executed = Arc::clone(&executed);
        // Counted once the function starts: refusals (arguments, authorization) are not runs.
        let count = move || {
            executed.fetch_add(1, Ordering::Relaxed);
        };
        tracker.spawn(handle(Arc::clone(&served), route.function, message, reply, slot, count));
    }
}

impl Worker {
    /// A builder with the defaults: prefix `rpc`, every function exposed, 30 s per call, 1,024
    /// calls at once, service `nonblocking` 0.1.0 in queue group `nonblocking`, 10 s of grace.
    pub fn builder() -> WorkerBuilder {
        WorkerBuilder::default()
    }

    /// The service instance's id, as `$SRV.PING` and `$SRV.INFO` report it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Leaves gracefully: stops taking new calls (other workers of the group get them), finishes
    /// the accepted ones within the shutdown grace, then closes its connections.
    pub async fn stop(mut self) -> Result<(), WorkerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(error) => Err(WorkerError::Nats(format!("the worker's task failed: {error}"))),
        }
    }
}
