//! This API's own description, served by the binary itself: `GET
//! /openapi.yaml` (the file as built in), `GET /openapi.json` (the same
//! converted once, on first use) and `GET /docs`, a Redoc page whose script
//! is vendored under `assets/redoc` and embedded, so nothing is fetched from
//! elsewhere and the page works offline.

use actix_web::HttpResponse;
use actix_web::http::header::{CACHE_CONTROL, CacheControl, CacheDirective};
use std::sync::OnceLock;

/// The OpenAPI document, as committed beside the code.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

/// Redoc 2 standalone bundle (MIT, see `assets/redoc/LICENSE`).
const REDOC_JS: &[u8] = include_bytes!("../../assets/redoc/redoc.standalone.js");

/// Where `/docs` loads the script from (relative to the page).
pub const REDOC_JS_PATH: &str = "/docs/redoc.standalone.js";

const DOCS_HTML: &str = r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Personal Demographics Service (FHIR R4) API</title>
    <style>body { margin: 0; padding: 0; }</style>
  </head>
  <body>
    <redoc spec-url="/openapi.yaml"></redoc>
    <script src="/docs/redoc.standalone.js"></script>
  </body>
</html>
"#;

/// The document as JSON text, converted on first use.
pub fn openapi_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let value: serde_json::Value =
            serde_norway::from_str(OPENAPI_YAML).expect("openapi.yaml is valid YAML");
        serde_json::to_string(&value).expect("JSON from a JSON value")
    })
}

pub async fn yaml() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(OPENAPI_YAML)
}

pub async fn json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(openapi_json())
}

pub async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(DOCS_HTML)
}

pub async fn redoc_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((
            CACHE_CONTROL,
            CacheControl(vec![CacheDirective::Public, CacheDirective::MaxAge(86_400)]),
        ))
        .body(REDOC_JS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_document_converts_to_json() {
        let json: serde_json::Value = serde_json::from_str(super::openapi_json()).unwrap();
        assert!(json["paths"].is_object());
    }
}
