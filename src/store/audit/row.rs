//! An [`AuditEvent`] as a row of `audit_events`, and back: codes for the
//! known names, 16-byte UUIDs where they are canonical, text cleaned; and
//! the statements that write rows.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::AstPass;

use super::AuditEvent;
use crate::store::schema::audit_events;

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
    (9, "coverage"),
    (10, "update-coverage"),
    (11, "update-coverage-replay"),
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

/// Longest text kept in any field, in bytes (identifiers are far shorter;
/// this only stops a hostile header from bloating the table).
pub(super) const MAX_TEXT: usize = 256;

#[derive(Debug, Clone, PartialEq, Insertable, Queryable, Selectable)]
#[diesel(table_name = audit_events, check_for_backend(Pg))]
#[diesel(treat_none_as_default_value = false)]
pub struct Row {
    pub(super) at: DateTime<Utc>,
    pub(super) nhs_number: Option<i64>,
    pub(super) request_id: Option<uuid::Uuid>,
    pub(super) correlation_id: Option<uuid::Uuid>,
    pub(super) status: i16,
    pub(super) access_mode: Option<i16>,
    pub(super) action: Option<i16>,
    pub(super) level: Option<i16>,
    pub(super) redacted: bool,
    pub(super) sensitive_override: bool,
    pub(super) user_id: Option<String>,
    pub(super) role_id: Option<String>,
    pub(super) role_code: Option<String>,
    pub(super) org_code: Option<String>,
    pub(super) client_id: Option<String>,
    pub(super) request_id_text: Option<String>,
    pub(super) correlation_id_text: Option<String>,
    pub(super) access_mode_name: Option<String>,
    pub(super) action_name: Option<String>,
    pub(super) level_name: Option<String>,
    pub(super) other_nhs_numbers: Option<Vec<i64>>,
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

    pub(super) fn into_event(self) -> AuditEvent {
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
pub(super) fn split_uuid(value: Option<String>) -> (Option<uuid::Uuid>, Option<String>) {
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
pub(super) fn clean(mut text: String) -> String {
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

pub(super) fn insert_row(conn: &mut PgConnection, row: &Row) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub(super) fn copy_rows(conn: &mut PgConnection, rows: &[Row]) -> QueryResult<()> {
    diesel::copy_from(audit_events::table)
        .from_insertable(rows)
        .execute(conn)
        .map(|_| ())
}
