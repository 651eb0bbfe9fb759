//! [`Context`]: what a call carries besides its arguments — values the server's authorize hook
//! attached for it (the signed-in user, a tenant, a database handle), the caller's
//! [`Identity`] that `require = ".."` is checked against, the call's deadline, and its place in
//! a distributed trace ([`TraceContext`]).
//!
//! A server function reads it through parameters marked `#[context]`, which are never sent
//! on the wire:
//!
//! ```
//! use nonblocking_runtime::{Context, server_function};
//!
//! #[derive(Clone)]
//! struct User {
//!     name: String,
//! }
//!
//! #[server_function]
//! async fn greet(#[context] user: User, greeting: String) -> String {
//!     format!("{greeting}, {}", user.name)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // Called locally, the context is the one in scope (set here as a test would).
//! let ada = Context::new().with(User { name: "Ada".into() });
//! let greeting = ada.scope(async { call_async_greet("Hello".into()).await }).await;
//! assert_eq!(greeting.unwrap(), "Hello, Ada");
//!
//! // Without a `User`, the call fails before the function runs, naming what is missing.
//! let error = call_async_greet("Hello".into()).await.unwrap_err();
//! assert!(error.to_string().contains("needs a `"), "{error}");
//! # }
//! ```
//!
//! Served over a transport, the context starts empty for every call and is filled by the
//! authorize hook (`caller.attach(user)`), so a client can never send it.

mod identity;
mod trace;

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

pub use self::identity::{Identity, Roles};
pub use self::trace::{TRACEPARENT, TRACESTATE, TraceContext};

tokio::task_local! {
    // A task-local, so the current context follows a call across the awaits of its future
    // (and, through `sync_scope`, onto the blocking pool).
    static CURRENT: Context;
}

/// A call's context: typed values (at most one of each type), an optional [`Identity`] and
/// an optional deadline. Cheap to clone (one reference count), and free when empty.
#[derive(Clone, Default)]
pub struct Context {
    inner: Option<Arc<Inner>>,
    // Every served call has a deadline: kept here, it costs that call no allocation.
    deadline: Option<Instant>,
}

#[derive(Clone, Default)]
struct Inner {
    // A handful of values at most: a linear scan beats hashing.
    values: Vec<(TypeId, Arc<dyn Any + Send + Sync>)>,
    identity: Option<Arc<dyn Identity>>,
    trace: Option<TraceContext>,
    /// Where the call's `Progress` reports go, when its caller can see them.
    progress: Option<Arc<crate::progress::Reporter>>,
}

impl Context {
    /// An empty context: no values, no identity, no deadline.
    pub const fn new() -> Self {
        Context { inner: None, deadline: None }
    }

    /// This context with `value` attached, replacing any value of the same type.
    pub fn with<T: Send + Sync + 'static>(self, value: T) -> Self {
        self.with_shared(Arc::new(value))
    }

    /// This context with `identity` as the caller's identity, also attached as a value of its
    /// own type (a function may take it as a `#[context]` parameter). `require = ".."` is
    /// checked against it.
    pub fn with_identity<I: Identity>(mut self, identity: I) -> Self {
        let identity = Arc::new(identity);
        self.inner_mut().identity = Some(identity.clone());
        self.with_shared(identity)
    }

    /// This context with the call's deadline set.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// This context with the call's place in a distributed trace.
    pub fn with_trace(mut self, trace: TraceContext) -> Self {
        self.inner_mut().trace = Some(trace);
        self
    }

    /// This context with the call's progress going to `reporter`.
    pub(crate) fn with_progress(mut self, reporter: Arc<crate::progress::Reporter>) -> Self {
        self.inner_mut().progress = Some(reporter);
        self
    }

    /// Where the call's progress goes, if anywhere.
    pub(crate) fn progress(&self) -> Option<&Arc<crate::progress::Reporter>> {
        self.inner.as_deref()?.progress.as_ref()
    }

    fn with_shared<T: Send + Sync + 'static>(mut self, value: Arc<T>) -> Self {
        let values = &mut self.inner_mut().values;
        let id = TypeId::of::<T>();
        values.retain(|(held, _)| *held != id);
        values.push((id, value));
        self
    }

    fn inner_mut(&mut self) -> &mut Inner {
        Arc::make_mut(self.inner.get_or_insert_with(Default::default))
    }

    /// The attached value of type `T`, if there is one.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        let inner = self.inner.as_deref()?;
        let id = TypeId::of::<T>();
        let (_, value) = inner.values.iter().find(|(held, _)| *held == id)?;
        value.downcast_ref()
    }

    /// The caller's identity, if one was attached.
    pub fn identity(&self) -> Option<&dyn Identity> {
        self.inner.as_deref()?.identity.as_deref()
    }

    /// When the call must be done: for a call served by a transport, the earlier of the
    /// server's timeout and the caller's own deadline; for a local call, what its scope set.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The call's place in a distributed trace, when its caller sent one (or a scope set it):
    /// the calls it makes through a Rust client carry it on.
    pub fn trace(&self) -> Option<&TraceContext> {
        self.inner.as_deref()?.trace.as_ref()
    }

    /// The time left until the [`deadline`](Self::deadline) (zero once it passed).
    pub fn time_left(&self) -> Option<Duration> {
        self.deadline().map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// Whether nothing is attached and no deadline is set.
    pub fn is_empty(&self) -> bool {
        self.inner.is_none() && self.deadline.is_none()
    }

    /// The context of the code running now: inside a server function, its call's context;
    /// inside [`scope`](Self::scope) or [`sync_scope`](Self::sync_scope), theirs; elsewhere
    /// an empty one.
    pub fn current() -> Context {
        CURRENT.try_with(Context::clone).unwrap_or_default()
    }

    /// The current context, if one with anything in it is set (the call path's cheap check).
    pub(crate) fn current_if_set() -> Option<Context> {
        CURRENT.try_with(|context| (!context.is_empty()).then(|| context.clone())).ok().flatten()
    }

    /// Runs `future` with this context as the [`current`](Self::current) one: typed stubs of
    /// functions that take `#[context]` parameters read it when they are called, and every
    /// call started inside (`call_async`, `call_blocking`, stubs, calls by name) runs in it.
    pub fn scope<F: std::future::Future>(self, future: F) -> impl std::future::Future<Output = F::Output> {
        CURRENT.scope(self, future)
    }

    /// Runs `f` with this context as the [`current`](Self::current) one.
    pub fn sync_scope<R>(self, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(self, f)
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Context");
        if let Some(inner) = &self.inner {
            out.field("values", &inner.values.len())
                .field("identity", &inner.identity.is_some())
                .field("trace", &inner.trace);
        }
        out.field("deadline", &self.deadline).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Tenant(&'static str);

    struct Admin;

    impl Identity for Admin {
        fn has_role(&self, role: &str) -> bool {
            role == "admin"
        }
    }

    #[test]
    fn a_value_of_each_type_the_last_one_wins() {
        let context = Context::new().with(Tenant("a")).with(7_u32).with(Tenant("b"));
        assert_eq!(context.get::<Tenant>(), Some(&Tenant("b")));
        assert_eq!(context.get::<u32>(), Some(&7));
        assert_eq!(context.get::<u64>(), None);
        assert!(Context::new().is_empty() && Context::new().get::<u32>().is_none());
    }

    #[test]
    fn an_identity_is_also_a_value_of_its_type() {
        let context = Context::new().with_identity(Admin);
        assert!(context.identity().is_some_and(|identity| identity.has_role("admin")));
        assert!(context.get::<Admin>().is_some());
    }

    #[test]
    fn clones_do_not_see_later_attachments() {
        let first = Context::new().with(1_u8);
        let second = first.clone().with(2_u16);
        assert!(first.get::<u16>().is_none());
        assert_eq!(second.get::<u8>(), Some(&1));
    }

    #[tokio::test(start_paused = true)]
    async fn the_current_context_is_the_scopes() {
        assert!(Context::current().is_empty());
        let deadline = Instant::now() + Duration::from_secs(3);
        let context = Context::new().with(Tenant("t")).with_deadline(deadline);
        context
            .clone()
            .scope(async {
                assert_eq!(Context::current().get::<Tenant>(), Some(&Tenant("t")));
                assert_eq!(Context::current().time_left(), Some(Duration::from_secs(3)));
            })
            .await;
        assert_eq!(context.sync_scope(|| Context::current().deadline()), Some(deadline));
        assert!(Context::current().is_empty());
    }
}
