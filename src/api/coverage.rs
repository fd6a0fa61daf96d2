//! `GET /Coverage?subscriber:identifier=<NHS number>` and `POST /Coverage`:
//! a patient's EHIC, for patient access only, as PDS has them (§5.10).
//!
//! Both answer with a `CoverageSearch` bundle whose `meta.versionId`, and
//! `ETag`, is the version of the patient's record. A POST is an update of
//! that record: `If-Match` as for PATCH, a new version (the old one kept in
//! the history), idempotent retries by `X-Request-ID`, one statement
//! (`store::coverage::write`).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use diesel::PgConnection;
use uuid::Uuid;

use super::audit::{self, AuditNote};
use super::update::if_match;
use super::writes::{self, retry_key};
use super::{ApiError, FHIR_JSON, base_url, query};
use crate::auth::caller::{Caller, Mode};
use crate::domain::NhsNumber;
use crate::domain::coverage::Ehic;
use crate::fhir;
use crate::store::audit::{self as store_audit, AuditEvent, Auditor};
use crate::store::coverage::{self, CoverageRow};
use crate::store::db::{Db, Writes};
use crate::store::patients::{self, Retrieved};
use crate::store::replica::Lane;
use crate::store::updates::{self, Remembered};

const SEARCH_FORMAT: &str =
    "Coverage search request must follow the format /Coverage?subscriber:identifier=NHS_NUMBER";

/// The only query PDS accepts: `subscriber:identifier=` and ten digits,
/// nothing else (INVALID_SEARCH_DATA); ten digits that are no NHS number
/// are INVALID_RESOURCE_ID.
fn subscriber_of(query_string: &str) -> Result<NhsNumber, ApiError> {
    let format = || ApiError::InvalidSearchData(SEARCH_FORMAT.into());
    let pairs = query::pairs(query_string).map_err(|_| format())?;
    let [(name, value)] = pairs.as_slice() else {
        return Err(format());
    };
    if name != "subscriber:identifier"
        || value.len() != 10
        || !value.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format());
    }
    NhsNumber::parse(value).map_err(|_| ApiError::InvalidResourceId)
}

/// The number a Coverage search asks for, if it asks well, for the audit
/// trail of requests refused before a handler ran.
pub(super) fn asked(query_string: &str) -> Option<NhsNumber> {
    subscriber_of(query_string).ok()
}

/// PDS serves `/Coverage` to patient access only: every other mode is
/// refused whatever it asks (403 ACCESS_DENIED naming the method and mode).
fn patients_only(caller: &Caller, verb: &'static str) -> Result<(), ApiError> {
    match caller.mode {
        Mode::Patient => Ok(()),
        other => Err(ApiError::ModeNotAllowed {
            verb,
            token_kind: other.token_kind(),
        }),
    }
}

/// A patient's own number only; and the grant, which SMART scopes may
/// have taken away.
fn own(caller: &Caller, nhs_number: NhsNumber, granted: bool) -> Result<(), ApiError> {
    if caller.own_nhs_number != Some(nhs_number) {
        return Err(ApiError::PatientForbidden);
    }
    if !granted {
        return Err(ApiError::Forbidden(
            "Your access token does not allow this use of your record".into(),
        ));
    }
    Ok(())
}

/// What an answer shows: the record (its number, which for a superseded
/// number is the retained record's, and version) and its EHIC.
struct Shown {
    nhs_number: NhsNumber,
    version: u32,
    ehic: Option<Ehic>,
}

fn respond(req: &HttpRequest, status: StatusCode, shown: &Shown) -> HttpResponse {
    let bundle = fhir::coverage::bundle(
        &chrono::Utc::now(),
        &base_url(req),
        shown.nhs_number,
        shown.version,
        shown.ehic.as_ref(),
    );
    HttpResponse::build(status)
        .content_type(FHIR_JSON)
        .insert_header((header::ETAG, format!("W/\"{}\"", shown.version)))
        .json(bundle)
}

/// The numbers an answer is audited under: the one asked for, and the
/// record it was merged into if it was.
fn audited_numbers(asked: NhsNumber, shown: NhsNumber) -> Vec<i64> {
    let mut numbers = vec![asked.as_i64()];
    if shown != asked {
        numbers.push(shown.as_i64());
    }
    numbers
}

pub async fn search(
    req: HttpRequest,
    db: web::Data<Db>,
    auditor: web::Data<Auditor>,
    caller: web::ReqData<Caller>,
) -> Result<HttpResponse, ApiError> {
    let asked = subscriber_of(req.query_string());
    // Noted before any check, so a refusal below is audited as this action.
    req.extensions_mut().insert(AuditNote {
        action: "coverage",
        nhs_numbers: asked.iter().map(|n| n.as_i64()).collect(),
        ..AuditNote::default()
    });
    patients_only(&caller, "GET")?;
    let nhs_number = asked?;
    own(&caller, nhs_number, caller.grants.retrieve)?;
    let event = audit::event_for(&req, &caller, AuditNote::recorded("coverage"), 200);
    let (shown, event) = db
        .read(Lane::Coverage, move |conn| {
            let patient = match patients::retrieve(conn, nhs_number)? {
                Retrieved::Current(patient) => patient,
                Retrieved::Invalidated => return Err(ApiError::Invalidated),
                Retrieved::Missing => return Err(ApiError::NotFound),
            };
            let ehic = coverage::as_of(conn, patient.nhs_number, patient.version as i32)?;
            // Fresh for each attempt: the read may be tried again on the primary.
            let mut event = event.clone();
            event.nhs_numbers = audited_numbers(nhs_number, patient.nhs_number);
            let shown = Shown {
                nhs_number: patient.nhs_number,
                version: patient.version,
                ehic,
            };
            Ok((shown, event))
        })
        .await?;
    audit::commit(&req, &auditor, event).await?;
    Ok(respond(&req, StatusCode::OK, &shown))
}

/// What one POST asks, checked as far as it can be without the record.
struct Work {
    nhs_number: NhsNumber,
    request_id: Uuid,
    hash: Vec<u8>,
    expected: i64,
    ehic: Ehic,
    audit: AuditEvent,
}

/// The answer to a POST, and whether it was a kept one.
struct Answer {
    shown: Shown,
    replayed: bool,
}

/// Reads the record and sets the EHIC if nobody else changed the record
/// meanwhile: `None` if somebody did (try again).
fn attempt(conn: &mut PgConnection, work: &Work) -> Result<Option<Answer>, ApiError> {
    let (row, answered) =
        updates::current(conn, work.nhs_number, work.request_id)?.ok_or(ApiError::NotFound)?;
    let previous = match answered {
        true => updates::remembered(conn, work.request_id)?,
        false => None,
    };
    if let Some(previous) = previous {
        return replay(conn, &previous, work).map(Some);
    }
    if row.is_invalidated() {
        return Err(ApiError::Invalidated);
    }
    if row.superseded_by.is_some() {
        return Err(ApiError::ForbiddenUpdate(
            "Update Failed - NHS No. supplied has been superseded in a merge".into(),
        ));
    }
    if i64::from(row.version) != work.expected {
        return Err(ApiError::VersionMismatch);
    }
    let version = row
        .version
        .checked_add(1)
        .ok_or_else(|| ApiError::Internal("the record's version cannot grow".into()))?;
    let new = CoverageRow::of(work.nhs_number, version, &work.ehic);
    let kept = Remembered {
        request_hash: work.hash.clone(),
        status: 201,
        nhs_number: work.nhs_number.as_i64(),
        version,
    };
    let audit = store_audit::Row::from_event(work.audit.clone());
    let written = coverage::write(conn, &row, &new, &audit, work.request_id, &kept)?;
    Ok(written.then(|| Answer {
        shown: Shown {
            nhs_number: work.nhs_number,
            version: version as u32,
            ehic: Some(work.ehic.clone()),
        },
        replayed: false,
    }))
}

/// A retry of a POST already answered: refused (400) if the kept answer
/// was for another request or caller, else the version it made, with the
/// EHIC that version has, audited as a replay.
fn replay(conn: &mut PgConnection, kept: &Remembered, work: &Work) -> Result<Answer, ApiError> {
    if kept.request_hash != work.hash {
        return Err(ApiError::RequestIdReused(work.request_id.to_string()));
    }
    let ehic = coverage::as_of(conn, work.nhs_number, kept.version)?;
    let mut event = work.audit.clone();
    event.action = "update-coverage-replay".into();
    store_audit::insert_now(conn, &event)?;
    Ok(Answer {
        shown: Shown {
            nhs_number: work.nhs_number,
            version: u32::try_from(kept.version)
                .map_err(|_| ApiError::Internal("a kept answer has a negative version".into()))?,
            ehic,
        },
        replayed: true,
    })
}

/// The media types a Coverage body may be sent as: PDS's `application/json`,
/// the `application/json-patch+json` its OAS declares (and its Postman
/// collection sends), and FHIR's own.
fn json_body(req: &HttpRequest) -> bool {
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
    matches!(
        media.as_str(),
        "application/json" | "application/json-patch+json" | "application/fhir+json"
    )
}

pub async fn update(
    req: HttpRequest,
    db: web::Data<Writes>,
    caller: web::ReqData<Caller>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let note = |numbers: Vec<i64>| AuditNote {
        action: "update-coverage",
        nhs_numbers: numbers,
        ..AuditNote::default()
    };
    req.extensions_mut().insert(note(Vec::new()));
    patients_only(&caller, "POST")?;
    let expected = if_match(req.headers())?;
    if !json_body(&req) {
        return Err(ApiError::UnsupportedService);
    }
    let top = fhir::coverage::body(&body)?;
    let nhs_number = fhir::coverage::subscriber(&top)?;
    req.extensions_mut().insert(note(vec![nhs_number.as_i64()]));
    own(&caller, nhs_number, caller.grants.update)?;
    let ehic = fhir::coverage::ehic(&top, chrono::Utc::now().date_naive())?;

    let (request_id, hash) = retry_key(&req, &caller, &body)?;
    let work = Work {
        nhs_number,
        request_id,
        hash,
        expected,
        ehic,
        audit: audit::event_for(&req, &caller, note(vec![nhs_number.as_i64()]), 201),
    };
    let answer = db
        .run(move |conn| writes::until_answered(|| attempt(conn, &work)))
        .await?;
    // The audit row is committed already: with the change, or (a replay)
    // just before.
    let action = if answer.replayed {
        "update-coverage-replay"
    } else {
        "update-coverage"
    };
    req.extensions_mut().insert(AuditNote::recorded(action));
    Ok(respond(&req, StatusCode::CREATED, &answer.shown))
}
