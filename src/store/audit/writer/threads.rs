//! The writer's two threads: the drain (channel → buffer) and the writer
//! (buffer → database, with retries and poison isolation).

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use std::sync::atomic::Ordering;
use std::sync::{PoisonError, mpsc};
use std::time::{Duration, Instant};

use super::{Ack, AuditConfig, Msg, Shared, Waiter};
use crate::store::audit::Row;
use crate::store::audit::row::{copy_rows, insert_row};

#[allow(clippy::large_enum_variant)] // as `Msg`
enum Item {
    Row(Row),
    /// A flush (false) or shutdown (true) waiting for what came before.
    Marker(Ack, bool),
}

/// Moves events from the channel into the buffer, enforcing its bound.
pub(super) fn drain_loop(rx: mpsc::Receiver<Msg>, shared: &Shared, config: &AuditConfig) {
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
pub(super) fn write_loop(shared: &Shared, url: &str, config: &AuditConfig) {
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
        // The writer serves no one request: name the requests whose rows
        // were lost (the first few), so each can be found in the log.
        let request_ids: Vec<String> = failed
            .iter()
            .filter_map(|(row, _)| row.request_id)
            .take(10)
            .map(|id| id.to_string())
            .collect();
        tracing::error!(
            dropped = failed.len(),
            of = total,
            error = %error,
            request_ids = ?request_ids,
            "audit events refused by the database: dropped"
        );
    }
    finish_batch(shared, written, written, failed.len() as u64);
    Isolation::Resolved
}
