//! Reading and writing `related_people` rows, and the compact encoding of
//! `domain::related::RelatedDetails` in `related_people.details`.
//!
//! The encoding is the one `store::codec` uses for patient details: postcard
//! (varints, no field names) after a format byte that names the layout, so a
//! future layout gets a new number and `decode` keeps reading the old one;
//! the tests decode committed bytes of every format (`testdata/`).

use std::collections::HashSet;

use diesel::prelude::*;
use diesel::upsert::excluded;

use super::codec::CodecError;
use super::db::DbError;
use super::label::StoredLabel;
use super::schema::{patients, related_people};
use crate::domain::NhsNumber;
use crate::domain::codes::Security;
use crate::domain::related::{RelatedDetails, RelatedPerson};

const FORMAT_V1: u8 = 1;

pub fn encode(details: &RelatedDetails) -> Vec<u8> {
    let mut out = vec![FORMAT_V1];
    // Serialising plain owned data into a Vec cannot fail.
    postcard::to_io(details, &mut out).expect("encoding related-person details into memory");
    out
}

pub fn decode(bytes: &[u8]) -> Result<RelatedDetails, CodecError> {
    match bytes.split_first() {
        None => Err(CodecError::Empty),
        Some((&FORMAT_V1, rest)) => Ok(postcard::from_bytes(rest)?),
        Some((&other, _)) => Err(CodecError::UnknownFormat(other)),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::codes::{
        AddressKeyType, AddressUse, ContactMethod, NameUse, TelecomSystem, TelecomUse,
        WrittenFormat,
    };
    use crate::domain::patient::{AddressKey, Communication, ContactPreference, Period};
    use crate::domain::related::{PersonAddress, PersonName, PersonTelecom, Relationship};
    use chrono::NaiveDate;

    fn typical() -> RelatedDetails {
        let period = Some(Period {
            start: NaiveDate::from_ymd_opt(2020, 1, 1),
            end: NaiveDate::from_ymd_opt(2021, 12, 31),
        });
        RelatedDetails {
            patient: Some(NhsNumber::parse("9000000009").unwrap()),
            active: true,
            period,
            name: Some(PersonName {
                name_use: NameUse::Usual,
                period,
                given: vec!["Jane".into()],
                family: Some("Smith".into()),
                prefix: vec!["Mrs".into()],
                suffix: vec![],
            }),
            address: Some(PersonAddress {
                address_use: AddressUse::Home,
                period,
                text: None,
                lines: vec!["1 Trevelyan Square".into(), "Leeds".into()],
                postal_code: Some("LS1 6AE".into()),
                keys: vec![AddressKey {
                    key_type: AddressKeyType::Paf,
                    value: "12345678".into(),
                }],
            }),
            telecoms: vec![PersonTelecom {
                period,
                system: TelecomSystem::Phone,
                value: "01632960587".into(),
                telecom_use: Some(TelecomUse::Home),
            }],
            relationship: vec![
                Relationship::Personal,
                Relationship::Spouse,
                Relationship::NextOfKin,
            ],
            copy_correspondence: true,
            contact_rank: Some(1),
            contact_preference: Some(ContactPreference::default()),
            communication: Some(Communication {
                language: "fr".into(),
                language_display: None,
                interpreter_required: true,
            }),
        }
    }

    /// A person using every field, and every relationship code in order
    /// (so a reordered list shows).
    fn every_field() -> RelatedDetails {
        let period = Some(Period {
            start: NaiveDate::from_ymd_opt(2015, 3, 4),
            end: NaiveDate::from_ymd_opt(2035, 6, 7),
        });
        RelatedDetails {
            patient: Some(NhsNumber::parse("9000000017").unwrap()),
            active: true,
            period,
            name: Some(PersonName {
                name_use: NameUse::Maiden,
                period,
                given: vec!["Jayne".into(), "Ælfrida".into()],
                family: Some("Smyth".into()),
                prefix: vec!["Dr".into()],
                suffix: vec!["OBE".into()],
            }),
            address: Some(PersonAddress {
                address_use: AddressUse::Temp,
                period,
                text: Some("Holiday Home".into()),
                lines: vec!["2 Whitehall Quay".into(), "Leeds".into()],
                postal_code: Some("LS1 4HR".into()),
                keys: vec![
                    AddressKey {
                        key_type: AddressKeyType::Paf,
                        value: "87654321".into(),
                    },
                    AddressKey {
                        key_type: AddressKeyType::Uprn,
                        value: "100023336956".into(),
                    },
                ],
            }),
            telecoms: TelecomSystem::ALL
                .iter()
                .zip(TelecomUse::ALL)
                .map(|(&system, &telecom_use)| PersonTelecom {
                    period,
                    system,
                    value: format!("{}@example.nhs.uk", system.code()),
                    telecom_use: Some(telecom_use),
                })
                .collect(),
            relationship: Relationship::ALL.to_vec(),
            copy_correspondence: true,
            contact_rank: Some(99),
            contact_preference: Some(ContactPreference {
                written_format: Some(WrittenFormat::AudioTape),
                contact_method: Some(ContactMethod::NoTelephone),
                contact_times: Some("Evenings".into()),
            }),
            communication: Some(Communication {
                language: "cy".into(),
                language_display: Some("Welsh".into()),
                interpreter_required: false,
            }),
        }
    }

    /// Format 1, as written by `encode` when it was the current format.
    const V1: &[u8] = include_bytes!("testdata/related-details-v1.bin");

    #[test]
    fn the_current_format_is_the_committed_one() {
        assert_eq!(encode(&every_field()), V1);
    }

    #[test]
    fn every_committed_format_decodes_to_the_value_it_was_made_from() {
        assert_eq!(decode(V1).unwrap(), every_field());
    }

    #[test]
    fn round_trips_and_is_small() {
        let details = typical();
        let bytes = encode(&details);
        // Against about 2 KB for the same person as compact FHIR JSON.
        assert!(bytes.len() < 220, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes).unwrap(), details);
    }

    #[test]
    fn rejects_unknown_formats_and_garbage() {
        assert!(matches!(decode(&[]), Err(CodecError::Empty)));
        assert!(matches!(decode(&[7, 1]), Err(CodecError::UnknownFormat(7))));
        assert!(matches!(
            decode(&[1, 0xff, 0xff]),
            Err(CodecError::Corrupt(_))
        ));
    }
}
