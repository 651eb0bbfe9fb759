//! The browser client, served by the server itself under its prefix: `GET
//! <prefix>/nonblocking.js` (the ES module) and `GET <prefix>/nonblocking.d.ts` (its
//! declarations), embedded in the binary. A page imports it with no build step, and the module
//! finds the server's prefix from its own URL. Calls are `POST`, assets `GET`: a function may
//! even share an asset's name. A `GET` of any other name is the JSON 405 of the wire table.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::handlers::{last_segment, method_not_allowed_on_call};

/// The client's files, as shipped in `clients/js`.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "nonblocking.js",
        "text/javascript; charset=utf-8",
        include_str!("../../../clients/js/nonblocking.js"),
    ),
    (
        "nonblocking.d.ts",
        "application/typescript; charset=utf-8",
        include_str!("../../../clients/js/nonblocking.d.ts"),
    ),
];

/// `GET <prefix>/<name>`: a file of the client, or the 405 a function's path gets.
pub(super) async fn asset(request: Request) -> Response {
    let name = last_segment(request.uri().path());
    let Some((_, content_type, body)) = ASSETS.iter().find(|(file, _, _)| *file == name) else {
        return method_not_allowed_on_call(request.method());
    };
    let mut response = (*body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The file changes only with the server's binary: a short cache, then revalidation.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}
