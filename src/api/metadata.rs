//! `GET /metadata`: the CapabilityStatement (no token needed).

use actix_web::{HttpRequest, HttpResponse};

use super::{FHIR_JSON, base_url};
use crate::fhir::{capability, instant};

pub async fn metadata(req: HttpRequest) -> HttpResponse {
    let body = capability::statement(&base_url(&req), &instant(&chrono::Utc::now()));
    HttpResponse::Ok().content_type(FHIR_JSON).json(body)
}
