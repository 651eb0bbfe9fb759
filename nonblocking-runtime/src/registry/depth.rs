//! Arguments nested deeper than serde_json's own parser allows (128 levels) are refused before
//! anything recurses past that depth, and dropped without recursion: a `Value` built in code can be
//! 20,000 levels deep, and decoding, encoding or dropping it recursively would overflow a
//! worker's 2 MiB stack and abort the process.

use serde_json::Value;

/// The deepest nesting accepted: serde_json's recursion limit when it parses text.
pub(crate) const MAX_DEPTH: usize = 128;

/// Whether `value` nests more than [`MAX_DEPTH`] levels (a scalar is one level).
pub(crate) fn too_deep(value: &Value) -> bool {
    deeper_than_allowed(value, 1)
}

/// Recursive, but never past `MAX_DEPTH + 1` frames: it stops at the first value too deep, so
/// the walk itself cannot overflow, and a shallow value (every call's) costs no allocation.
fn deeper_than_allowed(value: &Value, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return true;
    }
    match value {
        Value::Array(items) => items.iter().any(|item| inner_too_deep(item, depth + 1)),
        Value::Object(map) => map.values().any(|item| inner_too_deep(item, depth + 1)),
        _ => false,
    }
}

/// [`deeper_than_allowed`] for a value inside a container, without a call for a scalar (the
/// common argument).
#[inline]
fn inner_too_deep(value: &Value, depth: usize) -> bool {
    match value {
        Value::Array(_) | Value::Object(_) => deeper_than_allowed(value, depth),
        _ => depth > MAX_DEPTH,
    }
}

#[cfg_attr(not(any(feature = "http", feature = "nats")), allow(dead_code))]
pub(crate) fn too_deep_text(text: &[u8]) -> bool {
    let (mut containers, mut in_string, mut escaped) = (0_usize, false, false);
    for &byte in text {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                containers += 1;
                // A value inside `containers` containers is `containers + 1` levels deep.
                if containers >= MAX_DEPTH {
                    return true;
                }
            }
            b']' | b'}' => containers = containers.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Drops `value` without recursion, however deep it is.
pub(crate) fn drop_flat(value: Value) {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => pending.extend(map.into_iter().map(|(_, item)| item)),
            // A scalar, or a container emptied above: nothing nested is left to recurse into.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> Value {
        let mut value = Value::Null;
        for _ in 1..levels {
            value = Value::Array(vec![value]);
        }
        value
    }

    #[test]
    fn depth_is_counted_like_serde_json_counts_it() {
        assert!(!too_deep(&nested(MAX_DEPTH)));
        assert!(too_deep(&nested(MAX_DEPTH + 1)));
        // serde_json parses the deepest accepted value, and refuses one level more.
        let text = |levels: usize| "[".repeat(levels - 1) + "null" + &"]".repeat(levels - 1);
        assert!(serde_json::from_str::<Value>(&text(MAX_DEPTH)).is_ok());
        assert!(serde_json::from_str::<Value>(&text(MAX_DEPTH + 2)).is_err());
    }

    #[test]
    fn text_depth_agrees_with_value_depth_and_skips_strings() {
        let text = |levels: usize| "[".repeat(levels - 1) + "null" + &"]".repeat(levels - 1);
        for levels in [1, 2, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 50] {
            let value: Value = serde_json::from_str(&text(levels.min(MAX_DEPTH))).unwrap();
            assert_eq!(too_deep_text(text(levels).as_bytes()), levels > MAX_DEPTH, "{levels}");
            assert!(!too_deep(&value));
        }
        let brackets_in_a_string = format!("[\"{}\\\"{}\"]", "[".repeat(300), "{".repeat(300));
        assert!(!too_deep_text(brackets_in_a_string.as_bytes()));
        let deep_object = "{\"a\":".repeat(MAX_DEPTH) + "1" + &"}".repeat(MAX_DEPTH);
        assert!(too_deep_text(deep_object.as_bytes()));
    }

    #[test]
    fn a_very_deep_value_is_checked_and_dropped_without_recursion() {
        // Run on a small stack: recursion 200,000 levels deep would overflow it.
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let deep = nested(200_000);
                assert!(too_deep(&deep));
                drop_flat(deep);
            })
            .unwrap()
            .join()
            .unwrap();
    }
}
