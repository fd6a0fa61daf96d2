//! Reading and writing patient rows.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::codec;
use super::db::DbError;
use super::label::StoredLabel;
use super::schema::{patient_former_names, patients};
use crate::domain::codes::{Gender, NameUse};
use crate::domain::search::normalise;
use crate::domain::{NhsNumber, Patient};

/// Superseded numbers can chain (A merged into B, B later into C); follow a
/// few hops, and treat a longer or circular chain as not found.
const MAX_SUPERSEDED_HOPS: usize = 8;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = patients, check_for_backend(diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub struct PatientRow {
    pub nhs_number: i64,
    pub superseded_by: Option<i64>,
    pub deceased_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub birth_date: Option<NaiveDate>,
    pub security: StoredLabel,
    pub gender: Option<i16>,
    pub details: Vec<u8>,
    /// Search key: the usual family name in normal form.
    pub family_key: Option<String>,
}

/// The SQL type of a `PatientRow` as selected (its columns in field
/// order), for statements written by hand that return stored patients
/// (`lookup::Audited`).
pub type StoredRow = diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<PatientRow, diesel::pg::Pg>>;

/// A family name the patient no longer uses, for history searches.
#[derive(Debug, Clone, PartialEq, Queryable, Insertable)]
#[diesel(table_name = patient_former_names, check_for_backend(diesel::pg::Pg))]
#[diesel(treat_none_as_default_value = false)]
pub struct FormerNameRow {
    pub family_key: String,
    pub birth_date: Option<NaiveDate>,
    pub nhs_number: i64,
}

impl FormerNameRow {
    /// One row for each family name the record holds as `old` or `maiden`,
    /// or that an update replaced (`extra.former`), unless it is the usual
    /// family name again (which `patients.family_key` finds already).
    pub fn of(patient: &Patient) -> Vec<Self> {
        let usual = usual_family_key(patient);
        let replaced = patient
            .details
            .extra
            .former
            .iter()
            .flat_map(|f| &f.names)
            .filter_map(|n| n.family.as_deref().map(normalise::name))
            .filter(|k| Some(k) != usual.as_ref());
        let mut keys: Vec<String> = patient
            .details
            .names
            .iter()
            .filter(|n| matches!(n.name_use, NameUse::Old | NameUse::Maiden))
            .filter_map(|n| n.family.as_deref().map(normalise::name))
            .chain(replaced)
            .filter(|k| !k.is_empty())
            .collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .map(|family_key| Self {
                family_key,
                birth_date: patient.birth_date,
                nhs_number: patient.nhs_number.as_i64(),
            })
            .collect()
    }
}

/// What a retrieve by NHS number finds.
#[derive(Debug)]
pub enum Retrieved {
    Current(Box<Patient>),
    Invalidated,
    Missing,
}

impl PatientRow {
    pub fn from_patient(patient: &Patient, superseded_by: Option<NhsNumber>) -> Self {
        Self {
            nhs_number: patient.nhs_number.as_i64(),
            superseded_by: superseded_by.map(NhsNumber::as_i64),
            deceased_at: patient.deceased,
            version: patient.version as i32,
            birth_date: patient.birth_date,
            security: StoredLabel::Label(patient.security),
            gender: patient.gender.map(|g| index_of(Gender::ALL, g)),
            details: codec::encode(&patient.details),
            family_key: usual_family_key(patient),
        }
    }

    /// An invalidated number: kept so it is never reissued, never served.
    pub fn invalidated(nhs_number: NhsNumber) -> Self {
        let mut row = Self::from_patient(&Patient::minimal(nhs_number, 1), None);
        row.security = StoredLabel::Invalidated;
        row
    }

    pub fn is_invalidated(&self) -> bool {
        self.security == StoredLabel::Invalidated
    }

    pub fn into_patient(self) -> Result<Patient, DbError> {
        let corrupt = |what: &str| DbError::Corrupt(codec::CodecError::Column(what.to_owned()));
        Ok(Patient {
            nhs_number: u64::try_from(self.nhs_number)
                .ok()
                .and_then(|n| NhsNumber::from_u64(n).ok())
                .ok_or_else(|| corrupt("nhs_number"))?,
            version: u32::try_from(self.version).map_err(|_| corrupt("version"))?,
            security: match self.security {
                StoredLabel::Label(label) => label,
                StoredLabel::Invalidated => return Err(corrupt("security")),
            },
            gender: match self.gender {
                None => None,
                Some(g) => Some(
                    *Gender::ALL
                        .get(g as usize)
                        .ok_or_else(|| corrupt("gender"))?,
                ),
            },
            birth_date: self.birth_date,
            deceased: self.deceased_at,
            details: codec::decode(&self.details)?,
        })
    }
}

fn usual_family_key(patient: &Patient) -> Option<String> {
    patient
        .details
        .names
        .iter()
        .find(|n| n.name_use == NameUse::Usual)
        .and_then(|n| n.family.as_deref())
        .map(normalise::name)
}

fn index_of<T: PartialEq>(all: &[T], value: T) -> i16 {
    all.iter().position(|v| *v == value).unwrap_or_default() as i16
}

/// One indexed lookup per hop; a record that was never merged (nearly all)
/// costs a single round trip.
pub fn retrieve(conn: &mut PgConnection, nhs_number: NhsNumber) -> Result<Retrieved, DbError> {
    let row = find(conn, nhs_number.as_i64())?;
    follow(conn, row)
}

fn find(conn: &mut PgConnection, key: i64) -> Result<Option<PatientRow>, DbError> {
    Ok(patients::table
        .find(key)
        .select(PatientRow::as_select())
        .first(conn)
        .optional()?)
}

/// The rows for these numbers, in one query (`= ANY($1)`, one prepared
/// statement whatever the count).
pub fn find_many(conn: &mut PgConnection, keys: &[i64]) -> Result<Vec<PatientRow>, DbError> {
    Ok(patients::table
        .filter(patients::nhs_number.eq_any(keys))
        .select(PatientRow::as_select())
        .load(conn)?)
}

/// What the row found for a number means to a retrieve: missing,
/// invalidated, current, or merged into another record (followed, one
/// lookup per hop).
pub fn follow(conn: &mut PgConnection, row: Option<PatientRow>) -> Result<Retrieved, DbError> {
    follow_known(conn, row, &std::collections::HashMap::new())
}

/// As [`follow`], looking in `known` (rows already fetched) before asking
/// the database.
pub fn follow_known(
    conn: &mut PgConnection,
    row: Option<PatientRow>,
    known: &std::collections::HashMap<i64, PatientRow>,
) -> Result<Retrieved, DbError> {
    let mut row = row;
    for hop in 0..=MAX_SUPERSEDED_HOPS {
        let Some(found) = row else {
            return Ok(Retrieved::Missing);
        };
        if found.is_invalidated() {
            return Ok(Retrieved::Invalidated);
        }
        match found.superseded_by {
            Some(next) if hop < MAX_SUPERSEDED_HOPS => {
                row = match known.get(&next) {
                    Some(merged) => Some(merged.clone()),
                    None => find(conn, next)?,
                }
            }
            Some(_) => break,
            None => return Ok(Retrieved::Current(Box::new(found.into_patient()?))),
        }
    }
    Ok(Retrieved::Missing)
}

/// The row for exactly this number, not following a merge.
pub fn retrieve_exact(
    conn: &mut PgConnection,
    nhs_number: NhsNumber,
) -> Result<Retrieved, DbError> {
    Ok(match find(conn, nhs_number.as_i64())? {
        None => Retrieved::Missing,
        Some(row) if row.is_invalidated() => Retrieved::Invalidated,
        Some(row) => Retrieved::Current(Box::new(row.into_patient()?)),
    })
}

pub fn insert(
    conn: &mut PgConnection,
    rows: &[PatientRow],
    former: &[FormerNameRow],
) -> Result<usize, DbError> {
    diesel::insert_into(patient_former_names::table)
        .values(former)
        .execute(conn)?;
    Ok(diesel::insert_into(patients::table)
        .values(rows)
        .execute(conn)?)
}

/// Bulk load with `COPY ... FROM STDIN (FORMAT binary)`.
pub fn copy_in(
    conn: &mut PgConnection,
    rows: Vec<PatientRow>,
    former: Vec<FormerNameRow>,
) -> Result<usize, DbError> {
    if !former.is_empty() {
        diesel::copy_from(patient_former_names::table)
            .from_insertable(former)
            .execute(conn)?;
    }
    Ok(diesel::copy_from(patients::table)
        .from_insertable(rows)
        .execute(conn)?)
}

/// Whether any patient is stored: one index probe, where `count` would read
/// all 70 million rows at start-up.
pub fn any(conn: &mut PgConnection) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        patients::table.select(patients::nhs_number),
    ))
    .get_result(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::patient::{Former, Name, WithId};

    fn name(name_use: NameUse, family: &str) -> Name {
        Name {
            name_use,
            period: None,
            given: vec!["Jane".into()],
            family: Some(family.into()),
            prefix: vec![],
            suffix: vec![],
        }
    }

    #[test]
    fn former_name_rows_cover_old_maiden_and_replaced_family_names_once() {
        let mut p = Patient::minimal(NhsNumber::parse("9000000009").unwrap(), 3);
        p.details.names = vec![
            WithId::new("1", name(NameUse::Usual, "Smith")),
            WithId::new("2", name(NameUse::Maiden, "Jones")),
        ];
        assert_eq!(FormerNameRow::of(&p).len(), 1);
        p.details.extra.former = Some(Box::new(Former {
            names: vec![
                name(NameUse::Usual, "Brown"),
                name(NameUse::Usual, "jones"),
                // Only the given name changed: the usual family name is
                // found through `patients.family_key` already.
                name(NameUse::Usual, "SMITH"),
            ],
            ..Former::default()
        }));
        let keys: Vec<String> = FormerNameRow::of(&p)
            .into_iter()
            .map(|r| r.family_key)
            .collect();
        assert_eq!(keys, ["BROWN", "JONES"]);
    }
}
