//! TypeScript from JSON Schema: the named types and the `Api` interface of typed stubs.
//!
//! Covers what schemars generates for Rust types (objects, maps, arrays, tuples, enums of
//! every serde representation, `Option`, references); a schema it cannot express is `unknown`,
//! never a wrong type. Integers are `number`: JavaScript loses precision above 2^53, which the
//! declaration says next to every 64- and 128-bit integer.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write;

use serde_json::{Map, Value};

use super::names::target;
use super::{ApiSchema, FunctionSchema};

/// Names the generated file itself uses: a type may not take them.
const RESERVED_TYPES: &[&str] = &["Api", "AsyncCall", "Client", "NonBlockingError"];

/// Words a parameter may not be called in JavaScript (a Rust parameter may be).
const RESERVED_WORDS: &[&str] = &[
    "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete", "do", "else", "enum",
    "export", "extends", "false", "finally", "for", "function", "if", "import", "in", "instanceof", "new", "null",
    "return", "super", "switch", "this", "throw", "true", "try", "typeof", "var", "void", "while", "with", "yield",
    "let", "static", "implements", "interface", "package", "private", "protected", "public", "await", "arguments",
    "eval",
];

pub(super) fn declarations(api: &ApiSchema) -> String {
    let names = type_names(&api.definitions);
    let types = Types { names: &names };
    let mut out = String::from(
        "// Typed stubs of a nonblocking server's functions, generated from their Rust signatures.\n\
         // Do not edit: the server serves the current file at `<prefix>/api.d.ts`.\n\
         import type { AsyncCall, Client } from \"./nonblocking.js\";\n",
    );
    for (name, schema) in &api.definitions {
        out.push('\n');
        doc_comment(&mut out, "", schema.get("description").and_then(Value::as_str).unwrap_or_default());
        let _ = writeln!(out, "export type {} = {};", names[name], types.of(schema, 0));
    }
    out.push_str("\n/** The server's functions: each call returns at once, with the `AsyncCall` of its outcome. */\n");
    out.push_str("export interface Api ");
    let mut tree = Node::default();
    for function in &api.functions {
        tree.insert(function.name.split('.'), function);
    }
    tree.members(&mut out, &types, 0);
    out.push_str("\n\n/** The stubs, calling through the client `configure` set up. */\n");
    out.push_str("export declare const api: Api;\n");
    out.push_str("/** Stubs that call through `client` (another server, other headers). */\n");
    out.push_str("export declare function apiFor(client: Client): Api;\n");
    out
}

/// A valid, unique TypeScript identifier for every definition.
fn type_names(definitions: &Map<String, Value>) -> HashMap<String, String> {
    let mut taken: HashSet<String> = RESERVED_TYPES.iter().map(|name| (*name).to_owned()).collect();
    definitions
        .keys()
        .map(|name| {
            let mut base: String =
                name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '$' { c } else { '_' }).collect();
            if base.starts_with(|c: char| c.is_ascii_digit()) {
                base.insert(0, '_');
            }
            let mut candidate = base.clone();
            let mut counter = 2;
            while !taken.insert(candidate.clone()) {
                candidate = format!("{base}{counter}");
                counter += 1;
            }
            (name.clone(), candidate)
        })
        .collect()
}

/// The stubs as a tree of dotted names: `todo.add` is `add` inside `todo`.
#[derive(Default)]
struct Node<'a> {
    function: Option<&'a FunctionSchema>,
    children: BTreeMap<&'a str, Node<'a>>,
}

impl<'a> Node<'a> {
    fn insert(&mut self, mut path: impl Iterator<Item = &'a str>, function: &'a FunctionSchema) {
        match path.next() {
            Some(segment) => self.children.entry(segment).or_default().insert(path, function),
            None => self.function = Some(function),
        }
    }

    /// `{ ... }` with a call signature for this node's own function and a member per child.
    fn members(&self, out: &mut String, types: &Types, depth: usize) {
        let indent = "  ".repeat(depth + 1);
        out.push_str("{\n");
        if let Some(function) = self.function {
            stub(out, types, &indent, "", function);
        }
        for (segment, child) in &self.children {
            let key = property_key(segment);
            match (child.function, child.children.is_empty()) {
                (Some(function), true) => stub(out, types, &indent, &key, function),
                _ => {
                    let _ = write!(out, "{indent}{key}: ");
                    child.members(out, types, depth + 1);
                    out.push_str(";\n");
                }
            }
        }
        out.push_str(&"  ".repeat(depth));
        out.push('}');
    }
}

/// What a bytes parameter takes: the client sends any of them as the body itself.
const BYTES_IN: &str = "ArrayBuffer | ArrayBufferView | Blob";

/// One stub's signature, with its doc comment.
fn stub(out: &mut String, types: &Types, indent: &str, key: &str, function: &FunctionSchema) {
    let mut doc = function.doc.to_owned();
    if let Some(require) = function.require {
        let _ = write!(doc, "{}Requires `{require}`.", if doc.is_empty() { "" } else { "\n\n" });
    }
    doc_comment(out, indent, &doc);
    let params: Vec<String> = function
        .params
        .iter()
        .enumerate()
        .map(|(i, param)| {
            // Only a trailing run of optional parameters may be left out of a positional call.
            let optional = function.params[i..].iter().all(|rest| rest.optional);
            let name = if RESERVED_WORDS.contains(&param.name) { format!("{}_", param.name) } else { param.name.to_owned() };
            // The one bytes parameter takes what `fetch` sends as a body.
            let ty = if function.takes_bytes { BYTES_IN.to_owned() } else { types.of(&param.schema, 0) };
            format!("{name}{}: {ty}", if optional { "?" } else { "" })
        })
        .collect();
    let error = function.error.as_ref().map_or_else(|| "never".to_owned(), |error| types.of(error, 0));
    // A function that reports progress types its `onProgress` handler; one that streams, its
    // items (`onItem`, `for await`).
    let progress = match (&function.progress, &function.items) {
        (None, None) => String::new(),
        (progress, None) => format!(", {}", types.of(progress.as_ref().expect("some"), 0)),
        (progress, Some(items)) => format!(
            ", {}, {}",
            progress.as_ref().map_or_else(|| "never".to_owned(), |progress| types.of(progress, 0)),
            // A download's items are the chunks the client reads.
            if function.streams_bytes { "Uint8Array".to_owned() } else { types.of(items, 0) }
        ),
    };
    let returns = if function.returns_bytes { "ArrayBuffer".to_owned() } else { types.of(&function.returns, 0) };
    let _ = writeln!(out, "{indent}{key}({}): AsyncCall<{returns}, {error}{progress}>;", params.join(", "));
}

fn doc_comment(out: &mut String, indent: &str, text: &str) {
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    let text = text.replace("*/", "*\\/");
    if !text.contains('\n') {
        let _ = writeln!(out, "{indent}/** {text} */");
        return;
    }
    let _ = writeln!(out, "{indent}/**");
    for line in text.lines() {
        let _ = writeln!(out, "{indent} *{}{line}", if line.is_empty() { "" } else { " " });
    }
    let _ = writeln!(out, "{indent} */");
}

fn property_key(name: &str) -> String {
    let identifier = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if identifier { name.to_owned() } else { Value::from(name).to_string() }
}

struct Types<'n> {
    names: &'n HashMap<String, String>,
}

impl Types<'_> {
    /// The TypeScript type of `schema`, indented for `depth` when it spans lines.
    fn of(&self, schema: &Value, depth: usize) -> String {
        let map = match schema {
            Value::Bool(true) => return "unknown".into(),
            Value::Bool(false) => return "never".into(),
            Value::Object(map) => map,
            _ => return "unknown".into(),
        };
        if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
            return match target(reference).and_then(|name| self.names.get(&name)) {
                Some(name) => name.clone(),
                None => "unknown".into(),
            };
        }
        if let Some(value) = map.get("const") {
            return literal(value);
        }
        if let Some(values) = map.get("enum").and_then(Value::as_array) {
            return union(values.iter().map(literal).collect());
        }
        let mut parts = Vec::new();
        if let Some(kinds) = map.get("type") {
            let kinds: Vec<&str> = match kinds {
                Value::String(kind) => vec![kind.as_str()],
                Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            parts.push(union(kinds.into_iter().map(|kind| self.of_kind(kind, map, depth)).collect()));
        } else if map.contains_key("properties") {
            parts.push(self.object(map, depth));
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(members) = map.get(key).and_then(Value::as_array) {
                parts.push(union(members.iter().map(|member| self.of(member, depth)).collect()));
            }
        }
        if let Some(members) = map.get("allOf").and_then(Value::as_array) {
            parts.extend(members.iter().map(|member| self.of(member, depth)));
        }
        match parts.len() {
            0 => "unknown".into(),
            1 => parts.remove(0),
            _ => parts.iter().map(|part| wrap(part)).collect::<Vec<_>>().join(" & "),
        }
    }

    fn of_kind(&self, kind: &str, map: &Map<String, Value>, depth: usize) -> String {
        match kind {
            "string" => "string".into(),
            "boolean" => "boolean".into(),
            "null" => "null".into(),
            "number" => "number".into(),
            "integer" => match map.get("format").and_then(Value::as_str) {
                Some(format @ ("int64" | "uint64" | "int128" | "uint128" | "int" | "uint")) => {
                    format!("number /* {format}: exact only up to 2^53 in JavaScript */")
                }
                _ => "number".into(),
            },
            "array" => self.array(map, depth),
            "object" => self.object(map, depth),
            _ => "unknown".into(),
        }
    }

    fn array(&self, map: &Map<String, Value>, depth: usize) -> String {
        if let Some(prefix) = map.get("prefixItems").and_then(Value::as_array) {
            let items: Vec<String> = prefix.iter().map(|item| self.of(item, depth)).collect();
            return format!("[{}]", items.join(", "));
        }
        let item = map.get("items").map_or_else(|| "unknown".into(), |items| self.of(items, depth));
        if item.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            format!("{item}[]")
        } else {
            format!("Array<{item}>")
        }
    }

    fn object(&self, map: &Map<String, Value>, depth: usize) -> String {
        let properties = map.get("properties").and_then(Value::as_object);
        let additional = map.get("additionalProperties");
        let Some(properties) = properties.filter(|properties| !properties.is_empty()) else {
            return match additional {
                Some(Value::Bool(false)) => "Record<string, never>".into(),
                Some(schema) => format!("Record<string, {}>", self.of(schema, depth)),
                None => "Record<string, unknown>".into(),
            };
        };
        let required: HashSet<&str> =
            map.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let indent = "  ".repeat(depth + 1);
        let mut out = String::from("{\n");
        for (name, schema) in properties {
            doc_comment(&mut out, &indent, schema.get("description").and_then(Value::as_str).unwrap_or_default());
            let optional = if required.contains(name.as_str()) { "" } else { "?" };
            let _ = writeln!(out, "{indent}{}{optional}: {};", property_key(name), self.of(schema, depth + 1));
        }
        if matches!(additional, Some(schema) if schema != &Value::Bool(false)) {
            let _ = writeln!(out, "{indent}[key: string]: unknown;");
        }
        out.push_str(&"  ".repeat(depth));
        out.push('}');
        out
    }
}

fn literal(value: &Value) -> String {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => value.to_string(),
        _ => "unknown".into(),
    }
}

fn union(mut members: Vec<String>) -> String {
    members.dedup();
    match members.len() {
        0 => "never".into(),
        1 => members.remove(0),
        _ => members.iter().map(|member| wrap(member)).collect::<Vec<_>>().join(" | "),
    }
}

/// Parenthesizes a union or intersection inside another.
fn wrap(member: &str) -> String {
    let top_level = member.starts_with('{') || member.starts_with('[') || member.starts_with("Array<") || member.starts_with("Record<");
    if !top_level && (member.contains(" | ") || member.contains(" & ")) { format!("({member})") } else { member.to_owned() }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ts(schema: Value) -> String {
        let names = HashMap::from([("Item".to_owned(), "Item".to_owned())]);
        Types { names: &names }.of(&schema, 0)
    }

    #[test]
    fn scalars_and_wide_integers() {
        assert_eq!(ts(json!({"type": "string"})), "string");
        assert_eq!(ts(json!({"type": "integer", "format": "uint8"})), "number");
        assert_eq!(ts(json!({"type": "integer", "format": "uint64"})), "number /* uint64: exact only up to 2^53 in JavaScript */");
        assert_eq!(ts(json!({"type": ["string", "null"]})), "string | null");
        assert_eq!(ts(json!({})), "unknown");
        assert_eq!(ts(json!(true)), "unknown");
        assert_eq!(ts(json!(false)), "never");
        assert_eq!(ts(json!({"type": "null"})), "null");
    }

    #[test]
    fn containers() {
        assert_eq!(ts(json!({"type": "array", "items": {"type": "string"}})), "string[]");
        assert_eq!(ts(json!({"type": "array", "items": {"type": ["string", "null"]}})), "Array<string | null>");
        assert_eq!(ts(json!({"type": "array", "prefixItems": [{"type": "string"}, {"$ref": "#/components/schemas/Item"}]})), "[string, Item]");
        assert_eq!(ts(json!({"type": "object", "additionalProperties": {"type": "boolean"}})), "Record<string, boolean>");
        assert_eq!(
            ts(json!({"type": "object", "properties": {"a b": {"type": "string", "description": "A."}, "n": {"type": "number"}}, "required": ["n"]})),
            "{\n  /** A. */\n  \"a b\"?: string;\n  n: number;\n}"
        );
    }

    #[test]
    fn enums_refs_and_unions() {
        assert_eq!(ts(json!({"$ref": "#/components/schemas/Item"})), "Item");
        assert_eq!(ts(json!({"$ref": "#/components/schemas/Gone"})), "unknown");
        assert_eq!(ts(json!({"type": "string", "enum": ["a", "b"]})), "\"a\" | \"b\"");
        assert_eq!(ts(json!({"const": 3})), "3");
        assert_eq!(ts(json!({"anyOf": [{"$ref": "#/components/schemas/Item"}, {"type": "null"}]})), "Item | null");
        assert_eq!(
            ts(json!({"oneOf": [{"type": "string", "const": "A"}, {"type": "object", "properties": {"B": {"type": "integer"}}, "required": ["B"]}]})),
            "\"A\" | {\n  B: number;\n}"
        );
    }
}
