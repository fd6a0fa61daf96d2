//! Spawns the real application against an isolated database.
//!
//! The PostgreSQL server is the one in `DATABASE_URL` when set, else a
//! cluster this suite provisions under `target/test-pg` (shared by test
//! processes, guarded by a file lock). Each test gets `CREATE DATABASE ...
//! TEMPLATE`, a copy of one migrated and seeded template built once per
//! content fingerprint, so tests run in parallel without seeing each other.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use pds::config::Settings;
use pds::startup::Application;
use pds::store::provision::LocalCluster;
use pds::store::{migrate, seed};

/// Synthetic patients in the template, beside the sandbox ones.
pub const TEMPLATE_POPULATION: u64 = 500;
pub const TEMPLATE_SEED: u64 = 7;

pub struct TestServer {
    /// URL of a maintenance database on the server (to create databases).
    admin_url: String,
    template: String,
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

pub fn test_cluster_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(name)
}

fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let admin_url = match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => LocalCluster::ensure_running(&test_cluster_dir("test-pg"), 5434)
                .expect("provisioning the test PostgreSQL cluster")
                .database_url("postgres"),
        };
        let template = format!("pds_tpl_{:016x}", fingerprint());
        build_template(&admin_url, &template);
        TestServer {
            admin_url,
            template,
        }
    })
}

/// Changes whenever migrations or seed content change, so a stale template
/// from an earlier run is never reused.
fn fingerprint() -> u64 {
    let mut h = DefaultHasher::new();
    for m in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("migrations dir")
        .flatten()
    {
        m.file_name().hash(&mut h);
        if let Ok(up) = std::fs::read(m.path().join("up.sql")) {
            up.hash(&mut h);
        }
    }
    for row in seed::sandbox::rows() {
        (row.nhs_number, row.security, &row.details).hash(&mut h);
    }
    for g in seed::generator::Population::new(TEMPLATE_SEED).take(TEMPLATE_POPULATION as usize) {
        pds::store::codec::encode(&g.patient.details).hash(&mut h);
    }
    h.finish()
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    flag: bool,
}

fn build_template(admin_url: &str, template: &str) {
    let mut admin = PgConnection::establish(admin_url).expect("connecting to the test server");
    // One builder at a time across test processes.
    admin
        .batch_execute("SELECT pg_advisory_lock(724242)")
        .expect("lock");
    let ready: Vec<Flag> =
        diesel::sql_query("SELECT datistemplate AS flag FROM pg_database WHERE datname = $1")
            .bind::<Text, _>(template)
            .load(&mut admin)
            .expect("looking up the template");
    match ready.first().map(|f| f.flag) {
        Some(true) => {}
        found => {
            if found.is_some() {
                // A build that died half way: start again.
                admin
                    .batch_execute(&format!("DROP DATABASE \"{template}\" WITH (FORCE)"))
                    .expect("dropping a broken template");
            }
            admin
                .batch_execute(&format!("CREATE DATABASE \"{template}\""))
                .expect("creating the template");
            let mut conn = PgConnection::establish(&with_database(admin_url, template))
                .expect("connecting to the template");
            migrate::run(&mut conn).expect("migrating the template");
            seed::ensure_seeded(&mut conn, TEMPLATE_POPULATION, TEMPLATE_SEED)
                .expect("seeding the template");
            drop(conn);
            admin
                .batch_execute(&format!("ALTER DATABASE \"{template}\" IS_TEMPLATE true"))
                .expect("marking the template");
        }
    }
    admin
        .batch_execute("SELECT pg_advisory_unlock(724242)")
        .expect("unlock");
}

/// A database of its own, dropped when the test ends.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    admin_url: String,
}

impl TestDatabase {
    pub fn new() -> Self {
        let server = server();
        let name = format!("pds_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&server.admin_url).expect("admin connection");
        admin
            .batch_execute(&format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{}\"",
                server.template
            ))
            .expect("cloning the template");
        Self {
            url: with_database(&server.admin_url, &name),
            name,
            admin_url: server.admin_url.clone(),
        }
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("test database connection")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&self.admin_url) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

pub fn settings() -> Settings {
    Settings {
        bind: "127.0.0.1:0".into(),
        database_url: None,
        pg_data_dir: PathBuf::new(),
        pg_port: 0,
        pool_size: 2,
        db_wait: Duration::from_millis(500),
        workers: 1,
        seed_count: 0,
        seed: 0,
        log_json: false,
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub app_db: pds::store::db::Db,
    /// Kept so the database outlives the server using it.
    pub database: Option<TestDatabase>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(settings()).await
    }

    pub async fn spawn_with(settings: Settings) -> Self {
        let database = TestDatabase::new();
        let mut app = Self::spawn_on(&database.url, settings);
        app.database = Some(database);
        app
    }

    /// The server against any database URL (the outage tests bring their own).
    pub fn spawn_on(url: &str, settings: Settings) -> Self {
        let app = Application::build(&settings, url).expect("building the app");
        let address = format!("http://127.0.0.1:{}", app.port());
        let app_db = app.db().clone();
        tokio::spawn(app.run_until_stopped());
        Self {
            address,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            app_db,
            database: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// GET with a fresh X-Request-ID, as every well-behaved client sends.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .send()
            .await
            .expect("request failed")
    }
}

/// The Spine code of an OperationOutcome's first issue.
pub fn spine_code(body: &serde_json::Value) -> &str {
    body["issue"][0]["details"]["coding"][0]["code"]
        .as_str()
        .unwrap_or("<none>")
}
