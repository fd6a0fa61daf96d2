//! The write side of PATCH: read the current row, then in one statement
//! keep the old version, store the new one, write the audit row and
//! remember the answer for retries.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use uuid::Uuid;

use super::audit;
use super::label::StoredLabel;
use super::patients::{FormerNameRow, PatientRow};
use super::schema::{idempotency_keys, patient_former_names, patient_versions, patients};
use crate::domain::codes::Security;
use crate::domain::{NhsNumber, Patient};

/// How long an answer is replayed for a retried request id.
pub const IDEMPOTENCY_WINDOW_HOURS: i64 = 24;

/// The patient as it is now, and whether `request_id` already has an answer
/// (then fetch it with `remembered`), in one round trip. No lock: the write
/// that follows goes through only if the version is still the one read.
pub fn current(
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
        .first(conn)
        .optional()
}

fn window_start() -> DateTime<Utc> {
    Utc::now() - Duration::hours(IDEMPOTENCY_WINDOW_HOURS)
}

/// Replaces `old` (`before`, decoded) with `new` (version + 1), keeping
/// the old version in the history, with the audit row and the answer kept
/// for retries. False, with nothing written, if the stored version is no
/// longer `old`'s: another update came first.
///
/// One statement, so one round trip and no BEGIN/COMMIT: a statement is
/// atomic on its own. Only a change of former family names (an old or
/// maiden name added or removed, or a family name replaced: rare) needs a
/// transaction around this and two more statements.
pub fn write(
    conn: &mut PgConnection,
    old: &PatientRow,
    before: &Patient,
    new: &Patient,
    audit: &audit::Row,
    request_id: Uuid,
    answer: &Remembered,
) -> QueryResult<bool> {
    let row = PatientRow::from_patient(new, None);
    let replace = Replace {
        nhs_number: old.nhs_number,
        version: old.version,
        new: &row,
        audit,
        request_id,
        remembered_at: Utc::now(),
        answer,
    };
    let former = FormerNameRow::of(new);
    if former == FormerNameRow::of(before) {
        return Ok(replace.get_result::<i64>(conn)? == 1);
    }
    conn.transaction(|conn| {
        if replace.get_result::<i64>(conn)? != 1 {
            return Ok(false);
        }
        diesel::delete(
            patient_former_names::table.filter(patient_former_names::nhs_number.eq(old.nhs_number)),
        )
        .execute(conn)?;
        diesel::insert_into(patient_former_names::table)
            .values(former)
            .execute(conn)?;
        Ok(true)
    })
}

/// The statement behind [`write`]: a writable CTE, which diesel's DSL
/// cannot express, written as a query fragment (not `sql_query`) so that
/// diesel prepares it once per connection instead of parsing and planning
/// it on every PATCH.
///
/// `old` locks the row only if it still has the version the change was
/// made from. Under READ COMMITTED a concurrent update makes the lock wait,
/// then re-reads the row, finds the new version and returns nothing, so
/// nothing below happens either: every write bumps the version, which is
/// what makes this guard enough. The history copy comes from the locked
/// row, so it is exactly the version replaced.
struct Replace<'a> {
    nhs_number: i64,
    version: i32,
    new: &'a PatientRow,
    audit: &'a audit::Row,
    request_id: Uuid,
    remembered_at: DateTime<Utc>,
    answer: &'a Remembered,
}

/// The columns a version of a patient is stored in, in `patients` and
/// `patient_versions` alike (also used by `coverage::write`).
pub(super) const STORED: &str =
    "nhs_number, version, superseded_by, deceased_at, birth_date, security, gender, details";

impl QueryFragment<Pg> for Replace<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        use diesel::sql_types::{Bytea, Date, Int2, Int4, Int8, Nullable, Text, Timestamptz};
        out.push_sql("WITH old AS (SELECT ");
        out.push_sql(STORED);
        out.push_sql(" FROM patients WHERE nhs_number = ");
        out.push_bind_param::<Int8, _>(&self.nhs_number)?;
        out.push_sql(" AND version = ");
        out.push_bind_param::<Int4, _>(&self.version)?;
        out.push_sql(" FOR UPDATE), kept AS (INSERT INTO patient_versions (");
        out.push_sql(STORED);
        out.push_sql(") SELECT ");
        out.push_sql(STORED);
        out.push_sql(" FROM old), changed AS (UPDATE patients p SET version = ");
        out.push_bind_param::<Int4, _>(&self.new.version)?;
        out.push_sql(", deceased_at = ");
        out.push_bind_param::<Nullable<Timestamptz>, _>(&self.new.deceased_at)?;
        out.push_sql(", birth_date = ");
        out.push_bind_param::<Nullable<Date>, _>(&self.new.birth_date)?;
        out.push_sql(", gender = ");
        out.push_bind_param::<Nullable<Int2>, _>(&self.new.gender)?;
        out.push_sql(", details = ");
        out.push_bind_param::<Bytea, _>(&self.new.details)?;
        out.push_sql(", family_key = ");
        out.push_bind_param::<Nullable<Text>, _>(&self.new.family_key)?;
        out.push_sql(" FROM old WHERE p.nhs_number = old.nhs_number RETURNING p.nhs_number), ");
        push_audit_and_answer(
            &mut out,
            self.audit,
            &self.request_id,
            &self.remembered_at,
            self.answer,
        )
    }
}

/// The end of a one-statement write (PATCH, POST /Coverage), after a CTE
/// `changed` that returns the patient changed, or nothing if its version
/// had moved on: the audit row and the answer kept for retries, both only
/// for a change, then the count of patients changed.
pub(super) fn push_audit_and_answer<'b>(
    out: &mut AstPass<'_, 'b, Pg>,
    audit: &'b audit::Row,
    request_id: &'b Uuid,
    remembered_at: &'b DateTime<Utc>,
    answer: &'b Remembered,
) -> QueryResult<()> {
    use diesel::sql_types::{Bytea, Int2, Int4, Int8, Timestamptz};
    out.push_sql("audited AS (INSERT INTO audit_events (");
    out.push_sql(audit::Row::COLUMNS);
    out.push_sql(") SELECT ");
    audit.push_values(out)?;
    out.push_sql(
        " FROM changed), remembered AS (INSERT INTO idempotency_keys \
         (request_id, created_at, request_hash, status, nhs_number, version) SELECT ",
    );
    out.push_bind_param::<diesel::sql_types::Uuid, _>(request_id)?;
    out.push_sql(", ");
    out.push_bind_param::<Timestamptz, _>(remembered_at)?;
    out.push_sql(", ");
    out.push_bind_param::<Bytea, _>(&answer.request_hash)?;
    out.push_sql(", ");
    out.push_bind_param::<Int2, _>(&answer.status)?;
    out.push_sql(", ");
    out.push_bind_param::<Int8, _>(&answer.nhs_number)?;
    out.push_sql(", ");
    out.push_bind_param::<Int4, _>(&answer.version)?;
    // An expired answer under the same id is replaced.
    out.push_sql(
        " FROM changed ON CONFLICT (request_id) DO UPDATE SET \
         created_at = excluded.created_at, request_hash = excluded.request_hash, \
         status = excluded.status, nhs_number = excluded.nhs_number, \
         version = excluded.version) SELECT count(*) FROM changed",
    );
    Ok(())
}

impl QueryId for Replace<'_> {
    type QueryId = Replace<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for Replace<'_> {
    type SqlType = diesel::sql_types::BigInt;
}

impl RunQueryDsl<PgConnection> for Replace<'_> {}

/// The answer kept for retries of one request id: a hash of who asked and
/// what, and the version the answer showed (re-read and rendered for the
/// clearance of whoever retries, never stored as a body).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys, check_for_backend(diesel::pg::Pg))]
pub struct Remembered {
    pub request_hash: Vec<u8>,
    pub status: i16,
    pub nhs_number: i64,
    pub version: i32,
}

/// The answer already given to `request_id` within the window, if any.
pub fn remembered(conn: &mut PgConnection, request_id: Uuid) -> QueryResult<Option<Remembered>> {
    idempotency_keys::table
        .find(request_id)
        .filter(idempotency_keys::created_at.gt(window_start()))
        .select(Remembered::as_select())
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
        idempotency_keys::nhs_number.eq(answer.nhs_number),
        idempotency_keys::version.eq(answer.version),
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
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(window_start())))
        .execute(conn)
}

/// A row of `patient_versions`: a patient as it was before an update.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = patient_versions, check_for_backend(diesel::pg::Pg))]
struct VersionRow {
    nhs_number: i64,
    superseded_by: Option<i64>,
    deceased_at: Option<DateTime<Utc>>,
    version: i32,
    birth_date: Option<NaiveDate>,
    security: StoredLabel,
    gender: Option<i16>,
    details: Vec<u8>,
}

impl From<VersionRow> for PatientRow {
    fn from(v: VersionRow) -> Self {
        Self {
            nhs_number: v.nhs_number,
            superseded_by: v.superseded_by,
            deceased_at: v.deceased_at,
            version: v.version,
            birth_date: v.birth_date,
            security: v.security,
            gender: v.gender,
            details: v.details,
            // Earlier versions are never searched, so keep no search key.
            family_key: None,
        }
    }
}

/// Version `version` of a patient from the history table.
pub fn version(
    conn: &mut PgConnection,
    nhs_number: NhsNumber,
    version: i32,
) -> QueryResult<Option<PatientRow>> {
    Ok(patient_versions::table
        .find((nhs_number.as_i64(), version))
        .select(VersionRow::as_select())
        .first(conn)
        .optional()?
        .map(PatientRow::from))
}

/// How many earlier versions of a patient are stored, and the label they
/// are shown under: the strictest the record has had, now (`now`) or in any
/// stored version, so a record that became restricted does not show its
/// old addresses to callers who may not see its current ones. One index
/// range scan.
pub fn history_summary(
    conn: &mut PgConnection,
    nhs_number: NhsNumber,
    now: Security,
) -> QueryResult<(i64, Security)> {
    use diesel::dsl::{count_star, max};
    let (stored, strictest): (i64, Option<StoredLabel>) = patient_versions::table
        .filter(patient_versions::nhs_number.eq(nhs_number.as_i64()))
        .select((count_star(), max(patient_versions::security)))
        .first(conn)?;
    let label = strictest.map_or(now, |stored| stored.label().strictest(now));
    Ok((stored, label))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed;
    use crate::store::audit::AuditEvent;
    use crate::store::migrate::test_database;

    fn count(conn: &mut PgConnection, table: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result::<N>(conn)
            .unwrap()
            .n
    }

    /// Writes version 3 of 9000000009 from `old`; true if it went through.
    fn write_from(conn: &mut PgConnection, old: &PatientRow) -> bool {
        let before = old.clone().into_patient().unwrap();
        let mut after = before.clone();
        after.version += 1;
        let event = AuditEvent {
            action: "update".into(),
            access_mode: "healthcare-worker".into(),
            nhs_numbers: vec![old.nhs_number],
            status: 200,
            ..AuditEvent::default()
        };
        let answer = Remembered {
            request_hash: vec![1; 32],
            status: 200,
            nhs_number: old.nhs_number,
            version: after.version as i32,
        };
        let audit = audit::Row::from_event(event);
        write(conn, old, &before, &after, &audit, Uuid::new_v4(), &answer).unwrap()
    }

    #[test]
    fn a_write_from_a_version_no_longer_current_changes_nothing() {
        let (_db, mut conn) = test_database("updates_test");
        seed::ensure_seeded(&mut conn, 0, 1).unwrap();
        let n = NhsNumber::parse("9000000009").unwrap();
        let (read, answered) = current(&mut conn, n, Uuid::new_v4()).unwrap().unwrap();
        assert!(!answered);
        let tables = ["patient_versions", "audit_events", "idempotency_keys"];
        let before: Vec<i64> = tables.iter().map(|t| count(&mut conn, t)).collect();

        assert!(write_from(&mut conn, &read), "the first write goes through");
        let after_first: Vec<i64> = tables.iter().map(|t| count(&mut conn, t)).collect();
        assert_eq!(
            after_first,
            before.iter().map(|c| c + 1).collect::<Vec<_>>()
        );

        // A second writer that read the same version finds it gone.
        assert!(!write_from(&mut conn, &read), "a stale write is refused");
        let after_second: Vec<i64> = tables.iter().map(|t| count(&mut conn, t)).collect();
        assert_eq!(after_second, after_first, "and writes nothing at all");
        let (now, _) = current(&mut conn, n, Uuid::new_v4()).unwrap().unwrap();
        assert_eq!(now.version, read.version + 1);
    }
}
