//! The compact encoding of `domain::related::RelatedDetails` in
//! `related_people.details`, under the rule of `store::codec`.

use super::{CodecError, framed, split_format};
use crate::domain::related::RelatedDetails;

/// Format 1 ([`v1`]): telecoms without the textphone flag, when related
/// people had telecom types of their own.
const FORMAT_V1: u8 = 1;
/// Format 2: the name, address and telecom types patients have (without
/// ids).
const FORMAT_V2: u8 = 2;

pub fn encode(details: &RelatedDetails) -> Vec<u8> {
    framed(FORMAT_V2, details)
}

pub fn decode(bytes: &[u8]) -> Result<RelatedDetails, CodecError> {
    match split_format(bytes)? {
        (FORMAT_V2, rest) => Ok(postcard::from_bytes(rest)?),
        (FORMAT_V1, rest) => Ok(postcard::from_bytes::<v1::RelatedDetails>(rest)?.into()),
        (other, _) => Err(CodecError::UnknownFormat(other)),
    }
}

/// The layout of format 1, for reading rows written in it. Only the telecom
/// differs from format 2. The types it shares with format 2 (name, address,
/// ...) still have their format 1 layout; should one change, the format 1
/// fixture test fails, and that type needs its format 1 copy here too.
mod v1 {
    use serde::Deserialize;

    use crate::domain::NhsNumber;
    use crate::domain::codes::{TelecomSystem, TelecomUse};
    use crate::domain::patient::{self, Address, Communication, ContactPreference, Name, Period};
    use crate::domain::related::{self, Relationship};

    #[derive(Deserialize)]
    pub struct RelatedDetails {
        patient: Option<NhsNumber>,
        active: bool,
        period: Option<Period>,
        name: Option<Name>,
        address: Option<Address>,
        telecoms: Vec<Telecom>,
        relationship: Vec<Relationship>,
        copy_correspondence: bool,
        contact_rank: Option<u8>,
        contact_preference: Option<ContactPreference>,
        communication: Option<Communication>,
    }

    #[derive(Deserialize)]
    struct Telecom {
        period: Option<Period>,
        system: TelecomSystem,
        value: String,
        telecom_use: Option<TelecomUse>,
    }

    impl From<RelatedDetails> for related::RelatedDetails {
        fn from(v: RelatedDetails) -> Self {
            Self {
                patient: v.patient,
                active: v.active,
                period: v.period,
                name: v.name,
                address: v.address,
                telecoms: v
                    .telecoms
                    .into_iter()
                    .map(|t| patient::Telecom {
                        period: t.period,
                        system: t.system,
                        value: t.value,
                        telecom_use: t.telecom_use,
                        textphone: false,
                    })
                    .collect(),
                relationship: v.relationship,
                copy_correspondence: v.copy_correspondence,
                contact_rank: v.contact_rank,
                contact_preference: v.contact_preference,
                communication: v.communication,
            }
        }
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
    use crate::domain::patient::{
        Address, AddressKey, Communication, ContactPreference, Name, Period, Telecom,
    };
    use crate::domain::related::Relationship;
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
            name: Some(Name {
                name_use: NameUse::Usual,
                period,
                given: vec!["Jane".into()],
                family: Some("Smith".into()),
                prefix: vec!["Mrs".into()],
                suffix: vec![],
            }),
            address: Some(Address {
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
            telecoms: vec![Telecom {
                period,
                system: TelecomSystem::Phone,
                value: "01632960587".into(),
                telecom_use: Some(TelecomUse::Home),
                textphone: false,
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
            name: Some(Name {
                name_use: NameUse::Maiden,
                period,
                given: vec!["Jayne".into(), "Ælfrida".into()],
                family: Some("Smyth".into()),
                prefix: vec!["Dr".into()],
                suffix: vec!["OBE".into()],
            }),
            address: Some(Address {
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
                .map(|(&system, &telecom_use)| Telecom {
                    period,
                    system,
                    value: format!("{}@example.nhs.uk", system.code()),
                    telecom_use: Some(telecom_use),
                    textphone: system == TelecomSystem::Other,
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

    /// `every_field` as format 1 held it: it had no textphone flag.
    fn every_field_in_v1() -> RelatedDetails {
        let mut details = every_field();
        for t in &mut details.telecoms {
            t.textphone = false;
        }
        details
    }

    /// Format 1, as written by `encode` when it was the current format.
    const V1: &[u8] = include_bytes!("../testdata/related-details-v1.bin");
    /// Format 2, likewise.
    const V2: &[u8] = include_bytes!("../testdata/related-details-v2.bin");

    #[test]
    fn the_current_format_is_the_committed_one() {
        assert_eq!(encode(&every_field()), V2);
    }

    #[test]
    fn every_committed_format_decodes_to_the_value_it_was_made_from() {
        assert_eq!(decode(V1).unwrap(), every_field_in_v1());
        assert_eq!(decode(V2).unwrap(), every_field());
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
