//! Configuration, from environment variables and an optional file (documented
//! in README).

use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;

use crate::store::allocate::{self, AllocationRange};
use crate::store::replica::Routing;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `BIND`, default `127.0.0.1:8080`.
    pub bind: String,
    /// `DATABASE_URL`; when absent the server provisions its own cluster.
    /// Writes go here: the primary (a libpq multi-host URL with
    /// `target_session_attrs=read-write`, or a load balancer's primary port).
    pub database_url: Option<String>,
    /// `DATABASE_READ_URL`: where retrieves, searches, history and
    /// related-person reads go (a standby, see `store::replica`). Unset:
    /// everything on `DATABASE_URL`.
    pub database_read_url: Option<String>,
    /// `MAX_REPLICA_LAG_MS` (default 5000), `REPLICA_CATCH_UP_MS` (default
    /// 100), `REPLICA_CHECK_MS` (default 500): see [`Routing`].
    pub routing: Routing,
    /// `DB_WAIT_AT_START`, default false: at start-up, wait for an
    /// unreachable primary (a log line every few seconds) instead of
    /// exiting.
    pub db_wait_at_start: bool,
    /// `AUDIT_HOLD_WHILE_PRIMARY_DOWN`, default true when
    /// `DATABASE_READ_URL` is set: while the primary cannot be written at
    /// all, reads served by a standby go out with their audit rows held in
    /// memory (bounded) until a primary returns. False: such reads get 503.
    pub audit_hold: bool,
    /// `PG_DATA_DIR`, default `./data/pg`: where that cluster lives.
    pub pg_data_dir: PathBuf,
    /// `PG_PORT`, default 5433: names the cluster's Unix socket (no TCP).
    pub pg_port: u16,
    /// `DB_POOL_SIZE`, default 4: connections, and requests in flight.
    pub pool_size: u32,
    /// `DB_WRITE_POOL_SIZE`, default 4: connections, and writes in flight,
    /// for PATCH and POST (apart from the pool above).
    pub write_pool_size: u32,
    /// `DB_WAIT_MS`, default 1000: longest wait for a connection before 503.
    pub db_wait: Duration,
    /// `WORKERS`, default the number of CPUs.
    pub workers: usize,
    /// `LOOKUP_THREADS`, default 2: threads (each with a connection of its
    /// own, beside the pool) that answer retrieves in batches.
    pub lookup_threads: usize,
    /// `LOOKUP_QUEUE`, default 1024: retrieves that may wait for those
    /// threads; more at once get 503 straight away.
    pub lookup_queue: usize,
    /// `SEED_COUNT`, default 10000: synthetic patients loaded into an empty store.
    pub seed_count: u64,
    /// `SEED`, default 1: makes the synthetic population reproducible.
    pub seed: u64,
    /// `LOG_FORMAT`: `json` for JSON lines, anything else for text.
    pub log_json: bool,
    /// `RATE_LIMIT_PER_SECOND`, default 1000: sustained requests per second
    /// each client (its `client_id`, else its user id, else its IP) may make
    /// to `/Patient`. 0 disables rate limiting. Counted per instance, in
    /// memory: N instances behind a load balancer admit up to N times this.
    pub rate_limit_per_second: u32,
    /// `RATE_LIMIT_BURST`, default 2000: requests a client may make at once
    /// above the sustained rate. 0 disables rate limiting.
    pub rate_limit_burst: u32,
    /// `MAX_BODY_BYTES`, default 65536 (64 KiB): largest request body
    /// accepted; larger ones get 413.
    pub max_body_bytes: usize,
    /// `CLIENT_REQUEST_TIMEOUT_MS`, default 5000: how long a new connection
    /// has to send its request head before it is closed (408).
    pub client_request_timeout: Duration,
    /// `CLIENT_BODY_TIMEOUT_MS`, default 10000: how long a request's whole
    /// body may take to arrive, from the end of its head. Slower gets 408
    /// and the connection is closed.
    pub client_body_timeout: Duration,
    /// `CLIENT_BODY_IDLE_TIMEOUT_MS`, default 5000: the longest pause
    /// between two parts of a body before it is given up on (408).
    pub client_body_idle_timeout: Duration,
    /// `KEEP_ALIVE_SECS`, default 75: how long an idle keep-alive connection
    /// stays open (longer than a load balancer's usual 60 s idle timeout).
    /// 0 disables keep-alive.
    pub keep_alive: Duration,
    /// `SHUTDOWN_TIMEOUT_SECS`, default 30: on SIGTERM/SIGINT the server stops
    /// accepting connections and gives in-flight requests this long to finish.
    pub shutdown_timeout: Duration,
    /// `ALLOCATION_RANGE`, default `9000001000-9099999999`: the NHS numbers
    /// `POST /Patient` allocates (see [`allocation_range`]).
    pub allocation_range: AllocationRange,
    pub auth: AuthSettings,
}

/// Who may call the API: trusted token signers and the access policy.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `AUTH_JWKS_FILE`: comma-separated JWKS files to trust.
    pub jwks_files: Vec<PathBuf>,
    /// `AUTH_JWKS_URL`: comma-separated JWKS URLs (fetched, cached by `kid`).
    pub jwks_urls: Vec<String>,
    /// `AUTH_ISSUERS`: comma-separated accepted `iss` values.
    pub issuers: Vec<String>,
    /// `AUTH_AUDIENCE`: the required `aud`.
    pub audience: Option<String>,
    /// `AUTH_HS256_SECRET`: enables HS256 tokens with this shared secret.
    pub hs256_secret: Option<String>,
    /// `AUTH_DEV_TRUST`: trust the developer key in `DEV_KEYS_DIR`. Defaults
    /// to on only in the self-provisioned mode (no `DATABASE_URL`).
    pub dev_trust: bool,
    /// `DEV_KEYS_DIR`, default `data/dev-keys`.
    pub dev_keys_dir: PathBuf,
    /// `POLICY_FILE`: an access policy replacing `policy/default.json`.
    pub policy_file: Option<PathBuf>,
}

fn list(name: &str) -> Vec<String> {
    var(name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn flag(name: &str, default: bool) -> anyhow::Result<bool> {
    match var(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
        Some(v) => anyhow::bail!("invalid {name}={v}: use true or false"),
    }
}

impl AuthSettings {
    pub fn from_env(self_provisioned: bool) -> anyhow::Result<Self> {
        Ok(Self {
            jwks_files: list("AUTH_JWKS_FILE")
                .into_iter()
                .map(PathBuf::from)
                .collect(),
            jwks_urls: list("AUTH_JWKS_URL"),
            issuers: list("AUTH_ISSUERS"),
            audience: var("AUTH_AUDIENCE"),
            hs256_secret: var("AUTH_HS256_SECRET"),
            dev_trust: flag("AUTH_DEV_TRUST", self_provisioned)?,
            dev_keys_dir: var("DEV_KEYS_DIR")
                .map_or_else(|| PathBuf::from("data/dev-keys"), PathBuf::from),
            policy_file: var("POLICY_FILE").map(PathBuf::from),
        })
    }
}

/// `CONFIG_FILE`: an optional file of `NAME=value` lines (the `.env`
/// format) for settings the environment does not give; the environment
/// wins. Call first thing, while the process has one thread (it sets
/// environment variables, which `RUST_LOG` and the rest are read from).
pub fn load_config_file() -> anyhow::Result<()> {
    if let Some(path) = std::env::var_os("CONFIG_FILE") {
        let shown = PathBuf::from(&path).display().to_string();
        dotenvy::from_path(&path).with_context(|| format!("reading CONFIG_FILE {shown}"))?;
    }
    Ok(())
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
        let database_url = var("DATABASE_URL");
        let database_read_url = var("DATABASE_READ_URL");
        if database_read_url.is_some() && database_url.is_none() {
            anyhow::bail!("DATABASE_READ_URL needs DATABASE_URL (the primary) as well");
        }
        Ok(Self {
            auth: AuthSettings::from_env(database_url.is_none())?,
            bind: var("BIND").unwrap_or_else(|| "127.0.0.1:8080".into()),
            database_url,
            audit_hold: flag("AUDIT_HOLD_WHILE_PRIMARY_DOWN", database_read_url.is_some())?,
            database_read_url,
            routing: Routing {
                max_lag: Duration::from_millis(parsed("MAX_REPLICA_LAG_MS", 5000u64)?),
                catch_up: Duration::from_millis(parsed("REPLICA_CATCH_UP_MS", 100u64)?),
                check_every: Duration::from_millis(parsed("REPLICA_CHECK_MS", 500u64)?.max(10)),
            },
            db_wait_at_start: flag("DB_WAIT_AT_START", false)?,
            pg_data_dir: var("PG_DATA_DIR").map_or_else(|| PathBuf::from("data/pg"), PathBuf::from),
            pg_port: parsed("PG_PORT", 5433)?,
            pool_size: parsed("DB_POOL_SIZE", 4u32)?.max(1),
            write_pool_size: parsed("DB_WRITE_POOL_SIZE", 4u32)?.max(1),
            db_wait: Duration::from_millis(parsed("DB_WAIT_MS", 1000u64)?),
            workers: parsed("WORKERS", workers)?.max(1),
            lookup_threads: parsed("LOOKUP_THREADS", 2usize)?.max(1),
            lookup_queue: parsed("LOOKUP_QUEUE", 1024usize)?.max(1),
            seed_count: parsed("SEED_COUNT", 10_000)?,
            seed: parsed("SEED", 1)?,
            log_json: var("LOG_FORMAT").is_some_and(|v| v.eq_ignore_ascii_case("json")),
            rate_limit_per_second: parsed("RATE_LIMIT_PER_SECOND", 1000u32)?,
            rate_limit_burst: parsed("RATE_LIMIT_BURST", 2000u32)?,
            max_body_bytes: parsed("MAX_BODY_BYTES", 64 * 1024usize)?,
            client_request_timeout: Duration::from_millis(parsed(
                "CLIENT_REQUEST_TIMEOUT_MS",
                5000u64,
            )?),
            client_body_timeout: Duration::from_millis(parsed(
                "CLIENT_BODY_TIMEOUT_MS",
                10_000u64,
            )?),
            client_body_idle_timeout: Duration::from_millis(parsed(
                "CLIENT_BODY_IDLE_TIMEOUT_MS",
                5000u64,
            )?),
            keep_alive: Duration::from_secs(parsed("KEEP_ALIVE_SECS", 75u64)?),
            shutdown_timeout: Duration::from_secs(parsed("SHUTDOWN_TIMEOUT_SECS", 30u64)?),
            allocation_range: allocation_range(var("ALLOCATION_RANGE").as_deref())?,
        })
    }
}

/// `ALLOCATION_RANGE`: the NHS numbers `POST /Patient` allocates, as
/// `<first>-<last>` (ten digits each, inclusive). Default
/// `9000001000-9099999999`, a block neither the sandbox patients
/// (`90000000xx`) nor the synthetic population (`999…`, then from
/// `9100000000`) uses. The counter is kept in the database
/// (`nhs_number_allocation`), so every instance must be given the same range;
/// numbers already in the store are skipped, and none is ever reissued. A
/// value that is no such range refuses to start.
pub fn allocation_range(text: Option<&str>) -> anyhow::Result<AllocationRange> {
    match text {
        None => Ok(allocate::DEFAULT_RANGE),
        Some(text) => AllocationRange::parse(text)
            .map_err(|e| anyhow::anyhow!("invalid ALLOCATION_RANGE: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allocation_range_defaults_and_a_bad_one_refuses() {
        assert_eq!(allocation_range(None).unwrap(), allocate::DEFAULT_RANGE);
        let range = allocation_range(Some("9000003000-9000003999")).unwrap();
        assert_eq!(range.to_string(), "9000003000-9000003999");
        for bad in ["9000003000", "9000003999-9000003000", "nine-ten"] {
            let error = allocation_range(Some(bad)).unwrap_err().to_string();
            assert!(
                error.starts_with("invalid ALLOCATION_RANGE: ") && error.contains(bad),
                "{error}"
            );
        }
    }
}
