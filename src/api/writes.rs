//! What PATCH and POST share: the key under which an answer is remembered
//! for retries, the replay of a kept answer, and the tries of a write that
//! guards on the version it read.

use actix_web::HttpRequest;
use diesel::PgConnection;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::ApiError;
use super::headers::X_REQUEST_ID;
use crate::auth::caller::Caller;
use crate::domain::patient::Clearance;
use crate::domain::{NhsNumber, Patient};
use crate::store::audit::{self, AuditEvent};
use crate::store::updates::Remembered;

/// The request's X-Request-ID (the gate has checked it is a UUID) and a
/// SHA-256 of who asks, method, path and body: a retry must match both, so
/// an answer kept for one caller is never given to another (who gets the
/// 400 of a reused id instead).
pub(super) fn retry_key(
    req: &HttpRequest,
    caller: &Caller,
    body: &[u8],
) -> Result<(Uuid, Vec<u8>), ApiError> {
    let request_id = req
        .headers()
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::try_parse(v).ok())
        .ok_or(ApiError::MissingRequestId)?;
    let hash = Sha256::new()
        .chain_update(caller.retry_identity())
        .chain_update(b"\n")
        .chain_update(req.method().as_str().as_bytes())
        .chain_update(b" ")
        .chain_update(req.path().as_bytes())
        .chain_update(b"\n")
        .chain_update(body)
        .finalize()
        .to_vec();
    Ok((request_id, hash))
}

/// The answer to a retry of a request already answered: refused (400) if
/// the kept answer was for a different request (the hash covers the caller
/// too), else the version it showed, read again and shown as `clearance`
/// may see it now (`history::shown_version`), with its audit row written as
/// `action` in the same transaction.
pub(super) fn replay(
    conn: &mut PgConnection,
    kept: &Remembered,
    hash: &[u8],
    request_id: Uuid,
    clearance: Clearance,
    mut event: AuditEvent,
    action: &str,
) -> Result<Patient, ApiError> {
    if kept.request_hash != hash {
        return Err(ApiError::RequestIdReused(request_id.to_string()));
    }
    let number = u64::try_from(kept.nhs_number)
        .ok()
        .and_then(|n| NhsNumber::from_u64(n).ok())
        .ok_or_else(|| ApiError::Internal("a kept answer names no valid NHS number".into()))?;
    let (shown, redacted, sensitive_override) =
        super::history::shown_version(conn, number, kept.version, clearance)?;
    event.action = action.into();
    event.nhs_numbers = vec![kept.nhs_number];
    event.redacted = redacted;
    event.sensitive_override = sensitive_override;
    audit::insert_now(conn, &event)?;
    Ok(shown)
}

/// How many times a write (PATCH, POST /Coverage) is tried when another
/// update of the same patient lands between its read and its write. The
/// next try reads that update's version and answers 409 (or replays the
/// answer, for the same request id), so two always do; the third is slack.
const ATTEMPTS: usize = 3;

/// `attempt` until it answers (`Some`), at most [`ATTEMPTS`] times; a write
/// that keeps losing the race answers 409.
pub(super) fn until_answered<T>(
    mut attempt: impl FnMut() -> Result<Option<T>, ApiError>,
) -> Result<T, ApiError> {
    for _ in 0..ATTEMPTS {
        if let Some(answer) = attempt()? {
            return Ok(answer);
        }
    }
    Err(ApiError::VersionMismatch)
}
