//! Inputs for the benchmark: real patients drawn at random from the store,
//! so load is spread over the whole population instead of one hot key.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double};

use crate::domain::Patient;
use crate::domain::codes::{AddressUse, NameUse};
use crate::store::db::DbError;
use crate::store::patients::PatientRow;

/// One line of search inputs: what a GP system would type in for a patient.
pub struct Drawn {
    pub nhs_number: String,
    pub family: String,
    pub given: String,
    pub birth_date: String,
    pub gender: &'static str,
    pub postcode: String,
}

/// Up to `count` synthetic patients with a plain usual name, birth date,
/// gender and home postcode, in random order.
pub fn draw(conn: &mut PgConnection, count: i64) -> Result<Vec<Drawn>, DbError> {
    // A block sample several times larger than needed, then shuffled:
    // `ORDER BY random()` over 70 million rows would read them all.
    let rows: Vec<PatientRow> = diesel::sql_query(
        "SELECT p.* FROM patients p TABLESAMPLE SYSTEM (
           least(100, 300.0 * $1 / greatest(1, (SELECT reltuples FROM pg_class WHERE relname = 'patients'))))
         WHERE p.nhs_number >= $2 ORDER BY random()",
    )
    .bind::<Double, _>(count as f64)
    .bind::<BigInt, _>(super::SYNTHETIC_FROM)
    .load(conn)?;
    let mut drawn = Vec::new();
    for row in rows {
        if let Some(d) = inputs(&row.into_patient()?) {
            drawn.push(d);
            if drawn.len() as i64 == count {
                break;
            }
        }
    }
    Ok(drawn)
}

fn inputs(patient: &Patient) -> Option<Drawn> {
    let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic());
    let name = patient
        .details
        .names
        .iter()
        .find(|n| n.name_use == NameUse::Usual)?;
    let family = name.family.clone().filter(|f| plain(f))?;
    let given = name.given.first().filter(|g| plain(g))?.clone();
    let postcode = patient
        .details
        .addresses
        .iter()
        .find(|a| a.address_use == AddressUse::Home)?
        .postal_code
        .as_deref()?
        .replace(' ', "");
    Some(Drawn {
        nhs_number: patient.nhs_number.to_string(),
        family,
        given,
        birth_date: patient.birth_date?.to_string(),
        gender: patient.gender?.code(),
        postcode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed;
    use crate::store::migrate::test_database;

    #[test]
    fn draws_distinct_synthetic_patients_with_every_field() {
        let (_db, mut conn) = test_database("sample_test");
        seed::ensure_seeded(&mut conn, 300, 1).unwrap();
        let drawn = draw(&mut conn, 50).unwrap();
        assert_eq!(drawn.len(), 50);
        let mut numbers: Vec<&str> = drawn.iter().map(|d| d.nhs_number.as_str()).collect();
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), 50, "no patient twice");
        for d in &drawn {
            let n: i64 = d.nhs_number.parse().unwrap();
            assert!(n >= seed::SYNTHETIC_FROM, "not a sandbox patient: {n}");
            let plain = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic());
            assert!(
                plain(&d.family) && plain(&d.given),
                "{} {}",
                d.family,
                d.given
            );
            assert!(chrono::NaiveDate::parse_from_str(&d.birth_date, "%Y-%m-%d").is_ok());
            assert!(["male", "female", "other", "unknown"].contains(&d.gender));
            assert!(!d.postcode.is_empty() && !d.postcode.contains(' '));
        }
    }
}
