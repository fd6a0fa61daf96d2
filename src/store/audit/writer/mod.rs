//! The background audit writer: requests hand it events ([`Auditor`]), a
//! drain thread moves them into a bounded buffer, and a writer thread
//! commits the buffer in batches on a connection of its own (`threads`).
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

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::{AuditEvent, Row};

mod threads;
use threads::{drain_loop, write_loop};

/// Most answers that may wait for the writer at once (each is a request
/// in flight, or a batch of them); beyond that they are refused, not queued.
const MAX_WAITERS: usize = 65_536;

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
    /// Answers may go out with their events queued while the database
    /// cannot be written (see [`Auditor::hold_while_unreachable`]).
    hold: AtomicBool,
    /// Answers that did.
    held: AtomicU64,
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
                hold: AtomicBool::new(false),
                held: AtomicU64::new(0),
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

    /// With `on`, a data answer whose event cannot be committed because
    /// the database cannot be written at all (the primary is failing over)
    /// may go out with its event queued, to be written when a primary
    /// returns; reads are then served by a standby. Off (the default), such
    /// an answer is 503.
    pub fn hold_while_unreachable(&self, on: bool) {
        self.inner.hold.store(on, Ordering::Relaxed);
    }

    /// Queues `event` for an answer that goes out before it is committed,
    /// if [`Auditor::hold_while_unreachable`] allows it now: true if it
    /// did (else the event is not kept: the answer is refused, and that
    /// refusal audited instead).
    pub fn hold(&self, event: AuditEvent) -> bool {
        if !self.inner.hold.load(Ordering::Relaxed) || self.is_writing() {
            return false;
        }
        self.record(event);
        self.inner.held.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Answers sent with their events queued (see [`Auditor::hold`]).
    pub fn held(&self) -> u64 {
        self.inner.held.load(Ordering::Relaxed)
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

/// The writer's URL: a connect timeout (libpq waits forever by default) and
/// an application name, unless the URL sets them.
pub(super) fn writer_url(url: &str) -> String {
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
