//! What a server lets callers do, the same for every transport: one settings type that both
//! builders embed ([`Settings`]), checked by one rule when the server or worker is built, into
//! the [`Policy`] that [`dispatch`](super::dispatch) applies to every call.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::caller::Caller;
use crate::context::Context;
use super::prefix::{InvalidPrefix, segments};
use super::slots::Slots;
use super::wire::{Code, ErrorBody, codes};
use crate::registry::{ServerFunction, registry};

/// Which registered functions a server lets clients call. Unexposed functions answer
/// `not_found` exactly like missing ones, so exposure cannot be probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expose {
    /// Every registered function.
    All,
    /// Only these names.
    Only(HashSet<String>),
}

impl Expose {
    /// Whether the function `name` may be called.
    pub fn allows(&self, name: &str) -> bool {
        match self {
            Expose::All => true,
            Expose::Only(names) => names.contains(name),
        }
    }
}

/// Why an [`Authorize`] hook refused a call: `unauthorized` (401) or `forbidden` (403) with
/// this message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// No (valid) credentials: 401 `unauthorized` (Anvil's `AuthenticationFailed`).
    Unauthorized(String),
    /// Credentials, but not allowed: 403 `forbidden` (Anvil's `PermissionDenied`).
    Forbidden(String),
}

/// The authorization hook: sees the request (its headers, its transport, the peer where known)
/// and the function's registry entry (its [`require`](ServerFunction::require) value among it)
/// before the call starts. One hook serves every transport, and over NATS it also decides who
/// may cancel a running call.
pub type Authorize = Arc<dyn Fn(&mut Caller<'_>, &ServerFunction) -> Result<(), Refusal> + Send + Sync>;

/// Settings a server or worker was built with that break the rules every transport shares.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidPolicy {
    /// The prefix breaks the rule (see `prefix` on either builder).
    #[error(transparent)]
    Prefix(#[from] InvalidPrefix),
    /// `expose` names functions that are not registered, sorted.
    #[error("`expose` names functions that are not registered: {}", quoted(.0))]
    NotRegistered(Vec<String>),
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
}

/// The settings both builders embed, as given; [`Settings::check`] makes them a [`Policy`].
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) prefix: String,
    pub(crate) expose: Expose,
    pub(crate) authorize: Option<Authorize>,
    pub(crate) timeout: Duration,
    pub(crate) stream_idle: Duration,
    pub(crate) concurrency_limit: usize,
    pub(crate) body_limit: usize,
    pub(crate) shutdown_grace: Duration,
    pub(crate) show_panics: bool,
}

/// The largest body (HTTP) or payload (NATS) a server takes by default, the same for every
/// transport: larger ones are refused with `413 payload_too_large` before anything is decoded.
const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

impl Settings {
    /// The defaults both transports start from; only the prefix differs.
    pub(crate) fn with_prefix(prefix: &str) -> Self {
        Settings {
            prefix: prefix.to_owned(),
            expose: Expose::All,
            authorize: None,
            timeout: Duration::from_secs(30),
            stream_idle: Duration::from_secs(15),
            concurrency_limit: 1024,
            body_limit: DEFAULT_BODY_LIMIT,
            shutdown_grace: Duration::from_secs(10),
            show_panics: false,
        }
    }

    /// The policy, or every way the settings break the shared rules.
    pub(crate) fn check(self) -> Result<Policy, InvalidPolicy> {
        let prefix = segments(&self.prefix)?.into_iter().map(str::to_owned).collect();
        if let Expose::Only(names) = &self.expose {
            let registry = registry();
            // A name defined twice is registered: each transport reports it its own way (HTTP
            // answers `duplicate_name`, a NATS worker cannot make two endpoints and refuses).
            let mut missing: Vec<String> = names
                .iter()
                .filter(|name| matches!(registry.get(name), Err(crate::errors::CallError::NotFound(_))))
                .cloned()
                .collect();
            if !missing.is_empty() {
                missing.sort();
                return Err(InvalidPolicy::NotRegistered(missing));
            }
        }
        Ok(Policy {
            prefix,
            expose: self.expose,
            authorize: self.authorize,
            timeout: self.timeout,
            stream_idle: self.stream_idle,
            slots: Slots::new(self.concurrency_limit.max(1)),
            body_limit: self.body_limit,
            shutdown_grace: self.shutdown_grace,
            show_panics: self.show_panics,
        })
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("prefix", &self.prefix)
            .field("expose", &self.expose)
            .field("authorize", &self.authorize.as_ref().map(|_| "Fn"))
            .field("timeout", &self.timeout)
            .field("stream_idle", &self.stream_idle)
            .field("concurrency_limit", &self.concurrency_limit)
            .field("body_limit", &self.body_limit)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("show_panics", &self.show_panics)
            .finish()
    }
}

/// The checked settings a server or worker applies to every call, whatever its transport.
pub(crate) struct Policy {
    /// The prefix's segments (a transport joins them with its own separator).
    pub(crate) prefix: Vec<String>,
    pub(crate) expose: Expose,
    pub(crate) authorize: Option<Authorize>,
    pub(crate) timeout: Duration,
    /// The longest a streaming function may go without an item.
    pub(crate) stream_idle: Duration,
    /// One per running call: the concurrency limit.
    pub(crate) slots: Slots,
    pub(crate) body_limit: usize,
    pub(crate) shutdown_grace: Duration,
    pub(crate) show_panics: bool,
}

impl Policy {
    /// Whether `caller` may call `function`, and with which context: the authorize hook's
    /// word (and what it attached), then the function's `require = ".."` checked against the
    /// attached [`Identity`](crate::Identity), as the wire's refusal. A hook (or an identity)
    /// that panics refuses (`500 panicked`): the request is answered, and the connection (or
    /// the worker's task) survives.
    pub(crate) fn authorize(&self, caller: &mut Caller<'_>, function: &ServerFunction) -> Result<Context, (Code, String)> {
        caller.reset_context();
        if let Some(authorize) = &self.authorize {
            match crate::panic::catching(|| authorize(caller, function)) {
                Ok(Ok(())) => {}
                Ok(Err(Refusal::Unauthorized(message))) => return Err((codes::UNAUTHORIZED, message)),
                Ok(Err(Refusal::Forbidden(message))) => return Err((codes::FORBIDDEN, message)),
                Err(_) => return Err((codes::PANICKED, "the server's authorize hook panicked".to_owned())),
            }
        }
        let context = caller.take_context();
        let Some(role) = function.require() else { return Ok(context) };
        let name = function.name();
        match context.identity().map(|identity| crate::panic::catching(|| identity.has_role(role))) {
            Some(Ok(true)) => Ok(context),
            Some(Ok(false)) => Err((
                codes::FORBIDDEN,
                format!("server function `{name}` requires `{role}`, which the caller's identity does not have"),
            )),
            Some(Err(_)) => Err((codes::PANICKED, "the caller's identity panicked in `has_role`".to_owned())),
            None => Err((
                codes::UNAUTHORIZED,
                format!(
                    "server function `{name}` requires `{role}`, and the call carries no identity (the server's authorize hook attaches one for a signed-in caller: `caller.attach_identity(..)`)"
                ),
            )),
        }
    }

    /// Whether `caller` may see and call `function`: exposed, and allowed by the hook and its
    /// `require`. What a listing, a description or a not-found suggestion shows (HTTP's).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn callable(&self, caller: &mut Caller<'_>, function: &ServerFunction) -> bool {
        self.expose.allows(function.name()) && self.authorize(caller, function).is_ok()
    }

    /// The refusal of a body (or payload) of `bytes` bytes, if it is over the limit.
    pub(crate) fn refuse_size(&self, bytes: u64) -> Option<ErrorBody> {
        (bytes > self.body_limit as u64).then(|| self.too_large())
    }

    /// The `413 payload_too_large` error object, naming the limit.
    pub(crate) fn too_large(&self) -> ErrorBody {
        codes::PAYLOAD_TOO_LARGE.body(format!("the body is over the limit of {} bytes", self.body_limit))
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("prefix", &self.prefix)
            .field("expose", &self.expose)
            .field("timeout", &self.timeout)
            .field("body_limit", &self.body_limit)
            .field("shutdown_grace", &self.shutdown_grace)
            .finish_non_exhaustive()
    }
}

/// The builder methods of the shared settings, written once for both builders (each has a
/// `policy: Settings` field): the same names, defaults and documentation on either transport.
macro_rules! policy_setters {
    () => {
        $crate::remote::policy_setters!(calls);

        /// After the shutdown signal, how long calls already accepted may take to finish; calls
        /// still running then are stopped. Default 10 s.
        pub fn shutdown_grace(mut self, grace: std::time::Duration) -> Self {
            self.policy.shutdown_grace = grace;
            self
        }
    };
    // What applies to each call (a transport without a shutdown takes only these).
    (calls) => {
        /// Serves every registered function (the default).
        pub fn expose_all(mut self) -> Self {
            self.policy.expose = $crate::remote::Expose::All;
            self
        }

        /// Serves only these names. Building refuses a name that is not registered with [`InvalidPolicy::NotRegistered`](crate::remote::InvalidPolicy).
        /// An unexposed function answers `not_found` exactly like a missing one.
        pub fn expose<I>(mut self, names: I) -> Self
        where
            I: IntoIterator,
            I::Item: Into<String>,
        {
            self.policy.expose = $crate::remote::Expose::Only(names.into_iter().map(Into::into).collect());
            self
        }

        /// The authorization hook, one for every transport: it sees the request through
        /// [`Caller`](crate::remote::Caller) (headers, transport, peer where known) and the
        /// function's registry entry, refuses with `unauthorized` or `forbidden`, and attaches
        /// what it learned for the function to read (`caller.attach(user)`, read as a
        /// `#[context] user: User` parameter; `caller.attach_identity(user)`, which a
        /// function's `require = ".."` is then checked against). Over NATS
        /// it also decides who may cancel a running call: a cancel is applied only when the
        /// hook allows its sender to call the function.
        pub fn authorize(
            mut self,
            hook: impl Fn(&mut $crate::remote::Caller<'_>, &$crate::registry::ServerFunction) -> Result<(), $crate::remote::Refusal>
                + Send
                + Sync
                + 'static,
        ) -> Self {
            self.policy.authorize = Some(std::sync::Arc::new(hook));
            self
        }

        /// How long one call may run before it is stopped and answered `504 timed_out`.
        /// Default 30 s.
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.policy.timeout = timeout;
            self
        }

        /// How long a function that streams its items may go without making one before it is
        /// stopped, its caller reading `504 stream_idle` after the items it made (the time its
        /// caller takes to read an item does not count). Default 15 s. The call's
        /// [`timeout`](Self::timeout) still bounds the whole stream.
        pub fn stream_idle_limit(mut self, limit: std::time::Duration) -> Self {
            self.policy.stream_idle = limit;
            self
        }

        /// How many calls may run at once; one more is refused with `503 overloaded` at once
        /// (never queued, never executed), which clients may retry. Only running calls count.
        /// Default 1,024.
        pub fn concurrency_limit(mut self, calls: usize) -> Self {
            self.policy.concurrency_limit = calls.max(1);
            self
        }

        /// The largest body (HTTP) or payload (NATS) a call may carry; a larger one is refused
        /// with `413 payload_too_large` before anything is decoded. Default 1 MiB.
        pub fn body_limit(mut self, bytes: usize) -> Self {
            self.policy.body_limit = bytes;
            self
        }

        /// Sends a panic's message to the caller (off by default: it may reveal internals).
        pub fn show_panics(mut self, show: bool) -> Self {
            self.policy.show_panics = show;
            self
        }
    };
}

pub(crate) use policy_setters;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_check_for_every_transport() {
        let checked = Settings::with_prefix("/api/v1/").check().unwrap();
        assert_eq!(checked.prefix, ["api", "v1"]);
        let bad = Settings { prefix: "rpc:x".into(), ..Settings::with_prefix("") }.check().unwrap_err();
        assert!(matches!(bad, InvalidPolicy::Prefix(_)), "{bad}");
        let names = ["zz_not_registered", "aa_not_registered"].map(String::from);
        let unexposable = Settings { expose: Expose::Only(names.into()), ..Settings::with_prefix("") };
        let error = unexposable.check().unwrap_err();
        assert_eq!(error, InvalidPolicy::NotRegistered(vec!["aa_not_registered".into(), "zz_not_registered".into()]));
        assert!(error.to_string().contains("`expose` names functions that are not registered: `aa_not_registered`"), "{error}");
    }
}
