//! Candidate patients for a search, found through the search indexes (see
//! migrations/…_search). The request's finer criteria and the score are
//! applied in code (`domain::search::score`).

use diesel::prelude::*;

use super::db::DbError;
use super::label::StoredLabel;
use super::patients::PatientRow;
use super::schema::{patient_former_names, patients};
use crate::domain::Patient;
use crate::domain::codes::Security;
use crate::domain::search::duplicates::{Duplicates, Matchers};
use crate::domain::search::params::{DateRange, Pattern};

/// What to fetch: a family name (when the database can check it) and the
/// birth-date range every search has.
pub struct CandidateQuery<'a> {
    pub family: Option<&'a Pattern>,
    pub birth: DateRange,
    /// Also look up former family names (non-fuzzy `_history=true`).
    pub former_names: bool,
    /// Most candidates to examine; more means the search is too broad.
    pub cap: i64,
    /// Fetch very restricted (`V`) records too. Only for callers who may see
    /// them in full (and the create check): for anyone else they are left
    /// out here, so not even the count of candidates (the cap) depends on
    /// them.
    pub very_restricted: bool,
}

pub struct Candidates<T> {
    /// What `keep` made of the candidates it kept.
    pub kept: Vec<T>,
    /// More than `cap` rows matched: the search was cut short (and nothing
    /// was decoded).
    pub truncated: bool,
}

fn sql_pattern(p: &Pattern) -> (bool, String) {
    match p {
        Pattern::Exact(text) => (false, text.clone()),
        Pattern::Wildcard { pattern, .. } => (true, pattern.replace('*', "%")),
    }
}

/// The candidates, each decoded and passed to `keep` in turn, so only the
/// ones it keeps stay in memory (a fuzzy search may read thousands).
pub fn candidates<T>(
    conn: &mut PgConnection,
    q: &CandidateQuery,
    mut keep: impl FnMut(Patient) -> Option<T>,
) -> Result<Candidates<T>, DbError> {
    let mut query = patients::table
        .select(PatientRow::as_select())
        .filter(patients::superseded_by.is_null())
        .filter(patients::security.lt(StoredLabel::Invalidated))
        .into_boxed();
    if !q.very_restricted {
        query = query.filter(patients::security.ne(StoredLabel::Label(Security::VeryRestricted)));
    }
    if let Some(from) = q.birth.from {
        query = query.filter(patients::birth_date.ge(from));
    }
    if let Some(to) = q.birth.to {
        query = query.filter(patients::birth_date.le(to));
    }
    let former = match (q.family, q.former_names) {
        (Some(family), true) => former_name_matches(conn, family, q)?,
        _ => Vec::new(),
    };
    if let Some(family) = q.family {
        let (wild, text) = sql_pattern(family);
        query = match (wild, former.is_empty()) {
            (false, true) => query.filter(patients::family_key.eq(text)),
            (true, true) => query.filter(patients::family_key.like(text)),
            (false, false) => query.filter(
                patients::family_key
                    .eq(text)
                    .or(patients::nhs_number.eq_any(former)),
            ),
            (true, false) => query.filter(
                patients::family_key
                    .like(text)
                    .or(patients::nhs_number.eq_any(former)),
            ),
        };
    }
    let rows: Vec<PatientRow> = query.limit(q.cap + 1).load(conn)?;
    if rows.len() as i64 > q.cap {
        return Ok(Candidates {
            kept: Vec::new(),
            truncated: true,
        });
    }
    let mut kept = Vec::new();
    for row in rows {
        kept.extend(keep(row.into_patient()?));
    }
    Ok(Candidates {
        kept,
        truncated: false,
    })
}

/// Most patients born on one day that a create's matching examines before
/// falling back to those with the same family name (about 2,000 per day at
/// 70 million).
const DUPLICATE_CAP: i64 = 10_000;

/// The patients a create would duplicate (see `domain::search::duplicates`).
/// Superseded and invalidated records never match; restricted, very
/// restricted and deceased ones do.
pub fn duplicates(conn: &mut PgConnection, matchers: &Matchers) -> Result<Duplicates, DbError> {
    let keep = |p: Patient| matchers.duplicate(&p).map(|seen| (p.nhs_number, seen));
    let query = |family| CandidateQuery {
        family,
        birth: matchers.birth(),
        former_names: false,
        cap: DUPLICATE_CAP,
        very_restricted: true,
    };
    let mut found = candidates(conn, &query(None), keep)?;
    if found.truncated {
        // A placeholder birth date shared by very many records: only the
        // same family name can be checked then.
        found = candidates(conn, &query(matchers.family()), keep)?;
    }
    Ok(Duplicates::of(found.kept))
}

fn former_name_matches(
    conn: &mut PgConnection,
    family: &Pattern,
    q: &CandidateQuery,
) -> Result<Vec<i64>, DbError> {
    let (wild, text) = sql_pattern(family);
    let mut query = patient_former_names::table
        .select(patient_former_names::nhs_number)
        .into_boxed();
    query = if wild {
        query.filter(patient_former_names::family_key.like(text))
    } else {
        query.filter(patient_former_names::family_key.eq(text))
    };
    if let Some(from) = q.birth.from {
        query = query.filter(patient_former_names::birth_date.ge(from));
    }
    if let Some(to) = q.birth.to {
        query = query.filter(patient_former_names::birth_date.le(to));
    }
    Ok(query.limit(q.cap + 1).load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NhsNumber;
    use crate::store::migrate::test_database;
    use crate::store::patients::{self, PatientRow};
    use chrono::NaiveDate;

    #[test]
    fn very_restricted_records_are_not_even_counted_for_callers_who_may_not_see_them() {
        let (_db, mut conn) = test_database("search_test");
        let born = NaiveDate::from_ymd_opt(1980, 5, 6);
        let numbers = (999_000_100u64..).filter_map(NhsNumber::from_stem).take(5);
        let rows: Vec<PatientRow> = numbers
            .enumerate()
            .map(|(i, number)| {
                let mut p = Patient::minimal(number, 1);
                p.birth_date = born;
                // Two of the five are very restricted.
                if i < 2 {
                    p.security = Security::VeryRestricted;
                }
                PatientRow::from_patient(&p, None)
            })
            .collect();
        patients::insert(&mut conn, &rows, &[]).unwrap();
        let query = |very_restricted: bool| CandidateQuery {
            family: None,
            birth: DateRange {
                from: born,
                to: born,
            },
            former_names: false,
            cap: 4,
            very_restricted,
        };
        // Five candidates are over the cap of four; the three a caller may
        // see are not, and the answer must not depend on the other two.
        let all = candidates(&mut conn, &query(true), Some).unwrap();
        assert!(all.truncated);
        let seen = candidates(&mut conn, &query(false), Some).unwrap();
        assert!(!seen.truncated);
        assert_eq!(seen.kept.len(), 3);
        assert!(
            seen.kept
                .iter()
                .all(|p| p.security == Security::Unrestricted)
        );
    }
}
