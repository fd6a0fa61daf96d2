//! What PATCH and POST share: the transaction error type, and the key under
//! which an answer is remembered for retries.

use actix_web::{HttpMessage, HttpRequest};
use diesel::{Connection, PgConnection};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::ApiError;
use super::headers::X_REQUEST_ID;
use crate::auth::caller::Caller;
use crate::store::db::DbError;

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
/// SHA-256 of the caller, method, path and body: a retry must match both.
/// The caller is in the hash so that a remembered answer, rendered for its
/// caller's clearance, is only ever replayed to that caller: anyone else
/// sending the same request id is told it is taken.
pub(super) fn retry_key(req: &HttpRequest, body: &[u8]) -> Result<(Uuid, Vec<u8>), ApiError> {
    let request_id = req
        .headers()
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::try_parse(v).ok())
        .ok_or(ApiError::MissingRequestId)?;
    let caller = req
        .extensions()
        .get::<Caller>()
        .map(|c| {
            format!(
                "{}|{:?}|{:?}|{:?}|{:?}|{:?}",
                c.mode.as_str(),
                c.user_id,
                c.role_id,
                c.client_id,
                c.own_nhs_number.map(|n| n.as_i64()),
                c.grants.clearance,
            )
        })
        .ok_or_else(|| ApiError::Internal("no caller for a write".into()))?;
    let hash = Sha256::new()
        .chain_update(caller.as_bytes())
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
