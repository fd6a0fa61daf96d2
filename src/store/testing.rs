//! Shared by the unit and end-to-end tests: which PostgreSQL server to test
//! against, and URLs for databases on it.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use std::path::PathBuf;

use pds_local_pg::LocalCluster;

/// A maintenance-database URL on the test server: `DATABASE_URL` when set,
/// else a cluster provisioned under `target/test-pg` (shared by test
/// processes; the provisioning takes a file lock).
pub fn server_url() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => LocalCluster::ensure_running(&target_dir("test-pg"), 5434)
            .expect("provisioning the test PostgreSQL cluster")
            .database_url("postgres"),
    }
}

/// A path under this crate's `target/` directory.
pub fn target_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(name)
}

/// Replaces the database name in a libpq URL, keeping host and options.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let prefix = match base.rfind('/') {
        Some(i) if i > base.find("//").map_or(0, |j| j + 1) => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

/// Drops database `name` on the server at `admin_url`, connections and all;
/// for test databases going out of scope (errors ignored: it may be gone).
pub fn drop_database(admin_url: &str, name: &str) {
    if let Ok(mut admin) = PgConnection::establish(admin_url) {
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
    }
}

/// A migrated database of its own for a unit test, dropped at the end.
pub struct ScratchDb {
    name: String,
    admin: String,
}

impl ScratchDb {
    pub fn new(prefix: &str) -> (Self, PgConnection) {
        let admin = server_url();
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        PgConnection::establish(&admin)
            .expect("this test needs PostgreSQL (DATABASE_URL or target/test-pg)")
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .expect("creating a scratch database");
        let mut conn = PgConnection::establish(&with_database(&admin, &name))
            .expect("connecting to the scratch database");
        super::migrate::run(&mut conn).expect("migrating the scratch database");
        (Self { name, admin }, conn)
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        drop_database(&self.admin, &self.name);
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_only_the_database_name() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://postgres@/postgres?host=/tmp/s&port=5434", "x"),
            "postgres://postgres@/x?host=/tmp/s&port=5434"
        );
    }
}
