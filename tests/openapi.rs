//! The descriptions a server publishes (features `http` and `schema`): the routes and their
//! listing rules; the example's OpenAPI document checked by an independent validator
//! (openapi-spec-validator) and the live server checked against it (schemathesis), both from
//! PyPI, pinned in `tests/python/requirements.txt` and installed into `target/python` when
//! missing; and the generated TypeScript stubs checked with `tsc --strict`.

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use nonblocking_runtime::context::Roles;
use nonblocking_runtime::http::{Caller, Refusal, Server, ServerBuilder};
use nonblocking_runtime::registry::ServerFunction;
use nonblocking_runtime::server_function;
use serde_json::{Value, json};
use support::{
    Example, build_example, node_packages, outcome, request, run, target_dir, workspace,
};

/// Adds.
#[server_function(name = "openapi.add")]
async fn add(a: i32, b: i32) -> i32 {
    a + b
}

#[server_function(name = "openapi.secret", require = "admin")]
fn secret() -> String {
    "42".into()
}

#[server_function(name = "openapi.hidden")]
fn hidden() {}

async fn start(builder: ServerBuilder) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = builder
        .prefix("/rpc")
        .expose(["openapi.add", "openapi.secret"])
        .authorize(|headers, function| {
            // `serve` records the peer for the hook.
            assert!(
                headers.peer().is_some_and(|peer| peer.ip().is_loopback()),
                "{headers:?}"
            );
            authorize_role(headers, function)
        })
        .build()
        .unwrap();
    tokio::spawn(server.serve(listener, std::future::pending()));
    addr
}

fn authorize_role(headers: &mut Caller<'_>, function: &ServerFunction) -> Result<(), Refusal> {
    match function.require() {
        Some(role) if headers.get("x-role").is_none_or(|given| given != role) => {
            Err(Refusal::Forbidden(format!("needs {role}")))
        }
        Some(role) => {
            headers.attach_identity(Roles::new([role]));
            Ok(())
        }
        None => Ok(()),
    }
}

#[tokio::test]
async fn the_descriptions_show_what_the_caller_may_call() {
    let addr = start(Server::builder().api_info("tests", "1.2.3")).await;
    let document = |body: &str| serde_json::from_str::<Value>(body).expect("JSON");

    let (head, body) = request(addr, "GET", "/rpc/openapi.json", "").await;
    assert!(
        head.starts_with("http/1.1 200") && head.contains("content-type: application/json"),
        "{head}"
    );
    assert!(head.contains("cache-control: private, no-cache"), "{head}");
    let anonymous = document(&body);
    assert_eq!(anonymous["openapi"], "3.1.0");
    assert_eq!(anonymous["info"]["version"], "1.2.3");
    let paths: Vec<&String> = anonymous["paths"].as_object().unwrap().keys().collect();
    assert_eq!(
        paths,
        ["/rpc/openapi.add"],
        "unexposed and refused functions are left out"
    );
    let operation = &anonymous["paths"]["/rpc/openapi.add"]["post"];
    assert_eq!(operation["summary"], "Adds.");
    assert_eq!(
        operation["responses"]["200"]["content"]["application/json"]["schema"]["format"],
        "int32"
    );
    let keyword = &operation["requestBody"]["content"]["application/json"]["schema"]["anyOf"][0];
    assert_eq!(keyword["required"], serde_json::json!(["a", "b"]));
    assert_eq!(keyword["properties"]["a"]["maximum"], i32::MAX);
    // The mixed form, one alternative per count of positional arguments: `$args` fills the
    // first parameters, the other members name only the rest.
    let arguments = &operation["requestBody"]["content"]["application/json"]["schema"];
    let one_positional = &arguments["anyOf"][3];
    assert_eq!(
        one_positional["required"],
        serde_json::json!(["$args", "b"])
    );
    assert_eq!(one_positional["properties"]["$args"]["maxItems"], 1);
    assert_eq!(one_positional["properties"]["b"]["maximum"], i32::MAX);
    assert!(one_positional["properties"].get("a").is_none());
    let body = |value: serde_json::Value| conforms(&value, arguments, &anonymous);
    assert!(
        body(serde_json::json!({"$args": [1], "b": 2})),
        "a mixed body conforms"
    );
    for status in [
        "400", "403", "404", "413", "415", "422", "500", "503", "504",
    ] {
        assert!(
            operation["responses"][status].is_object(),
            "status {status} is documented"
        );
    }

    let (_, body) = request(addr, "GET", "/rpc/openapi.json", "x-role: admin\r\n").await;
    let admin = document(&body);
    assert_eq!(
        admin["paths"]["/rpc/openapi.secret"]["post"]["x-nonblocking-require"],
        "admin"
    );
    assert!(admin["paths"].get("/rpc/openapi.hidden").is_none());

    let (head, body) = request(addr, "GET", "/rpc/api.d.ts", "").await;
    assert!(
        head.contains("content-type: application/typescript"),
        "{head}"
    );
    assert!(
        body.contains("    add(a: number, b: number): AsyncCall<number, never>;"),
        "{body}"
    );
    assert!(
        !body.contains("secret") && !body.contains("hidden"),
        "{body}"
    );
    let (head, body) = request(addr, "GET", "/rpc/api.js", "").await;
    assert!(
        head.starts_with("http/1.1 200") && head.contains("text/javascript"),
        "{head}"
    );
    assert_eq!(
        body,
        std::fs::read_to_string(workspace().join("clients/js/api.js")).unwrap()
    );
}

#[tokio::test]
async fn without_the_listing_nothing_is_described_and_allow_names_each_path_s_method() {
    let addr = start(Server::builder().listing(false)).await;
    for path in ["/rpc/openapi.json", "/rpc/api.d.ts"] {
        let (head, body) = request(addr, "GET", path, "").await;
        assert!(
            head.starts_with("http/1.1 405") && head.contains("allow: post"),
            "{path}: {head}"
        );
        assert!(body.contains("method_not_allowed"), "{body}");
    }
    let addr = start(Server::builder()).await;
    let (head, _) = request(addr, "OPTIONS", "/rpc/openapi.add", "").await;
    assert!(
        head.starts_with("http/1.1 405") && head.contains("\r\nallow: post\r\n"),
        "{head}"
    );
    for asset in ["nonblocking.js", "openapi.json"] {
        let (head, _) = request(addr, "DELETE", &format!("/rpc/{asset}"), "").await;
        assert!(
            head.starts_with("http/1.1 405") && head.contains("\r\nallow: get, head\r\n"),
            "{asset}: {head}"
        );
    }
}

/// The PyPI tools, in a virtual environment under `target/python`, installed when missing.
fn python_tools() -> PathBuf {
    let venv = target_dir().join("python");
    let bin = venv.join("bin");
    if !bin.join("schemathesis").exists() || !bin.join("openapi-spec-validator").exists() {
        let install = "apt-get install python3 python3-venv";
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv target/python",
            install,
        );
        run(
            Command::new(bin.join("pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(workspace().join("tests/python/requirements.txt")),
            "pip install -r tests/python/requirements.txt",
            install,
        );
    }
    bin
}

#[test]
fn the_example_s_document_validates_and_the_server_conforms_to_it() {
    let bin = python_tools();
    let example = Example::start(&build_example("browser_todo"), &[]);
    let (head, body) = example.get("/rpc/openapi.json");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let out = target_dir().join("openapi-test");
    std::fs::create_dir_all(&out).unwrap();
    let file = out.join("openapi.json");
    std::fs::write(&file, &body).unwrap();

    let validator = bin.join("openapi-spec-validator");
    let report = run(
        Command::new(&validator).arg(&file),
        "openapi-spec-validator",
        "see python_tools()",
    );
    assert!(report.contains("OK"), "{report}");
    // The validator has teeth: a document without `info` is refused.
    let mut broken: Value = serde_json::from_str(&body).unwrap();
    broken.as_object_mut().unwrap().remove("info");
    let broken_file = out.join("broken.json");
    std::fs::write(&broken_file, broken.to_string()).unwrap();
    let (valid, report) = outcome(
        Command::new(&validator).arg(&broken_file),
        "openapi-spec-validator",
    );
    assert!(!valid, "a document without info validated: {report}");

    // A signed-in caller's document lists the import, which reports progress: its `200` also
    // has the frames' media type, and the document still validates.
    let (_, signed_in) = example.get_with("/rpc/openapi.json", &[("x-user", "ada")]);
    let document: Value = serde_json::from_str(&signed_in).unwrap();
    let import = &document["paths"]["/rpc/todo.import"]["post"];
    assert_eq!(
        import["x-nonblocking-progress"],
        json!({"$ref": "#/components/schemas/Imported"})
    );
    let frames = &import["responses"]["200"]["content"]["application/x-ndjson"]["schema"]["oneOf"];
    assert_eq!(
        frames[0]["properties"]["progress"], import["x-nonblocking-progress"],
        "{import}"
    );
    // Bytes: the export answers them as themselves, the measure takes them as its body.
    let export = &document["paths"]["/rpc/todo.export"]["post"];
    assert!(
        export["responses"]["200"]["content"]["application/octet-stream"].is_object(),
        "{export}"
    );
    assert!(
        export["responses"]["200"]["content"]
            .get("application/json")
            .is_none(),
        "{export}"
    );
    let measure = &document["paths"]["/rpc/todo.measure"]["post"];
    assert!(
        measure["requestBody"]["content"]["application/octet-stream"].is_object(),
        "{measure}"
    );
    assert!(
        measure["requestBody"]["content"]["application/json"].is_object(),
        "JSON still: {measure}"
    );
    // The suggestions stream: its `200` is frames only, items described.
    let suggestions = &document["paths"]["/rpc/todo.suggestions"]["post"];
    assert_eq!(
        suggestions["x-nonblocking-items"],
        json!({"$ref": "#/components/schemas/Suggestion"})
    );
    let ok = &suggestions["responses"]["200"]["content"];
    assert!(ok.get("application/json").is_none(), "{suggestions}");
    let frames = &ok["application/x-ndjson"]["schema"]["oneOf"];
    assert_eq!(
        frames[0]["properties"]["item"],
        suggestions["x-nonblocking-items"]
    );
    assert_eq!(frames[1]["required"], json!(["end"]));
    let signed_in_file = out.join("signed-in.json");
    std::fs::write(&signed_in_file, &signed_in).unwrap();
    let report = run(
        Command::new(&validator).arg(&signed_in_file),
        "openapi-spec-validator",
        "see python_tools()",
    );
    assert!(report.contains("OK"), "{report}");

    // Every check but "no 500": a function's own failure is a documented 500 (`failed`).
    // `todo.slow` sleeps 30 s per call, by design. (`todo.import`, as slow, requires a
    // signed-in user: an anonymous caller's document does not list it.)
    let report = run(
        Command::new(bin.join("schemathesis"))
            .args(["run", &format!("{}/rpc/openapi.json", example.url)])
            .args(["--checks", "all", "--exclude-checks", "not_a_server_error"])
            .args([
                "--exclude-operation-id",
                "todo.slow",
                "--max-examples",
                "30",
                "--workers",
                "1",
            ])
            .env("NO_COLOR", "1")
            .current_dir(&out),
        "schemathesis against the example server",
        "see python_tools()",
    );
    println!("{report}");
    assert!(report.contains("No issues found"), "{report}");
}

#[test]
fn the_generated_stubs_type_check_and_a_wrong_declaration_fails() {
    let client = node_packages();
    let binary = build_example("browser_todo");
    let dir = target_dir().join("typecheck-stubs");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Written at build time by the example's `--write-api`, and served: the same file.
    run(
        Command::new(&binary)
            .arg("--write-api")
            .arg(dir.join("api.d.ts")),
        "browser_todo --write-api",
        "rustup",
    );
    let written = std::fs::read_to_string(dir.join("api.d.ts")).unwrap();
    let example = Example::start(&binary, &[]);
    // Served per caller: a signed-in one may call everything, an anonymous one not `todo.add`.
    let (_, served) = example.get_with("/rpc/api.d.ts", &[("x-user", "ada")]);
    assert_eq!(
        written, served,
        "the written declarations are the served ones"
    );
    let (_, anonymous) = example.get("/rpc/api.d.ts");
    assert!(
        anonymous.contains("ping(") && !anonymous.contains("add("),
        "{anonymous}"
    );
    for file in ["nonblocking.d.ts", "typecheck/todo_page.ts"] {
        let source = client.join(file);
        std::fs::copy(&source, dir.join(Path::new(file).file_name().unwrap())).unwrap();
    }
    std::fs::write(
        dir.join("tsconfig.json"),
        r#"{"compilerOptions": {"strict": true, "noEmit": true, "target": "es2022", "module": "es2022",
            "moduleResolution": "bundler", "lib": ["es2022", "dom"], "types": []}, "files": ["todo_page.ts"]}"#,
    )
    .unwrap();
    let tsc = |what: &str| {
        outcome(
            Command::new("node")
                .arg(client.join("node_modules/typescript/bin/tsc"))
                .args(["-p"])
                .arg(&dir),
            what,
        )
    };
    let (ok, report) = tsc("tsc --strict of the page's code");
    assert!(
        ok,
        "the page's code does not type-check against the stubs:\n{report}"
    );

    // A declaration that lies about the value's type fails the same check.
    std::fs::write(
        dir.join("api.d.ts"),
        written.replacen("AsyncCall<Item, NoTitle>", "AsyncCall<string, NoTitle>", 1),
    )
    .unwrap();
    let (ok, report) = tsc("tsc --strict with a wrong declaration");
    assert!(!ok, "a wrong declaration type-checked");
    assert!(report.contains("todo_page.ts"), "{report}");
}

// What the document promises a `failed` reply carries is what the wire carries: one rule for
// a text error, a struct and an enum.

#[server_function(name = "errors.text")]
fn text_error(id: u32) -> Result<u64, String> {
    Err(format!("item {id} has an empty name"))
}

/// A struct error.
#[derive(Debug, serde::Serialize, serde::Deserialize, schemars::JsonSchema, thiserror::Error)]
#[error("item {id} is locked by {by}")]
pub struct Locked {
    id: u32,
    by: String,
}

#[server_function(name = "errors.structured")]
fn struct_error(id: u32) -> Result<u64, Locked> {
    Err(Locked {
        id,
        by: "ada".into(),
    })
}

/// An enum error.
#[derive(Debug, serde::Serialize, serde::Deserialize, schemars::JsonSchema, thiserror::Error)]
pub enum SaveError {
    /// Unit.
    #[error("the disk is full")]
    DiskFull,
    /// With data.
    #[error("conflict with version {0}")]
    Conflict(u32),
}

#[server_function(name = "errors.enumerated")]
fn enum_error(conflict: bool) -> Result<u64, SaveError> {
    Err(if conflict {
        SaveError::Conflict(3)
    } else {
        SaveError::DiskFull
    })
}

/// Whether `value` has the shape `schema` describes (`$ref`s resolved in `document`): the
/// parts of JSON Schema that schemars writes for these types.
fn conforms(value: &Value, schema: &Value, document: &Value) -> bool {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let pointer = reference.trim_start_matches('#');
        return conforms(
            value,
            document.pointer(pointer).expect("a $ref that resolves"),
            document,
        );
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alternatives) = schema.get(key).and_then(Value::as_array) {
            return alternatives
                .iter()
                .any(|alternative| conforms(value, alternative, document));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        return allowed.contains(value);
    }
    if let Some(constant) = schema.get("const") {
        return constant == value;
    }
    let kind_fits = match schema.get("type").and_then(Value::as_str) {
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some(other) => panic!("a schema type this check does not know: {other}"),
        None => true,
    };
    let required = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten();
    kind_fits
        && required
            .into_iter()
            .all(|key| value.get(key.as_str().unwrap()).is_some())
        && properties.into_iter().all(|(key, property)| {
            value
                .get(key)
                .is_none_or(|member| conforms(member, property, document))
        })
}

#[tokio::test]
async fn a_failed_reply_carries_the_error_value_the_document_declares() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .prefix("/rpc")
        .expose(["errors.text", "errors.structured", "errors.enumerated"])
        .build()
        .unwrap();
    tokio::spawn(server.serve(listener, std::future::pending()));
    let (_, body) = request(addr, "GET", "/rpc/openapi.json", "").await;
    let document: Value = serde_json::from_str(&body).unwrap();
    let remote = nonblocking_runtime::http::Remote::new(format!("http://{addr}/rpc")).unwrap();
    let cases = [
        (
            "errors.text",
            serde_json::json!([3]),
            serde_json::json!("item 3 has an empty name"),
        ),
        (
            "errors.structured",
            serde_json::json!([3]),
            serde_json::json!({"id": 3, "by": "ada"}),
        ),
        (
            "errors.enumerated",
            serde_json::json!([true]),
            serde_json::json!({"Conflict": 3}),
        ),
        (
            "errors.enumerated",
            serde_json::json!([false]),
            serde_json::json!("DiskFull"),
        ),
    ];
    for (name, args, expected) in cases {
        let declared = &document["paths"][format!("/rpc/{name}")]["post"]["responses"]["500"]["content"]
            ["application/json"]["schema"]["allOf"][1]["properties"]["details"]["properties"]["value"];
        assert!(
            !declared.is_null(),
            "{name}: the document declares no error value"
        );
        let error = remote
            .call_async_by_name::<u64>(name, args)
            .await
            .unwrap_err();
        let failure = error
            .downcast_ref::<nonblocking_runtime::errors::RemoteFailure>()
            .unwrap_or_else(|| panic!("{name}: not a remote failure: {error:?}"));
        let value = failure
            .value
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no details.value on the wire"));
        assert_eq!(value, &expected, "{name}");
        assert!(
            conforms(value, declared, &document),
            "{name}: {value} does not fit {declared}"
        );
    }
}
