//! The compact encodings of `domain::patient::Details` in `patients.details`
//! (here) and of `domain::related::RelatedDetails` in
//! `related_people.details` (`related`).
//!
//! postcard (varints, no field names) keeps a typical record near 150 bytes,
//! against about 4 KB for the same data as FHIR JSON. It is not
//! self-describing: it reads exactly the fields the type has, in order, so
//! stored rows decode only into the layout they were written with. Hence
//! the first byte names the format, and the rule for any change to the
//! stored types (a field added, removed, reordered or retyped, an enum
//! variant moved): it gets a new format number, `encode` writes that, and
//! `decode` keeps a decoder for every earlier one. Appending an enum
//! variant is the one change old rows do not notice.
//!
//! The tests decode committed bytes of every format (`testdata/`) into the
//! value they were made from, so a change that would break stored rows
//! fails here first.

use serde::Serialize;

use crate::domain::patient::{Details, Extra};

pub mod related;

/// Format 1: the fields of `Details`, without `extra`.
const FORMAT_V1: u8 = 1;
/// Format 2: format 1's fields, then `Details::extra` (former values,
/// record-sharing consent). Appending the extra part after an unchanged
/// format 1 layout lets format 1 rows decode with the same types, and
/// records without extras are still written in format 1.
const FORMAT_V2: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("empty details value")]
    Empty,
    #[error("unknown details format {0}")]
    UnknownFormat(u8),
    #[error("corrupt details value: {0}")]
    Corrupt(#[from] postcard::Error),
    #[error("stored value out of range in column {0}")]
    Column(String),
}

/// A record without extras (almost every one) is written in format 1, so
/// it costs nothing more than before format 2.
pub fn encode(details: &Details) -> Vec<u8> {
    if details.extra == Extra::default() {
        return framed(FORMAT_V1, details);
    }
    let mut out = framed(FORMAT_V2, details);
    // As in `framed`: serialising into memory cannot fail.
    postcard::to_io(&details.extra, &mut out).expect("encoding details into memory");
    out
}

pub fn decode(bytes: &[u8]) -> Result<Details, CodecError> {
    match split_format(bytes)? {
        (FORMAT_V2, rest) => {
            let (mut details, tail): (Details, _) = postcard::take_from_bytes(rest)?;
            details.extra = postcard::from_bytes(tail)?;
            Ok(details)
        }
        (FORMAT_V1, rest) => Ok(postcard::from_bytes(rest)?),
        (other, _) => Err(CodecError::UnknownFormat(other)),
    }
}

/// `format`, then `value` in postcard.
fn framed(format: u8, value: &impl Serialize) -> Vec<u8> {
    let mut out = vec![format];
    // Serialising plain owned data into a Vec cannot fail.
    postcard::to_io(value, &mut out).expect("encoding details into memory");
    out
}

/// A stored value's format byte, and the postcard after it.
fn split_format(bytes: &[u8]) -> Result<(u8, &[u8]), CodecError> {
    let (&format, rest) = bytes.split_first().ok_or(CodecError::Empty)?;
    Ok((format, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::codes::*;
    use crate::domain::patient::*;
    use chrono::{DateTime, NaiveDate, Utc};

    #[test]
    fn round_trips_and_is_small() {
        let details = Details {
            names: vec![WithId::new(
                "1A2B3C4D",
                Name {
                    name_use: NameUse::Usual,
                    period: None,
                    given: vec!["Jane".into(), "Anne".into()],
                    family: Some("Smith".into()),
                    prefix: vec!["Mrs".into()],
                    suffix: vec![],
                },
            )],
            ..Details::default()
        };
        let bytes = encode(&details);
        assert!(bytes.len() < 60, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes).unwrap(), details);
    }

    /// A record using every field, list and code list, with the last
    /// variant of each code that appears once (so a reordered list shows).
    fn every_field() -> Details {
        let period = |start: (i32, u32, u32), end: Option<(i32, u32, u32)>| {
            Some(Period {
                start: NaiveDate::from_ymd_opt(start.0, start.1, start.2),
                end: end.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)),
            })
        };
        let at = |s: &str| Some(s.parse::<DateTime<Utc>>().unwrap());
        Details {
            verification: Some(Verification::TracePostponed),
            multiple_birth: Some(2),
            names: NameUse::ALL
                .iter()
                .enumerate()
                .map(|(i, &name_use)| {
                    WithId::new(
                        format!("N{i}"),
                        Name {
                            name_use,
                            period: period((2001, 2, 3), (i % 2 == 0).then_some((2030, 12, 31))),
                            given: vec!["Jane".into(), "Ælfrida".into()],
                            family: Some(format!("Smith{i}")),
                            prefix: vec!["Mrs".into()],
                            suffix: vec!["MBE".into(), "PhD".into()],
                        },
                    )
                })
                .collect(),
            addresses: AddressUse::ALL
                .iter()
                .enumerate()
                .map(|(i, &address_use)| {
                    WithId::new(
                        format!("A{i}"),
                        Address {
                            address_use,
                            period: period((2010, 1, 1), None),
                            text: (address_use == AddressUse::Temp)
                                .then(|| "Student Accommodation".into()),
                            lines: vec![
                                "1 Trevelyan Square".into(),
                                "Boar Lane".into(),
                                "Leeds".into(),
                            ],
                            postal_code: Some("LS1 6AE".into()),
                            keys: AddressKeyType::ALL
                                .iter()
                                .map(|&key_type| AddressKey {
                                    key_type,
                                    value: "12345678".into(),
                                })
                                .collect(),
                        },
                    )
                })
                .collect(),
            telecoms: TelecomSystem::ALL
                .iter()
                .zip(TelecomUse::ALL)
                .enumerate()
                .map(|(i, (&system, &telecom_use))| {
                    WithId::new(
                        format!("T{i}"),
                        Telecom {
                            period: period((2020, 5, 6), Some((2021, 5, 6))),
                            system,
                            value: format!("0163296058{i}"),
                            telecom_use: Some(telecom_use),
                            textphone: system == TelecomSystem::Other,
                        },
                    )
                })
                .collect(),
            contacts: vec![EmergencyContact {
                id: "C1".into(),
                period: period((2019, 1, 1), None),
                telecoms: TelecomSystem::ALL
                    .iter()
                    .map(|&system| ContactPoint {
                        system,
                        value: "07700900123".into(),
                    })
                    .collect(),
            }],
            general_practitioner: Some(OrganisationRef {
                id: Some("G1".into()),
                ods_code: "Y12345".into(),
                period: period((2018, 4, 1), None),
            }),
            managing_organisation: Some(OrganisationRef {
                id: None,
                ods_code: "X26".into(),
                period: None,
            }),
            nominated_pharmacy: Some("FA123".into()),
            preferred_dispenser: Some("FB456".into()),
            appliance_supplier: Some("FC789".into()),
            death_notification: Some(DeathNotification {
                status: DeathStatus::Removed,
                effective: at("2024-03-04T05:06:07Z"),
            }),
            communication: Some(Communication {
                language: "fr".into(),
                language_display: Some("French".into()),
                interpreter_required: true,
            }),
            contact_preference: Some(ContactPreference {
                written_format: Some(WrittenFormat::AudioTape),
                contact_method: Some(ContactMethod::NoTelephone),
                contact_times: Some("Mornings".into()),
            }),
            birth_place: Some(BirthPlace {
                city: Some("Leeds".into()),
                district: Some("West Yorkshire".into()),
                country: Some("GBR".into()),
            }),
            removal: Some(Removal {
                reason: RemovalReason::LogicalDeletion,
                start: at("2024-01-02T03:04:05Z"),
                end: at("2025-01-02T03:04:05.678Z"),
            }),
            extra: Extra::default(),
        }
    }

    /// `every_field` with every part of format 2 set too.
    fn every_field_v2() -> Details {
        let mut details = every_field();
        let former = Former {
            names: details.names.iter().map(|n| n.item.clone()).collect(),
            addresses: details.addresses.iter().map(|a| a.item.clone()).collect(),
            telecoms: details.telecoms.iter().map(|t| t.item.clone()).collect(),
        };
        details.extra = Extra {
            former: Some(Box::new(former)),
            sharing_consent: Some(SharingConsent::Callback),
        };
        details
    }

    /// Format 1, as written by `encode` when it was the current format.
    const V1: &[u8] = include_bytes!("testdata/patient-details-v1.bin");
    const V2: &[u8] = include_bytes!("testdata/patient-details-v2.bin");

    #[test]
    fn the_current_formats_are_the_committed_ones() {
        assert_eq!(encode(&every_field_v2()), V2);
        assert_eq!(encode(&every_field()), V1, "no extras: format 1");
    }

    #[test]
    fn every_committed_format_decodes_to_the_value_it_was_made_from() {
        assert_eq!(decode(V1).unwrap(), every_field());
        assert_eq!(decode(V2).unwrap(), every_field_v2());
    }

    /// Writes the current format's fixture: run once when a format is
    /// added (`cargo test -- --ignored write_fixture`), then commit it.
    #[test]
    #[ignore]
    fn write_fixture() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/store/testdata/patient-details-v2.bin"
        );
        std::fs::write(path, encode(&every_field_v2())).unwrap();
    }

    #[test]
    fn rejects_unknown_formats_and_garbage() {
        assert!(matches!(decode(&[]), Err(CodecError::Empty)));
        assert!(matches!(decode(&[9, 1]), Err(CodecError::UnknownFormat(9))));
        assert!(matches!(
            decode(&[1, 0xff, 0xff]),
            Err(CodecError::Corrupt(_))
        ));
    }
}
