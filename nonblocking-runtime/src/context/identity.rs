//! [`Identity`]: who is calling, as far as `require = ".."` is concerned.

/// The caller's identity, attached by the server's authorize hook with
/// `caller.attach_identity(..)` (or, for a local call, [`Context::with_identity`](super::Context::with_identity)).
///
/// A function marked `#[server_function(require = "admin")]` is run for a caller of a
/// transport only when the call's context holds an identity whose `has_role("admin")` is
/// true: without an identity the call is refused `401 unauthorized`, with one that lacks the
/// role `403 forbidden`, before the function runs.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::Identity;
///
/// #[derive(Clone)]
/// struct User {
///     name: String,
///     admin: bool,
/// }
///
/// impl Identity for User {
///     fn has_role(&self, role: &str) -> bool {
///         match role {
///             "user" => true,
///             "admin" => self.admin,
///             _ => false,
///         }
///     }
/// }
/// ```
pub trait Identity: Send + Sync + 'static {
    /// Whether this caller has `role`, the value of a function's `require = ".."`.
    fn has_role(&self, role: &str) -> bool;
}

/// The simplest [`Identity`]: a set of role names, for a hook that learns only those (from a
/// token's claims, say) or for a test.
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::Identity;
/// use nonblocking_runtime::context::Roles;
///
/// let editor = Roles::new(["user", "editor"]);
/// assert!(editor.has_role("editor") && !editor.has_role("admin"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles(Vec<String>);

impl Roles {
    /// The roles `names`.
    pub fn new<I>(names: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Roles(names.into_iter().map(Into::into).collect())
    }

    /// The role names.
    pub fn names(&self) -> &[String] {
        &self.0
    }
}

impl Identity for Roles {
    fn has_role(&self, role: &str) -> bool {
        self.0.iter().any(|name| name == role)
    }
}
