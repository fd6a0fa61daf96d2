//! The sandbox patients' EHICs, as the PDS sandbox has them
//! (`coverageResponses/patient_with_coverage_*.json`). 9000000009 (Jane
//! Smith) has one; 9000000033 has none, so its answer is the empty bundle.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::domain::NhsNumber;
use crate::domain::coverage::Ehic;
use crate::store::coverage::{self, CoverageRow};
use crate::store::schema::patients;

/// One seeded card.
struct Card {
    nhs_number: &'static str,
    card_number: &'static str,
    country: &'static str,
    institution: &'static str,
    personal_id: &'static str,
    expires: (i32, u32, u32),
}

const CARDS: &[Card] = &[
    Card {
        nhs_number: "9000000009",
        card_number: "ES456789012345",
        country: "FRA",
        institution: "ES11223",
        personal_id: "5647382910",
        expires: (2027, 3, 3),
    },
    // A copy of an INT patient in the sandbox; seeded only where a seed
    // has that patient.
    Card {
        nhs_number: "9733162868",
        card_number: "DE1234567890121234",
        country: "DEU",
        institution: "DE98765",
        personal_id: "DE9876543210",
        expires: (2026, 8, 15),
    },
];

/// The rows, each as set by version 1 of its record, so every version
/// of it shows the card.
pub fn rows() -> Vec<CoverageRow> {
    CARDS
        .iter()
        .map(|card| {
            let (y, m, d) = card.expires;
            let expires = NaiveDate::from_ymd_opt(y, m, d).expect("a seed date");
            let ehic = Ehic::restore(
                card.card_number,
                card.country,
                card.institution,
                card.personal_id,
                expires,
            )
            .expect("a seed EHIC is valid");
            let number = NhsNumber::parse(card.nhs_number).expect("a seed NHS number");
            CoverageRow::of(number, 1, &ehic)
        })
        .collect()
}

/// Stores the rows of the patients present (after the sandbox patients).
pub fn insert(conn: &mut PgConnection) -> anyhow::Result<()> {
    let numbers: Vec<i64> = rows().iter().map(|r| r.nhs_number).collect();
    let present: Vec<i64> = patients::table
        .filter(patients::nhs_number.eq_any(&numbers))
        .select(patients::nhs_number)
        .load(conn)?;
    let rows: Vec<CoverageRow> = rows()
        .into_iter()
        .filter(|r| present.contains(&r.nhs_number))
        .collect();
    coverage::insert(conn, &rows)?;
    Ok(())
}
