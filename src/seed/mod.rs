//! Seed data: the PDS sandbox patients and a synthetic population, and the
//! `sample` subcommand's draw from it. Beside `store`, which never uses it:
//! the server loads it into an empty store at start-up (`startup`), the
//! `seed` subcommand on demand.

pub mod apps;
pub mod coverage;
pub mod generator;
mod names;
pub mod sample;
pub mod sandbox;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::store::patients::{self, FormerNameRow, PatientRow};
use crate::store::related;
use crate::store::schema::patients as patients_table;

/// Rows per COPY statement: big enough to amortise the round trip, small
/// enough that generation and loading overlap.
const CHUNK: usize = 20_000;

/// Lowest number the synthetic population can use (see `generator`).
pub const SYNTHETIC_FROM: i64 = 9_100_000_000;

#[derive(Debug, Clone, Copy)]
pub struct LoadReport {
    pub rows: u64,
    pub elapsed: Duration,
    /// Time spent rebuilding secondary indexes after a bulk load.
    pub index_build: Duration,
}

#[derive(QueryableByName)]
struct IndexDefinition {
    #[diesel(sql_type = diesel::sql_types::Text)]
    indexname: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    indexdef: String,
}

/// The non-unique indexes of the patient tables, as the migrations made
/// them (read back from the catalogue, so they are never written twice).
fn secondary_indexes(conn: &mut PgConnection) -> anyhow::Result<Vec<(String, String)>> {
    let rows: Vec<IndexDefinition> = diesel::sql_query(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i \
         JOIN pg_class c ON c.relname = i.indexname JOIN pg_index x ON x.indexrelid = c.oid \
         WHERE i.schemaname = current_schema() \
           AND i.tablename IN ('patients', 'patient_former_names') AND NOT x.indisunique",
    )
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| (r.indexname, r.indexdef))
        .collect())
}

impl LoadReport {
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Seeds an empty database (sandbox patients plus `count` synthetic ones);
/// leaves a database that already has patients alone. Returns what it loaded.
pub fn ensure_seeded(
    conn: &mut PgConnection,
    count: u64,
    seed: u64,
) -> anyhow::Result<Option<LoadReport>> {
    if patients::any(conn)? {
        return Ok(None);
    }
    insert_sandbox(conn)?;
    load_population(conn, seed, count).map(Some)
}

/// The `seed` subcommand: loads `count` synthetic patients. Refuses to mix two
/// populations unless `replace` empties the store first (sandbox kept).
pub fn reseed(
    conn: &mut PgConnection,
    count: u64,
    seed: u64,
    replace: bool,
) -> anyhow::Result<LoadReport> {
    if replace {
        conn.batch_execute(
            "TRUNCATE patients, patient_versions, patient_former_names, patient_coverage",
        )?;
        insert_sandbox(conn)?;
    } else {
        let existing: i64 = patients_table::table
            .filter(patients_table::nhs_number.ge(SYNTHETIC_FROM))
            .count()
            .get_result(conn)?;
        if existing > 0 {
            anyhow::bail!(
                "the database already holds {existing} synthetic patients; \
                 run `seed --replace --count N` to load a new population instead"
            );
        }
        if !patients::any(conn)? {
            insert_sandbox(conn)?;
        }
    }
    load_population(conn, seed, count)
}

fn insert_sandbox(conn: &mut PgConnection) -> anyhow::Result<()> {
    let (rows, former) = sandbox::rows();
    patients::insert(conn, &rows, &former)?;
    // An upsert: `seed --replace` empties the patient tables only.
    related::upsert(conn, &sandbox::related_rows())?;
    coverage::insert(conn)?;
    Ok(())
}

/// Loads the population; a large one with the secondary indexes dropped
/// and rebuilt at the end, which is several times faster than maintaining
/// them row by row (measured: 40,000 against 180,000 patients/s at 10 M).
fn load_population(conn: &mut PgConnection, seed: u64, count: u64) -> anyhow::Result<LoadReport> {
    if count < BULK {
        return copy_population(conn, seed, count);
    }
    let indexes = secondary_indexes(conn)?;
    for (name, _) in &indexes {
        conn.batch_execute(&format!("DROP INDEX \"{name}\""))?;
    }
    let loaded = copy_population(conn, seed, count);
    let started = Instant::now();
    conn.batch_execute("SET maintenance_work_mem = '1GB'")?;
    for (_, definition) in &indexes {
        conn.batch_execute(definition)?;
    }
    conn.batch_execute("RESET maintenance_work_mem")?;
    let mut report = loaded?;
    report.index_build = started.elapsed();
    Ok(report)
}

/// From this many patients on, indexes are rebuilt rather than maintained.
const BULK: u64 = 100_000;

/// Generates on one thread while this one streams COPY to PostgreSQL.
fn copy_population(conn: &mut PgConnection, seed: u64, count: u64) -> anyhow::Result<LoadReport> {
    let started = Instant::now();
    // Losing the last seconds of a bulk load on a crash is acceptable; the
    // load is repeatable and this roughly halves commit waits.
    conn.batch_execute("SET synchronous_commit = off")?;
    let (sender, receiver) = mpsc::sync_channel::<(Vec<PatientRow>, Vec<FormerNameRow>)>(4);
    let generator = std::thread::spawn(move || {
        let mut population = generator::Population::new(seed)
            .take(count as usize)
            .peekable();
        while population.peek().is_some() {
            let mut rows = Vec::with_capacity(CHUNK);
            let mut former = Vec::new();
            for g in population.by_ref().take(CHUNK) {
                former.extend(FormerNameRow::of(&g.patient));
                rows.push(PatientRow::from_patient(&g.patient, g.superseded_by));
            }
            let chunk = (rows, former);
            if sender.send(chunk).is_err() {
                return; // the loader failed and hung up
            }
        }
    });
    let mut rows = 0u64;
    let mut outcome = Ok(());
    for (rows_chunk, former) in receiver {
        match patients::copy_in(conn, rows_chunk, former) {
            Ok(n) => rows += n as u64,
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    let _ = generator.join();
    outcome?;
    if rows < count {
        anyhow::bail!("the synthetic number ranges hold only {rows} patients, not {count}");
    }
    conn.batch_execute("RESET synchronous_commit; ANALYZE patients; ANALYZE patient_former_names")?;
    Ok(LoadReport {
        rows,
        elapsed: started.elapsed(),
        index_build: Duration::ZERO,
    })
}
