//! The browser client, served by the server itself under its prefix: `GET
//! <prefix>/nonblocking.js` (the ES module) and `GET <prefix>/nonblocking.d.ts` (its
//! declarations), embedded in the binary, and `api.js`, the typed stubs' module. A page
//! imports them with no build step, and the module finds the server's prefix from its own URL.
//! With the feature `schema`, the descriptions of the functions the caller may call:
//! `openapi.json` and `api.d.ts`. Calls are `POST`, assets `GET`: a function may even share an
//! asset's name. A `GET` of any other name is the JSON 405 of the wire table.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::respond::{last_segment, method_not_allowed_on_call};
use super::state::ServerState;

/// The client's files: copies, inside this crate so that the published crate builds, of the
/// npm package's in `clients/js` (a workspace test keeps them identical).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "nonblocking.js",
        JAVASCRIPT,
        include_str!("../../assets/js/nonblocking.js"),
    ),
    (
        "nonblocking.d.ts",
        TYPESCRIPT,
        include_str!("../../assets/js/nonblocking.d.ts"),
    ),
    ("api.js", JAVASCRIPT, include_str!("../../assets/js/api.js")),
];

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const TYPESCRIPT: &str = "application/typescript; charset=utf-8";

/// Whether `GET <prefix>/<name>` serves something: a file, or a description.
pub(super) fn is_served(state: &ServerState, name: &str) -> bool {
    ASSETS.iter().any(|(file, _, _)| *file == name) || is_description(state, name)
}

fn is_description(state: &ServerState, name: &str) -> bool {
    cfg!(feature = "schema") && state.listing && matches!(name, "openapi.json" | "api.d.ts")
}

/// `GET <prefix>/<name>`: a file of the client, a description, or the 405 a function's path
/// gets.
pub(super) async fn asset(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let name = last_segment(request.uri().path());
    if let Some((_, content_type, body)) = ASSETS.iter().find(|(file, _, _)| *file == name) {
        // The file changes only with the server's binary: a short cache, then revalidation.
        return with_type(body.into_response(), content_type, "public, max-age=300");
    }
    if is_description(&state, name) {
        #[cfg(feature = "schema")]
        return description(&state, name, &request);
    }
    method_not_allowed_on_call(request.method())
}

/// The OpenAPI document or the stubs' declarations of what this caller may call. Built per
/// request: it depends on the caller's headers (the authorize hook), and is rarely asked for.
#[cfg(feature = "schema")]
fn description(state: &ServerState, name: &str, request: &Request) -> Response {
    let mut caller = crate::remote::Caller::http(request.headers(), super::respond::peer(request.extensions()));
    let api = crate::schema::ApiSchema::of(state.callable(&mut caller));
    // Per caller: never shared by a cache.
    let cache = "private, no-cache";
    if name == "openapi.json" {
        let document = super::openapi::document(&api, &state.prefix, &state.api_info);
        with_type(axum::Json(document).into_response(), "application/json", cache)
    } else {
        with_type(api.typescript().into_response(), TYPESCRIPT, cache)
    }
}

fn with_type(mut response: Response, content_type: &'static str, cache: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
