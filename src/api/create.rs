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
//!
//! A birth registration (`api::birth`) is this create with more in the same
//! transaction: [`Addition`] is what it adds (the mother found, which
//! matches stop it, her related-person row).

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder, web};
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

pub(super) fn may_create(caller: &Caller) -> Result<(), ApiError> {
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
pub(super) fn is_json(req: &HttpRequest) -> bool {
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
    let work = Create::new(&req, &caller, patient, today, **range, &body, ACTIONS)?;
    let outcome = db.run(move |conn| store(conn, work, ())).await?;
    let patient = settle(&req, outcome, ACTIONS)?;
    Ok(created(&req, &patient).json(fhir::patient::render(
        &patient,
        super::patient::view_of(&caller),
    )))
}

/// The audit actions of a create: the first answer, and a retry's.
const ACTIONS: Actions = Actions {
    first: "create",
    replay: "create-replay",
};

/// How a kind of create is audited.
#[derive(Debug, Clone, Copy)]
pub(super) struct Actions {
    pub first: &'static str,
    pub replay: &'static str,
}

/// The answer to a create that stored its patient (or replayed one): its
/// audit note left, or the 200 of a match.
pub(super) fn settle(
    req: &HttpRequest,
    outcome: Outcome,
    actions: Actions,
) -> Result<Box<Patient>, ApiError> {
    match outcome {
        Outcome::Created { patient, replayed } => {
            // The audit row is already committed: with the new patient, or
            // (a replay) just before.
            let action = if replayed {
                actions.replay
            } else {
                actions.first
            };
            req.extensions_mut().insert(AuditNote::recorded(action));
            Ok(patient)
        }
        Outcome::Matched(duplicates) => {
            req.extensions_mut()
                .insert(AuditNote::recorded(actions.first));
            Err(match duplicates {
                Duplicates::Visible(found) if found.len() == 1 => {
                    ApiError::SingleMatch(found[0].to_string())
                }
                Duplicates::Visible(_) => ApiError::MultipleMatches,
                Duplicates::Withheld(_) | Duplicates::None => ApiError::MatchWithheld,
            })
        }
    }
}

/// The 201 of a created patient, body to come: `ETag` and `Location`.
pub(super) fn created(req: &HttpRequest, patient: &Patient) -> HttpResponseBuilder {
    let mut response = HttpResponse::Created();
    response
        .content_type(FHIR_JSON)
        .insert_header((header::ETAG, format!("W/\"{}\"", patient.version)))
        .insert_header((
            header::LOCATION,
            format!("{}/Patient/{}", super::base_url(req), patient.nhs_number),
        ));
    response
}

/// What another kind of create (a birth registration) adds to the one
/// transaction of [`store`]. Each step may refuse, rolling all back.
pub(super) trait Addition: Send + 'static {
    /// Before the duplicate check (a replay skips it).
    fn prepare(&mut self, _conn: &mut PgConnection) -> Result<(), ApiError> {
        Ok(())
    }

    /// Of the duplicates found, those that stop this create.
    fn stopping(
        &self,
        _conn: &mut PgConnection,
        found: Duplicates,
    ) -> Result<Duplicates, ApiError> {
        Ok(found)
    }

    /// Once the new patient is stored under its number, before the audit
    /// row (whose numbers it may add to).
    fn created(
        &self,
        _conn: &mut PgConnection,
        _number: NhsNumber,
        _event: &mut AuditEvent,
    ) -> Result<(), ApiError> {
        Ok(())
    }
}

/// A plain create adds nothing.
impl Addition for () {}

/// One create, checked as far as it can be without the store.
pub(super) struct Create {
    /// The new patient, numbered once a number is allocated.
    patient: Patient,
    matchers: Matchers,
    range: AllocationRange,
    request_id: Uuid,
    hash: Vec<u8>,
    clearance: Clearance,
    /// The audit event of this request, filled in once the outcome is known.
    event: AuditEvent,
    actions: Actions,
}

impl Create {
    /// The request's X-Request-ID.
    pub(super) fn request_id(&self) -> Uuid {
        self.request_id
    }

    /// `patient` checked, to be stored once: the retry key of the request
    /// and its audit event (written before the answer leaves, whatever it
    /// is).
    pub(super) fn new(
        req: &HttpRequest,
        caller: &Caller,
        patient: Patient,
        today: chrono::NaiveDate,
        range: AllocationRange,
        body: &[u8],
        actions: Actions,
    ) -> Result<Self, ApiError> {
        let clearance = caller.grants.clearance;
        let (request_id, hash) = retry_key(req, caller, body)?;
        let note = AuditNote {
            action: actions.first,
            ..AuditNote::default()
        };
        Ok(Self {
            matchers: Matchers::new(&patient, today, clearance),
            patient,
            range,
            request_id,
            hash,
            clearance,
            event: super::audit::event_for(req, caller, note, 201),
            actions,
        })
    }
}

/// How a create ended.
pub(super) enum Outcome {
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
pub(super) fn store(
    conn: &mut PgConnection,
    work: Create,
    mut addition: impl Addition,
) -> Result<Outcome, ApiError> {
    let Create {
        mut patient,
        matchers,
        range,
        request_id,
        hash,
        clearance,
        mut event,
        actions,
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
                actions.replay,
            )?;
            return Ok(Outcome::Created {
                patient: Box::new(shown),
                replayed: true,
            });
        }
        let birth = patient
            .birth_date
            .ok_or(ApiError::MissingValue("birthDate".into()))?;
        addition.prepare(conn)?;
        allocate::lock_birth_date(conn, birth)?;
        let found = search::duplicates(conn, &matchers)?;
        let duplicates = addition.stopping(conn, found)?;
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
        addition.created(conn, number, &mut event)?;
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
