//! The `seed` loader against a real database.

use crate::helpers::seeded_database;
use diesel::prelude::*;
use pds::domain::NhsNumber;
use pds::seed;
use pds::store::schema::patients;

fn synthetic(conn: &mut PgConnection) -> Vec<(i64, Vec<u8>)> {
    patients::table
        .filter(patients::nhs_number.ge(seed::SYNTHETIC_FROM))
        .order(patients::nhs_number)
        .select((patients::nhs_number, patients::details))
        .load(conn)
        .unwrap()
}

#[test]
fn reseeding_loads_a_deterministic_population_of_valid_numbers() {
    let db = seeded_database();
    let mut conn = db.connect();

    let report = seed::reseed(&mut conn, 3_000, 42, true).unwrap();
    assert_eq!(report.rows, 3_000);
    let first = synthetic(&mut conn);
    assert_eq!(first.len(), 3_000);
    for (n, _) in &first {
        let parsed = NhsNumber::from_u64(*n as u64).expect("valid check digit");
        assert!(parsed.to_string().starts_with("999"));
    }
    // The sandbox patients are still there.
    let sandbox: i64 = patients::table
        .filter(patients::nhs_number.lt(seed::SYNTHETIC_FROM))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(sandbox, seed::sandbox::rows().0.len() as i64);

    // Loading over an existing population is refused, not duplicated.
    let refused = seed::reseed(&mut conn, 10, 42, false).unwrap_err();
    assert!(refused.to_string().contains("--replace"), "{refused}");

    // The same seed gives byte-identical records; another seed does not.
    seed::reseed(&mut conn, 3_000, 42, true).unwrap();
    assert_eq!(synthetic(&mut conn), first);
    seed::reseed(&mut conn, 3_000, 43, true).unwrap();
    assert_ne!(synthetic(&mut conn), first);
}

#[derive(diesel::QueryableByName)]
struct IndexName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    indexname: String,
}

#[test]
fn a_bulk_load_rebuilds_the_search_indexes_it_dropped() {
    let db = seeded_database();
    let mut conn = db.connect();
    let index_names = |conn: &mut PgConnection| -> Vec<String> {
        let mut names: Vec<String> = diesel::sql_query(
            "SELECT indexname FROM pg_indexes WHERE tablename IN ('patients', 'patient_former_names')",
        )
        .load::<IndexName>(conn)
        .unwrap()
        .into_iter()
        .map(|r| r.indexname)
        .collect();
        names.sort();
        names
    };
    let before = index_names(&mut conn);
    assert!(
        before.contains(&"patients_family_birth".to_string()),
        "{before:?}"
    );

    let report = seed::reseed(&mut conn, 100_000, 5, true).unwrap();
    assert_eq!(report.rows, 100_000);
    assert!(report.index_build > std::time::Duration::ZERO);
    assert_eq!(index_names(&mut conn), before);
}
