//! Audit rows as columns of arrays: one bind parameter per column, whatever
//! the number of rows, so a statement that inserts them with `unnest` is
//! prepared once: the batched retrieve lookup (`store::lookup`), which
//! inserts its rows in the same statement as it reads.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::AstPass;

use super::Row;

/// The columns of several rows, in [`Columns::NAMES`] order.
#[derive(Debug, Default)]
pub struct Columns {
    at: Vec<DateTime<Utc>>,
    nhs_number: Vec<Option<i64>>,
    request_id: Vec<Option<uuid::Uuid>>,
    correlation_id: Vec<Option<uuid::Uuid>>,
    status: Vec<i16>,
    access_mode: Vec<Option<i16>>,
    action: Vec<Option<i16>>,
    level: Vec<Option<i16>>,
    redacted: Vec<bool>,
    sensitive_override: Vec<bool>,
    user_id: Vec<Option<String>>,
    role_id: Vec<Option<String>>,
    role_code: Vec<Option<String>>,
    org_code: Vec<Option<String>>,
    client_id: Vec<Option<String>>,
    request_id_text: Vec<Option<String>>,
    correlation_id_text: Vec<Option<String>>,
    access_mode_name: Vec<Option<String>>,
    action_name: Vec<Option<String>>,
    level_name: Vec<Option<String>>,
    /// As array literals (`{1,2}`): an array of arrays cannot be unnested
    /// row by row, so the statement casts each back to `bigint[]`.
    other_nhs_numbers: Vec<Option<String>>,
}

impl Columns {
    /// What [`Columns::push_unnest`] yields, in order: the columns of
    /// `audit_events` (`other_nhs_numbers` as text, to cast).
    pub const NAMES: &str = Row::COLUMNS;

    pub fn push(&mut self, row: &Row) {
        let row = row.clone();
        self.at.push(row.at);
        self.nhs_number.push(row.nhs_number);
        self.request_id.push(row.request_id);
        self.correlation_id.push(row.correlation_id);
        self.status.push(row.status);
        self.access_mode.push(row.access_mode);
        self.action.push(row.action);
        self.level.push(row.level);
        self.redacted.push(row.redacted);
        self.sensitive_override.push(row.sensitive_override);
        self.user_id.push(row.user_id);
        self.role_id.push(row.role_id);
        self.role_code.push(row.role_code);
        self.org_code.push(row.org_code);
        self.client_id.push(row.client_id);
        self.request_id_text.push(row.request_id_text);
        self.correlation_id_text.push(row.correlation_id_text);
        self.access_mode_name.push(row.access_mode_name);
        self.action_name.push(row.action_name);
        self.level_name.push(row.level_name);
        self.other_nhs_numbers
            .push(row.other_nhs_numbers.map(|numbers| {
                let listed: Vec<String> = numbers.iter().map(i64::to_string).collect();
                format!("{{{}}}", listed.join(","))
            }));
    }

    /// `unnest($1, $2, …)` of the columns, one row per pushed row; more
    /// arrays may follow (`extra`), zipped with them.
    pub fn push_unnest<'b>(
        &'b self,
        out: &mut AstPass<'_, 'b, Pg>,
        extra: impl FnOnce(&mut AstPass<'_, 'b, Pg>) -> QueryResult<()>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, Bool, Int2, Int8, Nullable, Text, Timestamptz, Uuid};
        out.push_sql("unnest(");
        out.push_bind_param::<Array<Timestamptz>, _>(&self.at)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Int8>>, _>(&self.nhs_number)?;
        for uuid in [&self.request_id, &self.correlation_id] {
            out.push_sql(", ");
            out.push_bind_param::<Array<Nullable<Uuid>>, _>(uuid)?;
        }
        out.push_sql(", ");
        out.push_bind_param::<Array<Int2>, _>(&self.status)?;
        for code in [&self.access_mode, &self.action, &self.level] {
            out.push_sql(", ");
            out.push_bind_param::<Array<Nullable<Int2>>, _>(code)?;
        }
        for flag in [&self.redacted, &self.sensitive_override] {
            out.push_sql(", ");
            out.push_bind_param::<Array<Bool>, _>(flag)?;
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
            &self.other_nhs_numbers,
        ] {
            out.push_sql(", ");
            out.push_bind_param::<Array<Nullable<Text>>, _>(text)?;
        }
        extra(out)?;
        out.push_sql(")");
        Ok(())
    }
}
