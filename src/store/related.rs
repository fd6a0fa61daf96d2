//! Reading and writing `related_people` rows (their `details` encoded by
//! `store::codec::related`).

use std::collections::HashSet;

use diesel::prelude::*;
use diesel::upsert::excluded;

use super::codec::related::{decode, encode};
use super::db::DbError;
use super::label::StoredLabel;
use super::schema::{patients, related_people};
use crate::domain::NhsNumber;
use crate::domain::codes::Security;
use crate::domain::related::RelatedPerson;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = related_people, check_for_backend(diesel::pg::Pg))]
pub struct RelatedRow {
    /// The patient this person is related to.
    pub nhs_number: i64,
    pub id: String,
    pub details: Vec<u8>,
}

impl RelatedRow {
    pub fn from_person(patient: NhsNumber, person: &RelatedPerson) -> Self {
        Self {
            nhs_number: patient.as_i64(),
            id: person.id.clone(),
            details: encode(&person.details),
        }
    }

    pub fn into_person(self) -> Result<RelatedPerson, DbError> {
        Ok(RelatedPerson {
            id: self.id,
            details: decode(&self.details)?,
        })
    }
}

/// The related people of one patient, in id order: one range scan of the
/// primary key.
pub fn of_patient(
    conn: &mut PgConnection,
    nhs_number: NhsNumber,
) -> Result<Vec<RelatedPerson>, DbError> {
    related_people::table
        .filter(related_people::nhs_number.eq(nhs_number.as_i64()))
        .order(related_people::id)
        .select(RelatedRow::as_select())
        .load(conn)?
        .into_iter()
        .map(RelatedRow::into_person)
        .collect()
}

/// Which of `numbers` are restricted (`R` or `V`) patients: primary-key
/// lookups, one round trip.
pub fn restricted_among(
    conn: &mut PgConnection,
    numbers: &[NhsNumber],
) -> Result<HashSet<NhsNumber>, DbError> {
    if numbers.is_empty() {
        return Ok(HashSet::new());
    }
    let restricted = [Security::Restricted, Security::VeryRestricted].map(StoredLabel::Label);
    let keys: Vec<i64> = numbers.iter().map(|n| n.as_i64()).collect();
    let found: Vec<i64> = patients::table
        .filter(patients::nhs_number.eq_any(keys))
        .filter(patients::security.eq_any(restricted))
        .select(patients::nhs_number)
        .load(conn)?;
    Ok(numbers
        .iter()
        .copied()
        .filter(|n| found.contains(&n.as_i64()))
        .collect())
}

/// Inserts related people, replacing any with the same patient and id (so
/// reloading the sandbox is harmless).
pub fn upsert(conn: &mut PgConnection, rows: &[RelatedRow]) -> Result<usize, DbError> {
    Ok(diesel::insert_into(related_people::table)
        .values(rows)
        .on_conflict((related_people::nhs_number, related_people::id))
        .do_update()
        .set(related_people::details.eq(excluded(related_people::details)))
        .execute(conn)?)
}
