//! PostgreSQL: schema, queries, migrations, the local cluster, seed data.

pub mod allocate;
pub mod audit;
pub mod codec;
pub mod db;
pub mod label;
pub mod lookup;
pub mod migrate;
pub mod patients;
pub mod provision;
pub mod related;
pub mod sample;
pub mod schema;
pub mod search;
pub mod seed;
pub mod testing;
pub mod updates;
