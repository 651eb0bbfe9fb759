//! The one rule for a transport's prefix: zero or more segments of `[A-Za-z0-9_-]`. HTTP
//! writes them as a path (`/api/v1`), NATS as subject tokens (`api.v1`); either separator is
//! accepted by both, and leading or trailing ones are dropped, so `rpc`, `/rpc` and `/rpc/`
//! are one prefix. Anything else (an empty segment, a space, axum's `{` or `*`, NATS's `>`)
//! is refused when the server or worker is built, naming the prefix and the rule.

/// A prefix that breaks the rule, as given, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the prefix {given:?} is not valid: {reason}")]
#[non_exhaustive]
pub struct InvalidPrefix {
    /// The prefix as given.
    pub given: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The prefix's segments, checked against the rule; none for an empty prefix.
pub(crate) fn segments(given: &str) -> Result<Vec<&str>, InvalidPrefix> {
    let trimmed = given.trim_matches(|c| c == '/' || c == '.');
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    let invalid = |reason: String| InvalidPrefix { given: given.to_owned(), reason };
    trimmed
        .split(['/', '.'])
        .map(|segment| {
            if segment.is_empty() {
                return Err(invalid("it has an empty segment".into()));
            }
            match segment.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))) {
                Some(bad) => Err(invalid(format!(
                    "{bad:?} is not allowed: each segment is one or more of [A-Za-z0-9_-], separated by '/' or '.'"
                ))),
                None => Ok(segment),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::segments;

    #[test]
    fn one_rule_with_either_separator() {
        assert_eq!(segments("").unwrap(), Vec::<&str>::new());
        assert_eq!(segments("/").unwrap(), Vec::<&str>::new());
        assert_eq!(segments("rpc").unwrap(), ["rpc"]);
        assert_eq!(segments("/rpc/").unwrap(), ["rpc"]);
        assert_eq!(segments("/api/v-1").unwrap(), ["api", "v-1"]);
        assert_eq!(segments("api.v_1").unwrap(), ["api", "v_1"]);
        for bad in ["/a//b", "a b", "/{name}", "/*rest", "a.>", "rpc:x", "ünï"] {
            let error = segments(bad).unwrap_err();
            assert_eq!(error.given, bad);
            assert!(error.to_string().contains(bad), "{error}");
        }
    }
}
