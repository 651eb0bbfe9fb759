//! The OpenAPI 3.1 document of a server (features `http` and `schema`): one `POST` operation
//! per function the caller may call, its request body the keyword form of the arguments, its
//! `200` the function's value, and every status of the wire table with the error object.

use serde_json::{Map, Value, json};

use crate::remote::wire::codes;
use crate::schema::{ApiSchema, FunctionSchema};

/// The schema of the error object, under this name among the components (a `.` keeps it
/// apart from every Rust type's name).
const ERROR: &str = "nonblocking.Error";

/// The document's `info`: the API's title and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ApiInfo {
    pub(super) title: String,
    pub(super) version: String,
}

impl Default for ApiInfo {
    fn default() -> Self {
        ApiInfo { title: "nonblocking server functions".into(), version: "0.0.0".into() }
    }
}

/// The document for `api` served under `prefix`.
pub(super) fn document(api: &ApiSchema, prefix: &str, info: &ApiInfo) -> Value {
    let mut paths = Map::new();
    for function in api.functions() {
        let mut operation_progress = None;
        let properties: Map<String, Value> =
            function.params.iter().map(|param| (param.name.to_owned(), param.schema.clone())).collect();
        let required: Vec<&str> =
            function.params.iter().filter(|param| !param.optional).map(|param| param.name).collect();
        let arguments = arguments(function, properties, &required);
        let mut responses = Map::new();
        let mut ok = json!({
            "description": "The function's value.",
            "content": {"application/json": {"schema": function.returns}},
        });
        if function.returns_bytes {
            ok = json!({
                "description": "The function's value: the bytes themselves.",
                "content": {"application/octet-stream": {"schema": function.returns}},
            });
        }
        if function.streams_bytes {
            ok = json!({
                "description": "A download: the bytes themselves, as they are made (`Content-Type: application/octet-stream; stream=items`). A refusal before the first bytes is an ordinary error reply; a failure after them breaks the body off before its end.",
                "content": {"application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}},
            });
        } else if let Some(items) = &function.items {
            // Always frames: items have no other form.
            ok = json!({
                "description": "The function's items, as they are made: one JSON object per line, `{\"item\": ..}` frames in order (and `{\"progress\": ..}` frames, for a caller that accepts `application/x-ndjson`, if it reports progress), then `{\"end\": n}` (n items) or `{\"error\": {..}, \"status\": n}`. A refusal before the first item is an ordinary error reply.",
                "content": {"application/x-ndjson": {"schema": item_frames(items, function.progress.as_ref())}},
            });
            operation_progress = function.progress.clone();
        } else if let Some(progress) = &function.progress {
            // For a caller that sends `Accept: application/x-ndjson`: frames while it runs.
            ok["description"] = "The function's value; for a caller that accepts `application/x-ndjson`, once the function reports progress, one JSON object per line: `{\"progress\": ..}` frames, then `{\"value\": ..}` or `{\"error\": {..}, \"status\": n}`.".into();
            ok["content"]["application/x-ndjson"] = json!({"schema": frames(progress, &function.returns)});
            operation_progress = Some(progress.clone());
        }
        responses.insert("200".into(), ok);
        for (status, meaning) in error_statuses() {
            let mut schema = json!({"$ref": format!("#/components/schemas/{ERROR}")});
            let codes: Vec<&str> =
                codes::ALL.iter().filter(|code| code.status == status).map(|code| code.code).collect();
            let mut narrowed = json!({"properties": {"code": {"enum": codes}}});
            if let (500, Some(error)) = (status, &function.error) {
                // A `failed` reply carries the function's error value.
                narrowed["properties"]["details"] =
                    json!({"type": "object", "properties": {"value": error}});
            }
            schema = json!({"allOf": [schema, narrowed]});
            responses.insert(
                status.to_string(),
                json!({"description": meaning, "content": {"application/json": {"schema": schema}}}),
            );
        }
        let mut operation = json!({
            "operationId": function.name,
            "requestBody": {
                "description": "The arguments: by keyword (an object), positional (an array), both (an object whose `$args` array fills the first parameters, its other members by keyword; a parameter given both ways is refused), `null` when none is needed, or the single argument itself. Always sent as `application/json`, even when empty; a function whose one parameter is bytes also takes them as the body itself (`application/octet-stream`).",
                "required": true,
                "content": request_content(function, arguments),
            },
            "responses": responses,
        });
        let doc = function.doc.trim();
        if let Some(summary) = doc.lines().next().filter(|line| !line.is_empty()) {
            operation["summary"] = summary.into();
            operation["description"] = doc.into();
        }
        if let Some(require) = function.require {
            operation["x-nonblocking-require"] = require.into();
        }
        if let Some(progress) = operation_progress {
            operation["x-nonblocking-progress"] = progress;
        }
        if let Some(items) = &function.items {
            operation["x-nonblocking-items"] = items.clone();
        }
        paths.insert(format!("{prefix}/{}", function.name), json!({"post": operation}));
    }
    let mut schemas = api.definitions().clone();
    schemas.insert(
        ERROR.into(),
        json!({
            "description": "Every refusal and failure: the wire code, a message, and details by code.",
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {"title": info.title, "version": info.version},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

/// The forms of a call's arguments (the rule of `call_async_by_name`): by keyword, positional,
/// mixed, `null` when every parameter may be left out, and a lone scalar as the first argument.
fn arguments(function: &FunctionSchema, properties: Map<String, Value>, required: &[&str]) -> Value {
    let keyword = json!({
        "type": "object",
        "properties": properties.clone(),
        "required": required,
        "additionalProperties": false,
    });
    // Positional: up to every parameter, at least up to the last one that must be given.
    let needed = function.params.iter().rposition(|param| !param.optional).map_or(0, |last| last + 1);
    let prefix: Vec<&Value> = function.params.iter().map(|param| &param.schema).collect();
    let mut positional = json!({"type": "array", "minItems": needed, "maxItems": prefix.len()});
    if !prefix.is_empty() {
        positional["prefixItems"] = json!(prefix);
    }
    // Mixed: `$args` fills the first `k` parameters, the other members name only the rest, so
    // one alternative per `k` says exactly which bodies are valid (a parameter given both
    // ways matches none).
    let mixed: Vec<Value> = (0..=prefix.len())
        .map(|k| {
            let mut leading = json!({"type": "array", "minItems": k, "maxItems": k});
            if k > 0 {
                leading["prefixItems"] = json!(&prefix[..k]);
            }
            let mut members = Map::new();
            members.insert("$args".into(), leading);
            let rest = &function.params[k..];
            for param in rest {
                members.insert(param.name.to_owned(), properties.get(param.name).cloned().unwrap_or_default());
            }
            let mut needs = vec!["$args".to_owned()];
            needs.extend(rest.iter().filter(|param| !param.optional).map(|param| param.name.to_owned()));
            json!({"type": "object", "properties": members, "required": needs, "additionalProperties": false})
        })
        .collect();
    let mut forms = vec![keyword, positional];
    forms.extend(mixed);
    if needed == 0 {
        forms.push(json!({"type": "null"}));
    }
    // A value that is neither an array, an object nor `null` is the first argument.
    if let Some(first) = function.params.first().filter(|_| needed <= 1) {
        let scalar = ["string", "number", "integer", "boolean"];
        if first.schema.get("type").and_then(Value::as_str).is_some_and(|kind| scalar.contains(&kind)) {
            forms.push(first.schema.clone());
        }
    }
    json!({"anyOf": forms})
}

/// The schema of one frame of a framed answer (each line of it).
fn frames(progress: &Value, returns: &Value) -> Value {
    json!({"oneOf": [
        {"type": "object", "properties": {"progress": progress}, "required": ["progress"]},
        {"type": "object", "properties": {"value": returns}, "required": ["value"]},
        {
            "type": "object",
            "properties": {
                "error": {"$ref": format!("#/components/schemas/{ERROR}")},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
            },
            "required": ["error", "status"],
        },
    ]})
}

/// The request body's media types: JSON, and for a function whose one parameter is of a bytes
/// type, the bytes themselves.
fn request_content(function: &FunctionSchema, arguments: Value) -> Value {
    let mut content = json!({"application/json": {"schema": arguments}});
    if function.takes_bytes {
        content["application/octet-stream"] = json!({"schema": {"type": "string", "contentMediaType": "application/octet-stream"}});
    }
    content
}

/// The schema of one frame of a stream's answer.
fn item_frames(items: &Value, progress: Option<&Value>) -> Value {
    let mut frames = vec![
        json!({"type": "object", "properties": {"item": items}, "required": ["item"]}),
        json!({"type": "object", "properties": {"end": {"type": "integer", "minimum": 0}}, "required": ["end"]}),
        json!({
            "type": "object",
            "properties": {
                "error": {"$ref": format!("#/components/schemas/{ERROR}")},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
            },
            "required": ["error", "status"],
        }),
    ];
    if let Some(progress) = progress {
        frames.push(json!({"type": "object", "properties": {"progress": progress}, "required": ["progress"]}));
    }
    json!({"oneOf": frames})
}

/// The statuses a call may answer besides `200`, each with what it means: every row of the
/// wire table that a `POST` of a function can get.
fn error_statuses() -> Vec<(u16, String)> {
    let mut statuses: Vec<(u16, String)> = Vec::new();
    for code in codes::ALL {
        if code == codes::METHOD_NOT_ALLOWED {
            continue;
        }
        let status = code.status;
        match statuses.iter_mut().find(|(known, _)| *known == status) {
            Some((_, meaning)) => meaning.push_str(&format!(", `{}`", code.code)),
            None => statuses.push((status, format!("An error object: `{}`", code.code))),
        }
    }
    statuses.sort_by_key(|(status, _)| *status);
    statuses
}
