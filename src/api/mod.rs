//! HTTP: routes, handlers and header rules.

mod audit;
mod create;
pub mod error;
pub mod gate;
mod headers;
mod health;
mod history;
pub mod limits;
mod metadata;
pub mod metrics;
mod patient;
mod related;
mod search;
mod update;

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};

pub use error::ApiError;

pub const FHIR_JSON: &str = "application/fhir+json";

/// Every route of the service. Unknown paths get PDS's UNSUPPORTED_REQUEST
/// (see `startup`), unknown methods under `/Patient` UNSUPPORTED_SERVICE.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/_ping")
            .route(web::get().to(health::ping))
            .route(web::head().to(health::ping))
            .default_service(web::to(unsupported_service)),
    )
    .service(
        web::resource("/_status")
            .route(web::get().to(health::status))
            .route(web::head().to(health::status))
            .default_service(web::to(unsupported_service)),
    )
    .service(
        web::resource("/metrics")
            .route(web::get().to(metrics::metrics))
            .route(web::head().to(metrics::metrics))
            .default_service(web::to(unsupported_service)),
    )
    .service(
        web::resource("/metadata")
            .route(web::get().to(metadata::metadata))
            .route(web::head().to(metadata::metadata))
            .default_service(web::to(unsupported_service)),
    )
    .service(
        // Outermost last: audit, then the gate, then the rate limit (which
        // needs the gate's `Caller`), then the body cap.
        web::scope("/Patient")
            .wrap(from_fn(limits::body_limit))
            .wrap(from_fn(limits::rate_limit))
            .wrap(from_fn(gate::gate))
            .wrap(from_fn(audit::audit))
            .service(
                web::resource("")
                    .route(web::get().to(search::search))
                    .route(web::post().to(create::create))
                    .default_service(web::to(unsupported_service)),
            )
            .service(
                web::resource("/{id}")
                    .route(web::get().to(patient::retrieve))
                    .route(web::patch().to(update::update))
                    .default_service(web::to(unsupported_service)),
            )
            .service(
                web::resource("/{id}/RelatedPerson")
                    .route(web::get().to(related::related))
                    .default_service(web::to(unsupported_service)),
            )
            .service(
                web::resource("/{id}/_history")
                    .route(web::get().to(history::history))
                    .default_service(web::to(unsupported_service)),
            )
            .service(
                web::resource("/{id}/_history/{vid}")
                    .route(web::get().to(history::vread))
                    .default_service(web::to(unsupported_service)),
            )
            .default_service(web::to(unsupported_service)),
    );
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
