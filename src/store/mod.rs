//! PostgreSQL: schema, queries, migrations, the audit trail.

pub mod allocate;
pub mod audit;
pub mod codec;
pub mod coverage;
pub mod db;
pub mod label;
pub mod lookup;
pub mod migrate;
pub mod patients;
pub mod related;
pub mod replica;
pub mod schema;
pub mod search;
pub mod updates;
