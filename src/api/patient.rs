//! `GET /Patient/{id}`.

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};

use super::audit::{self, AuditNote};
use super::{ApiError, FHIR_JSON};
use crate::auth::caller::{Caller, Mode};
use crate::domain::codes::Security;
use crate::domain::patient::Clearance;
use crate::domain::{NhsNumber, Patient};
use crate::fhir;
use crate::fhir::patient::View;
use crate::store::audit::Auditor;
use crate::store::db::DbError;
use crate::store::lookup::{Audit, Lookup, RetrieveAudit};
use crate::store::patients::Retrieved;

pub async fn retrieve(
    req: HttpRequest,
    lookup: web::Data<Lookup>,
    auditor: web::Data<Auditor>,
    caller: web::ReqData<Caller>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let nhs_number = NhsNumber::parse(&id).map_err(|_| ApiError::InvalidResourceId)?;
    may_read(&caller, nhs_number)?;
    let clearance = caller.grants.clearance;
    let event = audit::event_for(&req, &caller, AuditNote::recorded("retrieve"), 200);
    let mut exact = event.clone();
    // The lookup statement writes the audit row from `event`; `of` makes
    // the whole row where it cannot (see `store::lookup`).
    let of = Box::new(move |found: &Result<Retrieved, DbError>| {
        let (status, note) = match outcome(found) {
            Ok(patient) => (200, retrieved_note(nhs_number, patient, clearance)),
            Err(e) => (
                e.status_code().as_u16(),
                AuditNote {
                    nhs_numbers: vec![nhs_number.as_i64()],
                    ..AuditNote::default()
                },
            ),
        };
        exact.status = status;
        exact.nhs_numbers = note.nhs_numbers;
        exact.redacted = note.redacted;
        exact.sensitive_override = note.sensitive_override;
        exact
    });
    let audit = RetrieveAudit {
        event,
        clearance,
        of,
    };
    let looked = lookup.retrieve(nhs_number, audit).await;
    match looked.audit {
        Audit::Committed => {
            req.extensions_mut().insert(AuditNote::recorded("retrieve"));
        }
        // Read on a standby: the row goes through the audit writer first.
        Audit::ToCommit(event) => audit::commit(&req, &auditor, *event).await?,
        Audit::Failed => {}
    }
    let patient = match looked.found? {
        Retrieved::Current(patient) => *patient,
        Retrieved::Invalidated => return Err(ApiError::Invalidated),
        Retrieved::Missing => return Err(ApiError::NotFound),
    };
    let label = patient.security;
    Ok(respond(
        shown_as(patient, label, clearance).0,
        view_of(&caller),
    ))
}

/// What a retrieve answers for what the lookup found.
fn outcome(found: &Result<Retrieved, DbError>) -> Result<&Patient, ApiError> {
    match found {
        Ok(Retrieved::Current(patient)) => Ok(patient),
        Ok(Retrieved::Invalidated) => Err(ApiError::Invalidated),
        Ok(Retrieved::Missing) => Err(ApiError::NotFound),
        Err(DbError::Unavailable(cause)) => Err(ApiError::Unavailable(cause.clone())),
        Err(other) => Err(ApiError::Internal(other.to_string().into())),
    }
}

/// The audit note of `patient` retrieved as `requested`: a superseded
/// number is recorded beside the record it was merged into.
fn retrieved_note(requested: NhsNumber, patient: &Patient, clearance: Clearance) -> AuditNote {
    let mut nhs_numbers = vec![requested.as_i64()];
    if patient.nhs_number != requested {
        nhs_numbers.push(patient.nhs_number.as_i64());
    }
    let (redacted, sensitive_override) = audit::shown(
        patient.is_restricted(),
        !patient.visible_in_full_to(clearance),
    );
    AuditNote {
        action: "retrieve",
        nhs_numbers,
        redacted,
        sensitive_override,
        already_recorded: false,
    }
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

/// One version of a record, shown redacted under `label` as `clearance`
/// may see it, and its audit flags (redacted, sensitive_override).
pub(super) fn shown_as(
    patient: Patient,
    label: Security,
    clearance: Clearance,
) -> (Patient, bool, bool) {
    let restricted = label != Security::Unrestricted;
    let (patient, redacted) = patient.visible_under(label, clearance);
    let (redacted, sensitive_override) = audit::shown(restricted, redacted);
    (patient, redacted, sensitive_override)
}

/// 200 with one version of a record (already redacted) and its ETag.
pub(super) fn respond(patient: Patient, view: View) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(FHIR_JSON)
        .insert_header((header::ETAG, format!("W/\"{}\"", patient.version)))
        .json(fhir::patient::render(&patient, view))
}

/// How records are written for the caller's application (`auth::apps`).
pub(super) fn view_of(caller: &Caller) -> View {
    View {
        confidential_removal_reasons: caller.app.confidential_removal_reasons,
        empty_address_lines: caller.app.empty_address_lines,
        record_sharing_consent: caller.app.record_sharing_consent,
    }
}
