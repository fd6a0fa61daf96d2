//! Reads on a standby (`DATABASE_READ_URL`): routing, the lag fallback,
//! read-your-writes with replay paused, and the primary going away. Each
//! test has a primary and a streaming standby of its own (real clusters,
//! cloned with pg_basebackup), because each pauses or stops them.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use pds::auth::personas::Persona;
use pds::config::Settings;
use pds::seed;
use pds::store::migrate;
use pds_local_pg::LocalCluster;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::helpers::{TestApp, patch_as, rid, settings, test_cluster_dir, token};

const JANE: &str = "/Patient/9000000009";
const SEARCH: &str = "/Patient?family=Smith&birthdate=eq2010-10-22";

/// A primary and its standby, stopped and removed when the test ends.
struct Pair {
    root: PathBuf,
    primary: LocalCluster,
    standby: LocalCluster,
}

impl Pair {
    /// On `port` (the primary) and `port + 1` (the standby), seeded with the
    /// sandbox patients and a few synthetic ones.
    fn start(name: &str, port: u16) -> Self {
        let root = test_cluster_dir(&format!("replica-{name}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&root).unwrap();
        let primary = LocalCluster::ensure_running(&root.join("primary"), port).expect("primary");
        let mut conn = PgConnection::establish(&primary.database_url("postgres")).unwrap();
        migrate::run(&mut conn).unwrap();
        seed::ensure_seeded(&mut conn, 10, 1).unwrap();
        let standby = LocalCluster::ensure_standby(&primary, &root.join("standby"), port + 1)
            .expect("standby");
        Self {
            root,
            primary,
            standby,
        }
    }

    fn primary_url(&self) -> String {
        self.primary.database_url("postgres")
    }

    fn standby_url(&self) -> String {
        self.standby.database_url("postgres")
    }

    fn on_standby(&self, sql: &str) {
        PgConnection::establish(&self.standby_url())
            .unwrap()
            .batch_execute(sql)
            .expect(sql);
    }

    /// Jane's version as the standby has it now.
    fn standby_version(&self) -> i64 {
        let mut conn = PgConnection::establish(&self.standby_url()).unwrap();
        diesel::select(diesel::dsl::sql::<BigInt>(
            "(SELECT version::bigint FROM patients WHERE nhs_number = 9000000009)",
        ))
        .get_result(&mut conn)
        .unwrap()
    }

    /// A server whose reads go to the standby.
    fn app(&self, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = settings();
        settings.database_read_url = Some(self.standby_url());
        tweak(&mut settings);
        TestApp::spawn_on(&self.primary_url(), settings)
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = self.standby.stop();
        let _ = self.primary.stop();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// One sample of `/metrics`, e.g. `pds_db_reads_total{lane="retrieve",target="standby"}`.
async fn metric(app: &TestApp, series: &str) -> f64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn reads(lane: &str, target: &str) -> String {
    format!("pds_db_reads_total{{lane=\"{lane}\",target=\"{target}\"}}")
}

async fn status(app: &TestApp) -> (u16, Value) {
    let response = app.client.get(app.url("/_status")).send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// Waits (10 s at most) until `/_status` satisfies `done`.
async fn status_until(app: &TestApp, what: &str, done: impl Fn(u16, &Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, body) = status(app).await;
        if done(code, &body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{what}: {code} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn read_check(body: &Value) -> &Value {
    &body["checks"]["database"][1]
}

async fn patch_gender(app: &TestApp, version: u32, gender: &str) -> (u16, Option<String>) {
    let body = json!([{"op": "replace", "path": "/gender", "value": gender}]);
    let (code, etag, _) = patch_as(
        app,
        JANE,
        &format!("W/\"{version}\""),
        &body,
        &token(Persona::Clinician),
        &rid(),
    )
    .await;
    (code, etag)
}

async fn retrieve(app: &TestApp) -> (u16, Option<String>, Value) {
    let response = app.get(JANE).await;
    let code = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    (code, etag, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn reads_go_to_the_standby_and_writes_to_the_primary() {
    let pair = Pair::start("routing", 5450);
    let app = pair.app(|_| {});
    status_until(&app, "the read target checked", |code, body| {
        code == 200 && read_check(body)["status"] == "pass"
    })
    .await;
    let body = status_until(&app, "both sides pass", |_, body| {
        body["checks"]["database"][0]["status"] == "pass"
    })
    .await;
    assert_eq!(read_check(&body)["role"], "standby", "{body}");

    assert_eq!(retrieve(&app).await.0, 200);
    assert_eq!(app.get(SEARCH).await.status(), 200);
    assert_eq!(
        app.get(&format!("{JANE}/_history")).await.status(),
        200,
        "history"
    );
    assert_eq!(metric(&app, &reads("retrieve", "standby")).await, 1.0);
    assert_eq!(metric(&app, &reads("search", "standby")).await, 1.0);
    assert_eq!(metric(&app, &reads("history", "standby")).await, 1.0);
    assert_eq!(metric(&app, &reads("retrieve", "primary")).await, 0.0);

    // The write goes to the primary (a standby would refuse it), and the
    // next read, on the standby, shows it.
    assert_eq!(
        patch_gender(&app, 2, "male").await,
        (200, Some("W/\"3\"".into()))
    );
    let (code, etag, body) = retrieve(&app).await;
    assert_eq!((code, etag.as_deref()), (200, Some("W/\"3\"")));
    assert_eq!(body["gender"], "male");
    assert_eq!(pair.standby_version(), 3);
    // Its audit row was written on the primary, through the audit writer.
    let mut primary = PgConnection::establish(&pair.primary_url()).unwrap();
    let retrieves: i64 = diesel::select(diesel::dsl::sql::<BigInt>(
        "(SELECT count(*) FROM audit_trail WHERE action = 'retrieve')",
    ))
    .get_result(&mut primary)
    .unwrap();
    assert_eq!(retrieves, 2);
}

#[tokio::test]
async fn a_paused_standby_still_reads_your_writes() {
    let pair = Pair::start("paused", 5452);
    // A lag limit far above the test: only the fence keeps reads right.
    let app = pair.app(|s| s.routing.max_lag = Duration::from_secs(600));
    status_until(&app, "the read target checked", |_, body| {
        read_check(body)["status"] == "pass"
    })
    .await;
    pair.on_standby("SELECT pg_wal_replay_pause()");

    assert_eq!(patch_gender(&app, 2, "male").await.0, 200);
    // The standby has not seen the write...
    assert_eq!(pair.standby_version(), 2);
    // ...so the read goes to the primary and shows it, through any
    // instance: a second server that did not make the write too.
    let other = pair.app(|s| s.routing.max_lag = Duration::from_secs(600));
    status_until(&other, "the read target checked", |_, body| {
        read_check(body)["status"] == "pass"
    })
    .await;
    for server in [&app, &other] {
        let (code, etag, body) = retrieve(server).await;
        assert_eq!((code, etag.as_deref()), (200, Some("W/\"3\"")));
        assert_eq!(body["gender"], "male");
        let search = server.get(SEARCH).await;
        assert_eq!(search.status(), 200);
        let found: Value = search.json().await.unwrap();
        assert_eq!(found["entry"][0]["resource"]["gender"], "male", "{found}");
        assert!(metric(server, "pds_db_reads_behind_total").await >= 2.0);
        assert_eq!(metric(server, &reads("retrieve", "standby")).await, 0.0);
    }
    // A further write, then replay resumes: reads are the standby's again.
    assert_eq!(patch_gender(&other, 3, "female").await.0, 200);
    pair.on_standby("SELECT pg_wal_replay_resume()");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pair.standby_version() < 4 {
        assert!(Instant::now() < deadline, "the standby did not catch up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, etag, body) = retrieve(&app).await;
    assert_eq!((code, etag.as_deref()), (200, Some("W/\"4\"")));
    assert_eq!(body["gender"], "female");
    assert_eq!(metric(&app, &reads("retrieve", "standby")).await, 1.0);
}

#[tokio::test]
async fn a_standby_far_behind_sends_reads_to_the_primary() {
    let pair = Pair::start("lagging", 5454);
    let app = pair.app(|s| s.routing.max_lag = Duration::from_millis(300));
    status_until(&app, "the read target checked", |_, body| {
        read_check(body)["status"] == "pass"
    })
    .await;
    assert_eq!(metric(&app, "pds_replica_usable").await, 1.0);
    pair.on_standby("SELECT pg_wal_replay_pause()");
    // The primary moves on; the standby does not.
    PgConnection::establish(&pair.primary_url())
        .unwrap()
        .batch_execute("CREATE TABLE moved_on AS SELECT 1 AS n")
        .unwrap();
    let body = status_until(&app, "the standby reported behind", |_, body| {
        read_check(body)["status"] == "fail"
    })
    .await;
    assert_eq!(body["status"], "pass", "reads are still served: {body}");
    assert!(
        read_check(&body)["outcome"]
            .as_str()
            .unwrap()
            .contains("reads go to the primary"),
        "{body}"
    );
    assert!(read_check(&body)["observedValue"].as_u64().unwrap() > 300);
    assert_eq!(metric(&app, "pds_replica_usable").await, 0.0);
    assert!(metric(&app, "pds_replica_lag_seconds").await > 0.3);

    assert_eq!(retrieve(&app).await.0, 200);
    assert_eq!(app.get(SEARCH).await.status(), 200);
    assert_eq!(metric(&app, &reads("retrieve", "primary")).await, 1.0);
    assert_eq!(metric(&app, &reads("search", "primary")).await, 1.0);
    assert_eq!(metric(&app, &reads("retrieve", "standby")).await, 0.0);

    pair.on_standby("SELECT pg_wal_replay_resume()");
    status_until(&app, "the standby caught up", |_, body| {
        read_check(body)["status"] == "pass"
    })
    .await;
    assert_eq!(retrieve(&app).await.0, 200);
    assert_eq!(metric(&app, &reads("retrieve", "standby")).await, 1.0);
}

#[tokio::test]
async fn a_standby_that_stops_answering_sends_reads_to_the_primary() {
    let pair = Pair::start("stopped", 5460);
    let app = pair.app(|_| {});
    status_until(&app, "the read target checked", |_, body| {
        read_check(body)["status"] == "pass"
    })
    .await;
    assert_eq!(retrieve(&app).await.0, 200);
    assert_eq!(metric(&app, &reads("retrieve", "standby")).await, 1.0);
    pair.standby.stop().expect("stopping the standby");
    // Whether or not the checker has noticed yet: 200, from the primary.
    for _ in 0..3 {
        assert_eq!(retrieve(&app).await.0, 200);
        assert_eq!(app.get(SEARCH).await.status(), 200);
    }
    assert_eq!(metric(&app, &reads("retrieve", "primary")).await, 3.0);
    assert_eq!(metric(&app, &reads("search", "primary")).await, 3.0);
    let body = status_until(&app, "the standby reported down", |_, body| {
        read_check(body)["status"] == "fail"
    })
    .await;
    assert_eq!(body["status"], "pass", "{body}");
    assert_eq!(metric(&app, "pds_replica_usable").await, 0.0);
    // It comes back: reads go to it again, without a restart.
    pair.standby.start().expect("restarting the standby");
    status_until(&app, "the standby back", |_, body| {
        read_check(body)["status"] == "pass"
    })
    .await;
    // (The first reads may still find its pool reconnecting.)
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&app, &reads("retrieve", "standby")).await < 2.0 {
        assert_eq!(retrieve(&app).await.0, 200);
        assert!(
            Instant::now() < deadline,
            "reads did not return to the standby"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A libpq multi-host URL naming both servers, the standby first.
fn both(pair: &Pair, attrs: &str) -> String {
    format!(
        "postgres://postgres@/postgres?host={},{}&port={},{}&target_session_attrs={attrs}",
        pair.standby.socket_dir().display(),
        pair.primary.socket_dir().display(),
        pair.standby.port(),
        pair.primary.port(),
    )
}

#[tokio::test]
async fn multi_host_urls_find_the_primary_for_writes_and_the_standby_for_reads() {
    let pair = Pair::start("multi-host", 5462);
    let mut settings = settings();
    settings.database_read_url = Some(both(&pair, "prefer-standby"));
    let app = TestApp::spawn_on(&both(&pair, "read-write"), settings);
    let body = status_until(&app, "the read target checked", |code, body| {
        code == 200 && read_check(body)["status"] == "pass"
    })
    .await;
    assert_eq!(read_check(&body)["role"], "standby", "{body}");
    assert_eq!(patch_gender(&app, 2, "male").await.0, 200);
    let (code, etag, _) = retrieve(&app).await;
    assert_eq!((code, etag.as_deref()), (200, Some("W/\"3\"")));
    assert_eq!(metric(&app, &reads("retrieve", "standby")).await, 1.0);
}

#[tokio::test]
async fn a_read_url_that_reaches_a_primary_serves_reads_there() {
    let pair = Pair::start("primary-read", 5456);
    let mut settings = settings();
    settings.database_read_url = Some(pair.primary_url());
    let app = TestApp::spawn_on(&pair.primary_url(), settings);
    let body = status_until(&app, "the read target checked", |_, body| {
        read_check(body)["status"] == "pass"
    })
    .await;
    assert_eq!(read_check(&body)["role"], "primary", "{body}");
    assert_eq!(retrieve(&app).await.0, 200);
    assert_eq!(patch_gender(&app, 2, "male").await.0, 200);
    assert_eq!(retrieve(&app).await.1.as_deref(), Some("W/\"3\""));
}

#[tokio::test]
async fn without_its_primary_the_service_serves_reads_and_refuses_writes_with_503() {
    let pair = Pair::start("failover", 5458);
    let app = pair.app(|s| s.audit_hold = true);
    status_until(&app, "the read target checked", |_, body| {
        read_check(body)["status"] == "pass"
    })
    .await;
    pair.primary.stop().expect("stopping the primary");

    let body = status_until(&app, "the primary reported failing", |_, body| {
        body["checks"]["database"][0]["status"] == "fail"
    })
    .await;
    assert_eq!(body["status"], "pass", "{body}");
    assert_eq!(read_check(&body)["status"], "pass", "{body}");

    // Reads: 200 once the audit writer knows the primary is gone (before
    // that, at most a 503 while its commit waits), never anything else.
    let deadline = Instant::now() + Duration::from_secs(10);
    let request_id = loop {
        let request_id = rid();
        let response = app
            .client
            .get(app.url(JANE))
            .bearer_auth(token(Persona::Clinician))
            .header("X-Request-ID", &request_id)
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => break request_id,
            503 => assert!(Instant::now() < deadline, "reads not served"),
            other => panic!("retrieve answered {other}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(app.get(SEARCH).await.status(), 200);
    assert!(metric(&app, "pds_audit_held_total").await >= 2.0);

    // Writes: 503 with Retry-After, quickly.
    let started = Instant::now();
    let body = json!([{"op": "replace", "path": "/gender", "value": "male"}]);
    let response = app
        .client
        .patch(app.url(JANE))
        .bearer_auth(token(Persona::Clinician))
        .header("X-Request-ID", rid())
        .header("If-Match", "W/\"2\"")
        .header("Content-Type", "application/json-patch+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert!(started.elapsed() < Duration::from_secs(5));

    // The primary returns: writes work again and the held audit rows are
    // written, the retrieve's among them.
    pair.primary.start().expect("restarting the primary");
    let deadline = Instant::now() + Duration::from_secs(15);
    while patch_gender(&app, 2, "male").await.0 != 200 {
        assert!(Instant::now() < deadline, "writes did not come back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(app.auditor.flush(Duration::from_secs(10)));
    let mut primary = PgConnection::establish(&pair.primary_url()).unwrap();
    let rows: i64 = diesel::sql_query(
        "SELECT count(*)::bigint AS n FROM audit_trail WHERE request_id = $1 AND status = 200",
    )
    .bind::<diesel::sql_types::Text, _>(&request_id)
    .get_result::<Count>(&mut primary)
    .unwrap()
    .n;
    assert_eq!(rows, 1);
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[tokio::test]
async fn without_its_primary_a_standby_short_of_acknowledged_writes_does_not_serve_them_stale() {
    let pair = Pair::start("stale", 5464);
    let app = pair.app(|s| {
        s.routing.max_lag = Duration::from_secs(600);
        s.audit_hold = true;
    });
    status_until(&app, "the read target checked", |_, body| {
        read_check(body)["status"] == "pass"
    })
    .await;
    pair.on_standby("SELECT pg_wal_replay_pause()");
    assert_eq!(patch_gender(&app, 2, "male").await.0, 200);
    assert_eq!(retrieve(&app).await.1.as_deref(), Some("W/\"3\""));
    pair.primary.stop().expect("stopping the primary");
    status_until(&app, "the primary reported failing", |_, body| {
        body["checks"]["database"][0]["status"] == "fail"
    })
    .await;
    // The standby still shows version 2: it must not answer with it.
    assert_eq!(pair.standby_version(), 2);
    for _ in 0..3 {
        let (code, etag, _) = retrieve(&app).await;
        assert_eq!(code, 503, "answered {etag:?} without the primary");
        assert_eq!(app.get(SEARCH).await.status(), 503);
    }
    // Once it has replayed what it was sent, it serves reads again.
    pair.on_standby("SELECT pg_wal_replay_resume()");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, etag, _) = retrieve(&app).await;
        if code == 200 {
            assert_eq!(etag.as_deref(), Some("W/\"3\""));
            break;
        }
        assert_eq!(code, 503);
        assert!(Instant::now() < deadline, "reads did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
