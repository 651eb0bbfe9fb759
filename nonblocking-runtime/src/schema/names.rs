//! Names of definitions: valid OpenAPI component names (`[A-Za-z0-9._-]+`), unique, and the
//! `$ref`s that point at them rewritten to match.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::signature::DEFINITIONS;

/// Each generator's definition names, mapped to their names in the merged set.
#[derive(Debug, Default)]
pub(super) struct Renames {
    pub(super) input: HashMap<String, String>,
    pub(super) output: HashMap<String, String>,
}

/// `name` + `suffix` with every character a component name cannot hold replaced by `_`, made
/// unique among `taken` with a counter, and taken.
pub(super) fn component_name(name: &str, suffix: &str, taken: &mut BTreeSet<String>) -> String {
    let base: String = format!("{name}{suffix}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect();
    let mut candidate = base.clone();
    let mut counter = 2;
    while taken.contains(&candidate) {
        candidate = format!("{base}{counter}");
        counter += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

/// The definition a `$ref` points at, if it is one of ours.
pub(super) fn target(reference: &str) -> Option<String> {
    let token = reference.strip_prefix('#')?.strip_prefix(DEFINITIONS)?.strip_prefix('/')?;
    Some(token.replace("~1", "/").replace("~0", "~"))
}

/// The `$ref` that points at definition `name`.
pub(super) fn reference(name: &str) -> String {
    format!("#{DEFINITIONS}/{}", name.replace('~', "~0").replace('/', "~1"))
}

/// Every definition `schema` refers to, directly.
pub(super) fn refs_of(schema: &Value) -> Vec<String> {
    let mut found = Vec::new();
    walk(schema, &mut |reference| found.extend(target(reference)));
    found
}

/// Points every `$ref` of `schema` at its renamed definition.
pub(super) fn rewrite_refs(schema: &mut Value, renames: &HashMap<String, String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref") {
                if let Some(renamed) = target(reference).and_then(|name| renames.get(&name)) {
                    *reference = super::names::reference(renamed);
                }
            }
            map.values_mut().for_each(|value| rewrite_refs(value, renames));
        }
        Value::Array(items) => items.iter_mut().for_each(|value| rewrite_refs(value, renames)),
        _ => {}
    }
}

fn walk(schema: &Value, visit: &mut impl FnMut(&str)) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                visit(reference);
            }
            map.values().for_each(|value| walk(value, visit));
        }
        Value::Array(items) => items.iter().for_each(|value| walk(value, visit)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_and_unique() {
        let mut taken = BTreeSet::new();
        assert_eq!(component_name("Wrapper<String>", "", &mut taken), "Wrapper_String_");
        assert_eq!(component_name("Wrapper<String>", "", &mut taken), "Wrapper_String_2");
        assert_eq!(component_name("Item", "Output", &mut taken), "ItemOutput");
    }

    #[test]
    fn refs_round_trip_and_are_rewritten() {
        assert_eq!(target(&reference("a/b~c")).as_deref(), Some("a/b~c"));
        assert_eq!(target("#/$defs/Item"), None);
        let mut schema = serde_json::json!({"items": {"$ref": "#/components/schemas/Item"}, "x": [{"$ref": "#/components/schemas/Other"}]});
        let renames = HashMap::from([("Item".to_owned(), "ItemOutput".to_owned())]);
        rewrite_refs(&mut schema, &renames);
        assert_eq!(schema["items"]["$ref"], "#/components/schemas/ItemOutput");
        assert_eq!(schema["x"][0]["$ref"], "#/components/schemas/Other");
        assert_eq!(refs_of(&schema), ["ItemOutput", "Other"]);
    }
}
