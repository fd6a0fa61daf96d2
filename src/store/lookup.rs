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
//! Each job brings the audit event of its answer, made from what the lookup
//! found (`AuditOf`): the thread writes the whole batch's events with one
//! COPY on the same connection before it hands any answer back, so no
//! retrieve is answered without its committed audit row, and the batch
//! that makes lookups cheap makes their audit cheap too.

use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::oneshot;

use super::audit::{self, AuditEvent};
use super::db::{self, DbError, Pool};
use super::patients::{self, PatientRow, Retrieved};
use crate::domain::NhsNumber;

/// Largest batch: bounds the statement's array and one batch's latency.
const MAX_BATCH: usize = 64;

/// Makes the audit event of a retrieve from what its lookup found.
pub type AuditOf = Box<dyn FnOnce(&Result<Retrieved, DbError>) -> AuditEvent + Send>;

/// What a retrieve got back.
pub struct Looked {
    pub found: Result<Retrieved, DbError>,
    /// Its audit event is committed (false only when the lookup or the
    /// audit write failed, and then `found` is an error).
    pub audited: bool,
}

struct Job {
    key: i64,
    audit: AuditOf,
    reply: oneshot::Sender<Looked>,
}

#[derive(Clone)]
pub struct Lookup {
    jobs: Sender<Job>,
    wait: Duration,
    pool: Pool,
}

impl Lookup {
    /// Starts `threads` lookup threads, each with a connection of its own
    /// from `pool` (opened when first needed), and a queue of `queue` jobs.
    pub fn start(pool: Pool, threads: usize, queue: usize, wait: Duration) -> Self {
        let (jobs, receiver) = crossbeam_channel::bounded(queue.max(1));
        for n in 0..threads.max(1) {
            let receiver = receiver.clone();
            let thread_pool = pool.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("pds-lookup-{n}"))
                .spawn(move || serve(&thread_pool, &receiver, wait));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a lookup thread");
            }
        }
        Self { jobs, wait, pool }
    }

    /// The threads' connections (for the pool gauges).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The record for `nhs_number`, with the audit event `audit` makes of
    /// it committed first.
    pub async fn retrieve(&self, nhs_number: NhsNumber, audit: AuditOf) -> Looked {
        let unaudited = |e: DbError| Looked {
            found: Err(e),
            audited: false,
        };
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

/// A lookup thread: until the service is dropped, take what is queued and
/// answer it with one query.
fn serve(pool: &Pool, receiver: &Receiver<Job>, wait: Duration) {
    while let Ok(first) = receiver.recv() {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        batch.push(first);
        batch.extend(receiver.try_iter().take(MAX_BATCH - 1));
        // A waiter that timed out has gone; do not query for it.
        batch.retain(|job| !job.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let keys: Vec<i64> = batch.iter().map(|job| job.key).collect();
        let (audits, replies): (Vec<AuditOf>, Vec<_>) =
            batch.into_iter().map(|job| (job.audit, job.reply)).unzip();
        let answers = db::with_conn(pool, wait, |conn| {
            let rows: HashMap<i64, PatientRow> = patients::find_many(conn, &keys)?
                .into_iter()
                .map(|row| (row.nhs_number, row))
                .collect();
            let mut answers = Vec::with_capacity(keys.len());
            for key in &keys {
                // Cloned: the same number may be asked twice in a batch.
                let row = rows.get(key).cloned();
                // One failure (a corrupt row, say) answers only its own request.
                answers.push(match patients::follow(conn, row) {
                    Err(DbError::Unavailable(e)) => return Err(DbError::Unavailable(e)),
                    other => other,
                });
            }
            // Before any answer leaves: the batch's audit rows, committed.
            let events = audits
                .into_iter()
                .zip(&answers)
                .map(|(of, a)| of(a))
                .collect();
            audit::insert_many(conn, events)?;
            Ok(answers)
        });
        match answers {
            Ok(answers) => {
                for (reply, found) in replies.into_iter().zip(answers) {
                    // The waiter may have timed out meanwhile; nothing to do.
                    let _ = reply.send(Looked {
                        found,
                        audited: true,
                    });
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Looked {
                        found: Err(match &e {
                            DbError::Unavailable(m) => DbError::Unavailable(m.clone()),
                            other => DbError::Shared(other.to_string()),
                        }),
                        audited: false,
                    });
                }
            }
        }
    }
}
