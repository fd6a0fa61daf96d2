//! `GET /Patient/{id}`.

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};

use super::audit::AuditNote;
use super::{ApiError, FHIR_JSON};
use crate::auth::caller::{Caller, Mode};
use crate::domain::{NhsNumber, Patient};
use crate::fhir;
use crate::store::lookup::Lookup;
use crate::store::patients::Retrieved;

pub async fn retrieve(
    req: HttpRequest,
    lookup: web::Data<Lookup>,
    caller: web::ReqData<Caller>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let nhs_number = NhsNumber::parse(&id).map_err(|_| ApiError::InvalidResourceId)?;
    may_read(&caller, nhs_number)?;
    let patient = match lookup.retrieve(nhs_number).await? {
        Retrieved::Current(patient) => *patient,
        Retrieved::Invalidated => return Err(ApiError::Invalidated),
        Retrieved::Missing => return Err(ApiError::NotFound),
    };
    Ok(respond(&req, patient, &caller, "retrieve"))
}

/// Reading one patient's record: patients only their own, others with the
/// retrieve grant.
pub(super) fn may_read(caller: &Caller, nhs_number: NhsNumber) -> Result<(), ApiError> {
    if caller.mode == Mode::Patient && caller.own_nhs_number != Some(nhs_number) {
        return Err(ApiError::PatientForbidden);
    }
    if !caller.grants.retrieve {
        return Err(ApiError::Forbidden(
            "Your access token does not allow reading patient records".into(),
        ));
    }
    Ok(())
}

/// One version of a record as `caller` may see it, with its ETag, noted for
/// the audit trail.
pub(super) fn respond(
    req: &HttpRequest,
    patient: Patient,
    caller: &Caller,
    action: &'static str,
) -> HttpResponse {
    let restricted = patient.is_restricted();
    let (patient, redacted) = patient.visible_to(caller.grants.clearance);
    req.extensions_mut().insert(AuditNote {
        action,
        nhs_numbers: vec![patient.nhs_number.as_i64()],
        redacted,
        sensitive_override: restricted && !redacted,
        ..AuditNote::default()
    });
    HttpResponse::Ok()
        .content_type(FHIR_JSON)
        .insert_header((header::ETAG, format!("W/\"{}\"", patient.version)))
        .json(fhir::patient::render(&patient))
}
