//! Function names to NATS subjects and service endpoint names, checked before a worker starts.
//!
//! A function `todo.add` under the prefix `rpc` is served on the subject `rpc.todo.add`; its
//! endpoint (what `$SRV.INFO` lists) is named `todo_add`, since endpoint names allow only
//! `[A-Za-z0-9_-]`. Two names that map to one endpoint name (`a.b` and `a_b`), or a name with an
//! empty subject token (`a..b`, `.x`), cannot be served: the worker refuses to start and says
//! which.

use std::collections::HashMap;
use std::fmt;

use crate::registry::ServerFunction;

/// Where the worker `id` serving under `prefix` takes cancels for the calls it runs (only
/// that worker listens there). Outside the prefix, so no function's subject can collide.
pub(crate) fn cancel_subject(prefix: &str, id: &str) -> String {
    format!("_nonblocking.cancel.{prefix}.{id}")
}

/// The subject of the function `name` under `prefix`, if `name` makes valid subject tokens.
pub(crate) fn subject(prefix: &str, name: &str) -> Option<String> {
    valid_tokens(name).then(|| format!("{prefix}.{name}"))
}

/// Whether `text` is one or more dot-separated tokens of `[A-Za-z0-9_-]` (what a subject
/// prefix may be; function names only ever hold these characters and `.`).
pub(crate) fn valid_tokens(text: &str) -> bool {
    !text.is_empty()
        && text
            .split('.')
            .all(|token| !token.is_empty() && token.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
}

/// The endpoint name of the function `name`.
pub(crate) fn endpoint_name(name: &str) -> String {
    name.replace('.', "_")
}

/// One function as a worker serves it.
pub(crate) struct Route {
    pub(crate) function: &'static ServerFunction,
    pub(crate) subject: String,
    pub(crate) endpoint: String,
}

/// The functions a worker could not serve, each with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidNames(pub Vec<String>);

impl fmt::Display for InvalidNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "these server functions cannot be served over NATS: {}", self.0.join("; "))
    }
}

impl std::error::Error for InvalidNames {}

/// The routes of `functions` under `prefix`, or every reason some cannot be served.
pub(crate) fn routes(prefix: &str, functions: impl IntoIterator<Item = &'static ServerFunction>) -> Result<Vec<Route>, InvalidNames> {
    let mut problems = Vec::new();
    let mut routes: Vec<Route> = Vec::new();
    let mut by_endpoint: HashMap<String, &'static str> = HashMap::new();
    for function in functions {
        let name = function.name();
        let Some(subject) = subject(prefix, name) else {
            problems.push(format!("`{name}` has an empty subject token (a leading, trailing or doubled `.`)"));
            continue;
        };
        let endpoint = endpoint_name(name);
        if let Some(other) = by_endpoint.insert(endpoint.clone(), name) {
            if other == name {
                problems.push(format!("`{name}` is defined more than once ({})", function.location()));
            } else {
                problems.push(format!("`{other}` and `{name}` both map to the endpoint name `{endpoint}`"));
            }
            continue;
        }
        routes.push(Route { function, subject, endpoint });
    }
    if problems.is_empty() { Ok(routes) } else { Err(InvalidNames(problems)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_subjects_and_endpoints() {
        assert_eq!(subject("rpc", "todo.add").as_deref(), Some("rpc.todo.add"));
        assert_eq!(subject("a.b", "x-y_z").as_deref(), Some("a.b.x-y_z"));
        for bad in ["a..b", ".x", "x.", ""] {
            assert_eq!(subject("rpc", bad), None, "{bad:?}");
        }
        assert_eq!(endpoint_name("todo.add"), "todo_add");
        assert!(valid_tokens("rpc.v1") && !valid_tokens("rpc.*") && !valid_tokens("rpc >") && !valid_tokens("rpc."));
        assert_eq!(cancel_subject("rpc", "ID"), "_nonblocking.cancel.rpc.ID");
    }
}
