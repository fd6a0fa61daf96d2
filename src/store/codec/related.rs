//! The compact encoding of `domain::related::RelatedDetails` in
//! `related_people.details`, under the rule of `store::codec`.

use super::{CodecError, framed, split_format};
use crate::domain::related::RelatedDetails;

const FORMAT_V1: u8 = 1;

pub fn encode(details: &RelatedDetails) -> Vec<u8> {
    framed(FORMAT_V1, details)
}

pub fn decode(bytes: &[u8]) -> Result<RelatedDetails, CodecError> {
    match split_format(bytes)? {
        (FORMAT_V1, rest) => Ok(postcard::from_bytes(rest)?),
        (other, _) => Err(CodecError::UnknownFormat(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NhsNumber;
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
    const V1: &[u8] = include_bytes!("../testdata/related-details-v1.bin");

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
