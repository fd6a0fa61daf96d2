//! Databases of their own for tests: the one test-database helper of the
//! `pds` unit tests and its end-to-end suite, a dev-dependency only (nothing
//! here ships in the service). Modelled on crates.io's `test-db` crate:
//!
//! * a [`Template`], built once per content fingerprint by a closure the
//!   caller passes (migrations, seed data), and kept for later runs;
//! * [`TestDatabase::from_template`]: a copy of it for one test
//!   (`CREATE DATABASE … TEMPLATE`, a file copy, much faster than migrating);
//! * [`TestDatabase::empty`]: an empty database, not even migrated;
//! * [`TestDatabase::reserve`]: a name only, the database created later
//!   ([`TestDatabase::create_from`], [`TestDatabase::create_empty`]), for a
//!   client that must start while its database is not there yet.
//!
//! Each test database has a random name and is dropped (connections and
//! all) when the value goes out of scope, so tests run in parallel without
//! seeing each other. The server is the one in `DATABASE_URL` when set, else
//! a cluster provisioned under the workspace's `target/test-pg` (shared by
//! test processes; the provisioning takes a file lock).
//!
//! It does not depend on `pds`: what goes into a template is the caller's.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

use pds_local_pg::LocalCluster;

/// Port of the test cluster (the server's own cluster defaults to another).
const TEST_CLUSTER_PORT: u16 = 5434;

/// Session advisory lock held while a template is looked up or built: one
/// builder at a time across test processes.
const TEMPLATE_LOCK: i64 = 724242;

/// A maintenance-database URL on the test server: `DATABASE_URL` when set,
/// else the cluster under `target/test-pg`, started if need be.
pub fn server_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => LocalCluster::ensure_running(&target_dir("test-pg"), TEST_CLUSTER_PORT)
            .expect("provisioning the test PostgreSQL cluster")
            .database_url("postgres"),
    })
    .clone()
}

/// A path under the workspace's `target/` directory (this crate lives in
/// `<workspace>/crates/test-db`).
pub fn target_dir(name: &str) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest.parent().and_then(Path::parent).unwrap_or(manifest);
    workspace.join("target").join(name)
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

/// Feeds a diesel migrations directory (each migration's name and `up.sql`,
/// in name order) into a template's fingerprint.
pub fn hash_migrations(dir: &Path, h: &mut impl Hasher) {
    let mut migrations: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading the migrations in {}: {e}", dir.display()))
        .flatten()
        .map(|entry| entry.path())
        .collect();
    migrations.sort();
    for m in migrations {
        m.file_name().hash(h);
        if let Ok(up) = std::fs::read(m.join("up.sql")) {
            up.hash(h);
        }
    }
}

/// A database marked `IS_TEMPLATE`, for [`TestDatabase::from_template`].
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
}

#[derive(QueryableByName)]
struct IsTemplate {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

impl Template {
    /// The template `<prefix>_<fingerprint>`, built by `fill` (given a
    /// connection to the new, empty database) unless an earlier run or
    /// another test process has built it. The fingerprint must change
    /// whenever what `fill` puts in changes, so a stale template is never
    /// reused; a build that died half way is started again.
    pub fn get_or_build(
        prefix: &str,
        fingerprint: u64,
        fill: impl FnOnce(&mut PgConnection),
    ) -> Template {
        static BUILT: Mutex<Option<HashSet<String>>> = Mutex::new(None);
        let name = format!("{prefix}_{fingerprint:016x}");
        let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
        let built = built.get_or_insert_with(HashSet::new);
        if !built.contains(&name) {
            build_template(&server_url(), &name, fill);
            built.insert(name.clone());
        }
        Template { name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

fn build_template(admin_url: &str, name: &str, fill: impl FnOnce(&mut PgConnection)) {
    let mut admin = admin_connection(admin_url);
    // Released when `admin` closes, also if `fill` panics.
    admin
        .batch_execute(&format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})"))
        .expect("taking the template lock");
    let found: Vec<IsTemplate> =
        diesel::sql_query("SELECT datistemplate AS flag FROM pg_database WHERE datname = $1")
            .bind::<Text, _>(name)
            .load(&mut admin)
            .expect("looking up the template");
    match found.first().map(|t| t.flag) {
        Some(true) => {}
        found => {
            if found.is_some() {
                // A build that died half way: start again.
                admin
                    .batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
                    .expect("dropping a broken template");
            }
            admin
                .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .expect("creating the template");
            let mut conn = PgConnection::establish(&with_database(admin_url, name))
                .expect("connecting to the template");
            fill(&mut conn);
            drop(conn);
            admin
                .batch_execute(&format!("ALTER DATABASE \"{name}\" IS_TEMPLATE true"))
                .expect("marking the template");
        }
    }
    admin
        .batch_execute(&format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK})"))
        .expect("releasing the template lock");
}

/// A connection to the maintenance database; fails loudly, rather than
/// letting a test pass silently, when there is no server.
fn admin_connection(admin_url: &str) -> PgConnection {
    PgConnection::establish(admin_url).unwrap_or_else(|e| {
        panic!(
            "this test needs PostgreSQL at {admin_url} \
             (DATABASE_URL, else the cluster in target/test-pg): {e}"
        )
    })
}

/// A database of one test's own, dropped when the value goes out of scope.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDatabase {
    /// A copy of `template`, named `<prefix>_<random>`.
    pub fn from_template(prefix: &str, template: &Template) -> Self {
        let db = Self::reserve(prefix);
        db.create_from(template);
        db
    }

    /// An empty database (no migrations), named `<prefix>_<random>`.
    pub fn empty(prefix: &str) -> Self {
        let db = Self::reserve(prefix);
        db.create_empty();
        db
    }

    /// A name on the test server, `<prefix>_<random>`, with no database
    /// behind it yet: connections fail until `create_from` or
    /// `create_empty`.
    pub fn reserve(prefix: &str) -> Self {
        let admin_url = server_url();
        admin_connection(&admin_url);
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        Self {
            url: with_database(&admin_url, &name),
            name,
            admin_url,
        }
    }

    /// Creates the reserved database as a copy of `template`.
    pub fn create_from(&self, template: &Template) {
        self.create(&format!(" TEMPLATE \"{}\"", template.name));
    }

    /// Creates the reserved database, empty.
    pub fn create_empty(&self) {
        self.create("");
    }

    fn create(&self, options: &str) {
        admin_connection(&self.admin_url)
            .batch_execute(&format!("CREATE DATABASE \"{}\"{options}", self.name))
            .unwrap_or_else(|e| panic!("creating the test database {}: {e}", self.name));
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("test database connection")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Errors ignored: it may never have been created, or be gone.
        if let Ok(mut admin) = PgConnection::establish(&self.admin_url) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::sql_types::BigInt;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    fn count(conn: &mut PgConnection, sql: &str) -> i64 {
        diesel::sql_query(sql)
            .get_result::<Count>(conn)
            .expect(sql)
            .n
    }

    fn exists(name: &str) -> bool {
        let mut admin = admin_connection(&server_url());
        let sql = format!("SELECT count(*) AS n FROM pg_database WHERE datname = '{name}'");
        count(&mut admin, &sql) == 1
    }

    #[test]
    fn a_template_is_built_once_and_every_copy_is_its_own() {
        // A fingerprint no other run has used, so this run builds it.
        let fingerprint = uuid::Uuid::new_v4().as_u64_pair().0;
        let fills = AtomicUsize::new(0);
        let fill = |conn: &mut PgConnection| {
            fills.fetch_add(1, Ordering::SeqCst);
            conn.batch_execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1);")
                .expect("filling the template");
        };
        let template = Template::get_or_build("test_db_tpl", fingerprint, fill);
        let _cleanup = DropTemplate(template.name().to_owned());
        let again = Template::get_or_build("test_db_tpl", fingerprint, fill);
        assert_eq!(fills.load(Ordering::SeqCst), 1);
        assert_eq!(again.name(), template.name());

        let a = TestDatabase::from_template("test_db_copy", &template);
        let b = TestDatabase::from_template("test_db_copy", &template);
        assert_ne!(a.name(), b.name());
        a.connect()
            .batch_execute("INSERT INTO t VALUES (2)")
            .expect("writing to one copy");
        assert_eq!(count(&mut a.connect(), "SELECT count(*) AS n FROM t"), 2);
        assert_eq!(count(&mut b.connect(), "SELECT count(*) AS n FROM t"), 1);

        let name = a.name().to_owned();
        drop(a);
        assert!(!exists(&name), "dropped with the value");
    }

    /// Drops a template this test made, also when the test fails.
    struct DropTemplate(String);

    impl Drop for DropTemplate {
        fn drop(&mut self) {
            let mut admin = admin_connection(&server_url());
            for sql in [
                "ALTER DATABASE \"{}\" IS_TEMPLATE false",
                "DROP DATABASE \"{}\"",
            ] {
                let _ = admin.batch_execute(&sql.replace("{}", &self.0));
            }
        }
    }

    #[test]
    fn a_reserved_database_exists_once_created() {
        let db = TestDatabase::reserve("test_db_reserved");
        assert!(PgConnection::establish(db.url()).is_err(), "not there yet");
        assert!(!exists(db.name()));
        db.create_empty();
        let tables = count(
            &mut db.connect(),
            "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'",
        );
        assert_eq!(tables, 0, "empty");

        let empty = TestDatabase::empty("test_db_empty");
        assert!(exists(empty.name()));
    }

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
