//! Typed descriptions of server functions (feature `schema`): a JSON Schema (draft 2020-12,
//! by [`schemars`]) for every parameter, result and error, and what is built from them:
//! TypeScript declarations of typed stubs for the browser client, and with the `http` feature
//! the OpenAPI 3.1 document the server publishes at `GET <prefix>/openapi.json`.
//!
//! A type describes itself by deriving [`JsonSchema`](schemars::JsonSchema) (std types already
//! do). A type without it still compiles: it is described by the open schema `{}`, which is
//! TypeScript's `unknown`.
//!
//! # Examples
//!
//! ```
//! use nonblocking_runtime::schema::ApiSchema;
//! use nonblocking_runtime::schema::schemars::JsonSchema;
//! use nonblocking_runtime::server_function;
//! use serde::{Deserialize, Serialize};
//!
//! /// A thing to do.
//! #[derive(Serialize, Deserialize, JsonSchema)]
//! # #[schemars(crate = "nonblocking_runtime::schema::schemars")]
//! pub struct Item {
//!     pub text: String,
//!     pub done: bool,
//! }
//!
//! /// Adds an item and returns its id.
//! #[server_function(name = "todo.add")]
//! pub async fn add(item: Item) -> u32 {
//!     7
//! }
//!
//! let api = ApiSchema::of([&ADD_SERVER_FUNCTION]);
//! let typescript = api.typescript();
//! assert!(typescript.contains("export type Item = {"));
//! assert!(typescript.contains("add(item: Item): AsyncCall<number, never>;"));
//! ```

mod names;
mod signature;
mod typescript;

use std::collections::{BTreeSet, HashMap};
use std::io;
use std::path::Path;

use serde_json::{Map, Value};

pub use schemars;
#[doc(hidden)]
pub use signature::{
    ErrorHasSchema, ErrorOpenSchema, HasSchema, NoErrorSchema, OkHasSchema, OkOpenSchema,
    OpenSchema, SchemaOf,
};
pub use signature::{Generators, Signature};

use crate::registry::ServerFunction;
use names::{Renames, component_name, rewrite_refs, refs_of};

/// The typed description of a set of server functions: each one's schemas, and the named
/// types they refer to (`#/components/schemas/<Name>`).
#[derive(Debug, Clone)]
pub struct ApiSchema {
    functions: Vec<FunctionSchema>,
    definitions: Map<String, Value>,
}

/// One function's part of an [`ApiSchema`].
#[derive(Debug, Clone)]
pub struct FunctionSchema {
    /// The name it is called by.
    pub name: &'static str,
    /// Its doc comment.
    pub doc: &'static str,
    /// Its `require = "..."` value.
    pub require: Option<&'static str>,
    /// Its parameters, in order.
    pub params: Vec<ParamSchema>,
    /// The schema of its value.
    pub returns: Value,
    /// The schema of its error's value, when one crosses the wire (a `Serialize` error type).
    pub error: Option<Value>,
    /// The schema of what it reports as progress, for a function that takes a `#[context]
    /// Progress<P>`.
    pub progress: Option<Value>,
    /// The schema of its items, for a function that streams them (returns `Items<T>`); its
    /// value ([`returns`](Self::returns)) is then their number.
    pub items: Option<Value>,
    /// Its one parameter is of a bytes type: a call may send the bytes as its whole body
    /// (`application/octet-stream`).
    pub takes_bytes: bool,
    /// Its value is of a bytes type, answered as the bytes themselves
    /// (`application/octet-stream`); [`returns`](Self::returns) is then a binary string.
    pub returns_bytes: bool,
    /// It streams items of a bytes type: a download, answered as one body of the bytes
    /// themselves; [`items`](Self::items) is then a binary string.
    pub streams_bytes: bool,
}

/// One parameter of a [`FunctionSchema`].
#[derive(Debug, Clone)]
pub struct ParamSchema {
    /// Its name: the keyword of a call by keyword.
    pub name: &'static str,
    /// Its schema, as the server deserializes it.
    pub schema: Value,
    /// Whether a call may leave it out: its type accepts `null` (an `Option`).
    pub optional: bool,
}

impl ApiSchema {
    /// The description of `functions`, in name order. A name defined twice is left out: calls
    /// of it fail with `duplicate_name`.
    pub fn of<'a>(functions: impl IntoIterator<Item = &'a ServerFunction>) -> Self {
        let mut functions: Vec<&ServerFunction> = functions.into_iter().collect();
        functions.sort_by_key(|function| function.name());
        let mut seen = HashMap::new();
        for function in &functions {
            *seen.entry(function.name()).or_insert(0) += 1;
        }
        functions.retain(|function| seen[function.name()] == 1);

        let mut generators = Generators::new();
        let signatures: Vec<Signature> = functions.iter().map(|function| function.signature(&mut generators)).collect();
        let (input, output) = generators.take_definitions();
        let (mut definitions, renames) = merge(input, output);
        definitions.values_mut().for_each(bound_integers);
        let functions = functions
            .iter()
            .zip(signatures)
            .map(|(function, signature)| {
                let params = function
                    .params()
                    .iter()
                    .zip(signature.params)
                    .map(|(param, schema)| {
                        let mut schema = schema.to_value();
                        rewrite_refs(&mut schema, &renames.input);
                        bound_integers(&mut schema);
                        ParamSchema { name: param.name, optional: accepts_null(&schema), schema }
                    })
                    .collect();
                let mut returns = signature.returns.to_value();
                rewrite_refs(&mut returns, &renames.output);
                bound_integers(&mut returns);
                let output = |schema: schemars::Schema| {
                    let mut schema = schema.to_value();
                    rewrite_refs(&mut schema, &renames.output);
                    bound_integers(&mut schema);
                    schema
                };
                let error = signature.error.map(output);
                let progress = signature.progress.map(output);
                // A stream's schema is the list of its items; its call's value, their number.
                if function.returns_bytes() {
                    returns = serde_json::json!({"type": "string", "contentMediaType": "application/octet-stream"});
                }
                let items = function.streams().then(|| {
                    let items = match function.streams_bytes() {
                        true => serde_json::json!({"type": "string", "contentMediaType": "application/octet-stream"}),
                        false => returns.get_mut("items").map(Value::take).unwrap_or_else(|| Value::Object(Default::default())),
                    };
                    returns = serde_json::json!({"type": "integer", "minimum": 0});
                    items
                });
                FunctionSchema {
                    name: function.name(),
                    doc: function.doc(),
                    require: function.require(),
                    params,
                    returns,
                    error,
                    progress,
                    items,
                    takes_bytes: function.takes_bytes(),
                    returns_bytes: function.returns_bytes(),
                    streams_bytes: function.streams_bytes(),
                }
            })
            .collect();
        ApiSchema { functions, definitions }
    }

    /// The description of every registered function.
    pub fn registry() -> Self {
        Self::of(crate::registry())
    }

    /// The functions, in name order.
    pub fn functions(&self) -> &[FunctionSchema] {
        &self.functions
    }

    /// The named types, by the name `$ref`s use (`#/components/schemas/<name>`).
    pub fn definitions(&self) -> &Map<String, Value> {
        &self.definitions
    }

    /// TypeScript declarations of typed stubs for the browser client: every named type, and
    /// an `Api` interface with one method per function (`add(item: Item): AsyncCall<number,
    /// never>`: the value, then the error value, `never` for a function that cannot fail;
    /// a dotted name is a nested object: `api.todo.add(..)`). The file is `api.d.ts` beside
    /// the client's `nonblocking.js`, as the server serves both.
    pub fn typescript(&self) -> String {
        typescript::declarations(self)
    }

    /// Writes [`typescript`](Self::typescript) to `path`, for a build step (a small binary,
    /// or a test, that links the crate defining the functions).
    pub fn write_typescript(&self, path: impl AsRef<Path>) -> io::Result<()> {
        std::fs::write(path, self.typescript())
    }
}

/// Gives every fixed-width integer its range: schemars names it only in `format` (`uint8`),
/// which validators do not check, so a document without the range would promise that any
/// integer is accepted.
fn bound_integers(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("integer") {
                let range: Option<(Value, Value)> = match map.get("format").and_then(Value::as_str) {
                    Some("int8") => Some((i8::MIN.into(), i8::MAX.into())),
                    Some("int16") => Some((i16::MIN.into(), i16::MAX.into())),
                    Some("int32") => Some((i32::MIN.into(), i32::MAX.into())),
                    Some("int64" | "int") => Some((i64::MIN.into(), i64::MAX.into())),
                    Some("uint8") => Some((0.into(), u8::MAX.into())),
                    Some("uint16") => Some((0.into(), u16::MAX.into())),
                    Some("uint32") => Some((0.into(), u32::MAX.into())),
                    Some("uint64" | "uint") => Some((0.into(), u64::MAX.into())),
                    _ => None,
                };
                if let Some((minimum, maximum)) = range {
                    map.entry("minimum").or_insert(minimum);
                    map.entry("maximum").or_insert(maximum);
                }
            }
            map.values_mut().for_each(bound_integers);
        }
        Value::Array(items) => items.iter_mut().for_each(bound_integers),
        _ => {}
    }
}

/// Whether `schema` accepts `null`, read from its surface (`Option<T>` gives `"type": [..,
/// "null"]` or an `anyOf` with a `null` member).
fn accepts_null(schema: &Value) -> bool {
    let is_null = |value: &Value| value.as_str() == Some("null");
    match schema.get("type") {
        Some(Value::Array(types)) if types.iter().any(is_null) => return true,
        Some(kind) if is_null(kind) => return true,
        _ => {}
    }
    ["anyOf", "oneOf"].iter().any(|key| {
        schema.get(key).and_then(Value::as_array).is_some_and(|members| members.iter().any(accepts_null))
    })
}

/// One set of definitions from the two generators. A type whose parameter and result schemas
/// are the same (and refer only to such types) is one definition; one that differs keeps its
/// name for parameters and gets `<Name>Output` for results. Names are made valid OpenAPI
/// component names on the way.
fn merge(input: Map<String, Value>, output: Map<String, Value>) -> (Map<String, Value>, Renames) {
    let mut merged = Map::new();
    let mut renames = Renames::default();
    let mut taken = BTreeSet::new();
    for name in input.keys() {
        renames.input.insert(name.clone(), component_name(name, "", &mut taken));
    }
    // Output definitions that differ from their input namesake, then those that refer to one.
    let mut differ: BTreeSet<String> =
        output.iter().filter(|(name, schema)| input.get(*name) != Some(schema)).map(|(name, _)| name.clone()).collect();
    loop {
        let more: Vec<String> = output
            .iter()
            .filter(|(name, schema)| !differ.contains(*name) && refs_of(schema).iter().any(|r| differ.contains(r)))
            .map(|(name, _)| name.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        differ.extend(more);
    }
    for name in output.keys() {
        let key = if differ.contains(name) {
            let suffix = if input.contains_key(name) { "Output" } else { "" };
            component_name(name, suffix, &mut taken)
        } else {
            renames.input[name].clone()
        };
        renames.output.insert(name.clone(), key);
    }
    for (name, mut schema) in input {
        rewrite_refs(&mut schema, &renames.input);
        merged.insert(renames.input[&name].clone(), schema);
    }
    for (name, mut schema) in output {
        if differ.contains(&name) {
            rewrite_refs(&mut schema, &renames.output);
            merged.insert(renames.output[&name].clone(), schema);
        }
    }
    (merged, renames)
}
