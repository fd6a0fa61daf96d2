//! The patients of the public PDS sandbox, with the same numbers and
//! content, so a client's tests written against the sandbox pass here; plus
//! one superseded and one invalidated number of our own.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use crate::domain::codes::*;
use crate::domain::patient::*;
use crate::domain::related::{RelatedDetails, RelatedPerson, Relationship};
use crate::domain::{NhsNumber, Patient};
use crate::store::patients::{FormerNameRow, PatientRow};
use crate::store::related::RelatedRow;

pub const JANE_SMITH: &str = "9000000009";
pub const JAYNE_SMYTH: &str = "9000000017";
pub const JANET_SMYTHE_RESTRICTED: &str = "9000000025";
pub const MINIMAL: &str = "9000000033";
/// Merged into Jane Smith's record: retrieving it returns 9000000009.
pub const SUPERSEDED: &str = "9000000041";
pub const INVALIDATED: &str = "9000000068";
/// Very restricted (`V`): even the name is withheld below sensitive access.
pub const VERY_RESTRICTED: &str = "9000000076";
/// John Paul James Smith, the patient of the documented compound-name
/// search. The document's example body gives him `9000000015`, which fails
/// the check digit; this is the nearest free valid sandbox-style number.
pub const JOHN_PAUL_SMITH: &str = "9000000157";

fn nhs(text: &str) -> NhsNumber {
    NhsNumber::parse(text).expect("sandbox numbers are valid")
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid calendar date")
}

fn midnight(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day(y, m, d).and_hms_opt(0, 0, 0).expect("midnight exists"))
}

fn period(from: i32, to: i32) -> Option<Period> {
    Some(Period {
        start: Some(day(from, 1, 1)),
        end: Some(day(to, 12, 31)),
    })
}

/// A period that has started and not ended. The sandbox's telecoms end in
/// 2021 and 2022, which makes them history here (a period that has ended
/// is matched only with `_history`), and the documented searches on phone
/// and email would find nobody; so they keep the sandbox's start and run on.
fn since(year: i32) -> Option<Period> {
    Some(Period {
        start: Some(day(year, 1, 1)),
        end: None,
    })
}

fn leeds_address(address_use: AddressUse, text: Option<&str>, years: (i32, i32)) -> Address {
    Address {
        address_use,
        period: period(years.0, years.1),
        text: text.map(Into::into),
        lines: [
            "1 Trevelyan Square",
            "Boar Lane",
            "City Centre",
            "Leeds",
            "West Yorkshire",
        ]
        .map(String::from)
        .to_vec(),
        postal_code: Some("LS1 6AE".into()),
        keys: vec![
            AddressKey {
                key_type: AddressKeyType::Paf,
                value: "12345678".into(),
            },
            AddressKey {
                key_type: AddressKeyType::Uprn,
                value: "123456789012".into(),
            },
        ],
    }
}

/// The sandbox's "full" record shape, shared by Jane Smith and Jayne Smyth.
fn full_record(
    number: &str,
    given: &[&str],
    family: &str,
    suffix: &[&str],
    email: &str,
    years: (i32, i32),
) -> Patient {
    let gp = |id: Option<&str>| OrganisationRef {
        id: id.map(Into::into),
        ods_code: "Y12345".into(),
        period: period(years.0, years.1),
    };
    Patient {
        nhs_number: nhs(number),
        version: 2,
        security: Security::Unrestricted,
        gender: Some(Gender::Female),
        birth_date: Some(day(2010, 10, 22)),
        deceased: Some(midnight(2010, 10, 22)),
        details: Details {
            verification: Some(Verification::Verified),
            multiple_birth: Some(1),
            names: vec![WithId::new(
                "123",
                Name {
                    name_use: NameUse::Usual,
                    period: period(years.0, years.1),
                    given: given.iter().map(|g| g.to_string()).collect(),
                    family: Some(family.into()),
                    prefix: vec!["Mrs".into()],
                    suffix: suffix.iter().map(|s| s.to_string()).collect(),
                },
            )],
            addresses: vec![
                WithId::new("456", leeds_address(AddressUse::Home, None, years)),
                WithId::new(
                    "T456",
                    leeds_address(AddressUse::Temp, Some("Student Accommodation"), years),
                ),
            ],
            telecoms: vec![
                WithId::new(
                    "789",
                    Telecom {
                        period: since(years.0),
                        system: TelecomSystem::Phone,
                        value: "01632960587".into(),
                        telecom_use: Some(TelecomUse::Home),
                        textphone: false,
                    },
                ),
                WithId::new(
                    "790",
                    Telecom {
                        period: since(2019),
                        system: TelecomSystem::Email,
                        value: email.into(),
                        telecom_use: Some(TelecomUse::Home),
                        textphone: false,
                    },
                ),
                WithId::new(
                    "OC789",
                    Telecom {
                        period: since(years.0),
                        system: TelecomSystem::Other,
                        value: "01632960587".into(),
                        telecom_use: Some(TelecomUse::Home),
                        textphone: true,
                    },
                ),
            ],
            contacts: vec![EmergencyContact {
                id: "C123".into(),
                period: period(years.0, years.1),
                telecoms: vec![ContactPoint {
                    system: TelecomSystem::Phone,
                    value: "01632960587".into(),
                }],
            }],
            general_practitioner: Some(gp(Some("254406A3"))),
            managing_organisation: Some(gp(None)),
            nominated_pharmacy: Some("Y12345".into()),
            preferred_dispenser: Some("Y23456".into()),
            appliance_supplier: Some("Y34567".into()),
            death_notification: Some(DeathNotification {
                status: DeathStatus::Formal,
                effective: Some(midnight(2010, 10, 22)),
            }),
            communication: Some(Communication {
                language: "fr".into(),
                language_display: Some("French".into()),
                interpreter_required: true,
            }),
            contact_preference: Some(ContactPreference {
                written_format: Some(WrittenFormat::Braille),
                contact_method: Some(ContactMethod::Letter),
                contact_times: Some("Not after 7pm".into()),
            }),
            birth_place: Some(BirthPlace {
                city: Some("Manchester".into()),
                district: Some("Greater Manchester".into()),
                country: Some("GBR".into()),
            }),
            removal: Some(Removal {
                reason: RemovalReason::Scotland,
                start: Some(midnight(2020, 1, 1)),
                end: Some(midnight(2021, 12, 31)),
            }),
            extra: Extra::default(),
        },
    }
}

fn very_restricted() -> Patient {
    let mut p = full_record(
        VERY_RESTRICTED,
        &["Vera"],
        "Lockwood",
        &[],
        "vera.lockwood@example.com",
        (2020, 2021),
    );
    p.security = Security::VeryRestricted;
    p.deceased = None;
    p.details.death_notification = None;
    p.details.removal = None;
    p
}

fn restricted() -> Patient {
    let mut p = full_record(
        JANET_SMYTHE_RESTRICTED,
        &["Janet"],
        "Smythe",
        &["MBE"],
        "janet.smythe@example.com",
        (2020, 2021),
    );
    p.security = Security::Restricted;
    p
}

/// The current rows for the sandbox patients, and their former names.
pub fn rows() -> (Vec<PatientRow>, Vec<FormerNameRow>) {
    let people = people();
    let former = people
        .iter()
        .flat_map(|(p, _)| FormerNameRow::of(p))
        .collect();
    let mut rows: Vec<PatientRow> = people
        .iter()
        .map(|(p, superseded_by)| PatientRow::from_patient(p, *superseded_by))
        .collect();
    rows.push(PatientRow::invalidated(nhs(INVALIDATED)));
    (rows, former)
}

fn people() -> Vec<(Patient, Option<NhsNumber>)> {
    let jane = full_record(
        JANE_SMITH,
        &["Jane"],
        "Smith",
        &[],
        "jane.smith@example.com",
        (2020, 2021),
    );
    let jayne = full_record(
        JAYNE_SMYTH,
        &["Jayne"],
        "Smyth",
        &["MBE"],
        "jayne.smyth@example.com",
        (2024, 2025),
    );
    let mut people = vec![
        (jane, None),
        (jayne, None),
        (restricted(), None),
        (very_restricted(), None),
        (Patient::minimal(nhs(MINIMAL), 2), None),
        (Patient::minimal(nhs(SUPERSEDED), 1), Some(nhs(JANE_SMITH))),
        (renamed(), None),
        (john_paul_smith(), None),
    ];
    people.extend(youds().into_iter().map(|p| (p, None)));
    people.extend(super::apps::people());
    people
}

/// The documented compound-name search (`given=John Paul&given=James`,
/// male, born 2010-10-22, with his email and phone) finds him alone: the
/// full record shape, a man with the compound first name `John Paul` and
/// the middle name `James` (the document's body shows only `John Paul`,
/// but its request asks for both, and each `given` asked must be held).
fn john_paul_smith() -> Patient {
    let mut p = full_record(
        JOHN_PAUL_SMITH,
        &["John Paul", "James"],
        "Smith",
        &["MBE"],
        "johnp.smith@example.com",
        (2020, 2021),
    );
    p.gender = Some(Gender::Male);
    for name in &mut p.details.names {
        name.item.prefix = vec!["Mr".into()];
    }
    p
}

/// Four people called YOUDS born on 1970-01-24: a search on family name and
/// birth date alone finds all four, and `_max-results=1` is too few.
pub const YOUDS: [&str; 4] = ["9000000084", "9000000092", "9000000106", "9000000114"];

fn youds() -> Vec<Patient> {
    let people = [
        ("Ann", Gender::Female, "DN17 4AB"),
        ("Barry", Gender::Male, "DN17 4AB"),
        ("Carol", Gender::Female, "LS1 6AE"),
        ("David", Gender::Male, "M1 1AE"),
    ];
    YOUDS
        .iter()
        .zip(people)
        .enumerate()
        .map(|(i, (number, (given, gender, postcode)))| {
            let mut p = Patient::minimal(nhs(number), 1);
            p.gender = Some(gender);
            p.birth_date = Some(day(1970, 1, 24));
            p.details.names.push(simple_name(
                &format!("Y{i}"),
                NameUse::Usual,
                given,
                "YOUDS",
            ));
            p.details.addresses.push(WithId::new(
                format!("YA{i}"),
                Address {
                    address_use: AddressUse::Home,
                    period: None,
                    text: None,
                    lines: vec![format!("{} Station Road", i + 1), "Epworth".into()],
                    postal_code: Some(postcode.into()),
                    keys: vec![],
                },
            ));
            p
        })
        .collect()
}

fn simple_name(id: &str, name_use: NameUse, given: &str, family: &str) -> WithId<Name> {
    WithId::new(
        id,
        Name {
            name_use,
            period: None,
            given: vec![given.into()],
            family: Some(family.into()),
            prefix: vec![],
            suffix: vec![],
        },
    )
}

/// Married and changed her name: found by the old one only with `_history`.
pub const RENAMED: &str = "9000000122";

fn renamed() -> Patient {
    let mut p = Patient::minimal(nhs(RENAMED), 3);
    p.gender = Some(Gender::Female);
    p.birth_date = Some(day(1980, 5, 5));
    p.details
        .names
        .push(simple_name("N1", NameUse::Usual, "Mary", "Newland"));
    p.details
        .names
        .push(simple_name("N0", NameUse::Maiden, "Mary", "Oldcastle"));
    p.details.telecoms.push(WithId::new(
        "T1",
        Telecom {
            period: None,
            system: TelecomSystem::Email,
            value: "mary.newland@example.com".into(),
            telecom_use: Some(TelecomUse::Home),
            textphone: false,
        },
    ));
    p
}

/// The sandbox's related people, with the same ids and content: Jane Smith
/// has two (one with personal details, one only a reference to a patient),
/// Jayne Smyth one (a reference to her guardian's own NHS number, with
/// personal details). Everyone else has none.
pub fn related_rows() -> Vec<RelatedRow> {
    [
        (JANE_SMITH, related_person("507B7621", JANE_SMITH, true)),
        (JANE_SMITH, related_person("B3380E98", JANE_SMITH, false)),
        (JAYNE_SMYTH, related_person("F4CF8B96", "5328023641", true)),
    ]
    .iter()
    .map(|(patient, person)| RelatedRow::from_person(nhs(patient), person))
    .collect()
}

/// A guardian, copied in on correspondence, first to contact, by letter in
/// Braille, French-speaking with an interpreter; with `personal_details`
/// also name, home phone and address.
fn related_person(id: &str, reference: &str, personal_details: bool) -> RelatedPerson {
    let years = period(2020, 2021);
    let mut details = RelatedDetails {
        patient: Some(nhs(reference)),
        active: true,
        period: years,
        relationship: vec![Relationship::Guardian],
        copy_correspondence: true,
        contact_rank: Some(1),
        contact_preference: Some(ContactPreference {
            written_format: Some(WrittenFormat::Braille),
            contact_method: Some(ContactMethod::Letter),
            contact_times: Some("Not after 7pm".into()),
        }),
        communication: Some(Communication {
            language: "fr".into(),
            language_display: Some("French".into()),
            interpreter_required: true,
        }),
        ..RelatedDetails::default()
    };
    if personal_details {
        details.name = Some(Name {
            name_use: NameUse::Usual,
            period: years,
            given: vec!["Jane".into()],
            family: Some("Smith".into()),
            prefix: vec!["Mrs".into()],
            suffix: vec!["MBE".into()],
        });
        details.telecoms = vec![Telecom {
            period: years,
            system: TelecomSystem::Phone,
            value: "01632960587".into(),
            telecom_use: Some(TelecomUse::Home),
            textphone: false,
        }];
        details.address = Some(leeds_address(AddressUse::Home, None, (2020, 2021)));
    }
    RelatedPerson {
        id: id.into(),
        details,
    }
}
