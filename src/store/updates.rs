//! The write side of PATCH: lock the current row, keep the old version,
//! store the new one, remember the answer for retries. The caller runs all of
//! it in one transaction with the audit row.

use chrono::{Duration, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::patients::{FormerNameRow, PatientRow};
use super::schema::{idempotency_keys, patient_former_names, patient_versions, patients};
use crate::domain::{NhsNumber, Patient};

/// How long an answer is replayed for a retried request id.
pub const IDEMPOTENCY_WINDOW_HOURS: i64 = 24;

/// `SELECT … FOR UPDATE`: concurrent updates of one patient queue here, so
/// the second sees the first's new version and gets a 409. Also says, in
/// the same round trip, whether `request_id` already has an answer (then
/// fetch it with `remembered`).
pub fn lock(
    conn: &mut PgConnection,
    nhs_number: NhsNumber,
    request_id: Uuid,
) -> QueryResult<Option<(PatientRow, bool)>> {
    let answered = diesel::dsl::exists(
        idempotency_keys::table
            .filter(idempotency_keys::request_id.eq(request_id))
            .filter(idempotency_keys::created_at.gt(window_start())),
    );
    patients::table
        .find(nhs_number.as_i64())
        .select((PatientRow::as_select(), answered))
        .for_update()
        .first(conn)
        .optional()
}

fn window_start() -> chrono::DateTime<Utc> {
    Utc::now() - Duration::hours(IDEMPOTENCY_WINDOW_HOURS)
}

/// Copies the current row into `patient_versions` and replaces it, in one
/// statement (a writable CTE, which diesel cannot express): one round trip
/// instead of two, and the old `details` never travel to the client and
/// back. Both parts see the row as it was; the `version` guard makes a lost
/// update impossible even without the row lock.
const REPLACE_KEEPING_HISTORY: &str = "
    WITH kept AS (
        INSERT INTO patient_versions
            (nhs_number, version, superseded_by, deceased_at, birth_date, security, gender, details)
        SELECT nhs_number, version, superseded_by, deceased_at, birth_date, security, gender, details
        FROM patients WHERE nhs_number = $1 AND version = $2
    )
    UPDATE patients
    SET version = $3, deceased_at = $4, birth_date = $5, gender = $6, details = $7, family_key = $8
    WHERE nhs_number = $1 AND version = $2";

/// Moves `old` (`before`, decoded) to the history table and writes `new`
/// (version + 1) in its place.
pub fn write(
    conn: &mut PgConnection,
    old: &PatientRow,
    before: &Patient,
    new: &Patient,
) -> QueryResult<()> {
    use diesel::sql_types::{Bytea, Date, Int2, Int4, Int8, Nullable, Text, Timestamptz};
    let row = PatientRow::from_patient(new, None);
    let updated = diesel::sql_query(REPLACE_KEEPING_HISTORY)
        .bind::<Int8, _>(old.nhs_number)
        .bind::<Int4, _>(old.version)
        .bind::<Int4, _>(row.version)
        .bind::<Nullable<Timestamptz>, _>(row.deceased_at)
        .bind::<Nullable<Date>, _>(row.birth_date)
        .bind::<Nullable<Int2>, _>(row.gender)
        .bind::<Bytea, _>(&row.details)
        .bind::<Nullable<Text>, _>(&row.family_key)
        .execute(conn)?;
    if updated != 1 {
        return Err(diesel::result::Error::RollbackTransaction);
    }
    // Most updates leave the former names alone: skip two round trips.
    let former = FormerNameRow::of(new);
    if former != FormerNameRow::of(before) {
        diesel::delete(
            patient_former_names::table.filter(patient_former_names::nhs_number.eq(old.nhs_number)),
        )
        .execute(conn)?;
        diesel::insert_into(patient_former_names::table)
            .values(former)
            .execute(conn)?;
    }
    Ok(())
}

#[derive(Debug, Clone, Queryable)]
pub struct Remembered {
    pub request_hash: Vec<u8>,
    pub status: i16,
    pub etag_version: Option<i32>,
    pub body: Vec<u8>,
}

/// The answer already given to `request_id` within the window, if any.
pub fn remembered(conn: &mut PgConnection, request_id: Uuid) -> QueryResult<Option<Remembered>> {
    idempotency_keys::table
        .find(request_id)
        .filter(idempotency_keys::created_at.gt(window_start()))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::status,
            idempotency_keys::etag_version,
            idempotency_keys::body,
        ))
        .first(conn)
        .optional()
}

/// Keeps the answer; an expired row for the same id is replaced.
pub fn remember(conn: &mut PgConnection, request_id: Uuid, answer: &Remembered) -> QueryResult<()> {
    let values = (
        idempotency_keys::request_id.eq(request_id),
        idempotency_keys::created_at.eq(Utc::now()),
        idempotency_keys::request_hash.eq(&answer.request_hash),
        idempotency_keys::status.eq(answer.status),
        idempotency_keys::etag_version.eq(answer.etag_version),
        idempotency_keys::body.eq(&answer.body),
    );
    diesel::insert_into(idempotency_keys::table)
        .values(values)
        .on_conflict(idempotency_keys::request_id)
        .do_update()
        .set(values)
        .execute(conn)?;
    Ok(())
}

/// Deletes answers older than the window (run now and then by any instance).
pub fn expire(conn: &mut PgConnection) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(
        idempotency_keys::created_at.lt(Utc::now() - Duration::hours(IDEMPOTENCY_WINDOW_HOURS)),
    ))
    .execute(conn)
}

/// Version `version` of a patient from the history table.
pub fn version(
    conn: &mut PgConnection,
    nhs_number: NhsNumber,
    version: i32,
) -> QueryResult<Option<PatientRow>> {
    patient_versions::table
        .find((nhs_number.as_i64(), version))
        .select((
            patient_versions::nhs_number,
            patient_versions::superseded_by,
            patient_versions::deceased_at,
            patient_versions::version,
            patient_versions::birth_date,
            patient_versions::security,
            patient_versions::gender,
            patient_versions::details,
        ))
        .first::<(
            i64,
            Option<i64>,
            Option<chrono::DateTime<Utc>>,
            i32,
            Option<chrono::NaiveDate>,
            i16,
            Option<i16>,
            Vec<u8>,
        )>(conn)
        .optional()
        .map(|row| {
            row.map(
                |(
                    nhs_number,
                    superseded_by,
                    deceased_at,
                    version,
                    birth_date,
                    security,
                    gender,
                    details,
                )| PatientRow {
                    nhs_number,
                    superseded_by,
                    deceased_at,
                    version,
                    birth_date,
                    security,
                    gender,
                    details,
                    family_key: None,
                },
            )
        })
}

/// Earlier versions, newest first, for the history bundle.
pub fn versions(
    conn: &mut PgConnection,
    nhs_number: NhsNumber,
    below: i32,
    limit: i64,
) -> QueryResult<Vec<i32>> {
    patient_versions::table
        .filter(patient_versions::nhs_number.eq(nhs_number.as_i64()))
        .filter(patient_versions::version.lt(below))
        .order(patient_versions::version.desc())
        .limit(limit)
        .select(patient_versions::version)
        .load(conn)
}
