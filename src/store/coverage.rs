//! Patients' EHICs (`patient_coverage`, see its migration): the EHIC of a
//! version of a record, and the one statement of `POST /Coverage`.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use uuid::Uuid;

use super::audit;
use super::codec::CodecError;
use super::db::DbError;
use super::patients::PatientRow;
use super::schema::patient_coverage;
use super::updates::{Remembered, STORED, push_audit_and_answer};
use crate::domain::NhsNumber;
use crate::domain::coverage::Ehic;

/// A row of `patient_coverage`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = patient_coverage, check_for_backend(diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub struct CoverageRow {
    pub nhs_number: i64,
    pub version: i32,
    pub expires: NaiveDate,
    pub country: String,
    pub card_number: String,
    pub institution: Option<String>,
    pub personal_id: Option<String>,
}

impl CoverageRow {
    /// `ehic` as set by version `version` of `nhs_number`'s record.
    pub fn of(nhs_number: NhsNumber, version: i32, ehic: &Ehic) -> Self {
        Self {
            nhs_number: nhs_number.as_i64(),
            version,
            expires: ehic.expires(),
            country: ehic.country().code().to_owned(),
            card_number: ehic.card_number().to_owned(),
            institution: Some(ehic.institution().to_owned()),
            personal_id: Some(ehic.personal_id().to_owned()),
        }
    }

    /// The EHIC, or None when the institution or personal id is missing
    /// (PDS then shows no EHIC at all).
    fn into_ehic(self) -> Result<Option<Ehic>, DbError> {
        let (Some(institution), Some(personal_id)) = (self.institution, self.personal_id) else {
            return Ok(None);
        };
        Ehic::restore(
            &self.card_number,
            &self.country,
            &institution,
            &personal_id,
            self.expires,
        )
        .map(Some)
        .map_err(|e| DbError::Corrupt(CodecError::Column(format!("patient_coverage: {e}"))))
    }
}

/// The EHIC of version `version` of `nhs_number`'s record: the one set
/// last at or before it. One backward scan of the primary key.
pub fn as_of(
    conn: &mut PgConnection,
    nhs_number: NhsNumber,
    version: i32,
) -> Result<Option<Ehic>, DbError> {
    let row = patient_coverage::table
        .filter(patient_coverage::nhs_number.eq(nhs_number.as_i64()))
        .filter(patient_coverage::version.le(version))
        .order(patient_coverage::version.desc())
        .select(CoverageRow::as_select())
        .first(conn)
        .optional()?;
    match row {
        Some(row) => row.into_ehic(),
        None => Ok(None),
    }
}

/// Stores rows as they are (the seed); rows already there are left alone.
pub fn insert(conn: &mut PgConnection, rows: &[CoverageRow]) -> QueryResult<usize> {
    diesel::insert_into(patient_coverage::table)
        .values(rows)
        .on_conflict_do_nothing()
        .execute(conn)
}

/// Sets `new`'s EHIC as version `old.version + 1` of the record: keeps
/// `old` in the history, bumps the version, stores the EHIC row, writes
/// the audit row and remembers the answer for retries. False, with nothing
/// written, if the record is no longer at `old`'s version (another update
/// came first) or has been merged or invalidated meanwhile.
///
/// One statement, as a PATCH's (`updates::write`, whose guard and locking
/// this follows): a writable CTE, committed or failed whole.
pub fn write(
    conn: &mut PgConnection,
    old: &PatientRow,
    new: &CoverageRow,
    audit: &audit::Row,
    request_id: Uuid,
    answer: &Remembered,
) -> QueryResult<bool> {
    let statement = SetCoverage {
        version: old.version,
        new,
        audit,
        request_id,
        remembered_at: Utc::now(),
        answer,
    };
    Ok(statement.get_result::<i64>(conn)? == 1)
}

struct SetCoverage<'a> {
    /// The version the change was made from.
    version: i32,
    new: &'a CoverageRow,
    audit: &'a audit::Row,
    request_id: Uuid,
    remembered_at: DateTime<Utc>,
    answer: &'a Remembered,
}

impl QueryFragment<Pg> for SetCoverage<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        use diesel::sql_types::{Date, Int4, Int8, Nullable, Text};
        let new = self.new;
        out.push_sql("WITH old AS (SELECT ");
        out.push_sql(STORED);
        out.push_sql(" FROM patients WHERE nhs_number = ");
        out.push_bind_param::<Int8, _>(&new.nhs_number)?;
        out.push_sql(" AND version = ");
        out.push_bind_param::<Int4, _>(&self.version)?;
        // 3 is an invalidated record (`StoredLabel`).
        out.push_sql(
            " AND superseded_by IS NULL AND security <> 3 FOR UPDATE), \
             kept AS (INSERT INTO patient_versions (",
        );
        out.push_sql(STORED);
        out.push_sql(") SELECT ");
        out.push_sql(STORED);
        out.push_sql(" FROM old), changed AS (UPDATE patients p SET version = ");
        out.push_bind_param::<Int4, _>(&new.version)?;
        out.push_sql(
            " FROM old WHERE p.nhs_number = old.nhs_number RETURNING p.nhs_number), \
             covered AS (INSERT INTO patient_coverage (nhs_number, version, expires, country, \
             card_number, institution, personal_id) SELECT nhs_number, ",
        );
        out.push_bind_param::<Int4, _>(&new.version)?;
        out.push_sql(", ");
        out.push_bind_param::<Date, _>(&new.expires)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&new.country)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&new.card_number)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&new.institution)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&new.personal_id)?;
        out.push_sql(" FROM changed), ");
        push_audit_and_answer(
            &mut out,
            self.audit,
            &self.request_id,
            &self.remembered_at,
            self.answer,
        )
    }
}

impl QueryId for SetCoverage<'_> {
    type QueryId = SetCoverage<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for SetCoverage<'_> {
    type SqlType = diesel::sql_types::BigInt;
}

impl RunQueryDsl<PgConnection> for SetCoverage<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed;
    use crate::store::audit::AuditEvent;
    use crate::store::migrate::test_database;
    use crate::store::updates;

    fn number(text: &str) -> NhsNumber {
        NhsNumber::parse(text).unwrap()
    }

    fn card(country: &str) -> Ehic {
        let day = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
        Ehic::new("CARD-1", country, "INST", "PERSON", day, day).unwrap()
    }

    /// Sets `country`'s card from `old`; true if it went through.
    fn set_from(conn: &mut PgConnection, old: &PatientRow, country: &str) -> bool {
        let n = u64::try_from(old.nhs_number)
            .ok()
            .and_then(|n| NhsNumber::from_u64(n).ok())
            .unwrap();
        let row = CoverageRow::of(n, old.version + 1, &card(country));
        let event = AuditEvent {
            action: "update-coverage".into(),
            access_mode: "patient-access".into(),
            nhs_numbers: vec![old.nhs_number],
            status: 201,
            ..AuditEvent::default()
        };
        let answer = Remembered {
            request_hash: vec![2; 32],
            status: 201,
            nhs_number: old.nhs_number,
            version: old.version + 1,
        };
        let audit = audit::Row::from_event(event);
        write(conn, old, &row, &audit, Uuid::new_v4(), &answer).unwrap()
    }

    #[test]
    fn each_version_shows_the_ehic_set_last_at_or_before_it() {
        let (_db, mut conn) = test_database("coverage_test");
        seed::ensure_seeded(&mut conn, 0, 1).unwrap();
        let n = number("9000000033");
        let (v1, _) = updates::current(&mut conn, n, Uuid::new_v4())
            .unwrap()
            .unwrap();
        assert_eq!(as_of(&mut conn, n, v1.version).unwrap(), None);

        assert!(set_from(&mut conn, &v1, "DEU"));
        let (v2, _) = updates::current(&mut conn, n, Uuid::new_v4())
            .unwrap()
            .unwrap();
        assert_eq!(v2.version, v1.version + 1);
        assert!(
            !set_from(&mut conn, &v1, "ESP"),
            "a stale change is refused"
        );
        assert!(set_from(&mut conn, &v2, "FRA"));

        let at = |conn: &mut PgConnection, v: i32| {
            as_of(conn, n, v).unwrap().map(|e| e.country().code())
        };
        assert_eq!(at(&mut conn, v1.version), None);
        assert_eq!(at(&mut conn, v2.version), Some("DEU"));
        assert_eq!(at(&mut conn, v2.version + 1), Some("FRA"));
        // The versions replaced are in the history, unchanged.
        let kept = updates::version(&mut conn, n, v1.version).unwrap().unwrap();
        assert_eq!(kept.details, v1.details);
        assert!(
            updates::version(&mut conn, n, v2.version)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn an_ehic_without_institution_or_personal_id_is_not_shown() {
        let (_db, mut conn) = test_database("coverage_test");
        let n = number("9000000009");
        let mut row = CoverageRow::of(n, 1, &card("FRA"));
        row.personal_id = None;
        insert(&mut conn, &[row]).unwrap();
        assert_eq!(as_of(&mut conn, n, 1).unwrap(), None);
        let mut row = CoverageRow::of(n, 2, &card("FRA"));
        row.institution = None;
        insert(&mut conn, &[row]).unwrap();
        assert_eq!(as_of(&mut conn, n, 2).unwrap(), None);
        insert(&mut conn, &[CoverageRow::of(n, 3, &card("FRA"))]).unwrap();
        assert!(as_of(&mut conn, n, 3).unwrap().is_some());
    }
}
