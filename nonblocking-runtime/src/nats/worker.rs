//! [`Worker`]: serves the registry as a NATS service, one endpoint per exposed function, all in
//! one queue group, so that every worker started with the same prefix shares the calls.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::cancels::Cancels;
use super::connect::Connect;
use super::serve::{Served, handle};
use super::service::{Endpoint, Service, answer_discovery};
use super::subjects::{InvalidNames, Route, cancel_subject, routes};
use crate::errors::CallError;
use crate::registry::{ServerFunction, registry};
use crate::remote::dispatch::ready_now;
use crate::remote::{Caller, InvalidPolicy, InvalidPrefix, Settings, policy_setters};

/// Serves the registry over NATS: start any number of workers with the same prefix (on any
/// machines) and callers' requests are spread across them by the NATS servers.
///
/// Each exposed function is one endpoint of a NATS service (the *services* protocol that
/// `nats micro` reads: `$SRV.PING`, `$SRV.INFO`, `$SRV.STATS`), on the subject
/// `<prefix>.<name>`, in one queue group. Arguments, results and errors are the HTTP transport's
/// JSON; an error reply also carries the `Nats-Service-Error-Code` (the wire table's status) and
/// `Nats-Service-Error` headers. `$SRV.STATS` counts every answered request per endpoint
/// (errors, processing time and the last error among them), as `nats micro stats` shows.
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
    /// The settings break the rules every transport shares (the prefix, or an exposed name
    /// that is not registered).
    #[error(transparent)]
    InvalidPolicy(#[from] InvalidPolicy),
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
    /// What every transport shares (its setters are written once, for both builders).
    policy: Settings,
    name: String,
    version: String,
    description: String,
    queue_group: String,
}

impl fmt::Debug for WorkerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerBuilder")
            .field("policy", &self.policy)
            .field("service", &(&self.name, &self.version))
            .field("queue_group", &self.queue_group)
            .finish_non_exhaustive()
    }
}

impl Default for WorkerBuilder {
    fn default() -> Self {
        WorkerBuilder {
            policy: Settings::with_prefix("rpc"),
            name: "nonblocking".into(),
            version: "0.1.0".into(),
            description: "server functions of nonblocking".into(),
            queue_group: "nonblocking".into(),
        }
    }
}

impl WorkerBuilder {
    /// The subject prefix: function `name` is served on `<prefix>.<name>`. One or more
    /// dot-separated tokens of `[A-Za-z0-9_-]`. Default `rpc`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.policy.prefix = prefix.into();
        self
    }

    policy_setters!();

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

    /// The queue group the endpoints join: workers in one group share the calls, each call
    /// going to one of them. Default `nonblocking`; give workers of different deployments
    /// that must not share calls (a canary, another tenant) groups of their own.
    pub fn queue_group(mut self, group: impl Into<String>) -> Self {
        self.queue_group = group.into();
        self
    }

    /// Connects and starts serving; returns once every endpoint is subscribed on the server.
    pub async fn start(self, connect: &Connect) -> Result<Worker, WorkerError> {
        let given = self.policy.prefix.clone();
        let policy = self.policy.check()?;
        if policy.prefix.is_empty() {
            return Err(InvalidPolicy::Prefix(InvalidPrefix {
                given,
                reason: "a NATS worker needs at least one segment to serve its subjects under".into(),
            })
            .into());
        }
        let prefix = policy.prefix.join(".");
        if !self.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-')) || self.name.is_empty() {
            return Err(WorkerError::InvalidSettings(format!(
                "the service name {:?} may hold only [A-Za-z0-9_-]",
                self.name
            )));
        }
        if !is_semver(&self.version) {
            return Err(WorkerError::InvalidSettings(format!("the service version {:?} is not semver", self.version)));
        }
        let routes = routes(&prefix, registry().iter().filter(|function| policy.expose.allows(function.name())))?;
        let serving = connect.open(&format!("{} worker", self.name)).await.map_err(WorkerError::Connect)?;
        let replying = connect.open(&format!("{} worker replies", self.name)).await.map_err(WorkerError::Connect)?;
        let nats = |error: &dyn fmt::Display| WorkerError::Nats(error.to_string());

        // The inbox's last token is a NUID: unique, as a service instance's id must be.
        let id = serving.new_inbox().rsplit('.').next().unwrap_or_default().to_owned();
        let service = Arc::new(Service {
            name: self.name,
            id: id.clone(),
            version: self.version,
            description: self.description,
            metadata: HashMap::from([("prefix".to_owned(), prefix.clone())]),
            queue_group: self.queue_group.clone(),
            started: time::OffsetDateTime::now_utc(),
            endpoints: routes
                .iter()
                .map(|route| Endpoint::new(route.endpoint.clone(), route.subject.clone(), metadata(route)))
                .collect(),
        });
        let discovery = answer_discovery(Arc::clone(&service), &serving, replying.clone()).await.map_err(|e| nats(&e))?;
        let served = Arc::new(Served {
            reply: replying.clone(),
            policy,
            service,
            cancels: Cancels::default(),
            cancel_subject: cancel_subject(&prefix, &id),
            stop_now: CancellationToken::new(),
        });
        let tracker = TaskTracker::new();
        let mut loops = vec![tokio::spawn(discovery)];
        for (index, route) in routes.iter().enumerate() {
            let requests = serving.queue_subscribe(route.subject.clone(), self.queue_group.clone()).await.map_err(|e| nats(&e))?;
            loops.push(tokio::spawn(serve_endpoint(requests, index, route.function, Arc::clone(&served), tracker.clone())));
        }
        // Cancels come on the replying connection: it stays subscribed while the serving one
        // drains, so the calls still finishing can be cancelled.
        let mut cancels = replying.subscribe(served.cancel_subject.clone()).await.map_err(|e| nats(&e))?;
        let listener = {
            let served = Arc::clone(&served);
            tokio::spawn(async move {
                while let Some(message) = cancels.next().await {
                    if let Ok(id) = std::str::from_utf8(&message.payload) {
                        served.cancels.cancel(id, &mut Caller::nats(message.headers.as_ref()), &served.policy);
                    }
                }
            })
        };
        // Every subscription is on the server before `start` returns.
        serving.flush().await.map_err(|e| nats(&e))?;
        replying.flush().await.map_err(|e| nats(&e))?;

        let (stop, stopped) = oneshot::channel();
        let grace = served.policy.shutdown_grace;
        let task = tokio::spawn(async move {
            // A dropped `Worker` (no `stop()`) leaves the same way.
            let _ = stopped.await;
            // Every step below is bounded by one deadline, whatever state the connection is
            // in: with NATS unreachable a drain or a flush never completes, and a worker that
            // cannot leave cannot be rolled during an outage.
            let deadline = tokio::time::Instant::now() + grace;
            // Draining unsubscribes every endpoint (and `$SRV`), then takes in what the client
            // library received before it ended the subscriptions: every request that reached us
            // is answered (what the server routed to us after that is lost: see `stop`).
            let drained = tokio::time::timeout_at(deadline, serving.drain()).await.is_ok();
            let aborts: Vec<_> = loops.iter().map(JoinHandle::abort_handle).collect();
            if !drained || tokio::time::timeout_at(deadline, futures_util::future::join_all(loops)).await.is_err() {
                // Still waiting for requests that cannot come: stop taking them.
                aborts.iter().for_each(tokio::task::AbortHandle::abort);
            }
            tracker.close();
            // After the grace, one more moment for the calls stopped now to answer
            // `shutting_down` and for the last replies to reach NATS.
            let last = deadline + ANSWER_STOPPED;
            if tokio::time::timeout_at(deadline, tracker.wait()).await.is_err() {
                served.stop_now.cancel();
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

/// Whether `version` is semver (`MAJOR.MINOR.PATCH`, then an optional `-pre` and `+build`),
/// which the services protocol requires.
fn is_semver(version: &str) -> bool {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let numbers: Vec<&str> = core.split('.').collect();
    numbers.len() == 3
        && numbers.iter().all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (n.len() == 1 || !n.starts_with('0')))
}

/// Takes one endpoint's requests until it is drained, each through the shared dispatch: in
/// this loop while it is ready at once, in a task of its own once it waits.
async fn serve_endpoint(
    mut requests: async_nats::Subscriber,
    endpoint: usize,
    function: &'static ServerFunction,
    served: Arc<Served>,
    tracker: TaskTracker,
) {
    while let Some(message) = requests.next().await {
        let Some(reply) = message.reply.clone() else {
            // Published without a reply subject: nobody waits for an answer.
            continue;
        };
        let mut call = Box::pin(handle(Arc::clone(&served), endpoint, function, message, reply));
        // Most calls finish, answer included, at their first poll: they need no task of their
        // own (the hop to one costs more than the call). Only one still running gets a task.
        if ready_now(call.as_mut()).await.is_none() {
            tracker.spawn(call);
        }
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
    /// the accepted ones within the shutdown grace, then closes its connections. Calls still
    /// running when the grace ends are stopped and answered `shutting_down`.
    ///
    /// It returns within the grace plus one second (for those answers and the last flush) in
    /// every state of the connection: with NATS unreachable, the drain and the flush that
    /// cannot complete are given up at that deadline, and `stop()` says so in its error.
    ///
    /// # Requests in flight as it unsubscribes
    ///
    /// A request the NATS server routes to this worker in the moment it unsubscribes can be
    /// lost: async-nats ends a drained subscription before the server confirms the unsubscribe,
    /// and drops what still arrives for it. Such a call never reaches the worker (it never
    /// runs) and ends at its caller's timeout; under load on one host, a few calls in two
    /// thousand were. Give callers a timeout you can wait for; a caller that knows its function
    /// is idempotent may retry a timed-out call.
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

#[cfg(test)]
mod tests {
    use super::is_semver;

    #[test]
    fn a_service_version_is_semver() {
        for good in ["0.1.0", "1.4.0", "10.20.30", "1.0.0-rc.1", "1.0.0+build.5", "1.0.0-alpha+001"] {
            assert!(is_semver(good), "{good}");
        }
        for bad in ["", "1", "1.0", "1.0.0.0", "01.0.0", "1.x.0", "v1.0.0", "1..0"] {
            assert!(!is_semver(bad), "{bad}");
        }
    }
}
