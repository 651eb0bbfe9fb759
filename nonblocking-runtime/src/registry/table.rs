//! The registry: every server function by name, built once on first use.
//!
//! Built from what `inventory` collected plus anything passed to [`register`], into a hash map,
//! so a lookup is one hash and one comparison, never a scan. A name defined twice is kept as a
//! conflict: lookups of it fail with [`CallError::DuplicateName`] naming every definition.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock, PoisonError};

use super::function::ServerFunction;
use super::suggest::closest;
#[cfg(feature = "http")]
use super::suggest::is_valid_name;
use crate::errors::CallError;

/// Every registered server function, as listed by [`registry()`].
///
/// # Examples
///
/// ```
/// use nonblocking_runtime::{registry, server_function};
///
/// #[server_function(name = "docs.registry.ping")]
/// fn ping() -> String {
///     "pong".into()
/// }
///
/// let registry = registry();
/// assert!(registry.get("docs.registry.ping").is_ok());
/// assert!(registry.iter().any(|f| f.name() == "docs.registry.ping"));
/// ```
pub struct Registry {
    /// Sorted by name, then by path.
    functions: Vec<&'static ServerFunction>,
    by_name: HashMap<&'static str, Entry>,
}

enum Entry {
    One(&'static ServerFunction),
    /// Two or more definitions of one name, in `functions` order.
    Conflict(Vec<&'static ServerFunction>),
}

static REGISTRY: OnceLock<Registry> = OnceLock::new();

/// Functions passed to [`register`], and whether the registry was built (after which
/// registering is too late). One lock for both, so no registration can slip past a build.
static EXPLICIT: Mutex<Explicit> = Mutex::new(Explicit {
    functions: Vec::new(),
    built: false,
});

struct Explicit {
    functions: Vec<&'static ServerFunction>,
    built: bool,
}

/// The registry of server functions, built on first use.
///
/// # Examples
///
/// ```
/// for function in nonblocking_runtime::registry() {
///     println!("{function} defined at {}", function.location());
/// }
/// ```
pub fn registry() -> &'static Registry {
    REGISTRY.get_or_init(|| {
        let mut explicit = EXPLICIT.lock().unwrap_or_else(PoisonError::into_inner);
        explicit.built = true;
        let collected = inventory::iter::<ServerFunction>.into_iter();
        Registry::build(collected.chain(explicit.functions.iter().copied()))
    })
}

/// Registers a server function explicitly, for targets where automatic registration does not
/// run, or for a crate you cannot make the binary link. Pass the `const` the attribute defines,
/// `<FUNCTION>_SERVER_FUNCTION`. Registering a function that is also registered automatically
/// is harmless.
///
/// Call it before the first call by name (or `registry()`): the registry is built then, and a
/// later `register` returns [`CallError::RegistryBuilt`].
///
/// # Examples
///
/// ```standalone_crate
/// use nonblocking_runtime::registry::register;
/// use nonblocking_runtime::server_function;
///
/// #[server_function]
/// fn ping() -> String {
///     "pong".into()
/// }
///
/// register(&PING_SERVER_FUNCTION).unwrap();
/// ```
pub fn register(function: &'static ServerFunction) -> Result<(), CallError> {
    let mut explicit = EXPLICIT.lock().unwrap_or_else(PoisonError::into_inner);
    if explicit.built {
        return Err(CallError::RegistryBuilt(function.name().into()));
    }
    explicit.functions.push(function);
    Ok(())
}

impl Registry {
    fn build(all: impl Iterator<Item = &'static ServerFunction>) -> Registry {
        // One entry per definition: a function both collected and passed to `register()` is
        // one function. Sorting puts such twins side by side.
        let mut functions: Vec<&'static ServerFunction> = all.collect();
        functions.sort_by_key(|f| (f.name(), f.rust_path(), f.file(), f.line()));
        functions.dedup_by(|a, b| a.same_definition(b));

        let mut by_name: HashMap<&'static str, Entry> = HashMap::with_capacity(functions.len());
        for &function in &functions {
            by_name
                .entry(function.name())
                .and_modify(|entry| match entry {
                    Entry::One(first) => *entry = Entry::Conflict(vec![*first, function]),
                    Entry::Conflict(all) => all.push(function),
                })
                .or_insert(Entry::One(function));
        }
        let registry = Registry { functions, by_name };
        for (name, definitions) in registry.conflicts() {
            tracing::error!(
                name,
                definitions = %locations(definitions),
                "a server function name is defined more than once; calls by that name will fail until one is renamed"
            );
        }
        registry
    }

    /// The function registered under `name`.
    ///
    /// Fails with [`CallError::NotFound`] (suggesting the closest name) or
    /// [`CallError::DuplicateName`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::{CallError, registry, server_function};
    /// #[server_function(name = "docs.get.ping")]
    /// fn ping() {}
    /// assert_eq!(registry().get("docs.get.ping").unwrap().name(), "docs.get.ping");
    /// assert!(matches!(
    ///     registry().get("docs.get.pnig"),
    ///     Err(CallError::NotFound(missing)) if missing.suggestion.is_some()
    /// ));
    /// ```
    pub fn get(&self, name: &str) -> Result<&'static ServerFunction, CallError> {
        match self.by_name.get(name) {
            Some(Entry::One(function)) => Ok(function),
            Some(Entry::Conflict(definitions)) => Err(CallError::duplicate_name(
                name,
                definitions.iter().map(|f| f.location()).collect(),
            )),
            None => Err(CallError::not_found(name, closest(name, self.by_name.keys().copied()))),
        }
    }

    /// [`get`](Self::get) for a name from outside the process: a name no function could have
    /// is refused without a lookup, and a missing one fails with no suggestion (a transport
    /// adds one with [`suggest`](Self::suggest), for callers allowed to see it).
    #[cfg(feature = "http")]
    pub(crate) fn lookup(&self, name: &str) -> Result<&'static ServerFunction, CallError> {
        if !is_valid_name(name) {
            return Err(CallError::not_found(name, None));
        }
        match self.by_name.get(name) {
            Some(Entry::One(function)) => Ok(function),
            Some(Entry::Conflict(definitions)) => Err(CallError::duplicate_name(
                name,
                definitions.iter().map(|f| f.location()).collect(),
            )),
            None => Err(CallError::not_found(name, None)),
        }
    }

    /// The registered name closest to `name` among the functions `visible` allows (a bounded
    /// amount of work, see `suggest.rs`).
    #[cfg(feature = "http")]
    pub(crate) fn suggest(&self, name: &str, mut visible: impl FnMut(&ServerFunction) -> bool) -> Option<&'static str> {
        if !is_valid_name(name) {
            return None;
        }
        closest(name, self.functions.iter().filter(|function| visible(function)).map(|function| function.name()))
    }

    /// Every registered function, sorted by name (a conflicting name appears once per
    /// definition).
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::{registry, server_function};
    /// #[server_function]
    /// fn ping() {}
    /// for function in registry().iter() {
    ///     println!("{function}");
    /// }
    /// ```
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'static ServerFunction> + '_ {
        self.functions.iter().copied()
    }

    /// How many functions are registered.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::{registry, server_function};
    /// #[server_function]
    /// fn ping() {}
    /// assert_eq!(registry().len(), registry().iter().count());
    /// ```
    pub fn len(&self) -> usize {
        self.functions.len()
    }

    /// `true` if none is.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::{registry, server_function};
    /// #[server_function]
    /// fn ping() {}
    /// assert!(!registry().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }

    /// Names defined more than once, with every definition.
    ///
    /// # Examples
    ///
    /// ```
    /// # use nonblocking_runtime::registry;
    /// for (name, definitions) in registry().conflicts() {
    ///     eprintln!("`{name}` is defined {} times", definitions.len());
    /// }
    /// ```
    pub fn conflicts(
        &self,
    ) -> impl Iterator<Item = (&'static str, &[&'static ServerFunction])> + '_ {
        self.by_name.iter().filter_map(|(name, entry)| match entry {
            Entry::Conflict(definitions) => Some((*name, definitions.as_slice())),
            Entry::One(_) => None,
        })
    }
}

impl<'a> IntoIterator for &'a Registry {
    type Item = &'static ServerFunction;
    type IntoIter = std::iter::Copied<std::slice::Iter<'a, &'static ServerFunction>>;

    fn into_iter(self) -> Self::IntoIter {
        self.functions.iter().copied()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.functions.iter().map(|f| f.to_string()))
            .finish()
    }
}

fn locations(definitions: &[&ServerFunction]) -> String {
    definitions
        .iter()
        .map(|f| f.location())
        .collect::<Vec<_>>()
        .join("; ")
}
