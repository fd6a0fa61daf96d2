//! Retrieve by NHS number, batched.
//!
//! Retrieves are most of the traffic. Sending each one to a blocking thread
//! for its own query costs two thread switches and a database round trip,
//! and under load those switches, not the index probe, take most of the CPU.
//! So retrieves queue here, and a few dedicated threads each take everything
//! queued and fetch it with one `= ANY($1)` query. At low load a batch holds
//! one lookup and adds no delay; under load batches grow and the cost per
//! request falls.
//!
//! The queue is bounded: when it is full a request is refused at once (503)
//! rather than wait behind thousands, and a waiter gives up after the
//! database wait like any other query.
//!
//! **Audit.** The statement that looks the batch up also writes the batch's
//! audit rows (a writable CTE, [`Audited`]), so no retrieve is answered
//! without its committed row, at no extra round trip or thread switch. Each
//! job brings its row's fixed part (who asked, the request ids) and the
//! caller's clearance, and the statement fills in what the lookup found:
//! the status, the number a superseded record was merged into, and whether
//! the record was redacted or a restricted one shown in full. The rare jobs
//! the statement cannot judge (a record merged into one merged again, a
//! stored record that does not decode) get their row from
//! [`RetrieveAudit::of`] with one more INSERT before anything is answered.
//! Writing every row with a COPY after the lookup, or through the audit
//! writer, cost a quarter to a third of the retrieve throughput (see
//! bench/results/2026-12-01-10000000.md).

use crossbeam_channel::{Receiver, Sender, TrySendError};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::oneshot;

use super::audit::{self, AuditEvent, Columns};
use super::db::{self, DbError, Pool};
use super::label::StoredLabel;
use super::patients::{self, PatientRow, Retrieved};
use super::replica::{Lane, Replica, Target};
use crate::domain::NhsNumber;
use crate::domain::codes::Security;
use crate::domain::patient::{Clearance, label_visible_in_full};

/// Largest batch: bounds the statement's arrays and one batch's latency.
const MAX_BATCH: usize = 64;

/// Makes a retrieve's whole audit row from what its lookup found.
pub type AuditOf = Box<dyn FnOnce(&Result<Retrieved, DbError>) -> AuditEvent + Send>;

/// The audit row of one retrieve: its fixed part (`event`: who asked, the
/// request ids, action and level), the caller's clearance, and the whole
/// row made from what the lookup found, for the answers the lookup
/// statement cannot judge itself.
pub struct RetrieveAudit {
    pub event: AuditEvent,
    pub clearance: Clearance,
    pub of: AuditOf,
}

/// What a retrieve got back.
pub struct Looked {
    pub found: Result<Retrieved, DbError>,
    pub audit: Audit,
}

/// Where a retrieve's audit row is.
pub enum Audit {
    /// Committed before the answer (by the lookup statement on the primary).
    Committed,
    /// Still to be committed, through the audit writer, before the answer
    /// goes out: the record came from a standby, which cannot write.
    ToCommit(Box<AuditEvent>),
    /// Not written: the lookup failed (and `found` is an error).
    Failed,
}

struct Job {
    key: i64,
    audit: RetrieveAudit,
    reply: oneshot::Sender<Looked>,
}

#[derive(Clone)]
pub struct Lookup {
    jobs: Sender<Job>,
    wait: Duration,
    pool: Pool,
    replica: Option<Replica>,
}

impl Lookup {
    /// Starts `threads` lookup threads, each with a connection of its own
    /// from `pool` (the primary, opened when first needed) and, if there is
    /// a read target, from `replica`; and a queue of `queue` jobs.
    pub fn start(
        pool: Pool,
        replica: Option<Replica>,
        threads: usize,
        queue: usize,
        wait: Duration,
    ) -> Self {
        let (jobs, receiver) = crossbeam_channel::bounded(queue.max(1));
        for n in 0..threads.max(1) {
            let receiver = receiver.clone();
            let thread_pool = pool.clone();
            let thread_replica = replica.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("pds-lookup-{n}"))
                .spawn(move || serve(&thread_pool, thread_replica.as_ref(), &receiver, wait));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a lookup thread");
            }
        }
        Self {
            jobs,
            wait,
            pool,
            replica,
        }
    }

    /// The threads' connections to the primary (for the pool gauges).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The threads' connections to the read target, if there is one.
    pub fn replica(&self) -> Option<&Replica> {
        self.replica.as_ref()
    }

    /// The record for `nhs_number`, its audit row committed first.
    pub async fn retrieve(&self, nhs_number: NhsNumber, audit: RetrieveAudit) -> Looked {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            key: nhs_number.as_i64(),
            audit,
            reply,
        };
        if let Err(e) = self.jobs.try_send(job) {
            return unaudited(DbError::Unavailable(match e {
                TrySendError::Full(_) => "too many requests in flight".into(),
                TrySendError::Disconnected(_) => "lookup stopped".into(),
            }));
        }
        match tokio::time::timeout(self.wait, answer).await {
            Ok(Ok(looked)) => looked,
            Ok(Err(_)) => unaudited(DbError::Unavailable("lookup thread stopped".into())),
            Err(_) => unaudited(DbError::Unavailable(
                "timed out waiting for the database".into(),
            )),
        }
    }
}

fn unaudited(e: DbError) -> Looked {
    Looked {
        found: Err(e),
        audit: Audit::Failed,
    }
}

/// A lookup thread: until the service is dropped, take what is queued and
/// answer it with one statement (on the standby when it may answer, see
/// `store::replica`; else on the primary).
fn serve(pool: &Pool, replica: Option<&Replica>, receiver: &Receiver<Job>, wait: Duration) {
    while let Ok(first) = receiver.recv() {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        batch.push(first);
        batch.extend(receiver.try_iter().take(MAX_BATCH - 1));
        // A waiter that timed out has gone; do not query (or audit) for it.
        batch.retain(|job| !job.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let batch = match replica {
            Some(replica) => match on_standby(pool, replica, batch) {
                Some(unanswered) => unanswered,
                None => continue,
            },
            None => batch,
        };
        let keys: Vec<i64> = batch.iter().map(|job| job.key).collect();
        let mut columns = Columns::default();
        let mut clearances = Vec::with_capacity(batch.len());
        let mut audits = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        for job in batch {
            let mut event = job.audit.event;
            event.nhs_numbers = vec![job.key];
            columns.push(audit::Row::from_event(event));
            clearances.push(clearance_code(job.audit.clearance));
            audits.push(job.audit.of);
            replies.push(job.reply);
        }
        let answers = db::with_conn(pool, wait, |conn| {
            answer(conn, &keys, &columns, &clearances, audits)
        });
        match answers {
            Ok(answers) => {
                for (reply, found) in replies.into_iter().zip(answers) {
                    // The waiter may have timed out meanwhile; nothing to do.
                    let _ = reply.send(Looked {
                        found,
                        audit: Audit::Committed,
                    });
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(unaudited(match &e {
                        DbError::Unavailable(m) => DbError::Unavailable(m.clone()),
                        other => DbError::Shared(other.to_string()),
                    }));
                }
            }
        }
    }
}

/// Answers the batch from the standby, when it may (the audit rows are
/// left to the caller: a standby cannot write them). Gives the batch back,
/// unanswered, when it is for the primary.
fn on_standby(primary: &Pool, replica: &Replica, batch: Vec<Job>) -> Option<Vec<Job>> {
    let Some(mut conn) = replica.connection_for_read(primary) else {
        for _ in &batch {
            replica.health().count(Lane::Retrieve, Target::Primary);
        }
        return Some(batch);
    };
    let keys: Vec<i64> = batch.iter().map(|job| job.key).collect();
    let answers = match read_only(&mut conn.pg, &keys) {
        Ok(answers) => answers,
        Err(_) => {
            // The standby went away mid-batch: the primary answers it.
            replica.failed(&mut conn);
            for _ in &batch {
                replica.health().count(Lane::Retrieve, Target::Primary);
            }
            return Some(batch);
        }
    };
    for (job, found) in batch.into_iter().zip(answers) {
        replica.health().count(Lane::Retrieve, Target::Standby);
        let event = (job.audit.of)(&found);
        let _ = job.reply.send(Looked {
            found,
            audit: Audit::ToCommit(Box::new(event)),
        });
    }
    None
}

/// The batch's records from a server that cannot write (no audit rows);
/// only a transport failure fails the whole batch.
fn read_only(
    conn: &mut PgConnection,
    keys: &[i64],
) -> Result<Vec<Result<Retrieved, DbError>>, DbError> {
    let rows = by_number(Plain { keys }.load::<PatientRow>(conn)?);
    follow_each(conn, keys, &rows)
}

fn by_number(rows: Vec<PatientRow>) -> HashMap<i64, PatientRow> {
    rows.into_iter().map(|row| (row.nhs_number, row)).collect()
}

/// Each key's answer from the rows the batch statement found (following a
/// merge beyond them if need be).
fn follow_each(
    conn: &mut PgConnection,
    keys: &[i64],
    rows: &HashMap<i64, PatientRow>,
) -> Result<Vec<Result<Retrieved, DbError>>, DbError> {
    let mut answers = Vec::with_capacity(keys.len());
    for key in keys {
        // Cloned: the same number may be asked twice in a batch.
        let row = rows.get(key).cloned();
        // One failure (a corrupt row, say) answers only its own request.
        answers.push(match patients::follow_known(conn, row, rows) {
            Err(DbError::Unavailable(e)) => return Err(DbError::Unavailable(e)),
            other => other,
        });
    }
    Ok(answers)
}

/// Looks the batch up and writes its audit rows (see [`Audited`]); the
/// answers, one per key. Only a transport failure fails the whole batch.
fn answer(
    conn: &mut PgConnection,
    keys: &[i64],
    columns: &Columns,
    clearances: &[i16],
    audits: Vec<AuditOf>,
) -> Result<Vec<Result<Retrieved, DbError>>, DbError> {
    let statement = Audited {
        keys,
        columns,
        clearances,
    };
    let rows = by_number(statement.load::<PatientRow>(conn)?);
    let answers = follow_each(conn, keys, &rows)?;
    // The rows the statement could not write, or wrote without knowing the
    // record would not decode: before any answer.
    let extra: Vec<AuditEvent> = audits
        .into_iter()
        .zip(keys.iter().zip(&answers))
        .filter(|(_, (key, answer))| !judged(**key, &rows) || answer.is_err())
        .map(|(of, (_, answer))| of(answer))
        .collect();
    audit::insert_many(conn, extra)?;
    Ok(answers)
}

/// Whether the lookup statement wrote the audit row of a retrieve of `key`:
/// always, unless the record was merged into one that was merged again
/// (the statement follows one merge).
fn judged(key: i64, rows: &HashMap<i64, PatientRow>) -> bool {
    let merged_into = rows
        .get(&key)
        .filter(|row| !row.is_invalidated())
        .and_then(|row| row.superseded_by)
        .and_then(|n| rows.get(&n));
    merged_into.is_none_or(|merged| merged.superseded_by.is_none())
}

/// The clearance as the statement compares it with `patients.security`:
/// the code of the strictest label it sees in full, so a record is shown in
/// full when its code is at most this, as `label_visible_in_full` decides.
fn clearance_code(clearance: Clearance) -> i16 {
    let strictest_seen = Security::ALL
        .iter()
        .copied()
        .filter(|&label| label_visible_in_full(label, clearance))
        .fold(Security::Unrestricted, Security::strictest);
    StoredLabel::Label(strictest_seen).code()
}

/// The columns of a stored patient, in `PatientRow` order.
const STORED: &str = "nhs_number, superseded_by, deceased_at, version, birth_date, security, \
    gender, details, family_key";

/// The batch's lookup and its audit rows, in one statement: a writable CTE,
/// written as a query fragment so that it is prepared once per connection.
///
/// * `job`: one row per retrieve, the audit row's fixed part and the
///   caller's clearance;
/// * `found`: the records asked for (`= ANY`, the primary key, as before);
/// * `merged`: the records those were merged into (one hop);
/// * `shown`: per job, the label of the record the answer shows, NULL when
///   there is none (missing or invalidated: 404);
/// * `audited`: the rows: status 200 or 404, the number merged into, and
///   whether the record is redacted (`label > clearance`) or a restricted
///   one shown in full. Jobs whose record was merged twice are left to the
///   caller ([`judged`]).
///
/// It returns `found` and `merged`, which the caller follows as before.
struct Audited<'a> {
    keys: &'a [i64],
    columns: &'a Columns,
    clearances: &'a [i16],
}

impl QueryFragment<Pg> for Audited<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        use diesel::sql_types::{Array, Int2};
        out.push_sql("WITH job AS (SELECT * FROM ");
        self.columns.push_unnest(&mut out, |out| {
            out.push_sql(", ");
            out.push_bind_param::<Array<Int2>, _>(self.clearances)
        })?;
        out.push_sql(" AS j(");
        out.push_sql(Columns::NAMES);
        out.push_sql(", clearance)), ");
        push_found_and_merged(&mut out, self.keys)?;
        // The codes are written as literals (the enum's, not bound): the
        // statement is the same every time, and so is its plan.
        out.push_sql(&format!(
            ", shown AS (SELECT j.*, \
               CASE WHEN f.security = {invalidated} THEN NULL \
                    WHEN f.superseded_by IS NULL THEN f.security \
                    WHEN m.security < {invalidated} THEN m.security END AS label, \
               f.superseded_by AS merged_into, m.superseded_by AS merged_again \
             FROM job j LEFT JOIN found f ON f.nhs_number = j.nhs_number \
             LEFT JOIN merged m ON m.nhs_number = f.superseded_by \
               AND f.security < {invalidated}), \
             audited AS (INSERT INTO audit_events (",
            invalidated = StoredLabel::Invalidated.code(),
        ));
        out.push_sql(audit::Row::COLUMNS);
        out.push_sql(&format!(
            ") SELECT at, nhs_number, request_id, correlation_id, \
               CASE WHEN label IS NULL THEN 404 ELSE 200 END, access_mode, action, level, \
               coalesce(label > {unrestricted} AND label > clearance, false), \
               coalesce(label > {unrestricted} AND label <= clearance, false), \
               user_id, role_id, role_code, org_code, client_id, request_id_text, \
               correlation_id_text, access_mode_name, action_name, level_name, \
               CASE WHEN label IS NOT NULL AND merged_into IS NOT NULL \
                    THEN ARRAY[merged_into] END \
             FROM shown WHERE merged_again IS NULL) \
             SELECT ",
            unrestricted = StoredLabel::Label(Security::Unrestricted).code(),
        ));
        push_rows(&mut out);
        Ok(())
    }
}

/// `found` (the records asked for) and `merged` (the records those were
/// merged into, one hop), as CTEs.
fn push_found_and_merged<'b>(out: &mut AstPass<'_, 'b, Pg>, keys: &'b [i64]) -> QueryResult<()> {
    use diesel::sql_types::{Array, Int8};
    out.push_sql("found AS (SELECT ");
    out.push_sql(STORED);
    out.push_sql(" FROM patients WHERE nhs_number = ANY(");
    out.push_bind_param::<Array<Int8>, _>(keys)?;
    out.push_sql(")), merged AS (SELECT ");
    out.push_sql(STORED);
    out.push_sql(&format!(
        " FROM patients WHERE nhs_number IN (SELECT superseded_by FROM found \
         WHERE security < {invalidated} AND superseded_by IS NOT NULL))",
        invalidated = StoredLabel::Invalidated.code(),
    ));
    Ok(())
}

/// The rows of `found` and `merged`.
fn push_rows(out: &mut AstPass<'_, '_, Pg>) {
    out.push_sql(STORED);
    out.push_sql(" FROM found UNION ALL SELECT ");
    out.push_sql(STORED);
    out.push_sql(" FROM merged");
}

/// The batch's lookup alone, for a standby: `found` and `merged`.
struct Plain<'a> {
    keys: &'a [i64],
}

impl QueryFragment<Pg> for Plain<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH ");
        push_found_and_merged(&mut out, self.keys)?;
        out.push_sql(" SELECT ");
        push_rows(&mut out);
        Ok(())
    }
}

impl QueryId for Plain<'_> {
    type QueryId = Plain<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for Plain<'_> {
    type SqlType = patients::StoredRow;
}

impl RunQueryDsl<PgConnection> for Plain<'_> {}

impl QueryId for Audited<'_> {
    type QueryId = Audited<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for Audited<'_> {
    type SqlType = patients::StoredRow;
}

impl RunQueryDsl<PgConnection> for Audited<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Patient;
    use crate::seed;
    use crate::store::migrate::test_database;

    /// (requested, clearance) → what the trail must say: status, numbers,
    /// redacted, sensitive_override.
    type Case = (i64, Clearance, (u16, Vec<i64>, bool, bool));

    fn batch(conn: &mut PgConnection, cases: &[Case]) -> Vec<AuditEvent> {
        let mut columns = Columns::default();
        let mut clearances = Vec::new();
        let mut audits: Vec<AuditOf> = Vec::new();
        let keys: Vec<i64> = cases.iter().map(|(k, _, _)| *k).collect();
        for (i, (key, clearance, _)) in cases.iter().enumerate() {
            let event = AuditEvent {
                at: chrono::Utc::now(),
                request_id: Some(format!("job-{i}")),
                access_mode: "healthcare-worker".into(),
                action: "retrieve".into(),
                nhs_numbers: vec![*key],
                ..AuditEvent::default()
            };
            columns.push(audit::Row::from_event(event.clone()));
            clearances.push(clearance_code(*clearance));
            // What the caller would write where the statement cannot judge.
            audits.push(Box::new(move |found| AuditEvent {
                status: match found {
                    Ok(Retrieved::Current(_)) => 200,
                    Ok(_) => 404,
                    Err(_) => 500,
                },
                action: "retrieve-by-caller".into(),
                ..event
            }));
        }
        answer(conn, &keys, &columns, &clearances, audits).unwrap();
        let since = chrono::Utc::now() - chrono::Duration::hours(1);
        let until = chrono::Utc::now() + chrono::Duration::hours(1);
        let mut all = Vec::new();
        for key in keys.iter().collect::<std::collections::BTreeSet<_>>() {
            all.extend(audit::accesses(conn, *key, since, until).unwrap());
        }
        all.sort_by_key(|e| e.request_id.clone());
        all.dedup_by_key(|e| e.request_id.clone());
        all
    }

    fn store(conn: &mut PgConnection, number: i64, security: Security, merged_into: Option<i64>) {
        let n = NhsNumber::from_u64(number as u64).unwrap();
        let mut p = Patient::minimal(n, 1);
        p.security = security;
        let into = merged_into.map(|m| NhsNumber::from_u64(m as u64).unwrap());
        patients::insert(conn, &[PatientRow::from_patient(&p, into)], &[]).unwrap();
    }

    #[test]
    fn the_lookup_statement_writes_each_retrieves_audit_row_as_its_answer_shows_it() {
        let (_db, mut conn) = test_database("lookup_test");
        seed::ensure_seeded(&mut conn, 0, 1).unwrap();
        // A chain of two merges, which the statement leaves to the caller.
        let numbers: Vec<i64> = (999_000_300u64..)
            .filter_map(NhsNumber::from_stem)
            .take(3)
            .map(|n| n.as_i64())
            .collect();
        store(&mut conn, numbers[2], Security::Restricted, None);
        store(
            &mut conn,
            numbers[1],
            Security::Unrestricted,
            Some(numbers[2]),
        );
        store(
            &mut conn,
            numbers[0],
            Security::Unrestricted,
            Some(numbers[1]),
        );
        let jane = 9000000009;
        let (janet, vera, merged, invalidated, missing) =
            (9000000025, 9000000076, 9000000041, 9000000068, 9111231130);
        let cases: Vec<Case> = vec![
            (jane, Clearance::None, (200, vec![jane], false, false)),
            (janet, Clearance::None, (200, vec![janet], true, false)),
            (
                janet,
                Clearance::Restricted,
                (200, vec![janet], false, true),
            ),
            (vera, Clearance::Restricted, (200, vec![vera], true, false)),
            (vera, Clearance::All, (200, vec![vera], false, true)),
            (
                merged,
                Clearance::None,
                (200, vec![merged, jane], false, false),
            ),
            (
                invalidated,
                Clearance::All,
                (404, vec![invalidated], false, false),
            ),
            (missing, Clearance::All, (404, vec![missing], false, false)),
            // The same number twice in one batch: two rows.
            (jane, Clearance::All, (200, vec![jane], false, false)),
        ];
        let written = batch(&mut conn, &cases);
        assert_eq!(written.len(), cases.len(), "{written:#?}");
        for (i, (_, _, (status, numbers, redacted, sensitive))) in cases.iter().enumerate() {
            let row = &written[i];
            assert_eq!(row.request_id.as_deref(), Some(format!("job-{i}").as_str()));
            assert_eq!(row.action, "retrieve", "job {i}");
            assert_eq!(
                (
                    row.status,
                    &row.nhs_numbers,
                    row.redacted,
                    row.sensitive_override
                ),
                (*status, numbers, *redacted, *sensitive),
                "job {i}"
            );
        }
        // Merged twice: written by the caller, once, with the right status.
        let written = batch(
            &mut conn,
            &[(numbers[0], Clearance::None, (0, vec![], false, false))],
        );
        assert_eq!(written.len(), 1, "{written:#?}");
        assert_eq!(written[0].action, "retrieve-by-caller");
        assert_eq!(written[0].status, 200);
    }
}
