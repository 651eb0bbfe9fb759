//! The typed descriptions (feature `schema`): what each Rust type becomes in JSON Schema and
//! TypeScript, the fallbacks for types without `JsonSchema`, and the two contracts.
#![allow(missing_docs)]

use nonblocking_runtime::progress::Progress;
use nonblocking_runtime::schema::schemars::{self, JsonSchema};
use nonblocking_runtime::schema::{ApiSchema, FunctionSchema};
use nonblocking_runtime::server_function;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A thing to do.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Item {
    /// What to do.
    pub text: String,
    pub done: bool,
    /// A caller may leave it out; a result always has it.
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind")]
pub enum Shape {
    Circle { radius: f64 },
    Square { side: f64 },
}

/// Serde-able, but not `JsonSchema`: described as `{}`.
#[derive(Serialize, Deserialize)]
pub struct Opaque(pub u8);

#[derive(Debug, Serialize, Deserialize, JsonSchema, thiserror::Error)]
#[error("no room: {free} left")]
pub struct NoRoom {
    pub free: u32,
}

#[derive(Debug, Serialize, thiserror::Error)]
#[error("plain")]
pub struct PlainError;

/// Adds an item.
///
/// Returns its id.
#[server_function(name = "schema.todo.add", require = "user")]
pub async fn add(item: Item, position: Option<u32>) -> Result<u64, NoRoom> {
    let _ = (item, position);
    Ok(1)
}

#[server_function(name = "schema.todo")]
pub fn todo_count() -> usize {
    0
}

#[server_function(name = "schema.shapes")]
pub fn shapes(shape: Shape, opaque: Opaque, r#type: String) -> Vec<Item> {
    let _ = (shape, opaque, r#type);
    Vec::new()
}

#[server_function(name = "schema.plain")]
pub fn plain() -> Result<(), PlainError> {
    Ok(())
}

#[server_function(name = "schema.io")]
pub fn io() -> Result<(i8, Option<String>), std::io::Error> {
    Ok((1, None))
}

#[server_function(name = "schema.flag")]
pub fn flag(new: bool) -> bool {
    new
}

/// An alias of `Result` the macro cannot see into: read through the type system.
pub type Outcome = Result<String, NoRoom>;

#[server_function(name = "schema.alias", fallible)]
pub fn alias() -> Outcome {
    Ok(String::new())
}

#[test]
fn an_alias_of_result_is_described_like_the_result() {
    let api = ApiSchema::of([&ALIAS_SERVER_FUNCTION]);
    let alias = &api.functions()[0];
    assert_eq!(alias.returns, json!({"type": "string"}));
    assert_eq!(
        alias.error,
        Some(json!({"$ref": "#/components/schemas/NoRoom"}))
    );
    assert!(api.definitions().contains_key("NoRoom"));
}

/// How far an import got.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Imported {
    rows: u16,
    of: u16,
}

#[server_function(name = "schema.import")]
pub async fn import(rows: u16, #[context] progress: Progress<Imported>) -> u16 {
    progress.report(Imported { rows, of: rows });
    rows
}

/// What `api` says of the function called `name`.
fn described<'a>(api: &'a ApiSchema, name: &str) -> &'a FunctionSchema {
    api.functions()
        .iter()
        .find(|function| function.name == name)
        .unwrap_or_else(|| panic!("no function named {name} in the schema"))
}

#[test]
fn a_function_that_reports_progress_describes_what_it_reports() {
    let api = ApiSchema::of([&IMPORT_SERVER_FUNCTION, &ADD_SERVER_FUNCTION]);
    let import = described(&api, "schema.import");
    assert_eq!(
        import.progress,
        Some(json!({"$ref": "#/components/schemas/Imported"}))
    );
    assert_eq!(
        import.params.len(),
        1,
        "the progress reporter is no parameter"
    );
    assert!(api.definitions().contains_key("Imported"));
    let add = described(&api, "schema.todo.add");
    assert_eq!(add.progress, None);
    let typescript = api.typescript();
    assert!(
        typescript.contains("    import(rows: number): AsyncCall<number, never, Imported>;"),
        "{typescript}"
    );
    assert!(
        typescript.contains("export type Imported = {"),
        "{typescript}"
    );
}

/// A row of a stream.
#[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Row {
    id: u32,
}

#[server_function(name = "schema.rows")]
pub async fn rows(
    count: u32,
    #[context] progress: Progress<f32>,
) -> nonblocking_runtime::items::Items<Row> {
    progress.report(0.0);
    nonblocking_runtime::items::Items::from_iter((0..count).map(|id| Row { id }))
}

#[server_function(name = "schema.numbers")]
pub async fn numbers() -> nonblocking_runtime::items::Items<u8> {
    nonblocking_runtime::items::Items::empty()
}

#[test]
fn a_function_that_streams_describes_its_items_and_its_value_is_their_number() {
    let api = ApiSchema::of([
        &ROWS_SERVER_FUNCTION,
        &NUMBERS_SERVER_FUNCTION,
        &ADD_SERVER_FUNCTION,
    ]);
    let function = |name: &str| described(&api, name);
    let rows = function("schema.rows");
    assert_eq!(
        rows.items,
        Some(json!({"$ref": "#/components/schemas/Row"}))
    );
    assert_eq!(
        rows.returns,
        json!({"type": "integer", "minimum": 0}),
        "the value is the number of items"
    );
    assert!(api.definitions().contains_key("Row"));
    let numbers = function("schema.numbers");
    assert_eq!(numbers.items.as_ref().unwrap()["type"], "integer");
    assert_eq!(function("schema.todo.add").items, None);
    let typescript = api.typescript();
    assert!(
        typescript.contains("    rows(count: number): AsyncCall<number, never, number, Row>;"),
        "{typescript}"
    );
    assert!(
        typescript.contains("    numbers(): AsyncCall<number, never, never, number>;"),
        "{typescript}"
    );
}

#[server_function(name = "schema.upload")]
pub async fn upload(file: Vec<u8>) -> usize {
    file.len()
}

#[server_function(name = "schema.download")]
pub async fn download(name: String) -> Vec<u8> {
    name.into_bytes()
}

#[server_function(name = "schema.chunks")]
pub async fn chunks() -> nonblocking_runtime::items::Items<Vec<u8>> {
    nonblocking_runtime::items::Items::empty()
}

#[test]
fn bytes_are_described_as_bytes() {
    let api = ApiSchema::of([
        &UPLOAD_SERVER_FUNCTION,
        &DOWNLOAD_SERVER_FUNCTION,
        &CHUNKS_SERVER_FUNCTION,
    ]);
    let function = |name: &str| described(&api, name);
    let (upload, download) = (function("schema.upload"), function("schema.download"));
    assert!(upload.takes_bytes && !upload.returns_bytes);
    assert!(!download.takes_bytes && download.returns_bytes);
    assert_eq!(
        download.returns,
        json!({"type": "string", "contentMediaType": "application/octet-stream"})
    );
    let typescript = api.typescript();
    assert!(
        typescript.contains("    upload(file: ArrayBuffer | ArrayBufferView | Blob): AsyncCall<number /* uint: exact only up to 2^53 in JavaScript */, never>;"),
        "{typescript}"
    );
    assert!(
        typescript.contains("    download(name: string): AsyncCall<ArrayBuffer, never>;"),
        "{typescript}"
    );
}

fn api() -> ApiSchema {
    ApiSchema::of([
        &ADD_SERVER_FUNCTION,
        &TODO_COUNT_SERVER_FUNCTION,
        &SHAPES_SERVER_FUNCTION,
        &PLAIN_SERVER_FUNCTION,
        &IO_SERVER_FUNCTION,
        &FLAG_SERVER_FUNCTION,
    ])
}

#[test]
fn parameters_results_and_errors_have_schemas() {
    let api = api();
    let names: Vec<&str> = api.functions().iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        [
            "schema.flag",
            "schema.io",
            "schema.plain",
            "schema.shapes",
            "schema.todo",
            "schema.todo.add"
        ]
    );
    let add = &api.functions()[5];
    assert_eq!(add.doc, "Adds an item.\n\nReturns its id.");
    assert_eq!(add.require, Some("user"));
    assert_eq!(
        add.params[0].schema,
        json!({"$ref": "#/components/schemas/Item"})
    );
    assert!(!add.params[0].optional);
    assert!(
        add.params[1].optional,
        "an Option may be left out: {:?}",
        add.params[1].schema
    );
    assert_eq!(add.returns["format"], "uint64");
    assert_eq!(
        add.error,
        Some(json!({"$ref": "#/components/schemas/NoRoom"}))
    );

    let shapes = &api.functions()[3];
    assert_eq!(
        shapes.params[0].schema,
        json!({"$ref": "#/components/schemas/Shape"})
    );
    assert_eq!(
        shapes.params[1].schema,
        json!({}),
        "no JsonSchema: the open schema"
    );
    // `Serialize` but no `JsonSchema`: a value crosses, of unknown shape; not `Serialize`: none.
    assert_eq!(api.functions()[2].error, Some(json!({})));
    assert_eq!(api.functions()[1].error, None);
    assert_eq!(api.functions()[2].returns, json!({"type": "null"}));
}

#[test]
fn a_type_that_differs_by_contract_gets_two_definitions() {
    let api = api();
    let definitions = api.definitions();
    // As an argument `tags` may be left out (default); a result always has it.
    let input = &definitions["Item"];
    let output = &definitions["ItemOutput"];
    assert_eq!(input["required"], json!(["text", "done"]));
    assert_eq!(output["required"], json!(["text", "done", "tags"]));
    assert_ne!(input, output, "{input} vs {output}");
    let shapes = &api.functions()[3];
    assert_eq!(
        shapes.returns["items"],
        json!({"$ref": "#/components/schemas/ItemOutput"})
    );
    // The same in both contracts: one definition.
    assert!(definitions.contains_key("NoRoom") && !definitions.contains_key("NoRoomOutput"));
    assert!(definitions.contains_key("Shape") && !definitions.contains_key("ShapeOutput"));
}

#[test]
fn typescript_declares_typed_stubs() {
    let typescript = api().typescript();
    for expected in [
        "import type { AsyncCall, Client } from \"./nonblocking.js\";",
        "/** A thing to do. */\nexport type Item = {\n  done: boolean;\n  /** A caller may leave it out; a result always has it. */\n  tags?: string[];\n  /** What to do. */\n  text: string;\n};",
        "  tags: string[];\n  /** What to do. */\n  text: string;\n};\n\nexport type NoRoom = {",
        "export interface Api {\n  schema: {\n",
        "    io(): AsyncCall<[number, string | null], never>;",
        "    plain(): AsyncCall<null, unknown>;",
        "    shapes(shape: Shape, opaque: unknown, type: string): AsyncCall<ItemOutput[], never>;",
        "    todo: {\n      (): AsyncCall<number /* uint: exact only up to 2^53 in JavaScript */, never>;\n",
        "       * Adds an item.\n       *\n       * Returns its id.\n       *\n       * Requires `user`.\n       */\n      add(item: Item, position?: number | null): AsyncCall<number /* uint64: exact only up to 2^53 in JavaScript */, NoRoom>;",
        "export declare const api: Api;",
        "export declare function apiFor(client: Client): Api;",
    ] {
        assert!(
            typescript.contains(expected),
            "missing:\n{expected}\n--- in:\n{typescript}"
        );
    }
    assert!(
        typescript.contains("export type Shape = {\n  kind: \"Circle\";\n  radius: number;\n} | {\n  kind: \"Square\";"),
        "{typescript}"
    );
}

#[test]
fn a_parameter_named_by_a_javascript_keyword_is_renamed_in_typescript_only() {
    let typescript = api().typescript();
    assert!(
        typescript.contains("    flag(new_: boolean): AsyncCall<boolean, never>;"),
        "{typescript}"
    );
    assert_eq!(FLAG_SERVER_FUNCTION.params()[0].name, "new");
    // A raw identifier keeps its plain name, and TypeScript allows `type` as a parameter.
    assert!(typescript.contains("type: string)"), "{typescript}");
    assert_eq!(schemars::schema_for!(bool).as_value()["type"], "boolean");
}
