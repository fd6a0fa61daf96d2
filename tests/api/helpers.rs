//! Spawns the real application against an isolated database.
//!
//! The databases come from `pds_test_db`: the PostgreSQL server in
//! `DATABASE_URL` when set, else a cluster provisioned under `target/test-pg`
//! (shared by test processes, guarded by a file lock). Each test gets
//! `CREATE DATABASE ... TEMPLATE`, a copy of one migrated and seeded template
//! built once per content fingerprint, so tests run in parallel without
//! seeing each other.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use pds::auth::dev::DevKeys;
use pds::auth::personas::{self, Overrides, Persona};
use pds::config::{AuthSettings, Settings};
use pds::seed;
use pds::startup::Application;
use pds::store::migrate;
use pds_test_db::{Template, TestDatabase};

/// Synthetic patients in the template, beside the sandbox ones.
pub const TEMPLATE_POPULATION: u64 = 500;
pub const TEMPLATE_SEED: u64 = 7;

pub use pds_test_db::target_dir as test_cluster_dir;

/// The migrated and seeded template, built on first use.
fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        Template::get_or_build("pds_tpl", fingerprint(), |conn| {
            migrate::run(conn).expect("migrating the template");
            seed::ensure_seeded(conn, TEMPLATE_POPULATION, TEMPLATE_SEED)
                .expect("seeding the template");
        })
    })
}

/// Changes whenever migrations or seed content change, so a stale template
/// from an earlier run is never reused.
fn fingerprint() -> u64 {
    let mut h = DefaultHasher::new();
    pds_test_db::hash_migrations(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")),
        &mut h,
    );
    for row in seed::sandbox::rows().0 {
        (row.nhs_number, row.security, &row.details).hash(&mut h);
        // The columns beside `details` too: a changed birth date or gender
        // must not reuse a template seeded with the old one.
        (row.birth_date, row.gender, row.deceased_at, row.version).hash(&mut h);
        (row.superseded_by, &row.family_key).hash(&mut h);
    }
    for row in seed::sandbox::related_rows() {
        format!("{row:?}").hash(&mut h);
    }
    format!("{:?}", seed::coverage::rows()).hash(&mut h);
    for g in seed::generator::Population::new(TEMPLATE_SEED).take(TEMPLATE_POPULATION as usize) {
        pds::store::codec::encode(&g.patient.details).hash(&mut h);
    }
    h.finish()
}

/// A database of its own, a copy of the seeded template, dropped when the
/// test ends.
pub fn seeded_database() -> TestDatabase {
    TestDatabase::from_template("pds_test", template())
}

/// The developer key the test servers trust.
pub fn dev_keys() -> &'static DevKeys {
    static KEYS: OnceLock<DevKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        DevKeys::load_or_create(&test_cluster_dir("test-dev-keys")).expect("dev keys")
    })
}

pub fn token(persona: Persona) -> String {
    token_with(persona, &Overrides::default())
}

pub fn token_with(persona: Persona, overrides: &Overrides) -> String {
    let claims = personas::claims(persona, overrides).expect("persona claims");
    dev_keys().mint(&claims).expect("minting")
}

pub fn patient_token(nhs_number: &str) -> String {
    token_with(
        Persona::Patient,
        &Overrides {
            nhs_number: Some(nhs_number.into()),
            ..Overrides::default()
        },
    )
}

pub fn settings() -> Settings {
    dev_keys();
    Settings {
        bind: "127.0.0.1:0".into(),
        database_url: None,
        database_read_url: None,
        routing: pds::store::replica::Routing {
            max_lag: Duration::from_secs(5),
            catch_up: Duration::from_millis(100),
            check_every: Duration::from_millis(100),
        },
        db_wait_at_start: false,
        audit_hold: false,
        pg_data_dir: PathBuf::new(),
        pg_port: 0,
        pool_size: 2,
        write_pool_size: 2,
        // Long enough that a test on a loaded machine (the suite runs its
        // tests in parallel on two cores) is not refused a connection; the
        // tests of the 503 itself set their own, shorter wait.
        db_wait: Duration::from_secs(2),
        workers: 1,
        lookup_threads: 1,
        lookup_queue: 64,
        seed_count: 0,
        seed: 0,
        log_json: false,
        // Off here so busy tests are not throttled; `operations` turns it on.
        rate_limit_per_second: 0,
        rate_limit_burst: 0,
        max_body_bytes: 64 * 1024,
        client_request_timeout: Duration::from_secs(5),
        client_body_timeout: Duration::from_secs(10),
        client_body_idle_timeout: Duration::from_secs(5),
        keep_alive: Duration::from_secs(75),
        shutdown_timeout: Duration::from_secs(1),
        allocation_range: pds::store::allocate::DEFAULT_RANGE,
        auth: AuthSettings {
            jwks_files: Vec::new(),
            jwks_urls: Vec::new(),
            issuers: Vec::new(),
            audience: None,
            hs256_secret: None,
            dev_trust: true,
            dev_keys_dir: test_cluster_dir("test-dev-keys"),
            policy_file: None,
        },
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub app_db: pds::store::db::Db,
    pub auditor: pds::store::audit::Auditor,
    /// Kept so the database outlives the server using it.
    pub database: Option<TestDatabase>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(settings()).await
    }

    pub async fn spawn_with(settings: Settings) -> Self {
        let database = seeded_database();
        let mut app = Self::spawn_on(database.url(), settings);
        app.database = Some(database);
        app
    }

    /// The server against any database URL (the outage tests bring their own).
    pub fn spawn_on(url: &str, settings: Settings) -> Self {
        let app = Application::build(&settings, url).expect("building the app");
        let address = format!("http://127.0.0.1:{}", app.port());
        let app_db = app.db().clone();
        let auditor = app.auditor().clone();
        tokio::spawn(app.run_until_stopped());
        Self {
            address,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            app_db,
            auditor,
            database: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// GET as a clinician with a fresh X-Request-ID, as a GP system would.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_as(path, &token(Persona::Clinician)).await
    }

    pub async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .send()
            .await
            .expect("request failed")
    }

    /// A request builder with a clinician's token but no X-Request-ID.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token(Persona::Clinician))
    }
}

/// The Spine code of an OperationOutcome's first issue.
pub fn spine_code(body: &serde_json::Value) -> &str {
    body["issue"][0]["details"]["coding"][0]["code"]
        .as_str()
        .unwrap_or("<none>")
}

/// A fresh X-Request-ID.
/// A port nothing listens on now, for a server process of a test's own.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The `pds` binary as a process of a test's own, on `database_url` and
/// `127.0.0.1:port`, trusting the test developer key; the caller adds what
/// its test needs and spawns it.
pub fn server_command(database_url: &str, port: u16) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pds"));
    command
        .env("DATABASE_URL", database_url)
        .env("AUTH_DEV_TRUST", "true")
        .env("DEV_KEYS_DIR", test_cluster_dir("test-dev-keys"))
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("SEED_COUNT", "0")
        .env_remove("CONFIG_FILE")
        .stdout(std::process::Stdio::null());
    command
}

/// Waits (30 s at most) until the server at `base` answers `/_ping`.
pub async fn wait_until_serving(client: &reqwest::Client, base: &str) {
    let started = std::time::Instant::now();
    while client.get(format!("{base}/_ping")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A request with this token and X-Request-ID; the answer's status, ETag
/// and JSON body (Null when the body is not JSON).
pub async fn send_as(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    request_id: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> (u16, Option<String>, serde_json::Value) {
    let mut r = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("X-Request-ID", request_id);
    for (name, value) in headers {
        r = r.header(*name, *value);
    }
    if let Some(body) = body {
        r = r.body(body.to_string());
    }
    let response = r.send().await.expect("request failed");
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    (
        status,
        etag,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// `POST /Patient` with a PatientCreateRequest.
pub async fn post_as(
    app: &TestApp,
    token: &str,
    request_id: &str,
    body: &serde_json::Value,
) -> (u16, Option<String>, serde_json::Value) {
    send_as(
        app,
        reqwest::Method::POST,
        "/Patient",
        token,
        request_id,
        &[("Content-Type", "application/fhir+json")],
        Some(body),
    )
    .await
}

/// A JSON Patch as a GP system sends it, with `If-Match`.
pub async fn patch_as(
    app: &TestApp,
    path: &str,
    if_match: &str,
    patch: &serde_json::Value,
    token: &str,
    request_id: &str,
) -> (u16, Option<String>, serde_json::Value) {
    send_as(
        app,
        reqwest::Method::PATCH,
        path,
        token,
        request_id,
        &[
            ("If-Match", if_match),
            ("Content-Type", "application/json-patch+json"),
        ],
        Some(patch),
    )
    .await
}

/// One row of the audit trail, as `audit_trail` shows it.
#[derive(Debug, Clone, QueryableByName)]
pub struct AuditRow {
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub request_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub access_mode: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub level: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub action: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub user_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub role_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub client_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    pub nhs_number: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::BigInt>>)]
    pub other_nhs_numbers: Option<Vec<i64>>,
    #[diesel(sql_type = diesel::sql_types::SmallInt)]
    pub status: i16,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub redacted: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub sensitive_override: bool,
}

impl TestApp {
    /// A connection to this test's own database.
    pub fn connect(&self) -> PgConnection {
        self.database
            .as_ref()
            .expect("a test database of its own")
            .connect()
    }

    /// The audit rows of one X-Request-ID, read at once (no flush: an
    /// answer is only sent once its row is committed).
    pub fn audit_of(&self, request_id: &str) -> Vec<AuditRow> {
        diesel::sql_query(
            "SELECT request_id, access_mode, level, action, user_id, role_id, client_id, \
             nhs_number, other_nhs_numbers, status, redacted, sensitive_override \
             FROM audit_trail WHERE request_id = $1 ORDER BY at",
        )
        .bind::<Text, _>(request_id)
        .load(&mut self.connect())
        .expect("reading the audit trail")
    }

    /// Runs SQL on this test's database (to set up what the API cannot,
    /// such as a record's security label).
    pub fn execute(&self, sql: &str) {
        self.connect().batch_execute(sql).expect(sql);
    }
}
