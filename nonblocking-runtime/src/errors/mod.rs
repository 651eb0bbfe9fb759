//! Errors: [`CallError`], the one error type every call reports through, the details of its
//! variants, and how failures nobody observed are reported ([`report_unobserved_to_stderr`]).
//!
//! Every `CallError` names the thing at fault (the function, the parameter, the URL) and keeps
//! its causes: [`source()`](std::error::Error::source) continues with the chain of the error
//! that caused it, so an error reporter prints each cause once.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

mod unobserved;

pub use self::unobserved::report_unobserved_to_stderr;
// What only a remote call can fail with lives with the transports' shared code.
pub(crate) use self::unobserved::{report_misuse, report_unobserved};
#[cfg(any(feature = "http", feature = "nats"))]
pub use crate::remote::failures::{
    NoRespondersError, RejectedError, RemoteFailure, TransportError,
};

/// A boxed error as produced by a failing call: anything `Into<BoxError>` works,
/// from `std::io::Error` to `String` and `anyhow::Error`.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::{BoxError, try_call_async};
///
/// async fn fetch() -> Result<u8, BoxError> {
///     Err("offline".into())
/// }
/// assert_eq!(try_call_async(fetch()).wait().unwrap_err().to_string(), "offline");
/// ```
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The error a call returned, as [`CallError::Failed`] keeps it: reference-counted, so a
/// `CallError` is `Clone` (a UI handler gets its own copy while `.await` takes the original;
/// an app can keep the last error in its state). Read it through
/// [`CallError::downcast_ref`], or `error.downcast_ref::<E>()` on the `Arc` itself.
pub type SharedError = std::sync::Arc<dyn StdError + Send + Sync + 'static>;

/// Why an [`AsyncCall`](crate::AsyncCall) (or a call by name) did not produce a value.
///
/// The variants are grouped by who is at fault:
///
/// * the call itself: [`Failed`](Self::Failed) (it returned `Err`) and
///   [`Panicked`](Self::Panicked);
/// * the caller's control: [`Cancelled`](Self::Cancelled) and [`TimedOut`](Self::TimedOut),
///   and for a stream, [`Idle`](Self::Idle) (no item within its idle limit);
/// * asking too early or in the wrong place: [`NotFinished`](Self::NotFinished) and
///   [`WouldDeadlock`](Self::WouldDeadlock);
/// * calls by name: [`NotFound`](Self::NotFound), [`InvalidArguments`](Self::InvalidArguments),
///   [`InvalidResult`](Self::InvalidResult), [`DuplicateName`](Self::DuplicateName) and
///   [`RegistryBuilt`](Self::RegistryBuilt);
/// * the call's context: [`MissingContext`](Self::MissingContext) (a `#[context]` value nobody
///   attached);
/// * the runtime it runs on: [`NoTimeDriver`](Self::NoTimeDriver) (built without timers);
#[cfg_attr(
    any(feature = "http", feature = "nats"),
    doc = "* a remote call's transport (features `http`, `nats`): [`Rejected`](Self::Rejected) \
           (the server refused it), [`Transport`](Self::Transport) (no answer of ours) and \
           [`NoResponders`](Self::NoResponders) (no worker serves it)."
)]
///
/// New variants may be added in minor releases, so matches need a wildcard arm.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::{CallError, try_call_async};
///
/// let call = try_call_async(async { Err::<u32, _>(std::io::Error::other("disk full")) });
/// let err = call.wait().unwrap_err();
/// assert_eq!(err.to_string(), "disk full");
/// assert!(err.downcast_ref::<std::io::Error>().is_some());
/// assert!(matches!(err, CallError::Failed(_)));
/// ```
#[derive(Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The call is still running: its result or error was asked for too early.
    #[error("the async call is still pending")]
    NotFinished,

    /// The call was cancelled with `cancel()`, or its runtime shut down before it finished.
    #[error("the async call was cancelled")]
    Cancelled,

    /// The call did not finish within the duration given to `timeout()`.
    #[error("the async call timed out after {0:?}")]
    TimedOut(Duration),

    /// A call's [`Items`](crate::items::Items) went silent: none arrived within the idle limit
    /// (the server's, or the caller's [`idle_limit`](crate::items::Items::idle_limit)). The
    /// items before it were read.
    #[error("the stream went idle: no item for {0:?}")]
    Idle(Duration),

    /// `wait()` would block a thread the call needs: the thread that drives a current-thread
    /// runtime, or a worker of a multi-thread runtime that has stopped running tasks (every
    /// worker blocked, and no blocking thread free to take over one's tasks). Await the call
    /// instead; the call itself goes on.
    #[error(
        "waiting here would deadlock: the runtime the call needs cannot run it while this thread waits (this thread drives a current-thread runtime, or every worker of the runtime is blocked in wait() and no task has run for 3 s); `.await` the call instead of calling wait()"
    )]
    WouldDeadlock,

    /// The call panicked; the panic's message is kept.
    #[error("the async call panicked: {0}")]
    Panicked(Box<str>),

    /// The call returned `Err(e)`. Displays `e`'s own message, and its
    /// [`source`](StdError::source) is `e`'s source, so a report walking the chain prints `e`
    /// and each of its causes once. Get `e` back with [`CallError::downcast_ref`].
    #[error(transparent)]
    Failed(SharedError),

    /// No server function is registered under this name.
    #[error("{0}")]
    NotFound(Box<NotFoundError>),

    /// The arguments of a call by name do not fit the function's parameters.
    #[error("{0}")]
    InvalidArguments(Box<InvalidArgumentsError>),

    /// The value a function by name returned could not be turned into the type asked for.
    #[error("{0}")]
    InvalidResult(Box<InvalidResultError>),

    /// Two or more functions are registered under the same name; calls by that name refuse
    /// to guess which one is meant.
    #[error("{0}")]
    DuplicateName(Box<DuplicateNameError>),

    /// The function takes a `#[context]` value its call's context does not hold: the server's
    /// authorize hook did not attach it (over a transport, answered `401 unauthorized`), or a
    /// local call ran outside a [`Context::scope`](crate::Context::scope) holding it.
    #[error("{0}")]
    MissingContext(Box<MissingContextError>),

    /// A remote server refused the call for a reason only a transport has (unauthorized,
    /// forbidden, payload too large, overloaded, shutting down, bad request); see
    /// [`RejectedError`]. Features `http`, `nats`.
    #[cfg(any(feature = "http", feature = "nats"))]
    #[error("{0}")]
    Rejected(Box<RejectedError>),

    /// A remote call could not reach the server, or its reply was not one of ours; see
    /// [`TransportError`] for the URL and the cause. Features `http`, `nats`.
    #[cfg(any(feature = "http", feature = "nats"))]
    #[error(transparent)]
    Transport(Box<TransportError>),

    /// No worker serves the function: over NATS, nothing subscribes to its subject (every
    /// worker is gone, or none exposes it). Unlike [`NotFound`](Self::NotFound), no server was
    /// asked, so nothing says the function does not exist. Feature `nats` (the variant exists
    /// with `http` too, which never produces it).
    #[cfg(any(feature = "http", feature = "nats"))]
    #[error("{0}")]
    NoResponders(Box<NoRespondersError>),

    /// The runtime the call (or timer) runs on was built without tokio's time driver, so a
    /// timeout cannot be kept: build it with `enable_time()` (or `enable_all()`).
    #[error(
        "the runtime has no time driver, so timers (timeout, repeat, defer) cannot run on it: build it with enable_time() or enable_all()"
    )]
    NoTimeDriver,

    /// `register()` was called after the registry was already built by a first lookup.
    #[error(
        "server function `{0}` was registered too late: the registry was already built by a call by name; register before the first call"
    )]
    RegistryBuilt(Box<str>),
}

/// The details of [`CallError::NotFound`]. (The details of the by-name errors are boxed so
/// that every `Result<T, CallError>` stays small: calls move their outcome several times.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", not_found_message(.name, .suggestion.as_deref(), .server.as_deref()))]
#[non_exhaustive]
pub struct NotFoundError {
    /// The name that was asked for.
    pub name: String,
    /// The closest name the caller may call, when one is close.
    pub suggestion: Option<String>,
    /// For a remote call, the server's base URL (`http://host:port/prefix`), whose
    /// `GET` lists the functions this caller may call; `None` for a local call.
    pub server: Option<String>,
}

/// The details of [`CallError::InvalidArguments`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid arguments for server function `{function}`{}: {reason}", parameter_suffix(.parameter.as_deref()))]
#[non_exhaustive]
pub struct InvalidArgumentsError {
    /// The registered name of the function.
    pub function: String,
    /// The parameter at fault, when one parameter is.
    pub parameter: Option<String>,
    /// What is wrong, in serde's words where serde found it.
    pub reason: String,
}

/// The details of [`CallError::InvalidResult`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the result of server function `{function}` does not fit the requested type: {reason}")]
#[non_exhaustive]
pub struct InvalidResultError {
    /// The registered name of the function.
    pub function: String,
    /// serde's reason.
    pub reason: String,
}

/// The details of [`CallError::DuplicateName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("server function name `{name}` is registered more than once: {}", .definitions.join("; "))]
#[non_exhaustive]
pub struct DuplicateNameError {
    /// The contested name.
    pub name: String,
    /// Every definition, as `path at file:line`.
    pub definitions: Vec<String>,
}

/// The details of [`CallError::MissingContext`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "server function `{function}` needs a `{ty}` in its call's context (parameter `{parameter}`), and none was attached: \
     over a transport the server's authorize hook attaches it (`caller.attach(..)`); a local call takes it from `Context::scope`"
)]
#[non_exhaustive]
pub struct MissingContextError {
    /// The registered name of the function.
    pub function: String,
    /// The `#[context]` parameter.
    pub parameter: String,
    /// The type it needs, as `std::any::type_name` gives it.
    pub ty: String,
}

impl CallError {
    pub(crate) fn missing_context(function: &str, parameter: &str, ty: &str) -> CallError {
        CallError::MissingContext(Box::new(MissingContextError {
            function: function.to_owned(),
            parameter: parameter.to_owned(),
            ty: ty.to_owned(),
        }))
    }

    pub(crate) fn not_found(name: &str, suggestion: Option<&str>) -> CallError {
        CallError::NotFound(Box::new(NotFoundError {
            name: name.to_owned(),
            suggestion: suggestion.map(str::to_owned),
            server: None,
        }))
    }

    pub(crate) fn invalid_arguments(
        function: &str,
        parameter: Option<&str>,
        reason: String,
    ) -> CallError {
        CallError::InvalidArguments(Box::new(InvalidArgumentsError {
            function: function.to_owned(),
            parameter: parameter.map(str::to_owned),
            reason,
        }))
    }

    pub(crate) fn invalid_result(function: &str, reason: String) -> CallError {
        CallError::InvalidResult(Box::new(InvalidResultError {
            function: function.to_owned(),
            reason,
        }))
    }

    pub(crate) fn duplicate_name(name: &str, definitions: Vec<String>) -> CallError {
        CallError::DuplicateName(Box::new(DuplicateNameError {
            name: name.to_owned(),
            definitions,
        }))
    }
}

fn not_found_message(name: &str, suggestion: Option<&str>, server: Option<&str>) -> String {
    let close = suggestion
        .map(|close| format!("; did you mean `{close}`?"))
        .unwrap_or_default();
    match server {
        None => format!(
            "no server function named `{name}` is registered{close} (list what is registered with nonblocking_runtime::registry(), and make sure the crate that defines it is linked: see the guide's \"functions that are not found\")"
        ),
        // NATS: a subject, not a URL; the services protocol lists what is served.
        Some(server) if server.starts_with("nats:") => format!(
            "no server function named `{name}` can be called under {server}{close} (`$SRV.INFO` lists every worker's endpoints)"
        ),
        // The server's listing may be turned off or filtered by its authorize hook, and an
        // unexposed function answers exactly like a missing one: say all three.
        Some(server) => format!(
            "the server at {server} has no server function named `{name}` that this client may call{close} (`GET {server}` lists what you may call, if the server publishes its listing; the function may also be missing there, not exposed, or need other credentials)"
        ),
    }
}

fn parameter_suffix(parameter: Option<&str>) -> String {
    parameter
        .map(|p| format!(", parameter `{p}`"))
        .unwrap_or_default()
}

impl fmt::Debug for CallError {
    // The derived Debug would print `Failed(Custom { .. })` noise; show the variant and its
    // message, which is what a failing `unwrap()` should say.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Failed(inner) => f.debug_tuple("Failed").field(inner).finish(),
            other => write!(f, "{}({other})", other.kind_name()),
        }
    }
}

impl CallError {
    /// The error a failing call returned, if it is of type `E`.
    ///
    /// Guaranteed to find `E` for any `E: std::error::Error + Send + Sync + 'static` returned by
    /// the call (`try_call_async`, `try_call_blocking`, or a fallible `#[server_function]`).
    /// Errors that were converted from a `String` or `&str` are not downcastable to those types;
    /// read their message with `to_string()`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::try_call_async;
    /// let error = try_call_async(async { "x".parse::<u8>() }).wait().unwrap_err();
    /// assert!(error.downcast_ref::<std::num::ParseIntError>().is_some());
    /// assert!(error.downcast_ref::<std::io::Error>().is_none());
    /// ```
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        match self {
            CallError::Failed(inner) => inner.downcast_ref::<E>(),
            _ => None,
        }
    }

    /// `true` for [`Cancelled`](Self::Cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::call_async;
    /// let call = call_async(std::future::pending::<()>());
    /// call.cancel();
    /// assert!(call.wait().unwrap_err().is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, CallError::Cancelled)
    }

    /// `true` for [`Panicked`](Self::Panicked).
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::call_async;
    /// let error = call_async(async { panic!("bug") }).wait().unwrap_err();
    /// assert!(error.is_panic());
    /// assert_eq!(error.to_string(), "the async call panicked: bug");
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, CallError::Panicked(_))
    }

    /// `true` for [`TimedOut`](Self::TimedOut).
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::call_async;
    /// # use std::time::Duration;
    /// let call = call_async(std::future::pending::<()>()).timeout(Duration::from_millis(1));
    /// assert!(call.wait().unwrap_err().is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, CallError::TimedOut(_))
    }

    fn kind_name(&self) -> &'static str {
        match self {
            CallError::NotFinished => "NotFinished",
            CallError::Cancelled => "Cancelled",
            CallError::TimedOut(_) => "TimedOut",
            CallError::Idle(_) => "Idle",
            CallError::WouldDeadlock => "WouldDeadlock",
            CallError::Panicked(_) => "Panicked",
            CallError::Failed(_) => "Failed",
            CallError::NotFound(_) => "NotFound",
            CallError::InvalidArguments(_) => "InvalidArguments",
            CallError::InvalidResult(_) => "InvalidResult",
            CallError::DuplicateName(_) => "DuplicateName",
            CallError::MissingContext(_) => "MissingContext",
            CallError::RegistryBuilt(_) => "RegistryBuilt",
            CallError::NoTimeDriver => "NoTimeDriver",
            #[cfg(any(feature = "http", feature = "nats"))]
            CallError::Rejected(_) => "Rejected",
            #[cfg(any(feature = "http", feature = "nats"))]
            CallError::Transport(_) => "Transport",
            #[cfg(any(feature = "http", feature = "nats"))]
            CallError::NoResponders(_) => "NoResponders",
        }
    }
}

/// The message of a panic payload, as `std` prints it.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

#[cfg(test)]
mod variant_list {
    /// The grouped list in `CallError`'s docs names every variant, once.
    /// Every call's outcome is a `Result<T, CallError>`, moved through tokio's task cell and
    /// the handle: three words, not four (the panic message and the late-registration name are
    /// boxed `str`s; the by-name details are boxed).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_call_error_is_three_words() {
        assert_eq!(std::mem::size_of::<super::CallError>(), 24);
        assert_eq!(std::mem::size_of::<Result<u64, super::CallError>>(), 24);
    }

    #[test]
    fn the_docs_list_every_variant() {
        let source = include_str!("mod.rs");
        let start = source.find("pub enum CallError {").expect("the enum");
        let body = &source[start..start + source[start..].find("\n}\n").expect("its end")];
        let variants: Vec<&str> = body
            .lines()
            .filter_map(|line| line.strip_prefix("    "))
            .filter(|line| line.starts_with(|c: char| c.is_ascii_uppercase()))
            .map(|line| {
                line.split(|c: char| !c.is_ascii_alphanumeric())
                    .next()
                    .unwrap()
            })
            .collect();
        let docs = &source[source
            .find("/// The variants are grouped")
            .expect("the list")..start];
        let mut listed: Vec<&str> = docs
            .split("(Self::")
            .skip(1)
            .map(|rest| rest.split(')').next().unwrap())
            .collect();
        listed.sort_unstable();
        let mut expected = variants.clone();
        expected.sort_unstable();
        assert_eq!(listed, expected, "the grouped list in CallError's docs");
        assert!(variants.len() >= 15, "{variants:?}");
    }
}
