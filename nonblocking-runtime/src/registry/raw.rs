//! Arguments read straight from a JSON body, without building a `Value` tree first: the body
//! is split into one raw slice per argument, and each is decoded into its parameter's type.
//! The rule is the one of [`Arguments`](super::Arguments): an array is positional, an object
//! by keyword, `null` (or nothing) means no arguments, anything else is the single argument.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::depth::too_deep_text;

/// One body, split.
pub(crate) enum RawArgs<'a> {
    None,
    Positional(Vec<&'a RawValue>),
    Keyword(Vec<(Cow<'a, str>, &'a RawValue)>),
    Single(&'a RawValue),
    /// The one argument's bytes (an `application/octet-stream` body).
    Bytes(&'a [u8]),
}

impl<'a> RawArgs<'a> {
    /// Splits `body`, checking all of it (so decoding an argument later can only fail on its
    /// type).
    pub(crate) fn parse(body: &'a [u8]) -> Result<RawArgs<'a>, RawError> {
        if too_deep_text(body) {
            return Err(RawError::TooDeep);
        }
        // Checked once here, as text: serde_json then reads without checking each piece again.
        let text = std::str::from_utf8(body).map_err(|_| RawError::NotUtf8)?;
        Self::split(text).map_err(RawError::Malformed)
    }

    fn split(body: &'a str) -> Result<RawArgs<'a>, serde_json::Error> {
        // Only an empty body is "no arguments": one of nothing but whitespace is not a JSON
        // text (schemathesis sends `\t` and a form feed expecting a refusal), and serde_json
        // refuses it below. JSON's whitespace only: `u8::is_ascii_whitespace` would also skip
        // a form feed.
        if body.is_empty() {
            return Ok(RawArgs::None);
        }
        let first = body.bytes().find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'));
        Ok(match first {
            Some(b'[') => RawArgs::Positional(serde_json::from_str(body)?),
            Some(b'{') => RawArgs::Keyword(serde_json::from_str::<Keywords<'a>>(body)?.0),
            // Whitespace alone (`None`) fails here, as not JSON.
            _ => {
                let single: &'a RawValue = serde_json::from_str(body)?;
                if single.get() == "null" {
                    RawArgs::None
                } else {
                    RawArgs::Single(single)
                }
            }
        })
    }
}

/// Why a body could not be split.
#[derive(Debug)]
pub(crate) enum RawError {
    /// Not UTF-8, so not JSON.
    NotUtf8,
    /// Not JSON.
    Malformed(serde_json::Error),
    /// JSON nested deeper than [`MAX_DEPTH`](super::depth::MAX_DEPTH) levels: invalid arguments, as for a call from Rust.
    TooDeep,
}

/// An object's members in order, keys borrowed from the body unless they hold escapes. A key
/// given twice keeps its last value, as `serde_json::Map` does.
struct Keywords<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Keywords<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;

        impl<'de> Visitor<'de> for Members {
            type Value = Keywords<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("an object of keyword arguments")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::new();
                while let Some(Key(key)) = map.next_key()? {
                    let value = map.next_value()?;
                    match members.iter_mut().find(|(seen, _)| *seen == key) {
                        Some(member) => member.1 = value,
                        None => members.push((key, value)),
                    }
                }
                Ok(Keywords(members))
            }
        }

        deserializer.deserialize_map(Members)
    }
}

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a keyword")
            }

            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(key)))
            }

            fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }

            fn visit_string<E>(self, key: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(key)))
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::RawArgs;

    fn shape(body: &str) -> String {
        match RawArgs::parse(body.as_bytes()) {
            Ok(RawArgs::None) => "none".into(),
            Ok(RawArgs::Positional(values)) => {
                format!("positional {}", values.iter().map(|v| v.get()).collect::<Vec<_>>().join(" "))
            }
            Ok(RawArgs::Keyword(members)) => format!(
                "keyword {}",
                members.iter().map(|(k, v)| format!("{k}={}", v.get())).collect::<Vec<_>>().join(" ")
            ),
            Ok(RawArgs::Single(value)) => format!("single {}", value.get()),
            Ok(RawArgs::Bytes(_)) => unreachable!("parsing JSON never gives bytes"),
            Err(super::RawError::Malformed(_) | super::RawError::NotUtf8) => "malformed".into(),
            Err(super::RawError::TooDeep) => "too deep".into(),
        }
    }

    #[test]
    fn bodies_split_by_the_rule() {
        assert_eq!(shape(""), "none");
        assert_eq!(shape("  null "), "none");
        assert_eq!(shape("[1, [2, 3], {\"x\": 4}]"), "positional 1 [2, 3] {\"x\": 4}");
        assert_eq!(shape("{\"a\": 40, \"b\": \"x\"}"), "keyword a=40 b=\"x\"");
        assert_eq!(shape(" \"text\""), "single \"text\"");
        assert_eq!(shape("7"), "single 7");
    }

    #[test]
    fn only_an_empty_body_is_no_arguments() {
        assert_eq!(shape(""), "none");
        // Whitespace alone is not a JSON text (schemathesis sent `\t`, and a form feed, which
        // is ASCII whitespace but not JSON's).
        assert_eq!(shape(" \t\r\n"), "malformed");
        assert_eq!(shape("\x0c"), "malformed");
        assert_eq!(shape(" \x0c null"), "malformed");
        assert_eq!(shape(" null\n"), "none");
    }

    #[test]
    fn bodies_that_are_not_utf8_are_malformed() {
        assert!(matches!(RawArgs::parse(b"[\"\xff\"]"), Err(super::RawError::NotUtf8)));
    }

    #[test]
    fn deep_bodies_are_too_deep_not_malformed() {
        let deep = format!("[{}1{}]", "[".repeat(200), "]".repeat(200));
        assert_eq!(shape(&deep), "too deep");
    }

    #[test]
    fn escaped_and_repeated_keys_read_like_a_map() {
        assert_eq!(shape("{\"\\u0061\": 1, \"b\": 2, \"a\": 3}"), "keyword a=3 b=2");
    }

    #[test]
    fn malformed_bodies_are_refused_whole() {
        for body in ["[1, 2", "{\"a\": }", "[1, tru]", "7 8", "{\"a\": 1} x", "nul"] {
            assert_eq!(shape(body), "malformed", "{body}");
        }
    }
}
