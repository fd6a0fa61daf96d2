//! The audit trail: one `audit_events` row per request (retrieve, search,
//! update, create, denied attempt, ...). See the migration
//! `2026-11-25-000002_audit` for the table and its sizing.
//!
//! **An answer never leaves before its audit row is committed**, so a crash
//! of the server (SIGKILL, power) cannot lose the record of an access that
//! was answered. Three ways in:
//!
//! * Answers that carry patient data write their row on the request's own
//!   path, in the statement that reads or writes the data or right after
//!   it, before the answer is sent: the batched retrieve lookup writes the
//!   batch's rows in the lookup statement itself (a writable CTE fed by
//!   [`Columns`], `store::lookup`); an update writes its row inside its one
//!   write statement ([`Row::push_values`], used by `updates::write`);
//!   searches, histories, related people and creates use [`insert_now`] on
//!   their connection.
//! * Every other answer (denials, validation errors, 404s) goes through
//!   [`Auditor::record_durably`]: the event goes straight into the
//!   background writer's buffer ([`Auditor::commit_then`]) and the request
//!   waits until the batch holding it is committed. A batch is one
//!   `COPY audit_events FROM STDIN (FORMAT binary)` of everything queued,
//!   so under load many requests share one commit (a group commit); the
//!   writer has its own connection, never one from the request pool. COPY
//!   rather than a multi-row INSERT: no bind-parameter limit (21 columns x
//!   1,000 rows would be 21,000 parameters) and the cheapest path into
//!   PostgreSQL.
//! * [`Auditor::record`] queues without waiting: for answers given while
//!   the writer cannot reach the database (see `api::audit`), where waiting
//!   would only add a second outage to the first.
//!
//! The writer writes as soon as `batch_size` (1,000) events or a waiting
//! request are queued, and at least every `interval` (100 ms).
//!
//! Why the channel is unbounded and the buffer is not: the channel only
//! grows while the drain thread is not running, and that thread does
//! nothing but move events under a mutex the writer holds for microseconds
//! (never while talking to the database). So a slow or unreachable database
//! cannot make the channel grow; it fills the buffer, which holds at most
//! `max_buffered` events (1,000,000 by default; about 500 bytes each in
//! memory, so ~0.5 GB at most) plus the batch being written.
//! Beyond that the oldest events are dropped and an error is logged with the
//! count (at most once a second). A bounded channel with `try_send` would
//! instead drop the newest events after a short stall, and would make every
//! request pay for the bound.
//!
//! While the database is down the writer keeps the batch in hand, logs a
//! warning on every failed attempt, reconnects, and retries with exponential
//! backoff (100 ms doubling to 5 s). A batch that fails on a healthy
//! connection is retried once row by row: rows that fail while others
//! succeed are refused by PostgreSQL itself ("poison") and are logged and
//! dropped instead of blocking the trail forever; if the first rows all fail
//! (a missing table, permissions, a full disk) the batch is kept and retried
//! whole. Text is cleaned first (NUL removed, at most 256 bytes per field)
//! so poison should not happen.
//!
//! [`Auditor::flush`] sends a marker down the same channel: every event
//! recorded before the call is ahead of it, so when the writer has committed
//! everything up to the marker's position, those events are in the table.

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::AstPass;
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::schema::audit_events;

mod columns;
pub use columns::Columns;

/// One audited request. Holds identifiers only: never a token, never patient
/// data beyond the NHS numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditEvent {
    pub at: DateTime<Utc>,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    /// "healthcare-worker" | "application-restricted" |
    /// "privileged-application" | "patient-access" | "unknown-scope" (a
    /// token that verified but names no scope of this API) |
    /// "unauthenticated" (no token verified)
    pub access_mode: String,
    pub user_id: Option<String>,
    /// The CIS2 `person_roleid` of the selected role.
    pub role_id: Option<String>,
    /// e.g. `S8000:G8000:R8000`
    pub role_code: Option<String>,
    pub org_code: Option<String>,
    /// The client application.
    pub client_id: Option<String>,
    /// The access level used, e.g. "staff_view".
    pub level: Option<String>,
    /// "retrieve" | "search" | "update" | "create" | "history" | "related" |
    /// "update-replay" | "create-replay" (a retry answered from a kept answer)
    pub action: String,
    pub nhs_numbers: Vec<i64>,
    pub status: u16,
    pub redacted: bool,
    /// A restricted record was returned unredacted.
    pub sensitive_override: bool,
}

/// The smallint codes of `audit_codes`; the migration inserts the same rows.
/// A value not listed is stored verbatim in the `*_name` column.
pub const ACCESS_MODES: &[(i16, &str)] = &[
    (1, "healthcare-worker"),
    (2, "application-restricted"),
    (3, "privileged-application"),
    (4, "patient-access"),
    (5, "unauthenticated"),
    (6, "unknown-scope"),
];
pub const ACTIONS: &[(i16, &str)] = &[
    (1, "retrieve"),
    (2, "search"),
    (3, "update"),
    (4, "create"),
    (5, "history"),
    (6, "related"),
    (7, "update-replay"),
    (8, "create-replay"),
];
pub const LEVELS: &[(i16, &str)] = &[
    (0, "none"),
    (1, "app_lookup"),
    (2, "privileged_app"),
    (3, "patient_self"),
    (4, "staff_view"),
    (5, "sensitive_view"),
    (6, "demographics_update"),
    (7, "demographics_admin"),
];

/// Most answers that may wait for the writer at once (each is a request
/// in flight, or a batch of them); beyond that they are refused, not queued.
const MAX_WAITERS: usize = 65_536;

/// Longest text kept in any field, in bytes (identifiers are far shorter;
/// this only stops a hostile header from bloating the table).
const MAX_TEXT: usize = 256;

#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// Write as soon as this many events are queued.
    pub batch_size: usize,
    /// Most events one COPY writes (when catching up after an outage).
    pub max_batch: usize,
    /// Write whatever is queued at least this often.
    pub interval: Duration,
    /// Most events held in memory, besides the batch being written.
    pub max_buffered: usize,
    /// First wait after a failed write; doubles up to `retry_max`.
    pub retry_min: Duration,
    pub retry_max: Duration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            batch_size: 1_000,
            max_batch: 10_000,
            interval: Duration::from_millis(100),
            max_buffered: 1_000_000,
            retry_min: Duration::from_millis(100),
            retry_max: Duration::from_secs(5),
        }
    }
}

/// Counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditStats {
    /// Events received by the writer's buffer.
    pub recorded: u64,
    /// Events committed.
    pub written: u64,
    /// Statements (COPY or single-row INSERT) that committed events.
    pub batches: u64,
    /// Events lost: buffer overflow, poison rows, recorded after shutdown.
    pub dropped: u64,
    /// Events in memory now, including the batch being written.
    pub buffered: u64,
}

/// The background audit writer. Cheap to clone; every clone feeds the same
/// writer. When the last clone is dropped the writer writes what it holds
/// and stops; call [`Auditor::shutdown`] to wait for that.
#[derive(Clone)]
pub struct Auditor {
    inner: Arc<Inner>,
}

struct Inner {
    tx: mpsc::Sender<Msg>,
    shared: Arc<Shared>,
    /// The result of `shutdown`, once it has run.
    closed: Mutex<Option<bool>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

// Events are nearly all the traffic; boxing them would add an allocation per
// request to shrink the two rare markers.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Event(AuditEvent),
    Flush(Ack),
    Close(mpsc::SyncSender<bool>),
}

/// What to do once the events before a marker are committed (true) or
/// lost (false): wake a blocked thread, or run a callback (on the writer
/// thread, under the buffer's lock, so it must be quick and must not call
/// the auditor: send answers on, nothing more).
enum Ack {
    Sync(mpsc::SyncSender<bool>),
    Then(Committed),
}

/// A callback for [`Auditor::commit_then`].
pub type Committed = Box<dyn FnOnce(bool) + Send>;

impl Ack {
    fn send(self, intact: bool) {
        // The caller may have given up waiting: nothing to do then.
        match self {
            Ack::Sync(tx) => {
                let _ = tx.try_send(intact);
            }
            Ack::Then(then) => then(intact),
        }
    }
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the writer: a full batch, a flush, shutdown.
    wake: Condvar,
    recorded: AtomicU64,
    written: AtomicU64,
    batches: AtomicU64,
    dropped: AtomicU64,
    /// The last write succeeded (or none was tried yet).
    writing: AtomicBool,
    /// `AuditConfig::max_buffered`.
    max_buffered: usize,
}

/// Events get consecutive positions as the drain thread queues them:
/// `queue[i]` is position `head + i`, the writer's batch is `in_flight`.
struct State {
    queue: VecDeque<Row>,
    head: u64,
    in_flight: Range<u64>,
    waiters: Vec<Waiter>,
    /// No more events will come: write what is left, then exit.
    closing: bool,
    /// Exit now (shutdown's deadline passed).
    stop: bool,
}

struct Waiter {
    /// Done when every position below this is written.
    upto: u64,
    /// None of those positions was lost (dropped or refused).
    intact: bool,
    ack: Ack,
}

impl State {
    /// The oldest position not yet written (or lost).
    fn pending_from(&self) -> u64 {
        if self.in_flight.is_empty() {
            self.head
        } else {
            self.in_flight.start
        }
    }

    fn held(&self) -> usize {
        self.queue.len() + (self.in_flight.end - self.in_flight.start) as usize
    }

    /// Positions from `from` on were lost: the flushes waiting for any of
    /// them fail.
    fn lose_from(&mut self, from: u64) {
        for w in &mut self.waiters {
            if w.upto > from {
                w.intact = false;
            }
        }
    }

    /// Drops the oldest queued events beyond `max` held; how many.
    fn trim(&mut self, max: usize) -> u64 {
        let held = self.held();
        if held <= max {
            return 0;
        }
        let excess = (held - max).min(self.queue.len());
        self.queue.drain(..excess);
        let from = self.head;
        self.lose_from(from);
        self.head += excess as u64;
        excess as u64
    }

    fn settle_waiters(&mut self) {
        if self.waiters.is_empty() {
            return;
        }
        let from = self.pending_from();
        for w in self.waiters.extract_if(.., |w| w.upto <= from) {
            w.ack.send(w.intact);
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Auditor {
    /// Starts the background writer with its own connection to
    /// `database_url` (not the request pool). Does not connect yet: the
    /// service starts while the database is down, and auditing catches up.
    pub fn start(database_url: &str) -> Self {
        Self::start_with(database_url, AuditConfig::default())
    }

    pub fn start_with(database_url: &str, config: AuditConfig) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                head: 0,
                in_flight: 0..0,
                waiters: Vec::new(),
                closing: false,
                stop: false,
            }),
            wake: Condvar::new(),
            recorded: AtomicU64::new(0),
            written: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            writing: AtomicBool::new(true),
            max_buffered: config.max_buffered,
        });
        let (tx, rx) = mpsc::channel();
        let drain = {
            let shared = shared.clone();
            let config = config.clone();
            thread::Builder::new()
                .name("audit-drain".into())
                .spawn(move || drain_loop(rx, &shared, &config))
                .expect("starting the audit drain thread")
        };
        let writer = {
            let shared = shared.clone();
            let url = writer_url(database_url);
            thread::Builder::new()
                .name("audit-writer".into())
                .spawn(move || write_loop(&shared, &url, &config))
                .expect("starting the audit writer thread")
        };
        Self {
            inner: Arc::new(Inner {
                tx,
                shared,
                closed: Mutex::new(None),
                threads: Mutex::new(vec![drain, writer]),
            }),
        }
    }

    /// Queues `event` and returns at once, whatever the database is doing.
    pub fn record(&self, event: AuditEvent) {
        if self.inner.tx.send(Msg::Event(event)).is_err() {
            self.inner.shared.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::error!("audit event recorded after shutdown: not written");
        }
    }

    /// Writes everything recorded before this call and returns true once it
    /// is committed; false if `deadline` passes first, or if any of those
    /// events was lost meanwhile (buffer overflow, refused by the database).
    /// Events already reported lost before the call do not count.
    pub fn flush(&self, deadline: Duration) -> bool {
        let (ack, done) = mpsc::sync_channel(1);
        if self.inner.tx.send(Msg::Flush(Ack::Sync(ack))).is_err() {
            return false; // shut down
        }
        done.recv_timeout(deadline).unwrap_or(false)
    }

    /// Queues `events` and calls `then(true)` once the batch holding them is
    /// committed, or `then(false)` if one of them (or an event queued before
    /// them) was lost. They go straight into the writer's buffer, not
    /// through the drain thread (which pauses between rounds), and wake the
    /// writer: it takes everything queued in one statement, so under load
    /// many requests share one commit. `then` runs on the writer thread.
    pub fn commit_then(&self, events: Vec<AuditEvent>, then: Committed) {
        let rows: Vec<Row> = events.into_iter().map(Row::from_event).collect();
        let shared = &self.inner.shared;
        let n = rows.len() as u64;
        let dropped = {
            let mut state = shared.lock();
            if state.closing || state.stop || state.waiters.len() >= MAX_WAITERS {
                drop(state);
                shared.dropped.fetch_add(n, Ordering::Relaxed);
                tracing::error!("audit events not accepted (shut down, or too many waiting)");
                then(false);
                return;
            }
            state.queue.extend(rows);
            let upto = state.head + state.queue.len() as u64;
            state.waiters.push(Waiter {
                upto,
                intact: true,
                ack: Ack::Then(then),
            });
            let dropped = state.trim(shared.max_buffered);
            state.settle_waiters();
            dropped
        };
        shared.recorded.fetch_add(n, Ordering::Relaxed);
        if dropped > 0 {
            shared.dropped.fetch_add(dropped, Ordering::Relaxed);
            tracing::error!(
                dropped,
                "audit buffer full: dropped the oldest unwritten audit events"
            );
        }
        shared.wake.notify_all();
    }

    /// Queues `event` and resolves once it is committed: true, or false if
    /// it (or an event queued before it) was lost, the writer has shut down,
    /// or `deadline` passed first (the event then stays queued). See
    /// [`Auditor::commit_then`].
    pub async fn record_durably(&self, event: AuditEvent, deadline: Duration) -> bool {
        let (ack, done) = tokio::sync::oneshot::channel();
        self.commit_then(
            vec![event],
            Box::new(move |intact| {
                let _ = ack.send(intact);
            }),
        );
        matches!(tokio::time::timeout(deadline, done).await, Ok(Ok(true)))
    }

    /// Whether the writer's last attempt succeeded: false while the database
    /// is unreachable (events are then held in memory and written later).
    pub fn is_writing(&self) -> bool {
        self.inner.shared.writing.load(Ordering::Relaxed)
    }

    /// Flushes and stops the writer. True when everything recorded before
    /// the call was committed within `deadline`. Past the deadline the
    /// writer gives up (logging what it could not write): the process is
    /// going away. Events recorded afterwards are dropped and logged.
    pub fn shutdown(&self, deadline: Duration) -> bool {
        let mut closed = self
            .inner
            .closed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(result) = *closed {
            return result;
        }
        let (ack, done) = mpsc::sync_channel(1);
        let result = self.inner.tx.send(Msg::Close(ack)).is_ok()
            && done.recv_timeout(deadline).unwrap_or(false);
        let shared = &self.inner.shared;
        shared.lock().stop = true;
        shared.wake.notify_all();
        if result {
            // Both threads are finishing now; wait for them (quick).
            let threads = std::mem::take(
                &mut *self
                    .inner
                    .threads
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            for thread in threads {
                let _ = thread.join();
            }
        }
        *closed = Some(result);
        result
    }

    pub fn stats(&self) -> AuditStats {
        let shared = &self.inner.shared;
        let buffered = shared.lock().held() as u64;
        AuditStats {
            recorded: shared.recorded.load(Ordering::Relaxed),
            written: shared.written.load(Ordering::Relaxed),
            batches: shared.batches.load(Ordering::Relaxed),
            dropped: shared.dropped.load(Ordering::Relaxed),
            buffered,
        }
    }
}

/// For answers that must not leave before their audit row is committed (a
/// search, a history, a create): one INSERT on the request's own
/// connection, inside its transaction if it has one.
pub fn insert_now(conn: &mut PgConnection, event: &AuditEvent) -> QueryResult<()> {
    insert_row(conn, &Row::from_event(event.clone()))
}

/// Several events in one statement (the retrieves the lookup statement
/// cannot judge), on the caller's connection.
pub fn insert_many(conn: &mut PgConnection, events: Vec<AuditEvent>) -> QueryResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<Row> = events.into_iter().map(Row::from_event).collect();
    copy_rows(conn, &rows)
}

/// The investigation: every event that concerns `nhs_number` with
/// `since <= at < until`, oldest first. Uses the (nhs_number, at) btree and
/// the GIN index on the other numbers of multi-result searches.
pub fn accesses(
    conn: &mut PgConnection,
    nhs_number: i64,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> QueryResult<Vec<AuditEvent>> {
    use audit_events::dsl as e;
    let first = e::audit_events
        .filter(e::nhs_number.eq(nhs_number))
        .filter(e::at.ge(since))
        .filter(e::at.lt(until))
        .select(Row::as_select());
    let others = e::audit_events
        .filter(e::other_nhs_numbers.contains(vec![nhs_number]))
        .filter(e::at.ge(since))
        .filter(e::at.lt(until))
        .select(Row::as_select());
    let mut rows: Vec<Row> = first.union_all(others).load(conn)?;
    rows.sort_by_key(|row| row.at);
    Ok(rows.into_iter().map(Row::into_event).collect())
}

// ---------------------------------------------------------------------------
// Rows

#[derive(Debug, Clone, PartialEq, Insertable, Queryable, Selectable)]
#[diesel(table_name = audit_events, check_for_backend(Pg))]
#[diesel(treat_none_as_default_value = false)]
pub struct Row {
    at: DateTime<Utc>,
    nhs_number: Option<i64>,
    request_id: Option<uuid::Uuid>,
    correlation_id: Option<uuid::Uuid>,
    status: i16,
    access_mode: Option<i16>,
    action: Option<i16>,
    level: Option<i16>,
    redacted: bool,
    sensitive_override: bool,
    user_id: Option<String>,
    role_id: Option<String>,
    role_code: Option<String>,
    org_code: Option<String>,
    client_id: Option<String>,
    request_id_text: Option<String>,
    correlation_id_text: Option<String>,
    access_mode_name: Option<String>,
    action_name: Option<String>,
    level_name: Option<String>,
    other_nhs_numbers: Option<Vec<i64>>,
}

impl Row {
    /// The columns [`Row::push_values`] gives values for, in its order.
    pub const COLUMNS: &str = "at, nhs_number, request_id, correlation_id, status, access_mode, \
        action, level, redacted, sensitive_override, user_id, role_id, role_code, org_code, \
        client_id, request_id_text, correlation_id_text, access_mode_name, action_name, \
        level_name, other_nhs_numbers";

    /// The row's values as bind parameters separated by commas, for an
    /// `INSERT … SELECT` that diesel's insert cannot express (a PATCH
    /// inserts its audit row only if its update happened, in one statement).
    pub fn push_values<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        use diesel::sql_types::{Array, Bool, Int2, Int8, Nullable, Text, Timestamptz, Uuid};
        out.push_bind_param::<Timestamptz, _>(&self.at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Int8>, _>(&self.nhs_number)?;
        for uuid in [&self.request_id, &self.correlation_id] {
            out.push_sql(", ");
            out.push_bind_param::<Nullable<Uuid>, _>(uuid)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Int2, _>(&self.status)?;
        for code in [&self.access_mode, &self.action, &self.level] {
            out.push_sql(", ");
            out.push_bind_param::<Nullable<Int2>, _>(code)?;
        }
        for flag in [&self.redacted, &self.sensitive_override] {
            out.push_sql(", ");
            out.push_bind_param::<Bool, _>(flag)?;
        }
        for text in [
            &self.user_id,
            &self.role_id,
            &self.role_code,
            &self.org_code,
            &self.client_id,
            &self.request_id_text,
            &self.correlation_id_text,
            &self.access_mode_name,
            &self.action_name,
            &self.level_name,
        ] {
            out.push_sql(", ");
            out.push_bind_param::<Nullable<Text>, _>(text)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Array<Int8>>, _>(&self.other_nhs_numbers)
    }

    pub fn from_event(event: AuditEvent) -> Self {
        let (request_id, request_id_text) = split_uuid(event.request_id);
        let (correlation_id, correlation_id_text) = split_uuid(event.correlation_id);
        let (access_mode, access_mode_name) = split_code(ACCESS_MODES, Some(event.access_mode));
        let (action, action_name) = split_code(ACTIONS, Some(event.action));
        let (level, level_name) = split_code(LEVELS, event.level);
        let mut numbers = event.nhs_numbers;
        let other_nhs_numbers = (numbers.len() > 1).then(|| numbers.split_off(1));
        Self {
            at: event.at,
            nhs_number: numbers.first().copied(),
            request_id,
            correlation_id,
            status: i16::try_from(event.status).unwrap_or(i16::MAX),
            access_mode,
            action,
            level,
            redacted: event.redacted,
            sensitive_override: event.sensitive_override,
            user_id: event.user_id.map(clean),
            role_id: event.role_id.map(clean),
            role_code: event.role_code.map(clean),
            org_code: event.org_code.map(clean),
            client_id: event.client_id.map(clean),
            request_id_text,
            correlation_id_text,
            access_mode_name,
            action_name,
            level_name,
            other_nhs_numbers,
        }
    }

    fn into_event(self) -> AuditEvent {
        let name = |table: &[(i16, &str)], code: Option<i16>, text: Option<String>| {
            code.and_then(|c| table.iter().find(|(k, _)| *k == c))
                .map(|(_, n)| (*n).to_owned())
                .or(text)
        };
        let uuid = |value: Option<uuid::Uuid>, text: Option<String>| {
            value.map(|u| u.hyphenated().to_string()).or(text)
        };
        let mut nhs_numbers: Vec<i64> = self.nhs_number.into_iter().collect();
        nhs_numbers.extend(self.other_nhs_numbers.unwrap_or_default());
        AuditEvent {
            at: self.at,
            request_id: uuid(self.request_id, self.request_id_text),
            correlation_id: uuid(self.correlation_id, self.correlation_id_text),
            access_mode: name(ACCESS_MODES, self.access_mode, self.access_mode_name)
                .unwrap_or_default(),
            user_id: self.user_id,
            role_id: self.role_id,
            role_code: self.role_code,
            org_code: self.org_code,
            client_id: self.client_id,
            level: name(LEVELS, self.level, self.level_name),
            action: name(ACTIONS, self.action, self.action_name).unwrap_or_default(),
            nhs_numbers,
            status: u16::try_from(self.status).unwrap_or_default(),
            redacted: self.redacted,
            sensitive_override: self.sensitive_override,
        }
    }
}

/// A canonical (lower-case, hyphenated) UUID goes in the 16-byte column;
/// anything else is kept verbatim as text, so it reads back unchanged.
fn split_uuid(value: Option<String>) -> (Option<uuid::Uuid>, Option<String>) {
    let Some(value) = value else {
        return (None, None);
    };
    match uuid::Uuid::try_parse(&value) {
        Ok(u) if value.len() == 36 && u.hyphenated().to_string() == value => (Some(u), None),
        _ => (None, Some(clean(value))),
    }
}

fn split_code(table: &[(i16, &str)], name: Option<String>) -> (Option<i16>, Option<String>) {
    match name {
        None => (None, None),
        Some(name) => match table.iter().find(|(_, n)| *n == name) {
            Some((code, _)) => (Some(*code), None),
            None => (None, Some(clean(name))),
        },
    }
}

/// PostgreSQL text cannot hold NUL, and no identifier needs 256 bytes.
fn clean(mut text: String) -> String {
    if text.contains('\0') {
        text.retain(|c| c != '\0');
    }
    if text.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn insert_row(conn: &mut PgConnection, row: &Row) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

fn copy_rows(conn: &mut PgConnection, rows: &[Row]) -> QueryResult<()> {
    diesel::copy_from(audit_events::table)
        .from_insertable(rows)
        .execute(conn)
        .map(|_| ())
}

/// The writer's URL: a connect timeout (libpq waits forever by default) and
/// an application name, unless the URL sets them.
fn writer_url(url: &str) -> String {
    let uri = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let mut out = url.to_owned();
    for (key, value) in [("connect_timeout", "5"), ("application_name", "pds-audit")] {
        if url.contains(&format!("{key}=")) {
            continue;
        }
        if uri {
            out.push(if out.contains('?') { '&' } else { '?' });
        } else {
            out.push(' ');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}

// ---------------------------------------------------------------------------
// The threads

#[allow(clippy::large_enum_variant)] // as `Msg`
enum Item {
    Row(Row),
    /// A flush (false) or shutdown (true) waiting for what came before.
    Marker(Ack, bool),
}

/// Moves events from the channel into the buffer, enforcing its bound.
fn drain_loop(rx: mpsc::Receiver<Msg>, shared: &Shared, config: &AuditConfig) {
    let mut unlogged_drops = 0u64;
    let mut last_drop_log: Option<Instant> = None;
    loop {
        // Take what has arrived (up to a chunk) and convert it outside the
        // lock; the lock is then held only to append.
        let mut items = Vec::new();
        let mut disconnected = false;
        match rx.recv() {
            Ok(msg) => items.push(msg),
            Err(_) => disconnected = true,
        }
        while !disconnected && items.len() < 1024 {
            match rx.try_recv() {
                Ok(msg) => items.push(msg),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => disconnected = true,
            }
        }
        let items: Vec<Item> = items
            .into_iter()
            .map(|msg| match msg {
                Msg::Event(event) => Item::Row(Row::from_event(event)),
                Msg::Flush(ack) => Item::Marker(ack, false),
                Msg::Close(ack) => Item::Marker(Ack::Sync(ack), true),
            })
            .collect();
        let mut closing = disconnected;
        let mut wake = disconnected;
        let dropped;
        let mut recorded = 0u64;
        {
            let mut state = shared.lock();
            for item in items {
                match item {
                    Item::Row(row) => {
                        state.queue.push_back(row);
                        recorded += 1;
                    }
                    Item::Marker(ack, close) => {
                        closing |= close;
                        let upto = state.head + state.queue.len() as u64;
                        state.waiters.push(Waiter {
                            upto,
                            intact: true,
                            ack,
                        });
                        wake = true;
                    }
                }
            }
            dropped = state.trim(config.max_buffered);
            if closing {
                state.closing = true;
            }
            if state.queue.len() >= config.batch_size {
                wake = true;
            }
            state.settle_waiters();
        }
        shared.recorded.fetch_add(recorded, Ordering::Relaxed);
        if wake {
            shared.wake.notify_all();
        }
        if dropped > 0 {
            shared.dropped.fetch_add(dropped, Ordering::Relaxed);
            unlogged_drops += dropped;
        }
        if unlogged_drops > 0
            && (closing || last_drop_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)))
        {
            tracing::error!(
                dropped = unlogged_drops,
                dropped_total = shared.dropped.load(Ordering::Relaxed),
                max_buffered = config.max_buffered,
                "audit buffer full: dropped the oldest unwritten audit events"
            );
            unlogged_drops = 0;
            last_drop_log = Some(Instant::now());
        }
        if closing {
            return;
        }
        // Let events gather before the next drain: a sender wakes this
        // thread only when it waits in `recv`, and under load a wake per
        // request cost more CPU than the audit itself.
        std::thread::sleep(DRAIN_PAUSE);
    }
}

/// See `drain_loop`; short beside the writer's `interval`.
const DRAIN_PAUSE: Duration = Duration::from_millis(5);

/// Takes batches from the buffer and writes them, retrying while the
/// database is unreachable.
fn write_loop(shared: &Shared, url: &str, config: &AuditConfig) {
    let mut conn: Option<PgConnection> = None;
    let mut batch: Vec<Row> = Vec::new();
    let mut failures: u32 = 0;
    // The batch in hand was already tried row by row, and no row got in.
    let mut isolated = false;
    let mut next_tick = Instant::now() + config.interval;
    loop {
        if batch.is_empty() {
            let mut state = shared.lock();
            loop {
                state.settle_waiters();
                if state.stop {
                    return;
                }
                let queued = state.queue.len();
                if queued == 0 && state.closing {
                    return;
                }
                let now = Instant::now();
                let urgent = queued >= config.batch_size
                    || state.closing
                    || state.waiters.iter().any(|w| w.upto > state.head);
                if queued > 0 && (urgent || now >= next_tick) {
                    break;
                }
                if now >= next_tick {
                    next_tick = now + config.interval;
                }
                let timeout = next_tick.saturating_duration_since(now);
                state = shared
                    .wake
                    .wait_timeout(state, timeout)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            let take = state.queue.len().min(config.max_batch.max(1));
            batch.extend(state.queue.drain(..take));
            state.in_flight = state.head..state.head + take as u64;
            state.head += take as u64;
            next_tick = Instant::now() + config.interval;
            isolated = false;
        }

        match write(&mut conn, url, &batch) {
            Ok(()) => {
                let n = batch.len() as u64;
                batch.clear();
                shared.writing.store(true, Ordering::Relaxed);
                finish_batch(shared, n, 1, 0);
                if failures > 0 {
                    tracing::info!(failures, "audit writer recovered");
                    failures = 0;
                }
                continue;
            }
            Err(WriteError { error, healthy }) => {
                shared.writing.store(false, Ordering::Relaxed);
                if !healthy {
                    conn = None;
                } else if !isolated && let Some(c) = conn.as_mut() {
                    // The server answers but refused the batch: find out
                    // whether particular rows are at fault.
                    match isolate(shared, c, &mut batch) {
                        Isolation::Resolved => {
                            shared.writing.store(true, Ordering::Relaxed);
                            continue;
                        }
                        Isolation::NotTheRows => isolated = true,
                        Isolation::Broken => conn = None,
                    }
                }
                failures = failures.saturating_add(1);
                let backoff = config
                    .retry_min
                    .saturating_mul(1 << failures.saturating_sub(1).min(16))
                    .min(config.retry_max);
                let state = shared.lock();
                tracing::warn!(
                    error = %error,
                    failures,
                    buffered = state.held(),
                    retry_in_ms = backoff.as_millis() as u64,
                    "audit events not written; keeping them and retrying"
                );
                let state = shared
                    .wake
                    .wait_timeout_while(state, backoff, |s| !s.stop)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                if state.stop {
                    tracing::error!(
                        unwritten = state.held(),
                        "audit writer stopped at shutdown with events unwritten"
                    );
                    return;
                }
            }
        }
    }
}

struct WriteError {
    error: String,
    /// The connection still answers (the failure was not the transport).
    healthy: bool,
}

fn write(conn: &mut Option<PgConnection>, url: &str, batch: &[Row]) -> Result<(), WriteError> {
    if conn.is_none() {
        *conn = Some(PgConnection::establish(url).map_err(|e| WriteError {
            error: format!("connecting: {e}"),
            healthy: false,
        })?);
    }
    let c = conn.as_mut().expect("connected above");
    copy_rows(c, batch).map_err(|e| WriteError {
        error: e.to_string(),
        healthy: healthy(c),
    })
}

fn healthy(conn: &mut PgConnection) -> bool {
    conn.batch_execute("SELECT 1").is_ok()
}

/// Marks the writer's batch done: `written` rows committed by `statements`
/// statements, `poisoned` rows dropped.
fn finish_batch(shared: &Shared, written: u64, statements: u64, poisoned: u64) {
    shared.written.fetch_add(written, Ordering::Relaxed);
    shared.batches.fetch_add(statements, Ordering::Relaxed);
    shared.dropped.fetch_add(poisoned, Ordering::Relaxed);
    let mut state = shared.lock();
    if poisoned > 0 {
        let from = state.in_flight.start;
        state.lose_from(from);
    }
    state.in_flight.start = state.in_flight.end;
    state.settle_waiters();
}

enum Isolation {
    /// Every row written or dropped as poison.
    Resolved,
    /// The first rows all failed: the fault is elsewhere (a missing table,
    /// permissions, a full disk). The batch is kept for a retry.
    NotTheRows,
    /// The connection failed meanwhile; the rest is kept for a retry.
    Broken,
}

/// Rows that must all fail before `isolate` blames something else.
const ISOLATION_PROBE: u64 = 16;

/// After the server refused a whole batch, writes its rows one by one.
/// Rows that fail while others succeed are poison: logged and dropped.
fn isolate(shared: &Shared, conn: &mut PgConnection, batch: &mut Vec<Row>) -> Isolation {
    let rows = std::mem::take(batch);
    let total = rows.len();
    let mut written = 0u64;
    let mut failed: Vec<(Row, diesel::result::Error)> = Vec::new();
    let mut rows = rows.into_iter();
    while let Some(row) = rows.next() {
        match insert_row(conn, &row) {
            Ok(()) => written += 1,
            Err(e) if healthy(conn) => {
                failed.push((row, e));
                if written == 0 && failed.len() as u64 >= ISOLATION_PROBE {
                    batch.extend(failed.into_iter().map(|(row, _)| row));
                    batch.extend(rows);
                    return Isolation::NotTheRows;
                }
            }
            Err(_) => {
                batch.extend(failed.into_iter().map(|(row, _)| row));
                batch.push(row);
                batch.extend(rows);
                shared.written.fetch_add(written, Ordering::Relaxed);
                shared.batches.fetch_add(written, Ordering::Relaxed);
                return Isolation::Broken;
            }
        }
    }
    if written == 0 {
        batch.extend(failed.into_iter().map(|(row, _)| row));
        return Isolation::NotTheRows;
    }
    if let Some((_, error)) = failed.first() {
        tracing::error!(
            dropped = failed.len(),
            of = total,
            error = %error,
            "audit events refused by the database: dropped"
        );
    }
    finish_batch(shared, written, written, failed.len() as u64);
    Isolation::Resolved
}

#[cfg(test)]
mod tests;
