//! The patients of the public PDS sandbox, with the same numbers and
//! content, so a client's tests written against the sandbox pass here; plus
//! one superseded and one invalidated number of our own.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use crate::domain::codes::*;
use crate::domain::patient::*;
use crate::domain::{NhsNumber, Patient};
use crate::store::patients::PatientRow;

pub const JANE_SMITH: &str = "9000000009";
pub const JAYNE_SMYTH: &str = "9000000017";
pub const JANET_SMYTHE_RESTRICTED: &str = "9000000025";
pub const MINIMAL: &str = "9000000033";
/// Merged into Jane Smith's record: retrieving it returns 9000000009.
pub const SUPERSEDED: &str = "9000000041";
pub const INVALIDATED: &str = "9000000068";
/// Very restricted (`V`): even the name is withheld below sensitive access.
pub const VERY_RESTRICTED: &str = "9000000076";

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

fn leeds_address(
    id: &str,
    address_use: AddressUse,
    text: Option<&str>,
    years: (i32, i32),
) -> Address {
    Address {
        id: id.into(),
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
    given: &str,
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
            names: vec![Name {
                id: "123".into(),
                name_use: NameUse::Usual,
                period: period(years.0, years.1),
                given: vec![given.into()],
                family: Some(family.into()),
                prefix: vec!["Mrs".into()],
                suffix: suffix.iter().map(|s| s.to_string()).collect(),
            }],
            addresses: vec![
                leeds_address("456", AddressUse::Home, None, years),
                leeds_address(
                    "T456",
                    AddressUse::Temp,
                    Some("Student Accommodation"),
                    years,
                ),
            ],
            telecoms: vec![
                Telecom {
                    id: "789".into(),
                    period: period(years.0, years.1),
                    system: TelecomSystem::Phone,
                    value: "01632960587".into(),
                    telecom_use: Some(TelecomUse::Home),
                    textphone: false,
                },
                Telecom {
                    id: "790".into(),
                    period: period(2019, 2022),
                    system: TelecomSystem::Email,
                    value: email.into(),
                    telecom_use: Some(TelecomUse::Home),
                    textphone: false,
                },
                Telecom {
                    id: "OC789".into(),
                    period: period(years.0, years.1),
                    system: TelecomSystem::Other,
                    value: "01632960587".into(),
                    telecom_use: Some(TelecomUse::Home),
                    textphone: true,
                },
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
        },
    }
}

fn very_restricted() -> Patient {
    let mut p = full_record(
        VERY_RESTRICTED,
        "Vera",
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
        "Janet",
        "Smythe",
        &["MBE"],
        "janet.smythe@example.com",
        (2020, 2021),
    );
    p.security = Security::Restricted;
    p
}

/// The current rows for the sandbox patients.
pub fn rows() -> Vec<PatientRow> {
    let jane = full_record(
        JANE_SMITH,
        "Jane",
        "Smith",
        &[],
        "jane.smith@example.com",
        (2020, 2021),
    );
    let jayne = full_record(
        JAYNE_SMYTH,
        "Jayne",
        "Smyth",
        &["MBE"],
        "jayne.smyth@example.com",
        (2024, 2025),
    );
    vec![
        PatientRow::from_patient(&jane, None),
        PatientRow::from_patient(&jayne, None),
        PatientRow::from_patient(&restricted(), None),
        PatientRow::from_patient(&very_restricted(), None),
        PatientRow::from_patient(&Patient::minimal(nhs(MINIMAL), 2), None),
        PatientRow::from_patient(&Patient::minimal(nhs(SUPERSEDED), 1), Some(nhs(JANE_SMITH))),
        PatientRow::invalidated(nhs(INVALIDATED)),
    ]
}
