//! `GET /Patient/{id}`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::{ApiError, FHIR_JSON};
use crate::domain::NhsNumber;
use crate::fhir;
use crate::store::db::Db;
use crate::store::patients::{self, Retrieved};

pub async fn retrieve(db: web::Data<Db>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let nhs_number = NhsNumber::parse(&id).map_err(|_| ApiError::InvalidResourceId)?;
    let found = db
        .run(move |conn| patients::retrieve(conn, nhs_number))
        .await?;
    let patient = match found {
        Retrieved::Current(patient) => patient.redacted(),
        Retrieved::Invalidated => return Err(ApiError::Invalidated),
        Retrieved::Missing => return Err(ApiError::NotFound),
    };
    Ok(HttpResponse::Ok()
        .content_type(FHIR_JSON)
        .insert_header((header::ETAG, format!("W/\"{}\"", patient.version)))
        .json(fhir::patient::render(&patient)))
}
