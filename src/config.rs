//! Configuration, from environment variables only (documented in README).

use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `BIND`, default `127.0.0.1:8080`.
    pub bind: String,
    /// `DATABASE_URL`; when absent the server provisions its own cluster.
    pub database_url: Option<String>,
    /// `PG_DATA_DIR`, default `./data/pg`: where that cluster lives.
    pub pg_data_dir: PathBuf,
    /// `PG_PORT`, default 5433: names the cluster's Unix socket (no TCP).
    pub pg_port: u16,
    /// `DB_POOL_SIZE`, default 4: connections, and requests in flight.
    pub pool_size: u32,
    /// `DB_WAIT_MS`, default 1000: longest wait for a connection before 503.
    pub db_wait: Duration,
    /// `WORKERS`, default the number of CPUs.
    pub workers: usize,
    /// `SEED_COUNT`, default 10000: synthetic patients loaded into an empty store.
    pub seed_count: u64,
    /// `SEED`, default 1: makes the synthetic population reproducible.
    pub seed: u64,
    /// `LOG_FORMAT`: `json` for JSON lines, anything else for text.
    pub log_json: bool,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parsed<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .with_context(|| format!("invalid {name}={v}")),
    }
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Self {
            bind: var("BIND").unwrap_or_else(|| "127.0.0.1:8080".into()),
            database_url: var("DATABASE_URL"),
            pg_data_dir: var("PG_DATA_DIR").map_or_else(|| PathBuf::from("data/pg"), PathBuf::from),
            pg_port: parsed("PG_PORT", 5433)?,
            pool_size: parsed("DB_POOL_SIZE", 4u32)?.max(1),
            db_wait: Duration::from_millis(parsed("DB_WAIT_MS", 1000u64)?),
            workers: parsed("WORKERS", workers)?.max(1),
            seed_count: parsed("SEED_COUNT", 10_000)?,
            seed: parsed("SEED", 1)?,
            log_json: var("LOG_FORMAT").is_some_and(|v| v.eq_ignore_ascii_case("json")),
        })
    }
}
