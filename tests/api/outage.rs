//! The database going away: fail fast with 503, recover without a restart.

use crate::helpers::{TestApp, settings, spine_code, test_cluster_dir, token};
use diesel::{Connection, PgConnection};
use pds::auth::personas::Persona;
use pds::seed;
use pds::store::migrate;
use pds_local_pg::LocalCluster;
use serde_json::Value;
use std::time::{Duration, Instant};

/// A cluster of its own, because this test stops it.
struct OwnCluster {
    cluster: LocalCluster,
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = self.cluster.stop();
        // The lock and log files sit beside the data dir: remove the parent.
        if let Some(parent) = self.cluster.data_dir().parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
}

#[tokio::test]
async fn a_stopped_database_gives_503_and_the_server_recovers_when_it_returns() {
    let dir = test_cluster_dir(&format!("outage-{}", uuid::Uuid::new_v4().simple())).join("pg");
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let own = OwnCluster {
        cluster: LocalCluster::ensure_running(&dir, 5435).expect("own cluster"),
    };
    let url = own.cluster.database_url("postgres");
    let mut conn = PgConnection::establish(&url).unwrap();
    migrate::run(&mut conn).unwrap();
    seed::ensure_seeded(&mut conn, 10, 1).unwrap();
    drop(conn);

    let app = TestApp::spawn_on(&url, settings());
    assert_eq!(app.get("/Patient/9000000009").await.status(), 200);

    own.cluster.stop().expect("stopping PostgreSQL");
    let started = Instant::now();
    let response = app.get("/Patient/9000000009").await;
    assert_eq!(response.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(response.headers()["content-type"], "application/fhir+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(spine_code(&body), "SERVICE_UNAVAILABLE");
    assert_eq!(body["issue"][0]["code"], "timeout");

    let status = app.client.get(app.url("/_status")).send().await.unwrap();
    assert_eq!(status.status(), 503);
    let body: Value = status.json().await.unwrap();
    assert_eq!(body["status"], "fail");

    own.cluster.start().expect("restarting PostgreSQL");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = app.get("/Patient/9000000009").await.status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "only 503 while recovering");
        assert!(Instant::now() < deadline, "did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = app.client.get(app.url("/_status")).send().await.unwrap();
    assert_eq!(status.status(), 200);
}

const SEARCH: &str = "/Patient?family=Smith&birthdate=eq2010-10-22";

/// A server whose read pool has one connection, and that connection held
/// (as a slow request would hold it) until the guard is dropped.
async fn app_with_reads_held() -> (TestApp, impl Drop) {
    let mut s = settings();
    s.pool_size = 1;
    s.db_wait = std::time::Duration::from_millis(300);
    let app = TestApp::spawn_with(s).await;
    assert_eq!(app.get(SEARCH).await.status(), 200);
    let pool = app.app_db.pool().clone();
    let held = tokio::task::spawn_blocking(move || pool.get().expect("connection"))
        .await
        .unwrap();
    (app, held)
}

#[tokio::test]
async fn an_exhausted_pool_gives_503_quickly_instead_of_queueing() {
    let (app, held) = app_with_reads_held().await;
    let started = Instant::now();
    let response = app.get(SEARCH).await;
    assert_eq!(response.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(response.headers().contains_key("retry-after"));
    drop(held);

    assert_eq!(app.get(SEARCH).await.status(), 200);
}

#[tokio::test]
async fn updates_have_connections_of_their_own_when_reads_use_them_all() {
    let (app, held) = app_with_reads_held().await;
    assert_eq!(
        app.get(SEARCH).await.status(),
        503,
        "reads are out of connections"
    );

    let response = app
        .client
        .patch(app.url("/Patient/9000000009"))
        .bearer_auth(token(Persona::Clinician))
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .header("If-Match", "W/\"2\"")
        .header("Content-Type", "application/json-patch+json")
        .body(r#"{"patches":[{"op":"replace","path":"/gender","value":"male"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "W/\"3\"");
    drop(held);
}

#[tokio::test]
async fn a_stuck_retrieve_lookup_gives_503_quickly_and_recovers() {
    let mut s = settings();
    s.lookup_threads = 1;
    s.lookup_queue = 1;
    s.db_wait = std::time::Duration::from_millis(300);
    let app = TestApp::spawn_with(s).await;
    assert_eq!(app.get("/Patient/9000000009").await.status(), 200);

    // Another session locks the table, so the lookup thread's query waits.
    let url = app
        .database
        .as_ref()
        .expect("own database")
        .url()
        .to_owned();
    let (unlock, unlocked) = std::sync::mpsc::channel::<()>();
    let (is_locked, locked) = std::sync::mpsc::channel::<()>();
    let locker = std::thread::spawn(move || {
        use diesel::connection::SimpleConnection;
        let mut conn = PgConnection::establish(&url).unwrap();
        conn.batch_execute("BEGIN; LOCK TABLE patients IN ACCESS EXCLUSIVE MODE")
            .unwrap();
        is_locked.send(()).unwrap();
        let _ = unlocked.recv();
        conn.batch_execute("ROLLBACK").unwrap();
    });
    locked.recv().unwrap();

    for _ in 0..3 {
        let started = Instant::now();
        let response = app.get("/Patient/9000000009").await;
        assert_eq!(response.status(), 503);
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(response.headers()["retry-after"], "5");
        let body: Value = response.json().await.unwrap();
        assert_eq!(spine_code(&body), "SERVICE_UNAVAILABLE");
    }
    unlock.send(()).unwrap();
    locker.join().unwrap();

    let deadline = Instant::now() + Duration::from_secs(5);
    while app.get("/Patient/9000000009").await.status() != 200 {
        assert!(Instant::now() < deadline, "did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
