//! `POST /Patient`: create a patient and allocate an NHS number (PDS §5.9).
//!
//! 1. **Who:** healthcare workers whose role grants create
//!    (`demographics_update`). Application, privileged-application and
//!    patient tokens get 403 INVALID_METHOD, other workers 403 ACCESS_DENIED.
//! 2. **Request:** `Content-Type` `application/json` or
//!    `application/fhir+json`, and a PatientCreateRequest body, checked in
//!    the PDS order (`fhir::create`).
//! 3. **Matching:** the demographics are compared with the patients on file
//!    (`domain::search::duplicates`): one strong match answers 200
//!    SINGLE_MATCH naming them, several answer 200 MULTIPLE_MATCHES, and
//!    nothing is created. A duplicate of a record the caller may not see in
//!    full is refused too, with an answer that names no number, no count and
//!    no place (MULTIPLE_MATCHES, [`ApiError::MatchWithheld`]).
//! 4. **Create:** a fresh number from the allocation range
//!    (`ALLOCATION_RANGE`, `store::allocate`), version 1, security `U`,
//!    verification status `01`, server ids on every list item, the audit row
//!    and the answer for retries, all in one transaction. 201 with the
//!    Patient, `ETag: W/"1"` and `Location`.
//!
//! A retry by the same caller with the same X-Request-ID and body gets the
//! same 201 answer (version 1 read again, shown as the caller may see it
//! now, audited as `create-replay`) and creates nothing (within 24 hours);
//! anybody else reusing the id gets 400. Concurrent requests with one id, or
//! for people born on the same day, queue on advisory locks, so neither a
//! retry nor two simultaneous creates of one person make two records.

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use diesel::{Connection, PgConnection};
use uuid::Uuid;

use super::audit::AuditNote;
use super::writes::{self, retry_key};
use super::{ApiError, FHIR_JSON};
use crate::auth::caller::{Caller, Mode};
use crate::domain::patient::Clearance;
use crate::domain::search::duplicates::{Duplicates, Matchers};
use crate::domain::{NhsNumber, Patient};
use crate::fhir;
use crate::store::allocate::{self, AllocationRange};
use crate::store::audit::{self, AuditEvent};
use crate::store::db::Writes;
use crate::store::patients::{self, FormerNameRow, PatientRow};
use crate::store::search;
use crate::store::updates::{self, Remembered};

fn may_create(caller: &Caller) -> Result<(), ApiError> {
    match caller.mode {
        Mode::Application | Mode::PrivilegedApplication | Mode::Patient => {
            Err(ApiError::InvalidMethod {
                verb: "create",
                token_kind: caller.mode.token_kind(),
            })
        }
        Mode::HealthcareWorker if caller.grants.create => Ok(()),
        Mode::HealthcareWorker => Err(ApiError::Forbidden(
            "The selected role does not allow creating patients (it needs B0825 Amend Patient Demographics at AAL3)".into(),
        )),
    }
}

/// `application/json` or `application/fhir+json`, parameters aside.
fn is_json(req: &HttpRequest) -> bool {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || media == "application/fhir+json"
}

pub async fn create(
    req: HttpRequest,
    db: web::Data<Writes>,
    range: web::Data<AllocationRange>,
    caller: web::ReqData<Caller>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    may_create(&caller)?;
    if !is_json(&req) {
        return Err(ApiError::UnsupportedService);
    }
    let today = chrono::Utc::now().date_naive();
    let patient = fhir::create::request(&body, today)?;
    let clearance = caller.grants.clearance;
    let (request_id, hash) = retry_key(&req, &caller, &body)?;
    let note = AuditNote {
        action: "create",
        ..AuditNote::default()
    };
    let work = Create {
        matchers: Matchers::new(&patient, today, clearance),
        patient,
        range: **range,
        request_id,
        hash,
        clearance,
        // Numbers and status are filled in once known; written before the
        // answer leaves, whatever it is.
        event: super::audit::event_for(&req, &caller, note, 201),
    };

    let (patient, replayed) = match db.run(move |conn| store(conn, work)).await? {
        Outcome::Created { patient, replayed } => (patient, replayed),
        Outcome::Matched(duplicates) => {
            req.extensions_mut().insert(AuditNote::recorded("create"));
            return Err(match duplicates {
                Duplicates::Visible(found) if found.len() == 1 => {
                    ApiError::SingleMatch(found[0].to_string())
                }
                Duplicates::Visible(_) => ApiError::MultipleMatches,
                Duplicates::Withheld(_) | Duplicates::None => ApiError::MatchWithheld,
            });
        }
    };
    // The audit row is already committed: with the new patient, or (a
    // replay) just before.
    let action = if replayed { "create-replay" } else { "create" };
    req.extensions_mut().insert(AuditNote::recorded(action));
    let number = patient.nhs_number;
    Ok(HttpResponse::Created()
        .content_type(FHIR_JSON)
        .insert_header((header::ETAG, format!("W/\"{}\"", patient.version)))
        .insert_header((
            header::LOCATION,
            format!("{}/Patient/{number}", super::base_url(&req)),
        ))
        .json(fhir::patient::render(
            &patient,
            super::patient::view_of(&caller),
        )))
}

/// One create, checked as far as it can be without the store.
struct Create {
    /// The new patient, numbered once a number is allocated.
    patient: Patient,
    matchers: Matchers,
    range: AllocationRange,
    request_id: Uuid,
    hash: Vec<u8>,
    clearance: Clearance,
    /// The audit event of this request, filled in once the outcome is known.
    event: AuditEvent,
}

/// How a create ended.
enum Outcome {
    /// The new patient (or, for a retry, the version its first answer
    /// showed), as the caller may see it.
    Created {
        patient: Box<Patient>,
        replayed: bool,
    },
    Matched(Duplicates),
}

/// The create, in one transaction with its audit row: a retry answered as
/// before, a duplicate refused, or the patient stored under a new number
/// with the answer kept for retries.
fn store(conn: &mut PgConnection, work: Create) -> Result<Outcome, ApiError> {
    let Create {
        mut patient,
        matchers,
        range,
        request_id,
        hash,
        clearance,
        mut event,
    } = work;
    conn.transaction(|conn| {
        allocate::lock_request_id(conn, request_id)?;
        if let Some(previous) = updates::remembered(conn, request_id)? {
            let shown = writes::replay(
                conn,
                &previous,
                &hash,
                request_id,
                clearance,
                event,
                "create-replay",
            )?;
            return Ok(Outcome::Created {
                patient: Box::new(shown),
                replayed: true,
            });
        }
        let birth = patient
            .birth_date
            .ok_or(ApiError::MissingValue("birthDate".into()))?;
        allocate::lock_birth_date(conn, birth)?;
        let duplicates = search::duplicates(conn, &matchers)?;
        if duplicates != Duplicates::None {
            event.status = 200;
            (event.nhs_numbers, event.redacted) = match &duplicates {
                Duplicates::Visible(found) => (numbers(found), false),
                Duplicates::Withheld(found) => (numbers(found), true),
                Duplicates::None => (Vec::new(), false),
            };
            audit::insert_now(conn, &event)?;
            return Ok(Outcome::Matched(duplicates));
        }
        let number = allocate::next_number(conn, range)?.ok_or_else(|| {
            tracing::error!(%range, "the NHS number allocation range is used up");
            ApiError::AllocationExhausted(range.to_string())
        })?;
        patient.nhs_number = number;
        patients::insert(
            conn,
            &[PatientRow::from_patient(&patient, None)],
            &FormerNameRow::of(&patient),
        )?;
        event.nhs_numbers = vec![number.as_i64()];
        audit::insert_now(conn, &event)?;
        updates::remember(
            conn,
            request_id,
            &Remembered {
                request_hash: hash,
                status: 201,
                nhs_number: number.as_i64(),
                version: patient.version as i32,
            },
        )?;
        Ok(Outcome::Created {
            patient: Box::new(patient),
            replayed: false,
        })
    })
}

fn numbers(found: &[NhsNumber]) -> Vec<i64> {
    found.iter().map(|n| n.as_i64()).collect()
}
