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
//! The parts: [`AuditEvent`] is what is recorded (`event`); `row` encodes an
//! event as an `audit_events` row and back ([`Row`]), and `columns` a batch
//! of them as column arrays ([`Columns`]); `writer` is the background
//! group-commit writer ([`Auditor`]). This file holds the statements that
//! write or read the trail on the caller's own connection.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::audit_events;

mod columns;
mod event;
mod row;
mod writer;

use row::{copy_rows, insert_row};

pub use columns::Columns;
pub use event::AuditEvent;
pub use row::{ACCESS_MODES, ACTIONS, LEVELS, Row};
pub use writer::{AuditConfig, AuditStats, Auditor, Committed};

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

#[cfg(test)]
mod tests;
