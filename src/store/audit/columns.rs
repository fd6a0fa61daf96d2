//! Audit rows as columns of arrays, for statements that insert a batch's
//! rows with `unnest` in the same statement as other work (the batched
//! retrieve: `store::lookup`, which computes the status, the redaction flags
//! and the other NHS numbers itself). One bind parameter per column,
//! whatever the batch size, so the statement is prepared once.

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
    access_mode: Vec<Option<i16>>,
    action: Vec<Option<i16>>,
    level: Vec<Option<i16>>,
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
}

impl Columns {
    /// What [`Columns::push_unnest`] yields, in order: every column of
    /// `audit_events` except those the statement computes (status, the
    /// redaction flags, the other NHS numbers).
    pub const NAMES: &str = "at, nhs_number, request_id, correlation_id, access_mode, action, \
        level, user_id, role_id, role_code, org_code, client_id, request_id_text, \
        correlation_id_text, access_mode_name, action_name, level_name";

    pub fn push(&mut self, row: Row) {
        self.at.push(row.at);
        self.nhs_number.push(row.nhs_number);
        self.request_id.push(row.request_id);
        self.correlation_id.push(row.correlation_id);
        self.access_mode.push(row.access_mode);
        self.action.push(row.action);
        self.level.push(row.level);
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
    }

    /// `unnest($1, $2, …)` of the columns, one row per pushed row; more
    /// arrays may follow (`extra`), zipped with them.
    pub fn push_unnest<'b>(
        &'b self,
        out: &mut AstPass<'_, 'b, Pg>,
        extra: impl FnOnce(&mut AstPass<'_, 'b, Pg>) -> QueryResult<()>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, Int2, Int8, Nullable, Text, Timestamptz, Uuid};
        out.push_sql("unnest(");
        out.push_bind_param::<Array<Timestamptz>, _>(&self.at)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Int8>>, _>(&self.nhs_number)?;
        for uuid in [&self.request_id, &self.correlation_id] {
            out.push_sql(", ");
            out.push_bind_param::<Array<Nullable<Uuid>>, _>(uuid)?;
        }
        for code in [&self.access_mode, &self.action, &self.level] {
            out.push_sql(", ");
            out.push_bind_param::<Array<Nullable<Int2>>, _>(code)?;
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
            out.push_bind_param::<Array<Nullable<Text>>, _>(text)?;
        }
        extra(out)?;
        out.push_sql(")");
        Ok(())
    }
}
