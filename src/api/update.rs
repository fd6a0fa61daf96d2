//! `PATCH /Patient/{id}`: JSON Patch with the PDS rules, optimistic
//! concurrency through `If-Match`, idempotent retries by `X-Request-ID`.
//!
//! The record is read without a lock, patched in memory, and written back
//! by one statement that also keeps the old version, writes the audit row
//! and remembers the answer, and that does nothing if the version has moved
//! on meanwhile (then the PATCH starts again, and answers 409). One
//! statement commits or fails whole: a failure leaves the record, its
//! version and the history untouched. Two round trips in all, where a
//! locking transaction took six.

use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use diesel::PgConnection;
use uuid::Uuid;

use super::ApiError;
use super::audit::AuditNote;
use super::patient::{respond, shown_as, view_of};
use super::writes::{self, retry_key};
use crate::auth::caller::{Caller, Mode};
use crate::domain::patch::{self, Editor, Op};
use crate::domain::patient::Clearance;
use crate::domain::{NhsNumber, Patient};
use crate::fhir;
use crate::fhir::patient::View;
use crate::store::audit::{self, AuditEvent};
use crate::store::db::Writes;
use crate::store::updates::{self, Remembered};

/// `W/"3"` → 3. Any run of digits is a well-formed version, as in PDS:
/// `W/"0"`, or one too large for any record, is a version no record has,
/// so a mismatch (409), not an invalid value. Anything else is 412, as
/// PDS's published scenarios answer a value "set to format other than
/// `W/"<version>"`".
pub(super) fn if_match(headers: &HeaderMap) -> Result<i64, ApiError> {
    let value = headers
        .get(header::IF_MATCH)
        .ok_or(ApiError::PreconditionFailed)?;
    let text = value.to_str().unwrap_or_default().trim();
    text.strip_prefix("W/\"")
        .and_then(|rest| rest.strip_suffix('"'))
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .map(|digits| digits.parse::<i64>().unwrap_or(i64::MAX))
        .ok_or(ApiError::IfMatchMalformed)
}

fn editor(caller: &Caller, nhs_number: NhsNumber) -> Result<Editor, ApiError> {
    match caller.mode {
        Mode::Application | Mode::PrivilegedApplication if caller.grants.update => {
            Ok(application_editor())
        }
        Mode::Application | Mode::PrivilegedApplication => Err(ApiError::InvalidMethod {
            verb: "update",
            token_kind: caller.mode.token_kind(),
        }),
        Mode::Patient if caller.own_nhs_number != Some(nhs_number) => Err(ApiError::PatientForbidden),
        Mode::Patient if caller.grants.update => Ok(Editor::Patient),
        Mode::Patient => Err(ApiError::PatientForbidden),
        Mode::HealthcareWorker if caller.grants.update => Ok(Editor::HealthcareWorker),
        Mode::HealthcareWorker => Err(ApiError::Forbidden(
            "The selected role does not allow updating patient demographics (it needs B0825 Amend Patient Demographics at AAL3)".into(),
        )),
    }
}

/// An application the policy allows updates (`auth::apps`, PDS's per-app
/// update flag) edits by the healthcare worker's rules: every field a
/// clinician may change, nothing read-only, and no restricted record (no
/// application has the sensitive access that takes).
fn application_editor() -> Editor {
    Editor::HealthcareWorker
}

/// What one PATCH asks, checked as far as it can be without the record.
struct Work {
    nhs_number: NhsNumber,
    request_id: Uuid,
    hash: Vec<u8>,
    expected: i64,
    editor: Editor,
    /// What the editor sees of restricted records (a patient: their own
    /// record in full).
    clearance: Clearance,
    ops: Vec<Op>,
    /// How the caller's application is shown records: the patch applies
    /// to the record as shown so.
    view: View,
    /// The audit event of this request, its flags filled in once known.
    audit: AuditEvent,
}

/// Reads the record, applies the patch and writes it if nobody else has
/// meanwhile: `None` if somebody has (try again).
fn attempt(conn: &mut PgConnection, work: &Work) -> Result<Option<Answer>, ApiError> {
    let (row, answered) =
        updates::current(conn, work.nhs_number, work.request_id)?.ok_or(ApiError::NotFound)?;
    let previous = match answered {
        true => updates::remembered(conn, work.request_id)?,
        false => None,
    };
    if let Some(previous) = previous {
        let patient = writes::replay(
            conn,
            &previous,
            &work.hash,
            work.request_id,
            work.clearance,
            work.audit.clone(),
            "update-replay",
        )?;
        return Ok(Some(Answer {
            patient,
            replayed: true,
        }));
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
    let before = row.clone().into_patient()?;
    patch::may_edit(&before, work.editor, work.clearance)?;
    let today = chrono::Utc::now().date_naive();
    let after = fhir::patch::apply::<ApiError>(&before, &work.ops, work.editor, today, work.view)?;
    let label = after.security;
    let (shown, redacted, sensitive_override) = shown_as(after.clone(), label, work.clearance);
    let mut event = work.audit.clone();
    event.redacted = redacted;
    event.sensitive_override = sensitive_override;
    let kept = Remembered {
        request_hash: work.hash.clone(),
        status: 200,
        nhs_number: after.nhs_number.as_i64(),
        version: after.version as i32,
    };
    let written = updates::write(
        conn,
        &row,
        &before,
        &after,
        &audit::Row::from_event(event),
        work.request_id,
        &kept,
    )?;
    Ok(written.then_some(Answer {
        patient: shown,
        replayed: false,
    }))
}

/// The answer to one successful update: the version as the caller may see
/// it.
struct Answer {
    patient: Patient,
    /// Answered from a kept answer.
    replayed: bool,
}

pub async fn update(
    req: HttpRequest,
    db: web::Data<Writes>,
    caller: web::ReqData<Caller>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let nhs_number = NhsNumber::parse(&id).map_err(|_| ApiError::InvalidResourceId)?;
    let editor = editor(&caller, nhs_number)?;
    let expected = if_match(req.headers())?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/json-patch+json")
        && !content_type.starts_with("application/json")
    {
        return Err(ApiError::UnsupportedService);
    }
    let json: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::InvalidUpdate(format!("the body is not valid JSON: {e}")))?;
    let ops = patch::parse_ops(&json)?;

    let (request_id, hash) = retry_key(&req, &caller, &body)?;
    let view = view_of(&caller);
    let note = AuditNote {
        action: "update",
        nhs_numbers: vec![nhs_number.as_i64()],
        ..AuditNote::default()
    };
    let work = Work {
        nhs_number,
        request_id,
        hash,
        expected,
        editor,
        clearance: match editor {
            Editor::Patient => Clearance::All,
            Editor::HealthcareWorker => caller.grants.clearance,
        },
        ops,
        view,
        audit: crate::api::audit::event_for(&req, &caller, note, 200),
    };

    let answer = db
        .run(move |conn| writes::until_answered(|| attempt(conn, &work)))
        .await?;
    // The audit row of the answer is already committed: with the change, or
    // (a replay) just before.
    let action = if answer.replayed {
        "update-replay"
    } else {
        "update"
    };
    req.extensions_mut().insert(AuditNote::recorded(action));
    Ok(respond(answer.patient, view))
}
