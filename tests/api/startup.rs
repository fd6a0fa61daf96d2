//! Start-up against databases that cannot be used: a URL libpq refuses, an
//! unreachable primary (exit, or wait with `DB_WAIT_AT_START`).

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{free_port, seeded_database, server_command};

/// Runs `command` for at most `limit`: its exit status (None if it was
/// still running, and then killed) and everything it printed.
fn run_for(mut command: Command, limit: Duration) -> (Option<ExitStatus>, String) {
    let mut child: Child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running pds");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for pds") {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut printed = String::new();
    for pipe in [
        child.stdout.take().map(|p| Box::new(p) as Box<dyn Read>),
        child.stderr.take().map(|p| Box::new(p) as Box<dyn Read>),
    ]
    .into_iter()
    .flatten()
    {
        let mut text = String::new();
        let mut pipe = pipe;
        pipe.read_to_string(&mut text).unwrap_or_default();
        printed.push_str(&text);
    }
    (status, printed)
}

/// An address nothing listens on.
fn nowhere() -> String {
    format!("postgres://postgres@127.0.0.1:{}/pds", free_port())
}

#[test]
fn a_read_url_libpq_refuses_stops_the_start() {
    let database = seeded_database();
    let mut command = server_command(database.url(), free_port());
    command.env(
        "DATABASE_READ_URL",
        "postgres://postgres@127.0.0.1:5432/pds?no_such_option=1",
    );
    let (status, printed) = run_for(command, Duration::from_secs(30));
    let status = status.expect("pds kept running");
    assert!(!status.success());
    assert!(
        printed.contains("DATABASE_READ_URL is not usable") && printed.contains("no_such_option"),
        "{printed}"
    );
}

#[test]
fn a_primary_url_libpq_refuses_stops_the_start_even_when_waiting() {
    let mut command = server_command(
        "postgres://postgres@127.0.0.1:5432/pds?target_session_attrs=sometimes",
        free_port(),
    );
    command.env("DB_WAIT_AT_START", "true");
    let (status, printed) = run_for(command, Duration::from_secs(30));
    assert!(!status.expect("pds kept running").success());
    assert!(
        printed.contains("DATABASE_URL is not usable") && printed.contains("target_session_attrs"),
        "{printed}"
    );
}

#[test]
fn an_unreachable_primary_stops_the_start_with_a_clear_message() {
    let (status, printed) = run_for(
        server_command(&nowhere(), free_port()),
        Duration::from_secs(30),
    );
    assert!(!status.expect("pds kept running").success());
    assert!(
        printed.contains("cannot reach the database in DATABASE_URL")
            && printed.contains("DB_WAIT_AT_START"),
        "{printed}"
    );
}

#[test]
fn with_db_wait_at_start_an_unreachable_primary_is_waited_for() {
    let mut command = server_command(&nowhere(), free_port());
    command.env("DB_WAIT_AT_START", "true");
    let (status, printed) = run_for(command, Duration::from_secs(4));
    assert!(status.is_none(), "pds exited: {status:?} {printed}");
    assert!(printed.contains("does not answer yet"), "{printed}");
}

#[tokio::test]
async fn instances_starting_together_on_an_empty_store_take_turns_to_migrate_it() {
    let database = pds_test_db::TestDatabase::empty("pds_race");
    let client = reqwest::Client::new();
    let mut started = Running(Vec::new());
    for _ in 0..3 {
        let port = free_port();
        let child = server_command(database.url(), port)
            .stderr(Stdio::null())
            .spawn()
            .expect("running pds");
        started.0.push((port, child));
    }
    for (port, child) in &mut started.0 {
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while client.get(format!("{base}/_ping")).send().await.is_err() {
            if let Some(status) = child.try_wait().expect("waiting for pds") {
                panic!("an instance exited at start-up: {status}");
            }
            assert!(Instant::now() < deadline, "an instance did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    drop(started);
    // Seeded once: the sandbox patients, not three copies of them (the
    // primary key would refuse a second anyway; the count says so plainly).
    let mut conn = database.connect();
    use diesel::prelude::*;
    let patients: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM patients)",
    ))
    .get_result(&mut conn)
    .unwrap();
    assert!(patients > 0 && patients < 100, "{patients}");
}

#[test]
fn a_read_url_without_a_primary_url_stops_the_start() {
    let mut command = server_command("unused", free_port());
    command
        .env_remove("DATABASE_URL")
        .env("DATABASE_READ_URL", nowhere());
    let (status, printed) = run_for(command, Duration::from_secs(30));
    assert!(!status.expect("pds kept running").success());
    assert!(
        printed.contains("DATABASE_READ_URL needs DATABASE_URL"),
        "{printed}"
    );
}

/// Servers started by a test, killed when it ends (also when it fails).
struct Running(Vec<(u16, Child)>);

impl Drop for Running {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn migrate_commands_run_together_on_an_empty_database_all_succeed() {
    let database = pds_test_db::TestDatabase::empty("pds_migrate_race");
    let mut running = Running(Vec::new());
    for _ in 0..3 {
        let child = server_command(database.url(), free_port())
            .arg("migrate")
            .stderr(Stdio::piped())
            .spawn()
            .expect("running pds migrate");
        running.0.push((0, child));
    }
    for (_, child) in &mut running.0 {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            pipe.read_to_string(&mut stderr).unwrap_or_default();
        }
        let status = child.wait().expect("waiting for pds migrate");
        assert!(status.success(), "{status}: {stderr}");
    }
}
