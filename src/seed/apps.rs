//! A sandbox-style patient for the per-application options (`auth::apps`):
//! the PDS sandbox has no record that shows them, so this one is ours. He
//! left his practice on joining the Armed Forces (removal reason AFN, shown
//! as ORR to ordinary applications), his home address has no street line,
//! and he has consented to NHS record sharing.

use chrono::{NaiveDate, TimeZone, Utc};

use crate::domain::codes::*;
use crate::domain::patient::*;
use crate::domain::{NhsNumber, Patient};

pub const ARMED_FORCES: &str = "9000000904";

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid calendar date")
}

/// The patient, version 1.
pub fn armed_forces() -> Patient {
    let joined = Utc.from_utc_datetime(&day(2022, 9, 1).and_hms_opt(0, 0, 0).expect("midnight"));
    let mut p = Patient::minimal(NhsNumber::parse(ARMED_FORCES).expect("a valid number"), 1);
    p.gender = Some(Gender::Male);
    p.birth_date = Some(day(2001, 3, 14));
    let d = &mut p.details;
    d.names.push(WithId::new(
        "AF1",
        Name {
            name_use: NameUse::Usual,
            period: Some(Period {
                start: Some(day(2001, 3, 14)),
                end: None,
            }),
            given: vec!["Thomas".into()],
            family: Some("Fairweather".into()),
            prefix: vec!["Mr".into()],
            suffix: vec![],
        },
    ));
    d.addresses.push(WithId::new(
        "AFA1",
        Address {
            address_use: AddressUse::Home,
            period: Some(Period {
                start: Some(day(2019, 6, 1)),
                end: None,
            }),
            text: None,
            // Premises, (no street), locality, post town, county.
            lines: [
                "Rose Cottage",
                "",
                "Scotton",
                "Catterick Garrison",
                "North Yorkshire",
            ]
            .map(String::from)
            .to_vec(),
            postal_code: Some("DL9 3NP".into()),
            keys: vec![],
        },
    ));
    d.managing_organisation = Some(OrganisationRef {
        id: None,
        ods_code: "Y12345".into(),
        period: Some(Period {
            start: Some(day(2019, 6, 1)),
            end: Some(day(2022, 8, 31)),
        }),
    });
    d.removal = Some(Removal {
        reason: RemovalReason::ArmedForces,
        start: Some(joined),
        end: None,
    });
    d.extra.sharing_consent = Some(SharingConsent::Consent);
    p
}

/// The patients of this file, for `sandbox::people`.
pub fn people() -> Vec<(Patient, Option<NhsNumber>)> {
    vec![(armed_forces(), None)]
}
