//! `GET /Patient/{id}/RelatedPerson`: a patient's related people.

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};

use super::audit::{self, AuditNote};
use super::base_url;
use super::{ApiError, FHIR_JSON};
use crate::auth::caller::{Caller, Mode};
use crate::domain::NhsNumber;
use crate::domain::patient::Clearance;
use crate::domain::related::RelatedPerson;
use crate::fhir;
use crate::store::audit::Auditor;
use crate::store::db::Db;
use crate::store::patients::{self, Retrieved};
use crate::store::related;
use crate::store::replica::Lane;

/// What the store found for a request.
struct Found {
    /// The patient asked for, or the record it was merged into.
    nhs_number: NhsNumber,
    restricted: bool,
    /// Each related person, and whether they lost their location because
    /// their patient reference names a restricted patient.
    people: Vec<(RelatedPerson, bool)>,
}

/// Patients only their own related people; others with the related grant.
fn may_read_related(caller: &Caller, nhs_number: NhsNumber) -> Result<(), ApiError> {
    if caller.mode == Mode::Patient && caller.own_nhs_number != Some(nhs_number) {
        return Err(ApiError::PatientForbidden);
    }
    if !caller.grants.related {
        return Err(ApiError::Forbidden(
            "Your access token does not allow reading related people".into(),
        ));
    }
    Ok(())
}

pub async fn related(
    req: HttpRequest,
    db: web::Data<Db>,
    auditor: web::Data<Auditor>,
    caller: web::ReqData<Caller>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let nhs_number = NhsNumber::parse(&id);
    // Noted before any check, so a refusal below is audited as this action.
    req.extensions_mut().insert(AuditNote {
        action: "related",
        nhs_numbers: nhs_number.iter().map(|n| n.as_i64()).collect(),
        ..AuditNote::default()
    });
    let nhs_number = nhs_number.map_err(|_| ApiError::InvalidResourceId)?;
    may_read_related(&caller, nhs_number)?;
    // PDS returns no related people of a restricted patient (an empty
    // bundle), except to callers who see every record in full.
    let sees_restricted = caller.grants.clearance == Clearance::All;
    let event = audit::event_for(&req, &caller, AuditNote::recorded("related"), 200);
    let (found, event) = db
        .read(Lane::Related, move |conn| {
            // Fresh for each attempt: the read may be tried again on the primary.
            let mut event = event.clone();
            let patient = match patients::retrieve(conn, nhs_number)? {
                Retrieved::Current(patient) => patient,
                Retrieved::Invalidated => return Err(ApiError::Invalidated),
                Retrieved::Missing => return Err(ApiError::NotFound),
            };
            let restricted = patient.is_restricted();
            let hidden = restricted && !sees_restricted;
            let mut found = Found {
                nhs_number: patient.nhs_number,
                restricted,
                people: Vec::new(),
            };
            if hidden {
                event.nhs_numbers = vec![found.nhs_number.as_i64()];
                event.redacted = true;
                return Ok((found, event));
            }
            let people = related::of_patient(conn, patient.nhs_number)?;
            let references: Vec<NhsNumber> =
                people.iter().filter_map(|p| p.details.patient).collect();
            let shielded = if sees_restricted {
                Default::default()
            } else {
                related::restricted_among(conn, &references)?
            };
            found.people = people
                .into_iter()
                .map(|p| match p.details.patient {
                    Some(n) if shielded.contains(&n) => (p.without_location(), true),
                    _ => (p, false),
                })
                .collect();
            event.nhs_numbers = vec![found.nhs_number.as_i64()];
            event.redacted = found.people.iter().any(|(_, shielded)| *shielded);
            event.sensitive_override = found.restricted;
            Ok((found, event))
        })
        .await?;
    audit::commit(&req, &auditor, event).await?;

    let base = base_url(&req);
    let patient = found.nhs_number;
    let entries = found
        .people
        .into_iter()
        .map(|(person, _)| {
            let url = format!("{base}/Patient/{patient}/RelatedPerson/{}", person.id);
            (url, fhir::related::render(&person))
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type(FHIR_JSON)
        .json(fhir::related::bundle(&chrono::Utc::now(), entries)))
}
