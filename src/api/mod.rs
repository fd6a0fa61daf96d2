//! HTTP: routes, handlers and header rules.

mod audit;
mod birth;
mod coverage;
mod create;
pub mod docs;
pub mod error;
pub mod gate;
mod headers;
mod health;
mod history;
pub mod limits;
mod metadata;
pub mod metrics;
mod patient;
mod query;
mod related;
mod search;
mod update;
pub mod wire;
mod writes;

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};

pub use error::ApiError;

pub const FHIR_JSON: &str = "application/fhir+json";

/// Every (path, method) the service answers, with paths as `openapi.yaml`
/// writes them. `routes` registers exactly these (and `openapi.yaml` must
/// describe exactly these: `tests/api/spec.rs` checks). CORS preflights
/// (`OPTIONS`) are answered by the CORS middleware, not by a route.
pub const ROUTES: &[(&str, &str)] = &[
    ("/_ping", "GET"),
    ("/_ping", "HEAD"),
    ("/_status", "GET"),
    ("/_status", "HEAD"),
    ("/metrics", "GET"),
    ("/metrics", "HEAD"),
    ("/metadata", "GET"),
    ("/metadata", "HEAD"),
    ("/openapi.yaml", "GET"),
    ("/openapi.json", "GET"),
    ("/docs", "GET"),
    (docs::REDOC_JS_PATH, "GET"),
    ("/Patient", "GET"),
    ("/Patient", "POST"),
    // Before `/Patient/{id}`, which would otherwise take it.
    ("/Patient/$process-birth-details", "POST"),
    ("/Patient/{id}", "GET"),
    ("/Patient/{id}", "PATCH"),
    ("/Patient/{id}/RelatedPerson", "GET"),
    ("/Patient/{id}/_history", "GET"),
    ("/Patient/{id}/_history/{vid}", "GET"),
    ("/Coverage", "GET"),
    ("/Coverage", "POST"),
];

/// Prefixes of the routes behind the gate, rate limit, body cap and audit.
const PATIENT: &str = "/Patient";
const COVERAGE: &str = "/Coverage";
const GATED: [&str; 2] = [PATIENT, COVERAGE];

/// The gated prefix `path` is under, if any.
fn gated_under(path: &str) -> Option<&'static str> {
    GATED.into_iter().find(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// The handler for one entry of `ROUTES`.
fn route(path: &str, method: &str) -> actix_web::Route {
    let route = match method {
        "GET" => web::get(),
        "HEAD" => web::head(),
        "POST" => web::post(),
        "PATCH" => web::patch(),
        other => unreachable!("no method {other} in ROUTES"),
    };
    match (path, method) {
        ("/_ping", _) => route.to(health::ping),
        ("/_status", _) => route.to(health::status),
        ("/metrics", _) => route.to(metrics::metrics),
        ("/metadata", _) => route.to(metadata::metadata),
        ("/openapi.yaml", _) => route.to(docs::yaml),
        ("/openapi.json", _) => route.to(docs::json),
        ("/docs", _) => route.to(docs::page),
        (docs::REDOC_JS_PATH, _) => route.to(docs::redoc_js),
        ("/Patient", "GET") => route.to(search::search),
        ("/Patient", "POST") => route.to(create::create),
        ("/Patient/$process-birth-details", _) => route.to(birth::process_birth_details),
        ("/Patient/{id}", "GET") => route.to(patient::retrieve),
        ("/Patient/{id}", "PATCH") => route.to(update::update),
        ("/Patient/{id}/RelatedPerson", _) => route.to(related::related),
        ("/Patient/{id}/_history", _) => route.to(history::history),
        ("/Patient/{id}/_history/{vid}", _) => route.to(history::vread),
        ("/Coverage", "GET") => route.to(coverage::search),
        ("/Coverage", "POST") => route.to(coverage::update),
        _ => unreachable!("no handler for {method} {path}"),
    }
}

/// One resource per path of `ROUTES`, in order, with its methods; any other
/// method gets UNSUPPORTED_SERVICE.
fn resources() -> impl Iterator<Item = (&'static str, actix_web::Resource)> {
    let mut paths: Vec<&'static str> = Vec::new();
    for (path, _) in ROUTES {
        if !paths.contains(path) {
            paths.push(path);
        }
    }
    paths.into_iter().map(|path| {
        let within = gated_under(path).and_then(|prefix| path.strip_prefix(prefix));
        let mut resource = web::resource(within.unwrap_or(path));
        for (_, method) in ROUTES.iter().filter(|(p, _)| *p == path) {
            resource = resource.route(route(path, method));
        }
        (path, resource.default_service(web::to(unsupported_service)))
    })
}

/// Every route of the service (`ROUTES`). Unknown paths get PDS's
/// UNSUPPORTED_REQUEST (see `startup`), unknown methods UNSUPPORTED_SERVICE;
/// so do unknown paths under `/Patient`, after the gate, where under
/// `/Coverage` they are UNSUPPORTED_REQUEST as PDS has them (its proxy
/// knows `/Coverage` alone).
pub fn routes(cfg: &mut web::ServiceConfig) {
    let mut resources: Vec<_> = resources().collect();
    for prefix in GATED {
        // Outermost last: audit, then the gate, then the rate limit (which
        // needs the gate's `Caller`), then the body cap.
        let mut scope = web::scope(prefix)
            .wrap(from_fn(limits::body_limit))
            .wrap(from_fn(limits::rate_limit))
            .wrap(from_fn(gate::gate))
            .wrap(from_fn(audit::audit));
        let (inside, rest) = resources
            .into_iter()
            .partition(|(path, _)| gated_under(path) == Some(prefix));
        resources = rest;
        for (_, resource) in inside {
            scope = scope.service(resource);
        }
        let unknown = match prefix {
            COVERAGE => web::to(unsupported_request),
            _ => web::to(unsupported_service),
        };
        cfg.service(scope.default_service(unknown));
    }
    for (_, resource) in resources {
        cfg.service(resource);
    }
}

/// The service's own base URL as the client reached it, for `fullUrl`s.
pub fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

pub async fn unsupported_service() -> Result<HttpResponse, ApiError> {
    Err(ApiError::UnsupportedService)
}

pub async fn unsupported_request(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::UnsupportedRequest(req.path().to_owned()))
}

pub use headers::{echo_ids, log_request};
