//! Migrations are embedded in the binary and run at start-up.

use diesel::PgConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Applies pending migrations; returns the versions it applied.
pub fn run(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("running migrations: {e}"))?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}

/// A migrated database of its own for a unit test (a copy of a template
/// migrated once per set of migrations), and a connection to it.
#[cfg(test)]
pub(crate) fn test_database(prefix: &str) -> (pds_test_db::TestDatabase, PgConnection) {
    let db = pds_test_db::TestDatabase::from_template(prefix, &test_template());
    let conn = db.connect();
    (db, conn)
}

/// The migrated template of the unit tests (see `test_database`).
#[cfg(test)]
pub(crate) fn test_template() -> pds_test_db::Template {
    use std::hash::{DefaultHasher, Hasher};
    let mut h = DefaultHasher::new();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    pds_test_db::hash_migrations(std::path::Path::new(dir), &mut h);
    pds_test_db::Template::get_or_build("pds_migrated", h.finish(), |conn| {
        run(conn).expect("migrating the template");
    })
}
