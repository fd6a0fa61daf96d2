//! Against a real PostgreSQL (the test server of `pds_test_db`). Each test
//! gets a database of its own.

use super::row::{MAX_TEXT, clean, split_uuid};
use super::writer::writer_url;
use super::*;
use chrono::SubsecRound;
use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, SmallInt, Text};
use pds_test_db::TestDatabase;
use std::thread;
use std::time::{Duration, Instant};

use crate::store::migrate;

const WAIT: Duration = Duration::from_secs(20);

/// A database of its own, dropped at the end of the test, and what the
/// tests read from it.
struct TestDb {
    db: TestDatabase,
    url: String,
}

impl TestDb {
    /// Created and migrated.
    fn new() -> Self {
        let db = Self::unborn();
        db.create();
        db
    }

    /// Named but not created yet: unreachable until `create`.
    fn unborn() -> Self {
        let db = TestDatabase::reserve("audit_test");
        Self {
            url: db.url().to_owned(),
            db,
        }
    }

    fn create(&self) {
        self.db.create_from(&migrate::test_template());
    }

    fn create_empty(&self) {
        self.db.create_empty();
    }

    fn migrate(&self) {
        migrate::run(&mut self.connect()).expect("migrating");
    }

    fn connect(&self) -> PgConnection {
        self.db.connect()
    }

    fn count(&self) -> i64 {
        audit_events::table
            .count()
            .get_result(&mut self.connect())
            .expect("counting audit rows")
    }

    fn events(&self) -> Vec<AuditEvent> {
        let rows: Vec<Row> = audit_events::table
            .select(Row::as_select())
            .order(audit_events::at)
            .load(&mut self.connect())
            .expect("loading audit rows");
        rows.into_iter().map(Row::into_event).collect()
    }
}

/// Microseconds: what timestamptz keeps.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn staff_retrieve(at: DateTime<Utc>, nhs_number: i64) -> AuditEvent {
    AuditEvent {
        at,
        request_id: Some(uuid::Uuid::new_v4().to_string()),
        correlation_id: Some(uuid::Uuid::new_v4().to_string()),
        access_mode: "healthcare-worker".into(),
        user_id: Some("555021935107".into()),
        role_id: Some("555021936106".into()),
        role_code: Some("S8000:G8000:R8000".into()),
        org_code: Some("A83008".into()),
        client_id: Some("Fb2eM9aZbVn5aN4m2mRYyF2Ph3wu9bzd".into()),
        level: Some("staff_view".into()),
        action: "retrieve".into(),
        nhs_numbers: vec![nhs_number],
        status: 200,
        redacted: false,
        sensitive_override: false,
    }
}

fn numbered(i: usize) -> AuditEvent {
    let mut event = staff_retrieve(now(), 9_000_000_000 + i as i64);
    event.user_id = Some(format!("user-{i}"));
    event
}

fn quiet() -> AuditConfig {
    // Nothing is written until a flush or shutdown asks.
    AuditConfig {
        interval: Duration::from_secs(3600),
        batch_size: usize::MAX,
        ..AuditConfig::default()
    }
}

fn fast_retry() -> AuditConfig {
    AuditConfig {
        retry_min: Duration::from_millis(20),
        retry_max: Duration::from_millis(200),
        ..AuditConfig::default()
    }
}

#[test]
fn recorded_events_arrive_intact() {
    let db = TestDb::new();
    let t0 = now();
    let at = |ms: i64| t0 + chrono::Duration::milliseconds(ms);
    let full = staff_retrieve(at(0), 9000000009);
    let search = AuditEvent {
        at: at(1),
        action: "search".into(),
        nhs_numbers: vec![9000000009, 9000000017, 9000000025],
        redacted: true,
        ..staff_retrieve(at(1), 0)
    };
    let sensitive = AuditEvent {
        level: Some("sensitive_view".into()),
        sensitive_override: true,
        ..staff_retrieve(at(2), 9000000025)
    };
    // Values outside the compact encodings: kept verbatim.
    let odd = AuditEvent {
        at: at(3),
        request_id: Some("not-a-uuid".into()),
        correlation_id: Some("0B8F8D6E-5C5B-4C0A-9E0A-6A1B2C3D4E5F.rrt-123".into()),
        access_mode: "some-new-mode".into(),
        user_id: None,
        role_id: None,
        role_code: None,
        org_code: None,
        client_id: Some("app-1".into()),
        level: Some("system_privileged".into()),
        action: "merge".into(),
        nhs_numbers: vec![],
        status: 403,
        redacted: false,
        sensitive_override: false,
    };
    let upper = AuditEvent {
        request_id: Some("0B8F8D6E-5C5B-4C0A-9E0A-6A1B2C3D4E5F".into()),
        correlation_id: None,
        access_mode: "unauthenticated".into(),
        level: None,
        status: 401,
        nhs_numbers: vec![],
        ..staff_retrieve(at(4), 0)
    };
    let patient = AuditEvent {
        access_mode: "patient-access".into(),
        level: Some("patient_self".into()),
        action: "related".into(),
        role_id: None,
        role_code: None,
        org_code: None,
        ..staff_retrieve(at(5), 9000000017)
    };
    let all = vec![full, search, sensitive, odd, upper, patient];

    let auditor = Auditor::start(&db.url);
    for event in &all {
        auditor.record(event.clone());
    }
    assert!(auditor.flush(WAIT), "flush");
    assert_eq!(db.events(), all);

    // The compact columns were used where they could be.
    let mut conn = db.connect();
    #[derive(QueryableByName, Debug, PartialEq)]
    struct Compact {
        #[diesel(sql_type = BigInt)]
        uuids: i64,
        #[diesel(sql_type = BigInt)]
        texts: i64,
        #[diesel(sql_type = BigInt)]
        arrays: i64,
    }
    let compact: Compact = diesel::sql_query(
        "SELECT count(request_id) AS uuids, count(request_id_text) AS texts, \
         count(other_nhs_numbers) AS arrays FROM audit_events",
    )
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(
        compact,
        Compact {
            uuids: 4,
            texts: 2,
            arrays: 1
        }
    );

    // The investigation finds the retrieve, the search and nothing else,
    // in Rust and in SQL.
    let found = accesses(&mut conn, 9000000025, at(-1000), at(1000)).unwrap();
    assert_eq!(found, vec![all[1].clone(), all[2].clone()]);
    let found = accesses(&mut conn, 9000000009, at(1), at(1000)).unwrap();
    assert_eq!(found, vec![all[1].clone()]);
    #[derive(QueryableByName, Debug, PartialEq)]
    struct Trail {
        #[diesel(sql_type = Text)]
        action: String,
        #[diesel(sql_type = Text)]
        level: String,
        #[diesel(sql_type = SmallInt)]
        status: i16,
    }
    let trail: Vec<Trail> = diesel::sql_query(
        "SELECT action, level, status FROM audit_accesses(9000000025, now() - interval '1 day', now() + interval '1 day')",
    )
    .load(&mut conn)
    .unwrap();
    assert_eq!(
        trail,
        vec![
            Trail {
                action: "search".into(),
                level: "staff_view".into(),
                status: 200
            },
            Trail {
                action: "retrieve".into(),
                level: "sensitive_view".into(),
                status: 200
            },
        ]
    );
    assert!(auditor.shutdown(WAIT));
}

#[test]
fn concurrent_events_arrive_in_few_batches() {
    let db = TestDb::new();
    let auditor = Auditor::start(&db.url);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let auditor = auditor.clone();
            thread::spawn(move || {
                for i in 0..1250 {
                    auditor.record(numbered(t * 1250 + i));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(auditor.flush(WAIT), "flush");
    assert_eq!(db.count(), 10_000);
    let stats = auditor.stats();
    assert_eq!(stats.written, 10_000);
    assert_eq!(stats.dropped, 0);
    assert!(stats.batches < 100, "{} batches", stats.batches);
    let distinct: i64 = audit_events::table
        .select(diesel::dsl::count(audit_events::user_id).aggregate_distinct())
        .get_result(&mut db.connect())
        .unwrap();
    assert_eq!(distinct, 10_000);
    assert!(auditor.shutdown(WAIT));
}

#[test]
fn shutdown_writes_pending_events() {
    let db = TestDb::new();
    let auditor = Auditor::start_with(&db.url, quiet());
    for i in 0..500 {
        auditor.record(numbered(i));
    }
    thread::sleep(Duration::from_millis(200));
    assert_eq!(db.count(), 0, "nothing written before shutdown");
    assert!(auditor.shutdown(WAIT));
    assert_eq!(db.count(), 500);
    assert_eq!(auditor.stats().batches, 1);
    // Idempotent; later events are dropped, not written, and never block.
    assert!(auditor.shutdown(WAIT));
    auditor.record(numbered(500));
    assert!(!auditor.flush(Duration::from_millis(100)));
    assert_eq!(auditor.stats().dropped, 1);
    assert_eq!(db.count(), 500);
}

#[test]
fn dropping_the_last_handle_writes_pending_events() {
    let db = TestDb::new();
    let auditor = Auditor::start_with(&db.url, quiet());
    for i in 0..10 {
        auditor.record(numbered(i));
    }
    drop(auditor);
    let deadline = Instant::now() + WAIT;
    while db.count() < 10 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(db.count(), 10);
}

#[test]
fn events_wait_for_an_unreachable_database() {
    let db = TestDb::unborn();
    let auditor = Auditor::start_with(&db.url, fast_retry());
    for i in 0..100 {
        auditor.record(numbered(i));
    }
    // Never blocks, never loses: the events wait in memory.
    assert!(!auditor.flush(Duration::from_millis(300)));
    let stats = auditor.stats();
    assert_eq!((stats.recorded, stats.written), (100, 0));
    assert_eq!((stats.buffered, stats.dropped), (100, 0));

    db.create();
    assert!(auditor.flush(WAIT), "flush after the database appeared");
    assert_eq!(db.count(), 100);
    let mut users: Vec<String> = db.events().into_iter().filter_map(|e| e.user_id).collect();
    users.sort();
    let mut expected: Vec<String> = (0..100).map(|i| format!("user-{i}")).collect();
    expected.sort();
    assert_eq!(users, expected);
    assert!(auditor.shutdown(WAIT));
}

#[test]
fn events_wait_for_a_missing_table() {
    let db = TestDb::unborn();
    db.create_empty();
    let auditor = Auditor::start_with(&db.url, fast_retry());
    for i in 0..40 {
        auditor.record(numbered(i));
    }
    // The server answers but refuses every row: nothing is dropped.
    assert!(!auditor.flush(Duration::from_millis(300)));
    assert_eq!(auditor.stats().dropped, 0);
    db.migrate();
    assert!(auditor.flush(WAIT), "flush after migrating");
    assert_eq!(db.count(), 40);
    assert!(auditor.shutdown(WAIT));
}

#[test]
fn a_full_buffer_drops_the_oldest_events() {
    let db = TestDb::unborn();
    let auditor = Auditor::start_with(
        &db.url,
        AuditConfig {
            max_buffered: 50,
            ..quiet()
        },
    );
    for i in 0..80 {
        auditor.record(numbered(i));
    }
    let deadline = Instant::now() + WAIT;
    while auditor.stats().recorded < 80 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    let stats = auditor.stats();
    assert_eq!((stats.buffered, stats.dropped), (50, 30));

    db.create();
    // The drops were before this flush: it succeeds once the rest is in.
    assert!(auditor.flush(WAIT));
    let users: Vec<String> = db.events().into_iter().filter_map(|e| e.user_id).collect();
    let expected: Vec<String> = (30..80).map(|i| format!("user-{i}")).collect();
    assert_eq!(users, expected);
    assert!(auditor.shutdown(WAIT));
}

#[test]
fn a_row_the_database_refuses_does_not_block_the_others() {
    let db = TestDb::new();
    db.connect()
        .batch_execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF NEW.user_id = 'user-2' THEN RAISE EXCEPTION 'refused'; END IF;
                 RETURN NEW;
             END $$;
             CREATE TRIGGER refuse BEFORE INSERT ON audit_events
                 FOR EACH ROW EXECUTE FUNCTION refuse();",
        )
        .unwrap();
    let auditor = Auditor::start_with(&db.url, quiet());
    for i in 0..5 {
        auditor.record(numbered(i));
    }
    assert!(!auditor.flush(WAIT), "a lost event fails the flush");
    assert_eq!(db.count(), 4);
    assert_eq!(auditor.stats().dropped, 1);
    auditor.record(numbered(5));
    assert!(auditor.flush(WAIT));
    assert_eq!(db.count(), 5);
    assert!(auditor.shutdown(WAIT));
}

#[test]
fn insert_now_commits_and_rolls_back_with_the_caller() {
    let db = TestDb::new();
    let mut conn = db.connect();
    let event = AuditEvent {
        action: "update".into(),
        level: Some("demographics_update".into()),
        ..staff_retrieve(now(), 9000000009)
    };
    let result: QueryResult<()> = conn.transaction(|conn| {
        insert_now(conn, &event)?;
        let inside: i64 = audit_events::table.count().get_result(conn)?;
        assert_eq!(inside, 1);
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert!(result.is_err());
    assert_eq!(db.count(), 0, "rolled back with the transaction");

    conn.transaction(|conn| insert_now(conn, &event)).unwrap();
    assert_eq!(db.events(), vec![event]);
}

#[test]
fn codes_match_the_database() {
    let db = TestDb::new();
    #[derive(QueryableByName)]
    struct Code {
        #[diesel(sql_type = Text)]
        field: String,
        #[diesel(sql_type = SmallInt)]
        code: i16,
        #[diesel(sql_type = Text)]
        name: String,
    }
    let rows: Vec<Code> =
        diesel::sql_query("SELECT field, code, name FROM audit_codes ORDER BY field, code")
            .load(&mut db.connect())
            .unwrap();
    let in_db: Vec<(String, i16, String)> = rows
        .into_iter()
        .map(|c| (c.field, c.code, c.name))
        .collect();
    let mut in_rust = Vec::new();
    for (field, table) in [
        ("access_mode", ACCESS_MODES),
        ("action", ACTIONS),
        ("level", LEVELS),
    ] {
        for (code, name) in table {
            in_rust.push((field.to_owned(), *code, (*name).to_owned()));
        }
    }
    assert_eq!(in_db, in_rust);
}

#[test]
fn the_investigation_uses_the_indexes() {
    let db = TestDb::new();
    let mut conn = db.connect();
    // A day of 20,000 requests, 1% of them searches with several results.
    conn.batch_execute(
        "INSERT INTO audit_events (at, nhs_number, status, redacted,
             sensitive_override, other_nhs_numbers)
         SELECT now() - i * interval '4 seconds', 9000000000 + i % 5000, 200,
             false, false,
             CASE WHEN i % 100 = 0 THEN ARRAY[9100000000 + i, 9200000000 + i] END
         FROM generate_series(1, 20000) AS i;
         ANALYZE audit_events;",
    )
    .unwrap();
    #[derive(QueryableByName)]
    struct Plan {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }
    let plan: Vec<Plan> = diesel::sql_query(
        "EXPLAIN SELECT * FROM audit_accesses(9000000009, now() - interval '1 day', now())",
    )
    .load(&mut conn)
    .unwrap();
    let plan: String = plan.into_iter().map(|p| p.line + "\n").collect();
    assert!(plan.contains("audit_events_nhs_number_at"), "{plan}");
    assert!(plan.contains("audit_events_other_nhs_numbers"), "{plan}");
}

#[test]
fn text_is_cleaned_and_uuids_kept_verbatim() {
    assert_eq!(clean("a\0b".into()), "ab");
    let long = "é".repeat(200);
    let cleaned = clean(long);
    assert!(cleaned.len() <= MAX_TEXT && cleaned.chars().all(|c| c == 'é'));
    let id = uuid::Uuid::new_v4().to_string();
    assert!(matches!(split_uuid(Some(id.clone())), (Some(_), None)));
    let upper = id.to_uppercase();
    assert_eq!(split_uuid(Some(upper.clone())), (None, Some(upper)));
    let simple = id.replace('-', "");
    assert_eq!(split_uuid(Some(simple.clone())), (None, Some(simple)));
}

#[test]
fn writer_url_adds_a_connect_timeout() {
    assert_eq!(
        writer_url("postgres://u@h/db"),
        "postgres://u@h/db?connect_timeout=5&application_name=pds-audit"
    );
    assert_eq!(
        writer_url("postgres://u@/db?host=/tmp&connect_timeout=2"),
        "postgres://u@/db?host=/tmp&connect_timeout=2&application_name=pds-audit"
    );
    assert_eq!(
        writer_url("host=/tmp dbname=x"),
        "host=/tmp dbname=x connect_timeout=5 application_name=pds-audit"
    );
}
