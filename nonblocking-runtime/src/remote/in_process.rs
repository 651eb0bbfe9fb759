//! [`InProcess`]: a transport that runs the registry's real functions in this process, through
//! the same dispatch a server runs, with no socket: code written against a [`Transport`] is
//! tested (or run in one binary) without a server.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::channeled::{AbortOnDrop, Channeled, Ending};
use super::dispatch::{Answer, ITEM_BUFFER, Outlets, dispatch, first_of};
use super::policy::{InvalidPolicy, Policy, Settings, policy_setters};
use super::wire::from_wire;
use super::{Body, Caller, Decode, ReadProgress, Transport, sealed};
use crate::calls::{AsyncCall, call_with_outcome};
use crate::context::Context;
use crate::errors::CallError;
use crate::items::{CallValue, Items, Reply};
use crate::registry::registry;

/// Calls the server functions of this process as a server would run them: through the
/// exposure list, the authorization hook (which sees this transport's headers, and
/// [`Via::InProcess`](super::Via::InProcess)), the timeout, the concurrency and body limits, and
/// the wire's error table, so a call fails exactly as it would over HTTP or NATS. No socket, no
/// server, no task beyond the call's own.
///
/// It takes the typed stubs `call_remote_<name>(&transport, ..)` like any [`Transport`].
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::remote::InProcess;
/// use nonblocking_runtime::{Context, Identity, server_function};
///
/// #[derive(Clone)]
/// struct User(String);
///
/// impl Identity for User {
///     fn has_role(&self, role: &str) -> bool {
///         role == "user"
///     }
/// }
///
/// #[server_function(name = "in_process.greet", require = "user")]
/// async fn greet(#[context] user: User, greeting: String) -> String {
///     format!("{greeting}, {}", user.0)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = InProcess::builder()
///     .authorize(|caller, _function| {
///         if let Some(name) = caller.get("x-user").and_then(|name| name.to_str().ok()) {
///             caller.attach_identity(User(name.to_owned()));
///         }
///         Ok(())
///     })
///     .build()
///     .unwrap();
/// let anonymous = app.call_async_by_name::<String>("in_process.greet", ("hello",)).await;
/// assert!(anonymous.unwrap_err().to_string().contains("requires `user`"));
///
/// let ada = app.with_header("x-user", "ada");
/// assert_eq!(call_remote_greet(&ada, "hello".into()).await.unwrap(), "hello, ada");
///
/// // Or skip the headers: every call starts with this context, before the hook adds to it.
/// let bob = app.with_context(Context::new().with_identity(User("bob".into())));
/// assert_eq!(call_remote_greet(&bob, "hi".into()).await.unwrap(), "hi, bob");
/// # }
/// ```
#[derive(Clone)]
pub struct InProcess {
    policy: Arc<Policy>,
    headers: Arc<[(String, String)]>,
    context: Context,
}

/// Builds an [`InProcess`] transport: the policy a server would have, and the headers its
/// calls carry.
#[must_use = "a builder does nothing until `build()`"]
pub struct InProcessBuilder {
    policy: Settings,
    headers: Vec<(String, String)>,
    context: Context,
}

impl InProcessBuilder {
    policy_setters!(calls);

    /// Sends this header with every call (the authorize hook sees it).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The context every call starts with, before the authorize hook attaches to it: the
    /// caller a test wants, without headers for the hook to read.
    pub fn context(mut self, context: Context) -> Self {
        self.context = context;
        self
    }

    /// The transport, or [`InvalidPolicy`] naming an `expose`d name that is not registered.
    pub fn build(self) -> Result<InProcess, InvalidPolicy> {
        Ok(InProcess { policy: Arc::new(self.policy.check()?), headers: self.headers.into(), context: self.context })
    }
}

impl fmt::Debug for InProcessBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("InProcessBuilder").field("policy", &self.policy).field("headers", &names).finish()
    }
}

impl fmt::Debug for InProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be credentials: show only their names.
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("InProcess").field("policy", &self.policy).field("headers", &names).finish()
    }
}

impl Default for InProcess {
    /// Every function exposed, no hook, no headers, a server's default limits.
    fn default() -> Self {
        InProcess::builder().build().expect("the default settings are valid")
    }
}

impl InProcess {
    /// A builder with a server's defaults: every function exposed, no hook, 30 s per call,
    /// 1,024 calls at once, 1 MiB of arguments.
    pub fn builder() -> InProcessBuilder {
        InProcessBuilder { policy: Settings::with_prefix(""), headers: Vec::new(), context: Context::new() }
    }

    /// This transport's policy with one more header on every call (a logged-in user, say).
    pub fn with_header(&self, name: &str, value: &str) -> Self {
        let headers: Vec<(String, String)> =
            self.headers.iter().cloned().chain([(name.to_owned(), value.to_owned())]).collect();
        InProcess { policy: Arc::clone(&self.policy), headers: headers.into(), context: self.context.clone() }
    }

    /// This transport with `context` as the one every call starts with, before the authorize
    /// hook attaches to it (see [`InProcessBuilder::context`]).
    pub fn with_context(&self, context: Context) -> Self {
        InProcess { context, ..self.clone() }
    }

    /// Calls the server function `name` without waiting; see [`Transport::call_async_by_name`].
    pub fn call_async_by_name<R: CallValue>(&self, name: &str, args: impl Serialize) -> AsyncCall<R> {
        Transport::call_async_by_name(self, name, args)
    }
}

impl sealed::Sealed for InProcess {}

impl Transport for InProcess {
    fn call_json<R: Send + 'static>(&self, name: &str, body: Result<Body, CallError>, decode: Decode<R>, progress: ReadProgress) -> AsyncCall<R> {
        let (policy, headers, name) = (Arc::clone(&self.policy), Arc::clone(&self.headers), name.to_owned());
        let context = self.context.clone();
        // A function that reports progress reports it to this call, as it would over a wire.
        let start = move |reporter: Option<Arc<crate::progress::Reporter>>| call_with_outcome(async move {
            let body = body?;
            // Unexposed answers exactly like missing, as on a server.
            let function = match registry().get(&name) {
                Ok(function) if policy.expose.allows(&name) => function,
                Ok(_) => return Err(CallError::not_found(&name, None)),
                Err(error) => return Err(error),
            };
            let kind = body.kind();
            let body = std::future::ready(Ok::<_, Infallible>(bytes::Bytes::from(body.into_bytes())));
            let progress = reporter.filter(|_| function.reports_progress());
            let error = {
                let name = name.clone();
                move |status: u16, json: &[u8]| from_wire("in-process", &name, &name, status, json)
            };
            let answer = if function.streams() {
                // The dispatch runs on while the caller reads the items.
                let (sink, mut items) = tokio::sync::mpsc::channel(ITEM_BUFFER);
                let outlets = Outlets { progress, items: Some(sink) };
                let mut running = AbortOnDrop(crate::runtime::spawn(async move {
                    let mut caller = Caller::in_process(&headers, context);
                    match dispatch(&policy, function, &mut caller, body, std::future::pending(), outlets, kind).await {
                        Ok(answer) => answer,
                        Err(never) => match never {},
                    }
                }));
                // Until its first item, an ordinary call: a refusal is the call's error.
                let first = first_of(&mut running.0, std::future::poll_fn(|cx| items.poll_recv(cx))).await;
                let (first, ending) = match first {
                    Err(first) => (first, Ending::Running(running)),
                    Ok(Ok(answer)) => (None, Ending::Known(answer)),
                    Ok(Err(_)) => return Err(CallError::Cancelled),
                };
                match ending {
                    Ending::Known(answer) if !matches!(answer, Answer::End(_)) && items.is_empty() => answer,
                    ending => {
                        let items = Channeled::new(first, items, ending, error);
                        return decode(Reply::Items(Items::from_calls(items)), &name);
                    }
                }
            } else {
                let mut caller = Caller::in_process(&headers, context);
                let outlets = Outlets { progress, items: None };
                match dispatch(&policy, function, &mut caller, body, std::future::pending(), outlets, kind).await {
                    Ok(answer) => answer,
                    Err(never) => match never {},
                }
            };
            match answer {
                Answer::Value(json) => decode(Reply::Json(&json), &name),
                Answer::Bytes(bytes) => decode(Reply::Bytes(&bytes), &name),
                // Through the wire's table both ways: the error a real transport's caller gets.
                Answer::Error(status, body) => Err(error(status, &serde_json::to_vec(&body).unwrap_or_default())),
                Answer::End(_) => Err(CallError::invalid_result(&name, "it answered the end of items it did not stream".to_owned())),
                Answer::Dropped => Err(CallError::Cancelled),
            }
        });
        match progress {
            ReadProgress::Read => crate::progress::tracked(|reporter| start(Some(reporter))),
            ReadProgress::Ignore => start(None),
        }
    }
}
