//! Migrations are embedded in the binary and run at start-up.

use diesel::sql_types::BigInt;
use diesel::{PgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The advisory lock migrations (and the start-up seed) hold, so that
/// processes migrating one database at once take turns (`pds-prep` in
/// ASCII).
pub const LOCK: i64 = 0x7064_732d_7072_6570;

/// Applies pending migrations under [`LOCK`] (a session lock: reentrant,
/// and released if the process dies); returns the versions it applied.
pub fn run(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    lock(conn)?;
    let applied: anyhow::Result<Vec<String>> = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.iter().map(|v| v.to_string()).collect())
        .map_err(|e| anyhow::anyhow!("running migrations: {e}"));
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(LOCK)
        .execute(conn)?;
    applied
}

/// Waits for [`LOCK`]; it is held until unlocked or the session ends.
pub fn lock(conn: &mut PgConnection) -> anyhow::Result<()> {
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(LOCK)
        .execute(conn)
        .map_err(|e| anyhow::anyhow!("waiting for the lock on migrations: {e}"))?;
    Ok(())
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
