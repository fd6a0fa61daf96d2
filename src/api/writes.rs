//! What PATCH and POST share: the transaction error type, the key under
//! which an answer is remembered for retries, and the replay of a kept
//! answer.

use actix_web::HttpRequest;
use diesel::{Connection, PgConnection};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::ApiError;
use super::headers::X_REQUEST_ID;
use crate::auth::caller::Caller;
use crate::domain::patient::Clearance;
use crate::domain::{NhsNumber, Patient};
use crate::store::db::DbError;
use crate::store::updates::Remembered;

/// An error in a write: the database's, or the request's (which, inside a
/// transaction, rolls it back just the same).
pub(super) enum TxError {
    Db(DbError),
    Api(ApiError),
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Db(DbError::from(e))
    }
}

impl From<DbError> for TxError {
    fn from(e: DbError) -> Self {
        TxError::Db(e)
    }
}

impl From<ApiError> for TxError {
    fn from(e: ApiError) -> Self {
        TxError::Api(e)
    }
}

/// Runs `work` in a transaction. A request error rolls back and comes back
/// as the inner `Err`; a database error as the outer one (for `Db::run`).
pub(super) fn transaction<T>(
    conn: &mut PgConnection,
    work: impl FnOnce(&mut PgConnection) -> Result<T, TxError>,
) -> Result<Result<T, ApiError>, DbError> {
    match conn.transaction::<T, TxError, _>(work) {
        Ok(value) => Ok(Ok(value)),
        Err(TxError::Api(e)) => Ok(Err(e)),
        Err(TxError::Db(e)) => Err(e),
    }
}

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

/// The version a kept answer showed, read again and shown as `clearance`
/// may see it now (`history::shown_version`), with its audit flags
/// (redacted, sensitive_override).
pub(super) fn kept_version(
    conn: &mut PgConnection,
    kept: &Remembered,
    clearance: Clearance,
) -> Result<(Patient, bool, bool), TxError> {
    let number = u64::try_from(kept.nhs_number)
        .ok()
        .and_then(|n| NhsNumber::from_u64(n).ok())
        .ok_or_else(|| ApiError::Internal("a kept answer names no valid NHS number".into()))?;
    Ok(super::history::shown_version(
        conn,
        number,
        kept.version,
        clearance,
    )??)
}
