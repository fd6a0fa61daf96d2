//! Builds the running service, for `main` and for the tests alike.

use actix_cors::Cors;
use actix_http::{HttpService, Protocol, error::DispatchError};
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::Server;
use actix_web::dev::{AppConfig, Extensions};
use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::rt::net::TcpStream;
use actix_web::{App, web};
use anyhow::Context;
use diesel::{Connection, PgConnection};
use pds_local_pg::LocalCluster;
use std::net::TcpListener;
use std::time::Duration;

use crate::api;
use crate::api::gate::Gate;
use crate::api::limits::{BodyDeadline, BodyLimit, RateLimit};
use crate::api::metrics::Metrics;
use crate::api::wire::Refusals;
use crate::auth::dev::{DEV_AUDIENCE, DEV_ISSUER, DevKeys};
use crate::auth::policy::Policy;
use crate::auth::verify::{AuthConfig, JwksSource, Verifier};
use crate::config::{AuthSettings, Settings};
use crate::seed;
use crate::store::audit::Auditor;
use crate::store::db::{self, Db, DbError};
use crate::store::lookup::Lookup;
use crate::store::migrate;
use crate::store::replica::{self, Health, Replica};
use std::sync::Arc;

/// Name of the database the server creates in its own cluster.
const LOCAL_DATABASE: &str = "pds";

/// Finds or provisions the database, applies migrations and seeds an empty
/// store. Returns the connection URL.
pub fn prepare_database(settings: &Settings) -> anyhow::Result<String> {
    let url = match &settings.database_url {
        Some(url) => {
            tracing::info!("using the PostgreSQL server in DATABASE_URL");
            url.clone()
        }
        None => {
            let cluster = LocalCluster::ensure_running(&settings.pg_data_dir, settings.pg_port)?;
            create_database(&cluster, LOCAL_DATABASE)?;
            tracing::info!(
                data_dir = %cluster.data_dir().display(),
                socket_dir = %cluster.socket_dir().display(),
                port = settings.pg_port,
                "DATABASE_URL not set: using the local PostgreSQL cluster"
            );
            cluster.database_url(LOCAL_DATABASE)
        }
    };
    let mut conn = connect_at_start(&url, "DATABASE_URL", settings.db_wait_at_start)?;
    // Instances started together against an empty store take turns: the
    // first migrates and seeds, the others find it done. A session lock,
    // so a process that dies holding it releases it.
    migrate::lock(&mut conn)?;
    let applied = migrate::run(&mut conn)?;
    tracing::info!(?applied, "migrations up to date");
    if let Some(report) = seed::ensure_seeded(&mut conn, settings.seed_count, settings.seed)? {
        tracing::info!(
            rows = report.rows,
            rows_per_second = report.rows_per_second() as u64,
            "seeded an empty store with the sandbox patients and a synthetic population"
        );
    }
    drop(conn);
    if let Some(read_url) = &settings.database_read_url {
        check_read_target(read_url)?;
    }
    Ok(url)
}

/// Connects to the primary at start-up. A URL libpq refuses, or a server
/// that refuses us (password, database), stops the start; an unreachable
/// one too, unless `wait` (`DB_WAIT_AT_START`): then it is tried again,
/// with a log line every few seconds, until it answers.
fn connect_at_start(url: &str, name: &str, wait: bool) -> anyhow::Result<PgConnection> {
    let started = std::time::Instant::now();
    loop {
        match PgConnection::establish(url) {
            Ok(conn) => return Ok(conn),
            Err(e) if wait && db::unreachable(&e.to_string()) => {
                tracing::warn!(
                    error = %e.to_string().trim(),
                    waited_secs = started.elapsed().as_secs(),
                    "the database in {name} does not answer yet (DB_WAIT_AT_START): trying again"
                );
                std::thread::sleep(Duration::from_secs(3));
            }
            Err(e) if db::unreachable(&e.to_string()) => anyhow::bail!(
                "cannot reach the database in {name}: {} (set DB_WAIT_AT_START=true to wait for it)",
                e.to_string().trim()
            ),
            Err(e) => anyhow::bail!("{name} is not usable: {}", e.to_string().trim()),
        }
    }
}

/// The read target is tried once: a URL or server that refuses us stops
/// the start (a mistake to fix); an unreachable one does not (reads go to
/// the primary until it answers).
fn check_read_target(url: &str) -> anyhow::Result<()> {
    match PgConnection::establish(url) {
        Ok(_) => Ok(()),
        Err(e) if db::unreachable(&e.to_string()) => {
            tracing::warn!(
                error = %e.to_string().trim(),
                "the read target in DATABASE_READ_URL does not answer: reads go to the primary until it does"
            );
            Ok(())
        }
        Err(e) => anyhow::bail!("DATABASE_READ_URL is not usable: {}", e.to_string().trim()),
    }
}

/// `CREATE DATABASE` if it is not there yet (safe if two processes race).
pub fn create_database(cluster: &LocalCluster, name: &str) -> anyhow::Result<()> {
    use diesel::connection::SimpleConnection;
    let mut admin = PgConnection::establish(&cluster.database_url("postgres"))
        .context("connecting to the local cluster")?;
    match admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")) {
        Err(e) if e.to_string().contains("already exists") => Ok(()),
        other => other.context("creating the database"),
    }
}

/// The token verifier and access policy from the settings. Refuses to start
/// with no way to verify tokens rather than let requests through.
pub fn build_gate(auth: &AuthSettings) -> anyhow::Result<Gate> {
    let mut jwks: Vec<JwksSource> = auth
        .jwks_files
        .iter()
        .cloned()
        .map(JwksSource::File)
        .collect();
    jwks.extend(auth.jwks_urls.iter().cloned().map(JwksSource::Url));
    let mut issuers = auth.issuers.clone();
    let mut audience = auth.audience.clone();
    if auth.dev_trust {
        let keys = DevKeys::load_or_create(&auth.dev_keys_dir)?;
        jwks.push(JwksSource::Inline(keys.jwks_json()));
        issuers.push(DEV_ISSUER.to_owned());
        audience.get_or_insert_with(|| DEV_AUDIENCE.to_owned());
        tracing::warn!(
            keys = %auth.dev_keys_dir.display(),
            "DEVELOPER TOKENS ARE TRUSTED: anyone with the key in this directory can mint tokens \
             for any role. Set AUTH_DEV_TRUST=false and AUTH_JWKS_URL for real use."
        );
    }
    if jwks.is_empty() && auth.hs256_secret.is_none() {
        anyhow::bail!(
            "no token signer configured: set AUTH_JWKS_URL or AUTH_JWKS_FILE (or AUTH_DEV_TRUST=true for development)"
        );
    }
    let audience = audience.context("AUTH_AUDIENCE must be set")?;
    if issuers.is_empty() {
        anyhow::bail!("AUTH_ISSUERS must list at least one accepted token issuer");
    }
    let verifier = Verifier::new(AuthConfig {
        jwks,
        issuers,
        audience,
        hs256_secret: auth.hs256_secret.clone(),
        leeway_secs: 30,
    })?;
    let policy = match &auth.policy_file {
        Some(path) => Policy::load(path)?,
        None => Policy::builtin(),
    };
    Ok(Gate {
        verifier,
        policy: std::sync::Arc::new(policy),
    })
}

pub struct Application {
    port: u16,
    server: Server,
    db: Db,
    auditor: Auditor,
}

impl Application {
    /// Binds the listener (port 0 picks a free one) and builds the server;
    /// does not touch the database, which may be down.
    pub fn build(settings: &Settings, database_url: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        // Reads go to the read target when it can answer them; its health
        // is kept by one checker, shared by both read paths.
        let replicas = settings.database_read_url.as_deref().map(|read_url| {
            let health = Arc::new(Health::default());
            replica::start_checker(database_url, read_url, &health, settings.routing);
            let make = |size: u32| {
                Replica::new(
                    read_url,
                    size,
                    settings.db_wait,
                    health.clone(),
                    settings.routing,
                )
            };
            (
                make(settings.pool_size),
                make(settings.lookup_threads as u32),
            )
        });
        let (read_replica, lookup_replica) = replicas.unzip();
        let mut db = Db::new(database_url, settings.pool_size, settings.db_wait);
        if let Some(replica) = read_replica {
            db = db.with_replica(replica);
        }
        let lookup = web::Data::new(Lookup::start(
            db::pool(
                database_url,
                settings.lookup_threads as u32,
                settings.db_wait,
            ),
            lookup_replica,
            settings.lookup_threads,
            settings.lookup_queue,
            settings.db_wait,
        ));
        let auditor = Auditor::start(database_url);
        auditor.hold_while_unreachable(settings.audit_hold);
        let data = web::Data::new(db.clone());
        let writes = web::Data::new(db::Writes(Db::new(
            database_url,
            settings.write_pool_size,
            settings.db_wait,
        )));
        let gate = web::Data::new(build_gate(&settings.auth)?);
        let audit = web::Data::new(auditor.clone());
        let metrics = web::Data::new(Metrics::new());
        let rate_limit = web::Data::new(RateLimit::new(
            settings.rate_limit_per_second,
            settings.rate_limit_burst,
        ));
        let body_limit = web::Data::new(BodyLimit(settings.max_body_bytes));
        let allocation_range = web::Data::new(settings.allocation_range);
        let body_deadline = web::Data::new(BodyDeadline {
            total: settings.client_body_timeout,
            idle: settings.client_body_idle_timeout,
        });
        let payload = web::PayloadConfig::new(settings.max_body_bytes);
        let addr = listener.local_addr()?;
        let keep_alive = settings.keep_alive;
        let client_request_timeout = settings.client_request_timeout;
        let app = move || {
            App::new()
                .app_data(data.clone())
                .app_data(lookup.clone())
                .app_data(writes.clone())
                .app_data(gate.clone())
                .app_data(audit.clone())
                .app_data(metrics.clone())
                .app_data(rate_limit.clone())
                .app_data(body_limit.clone())
                .app_data(body_deadline.clone())
                .app_data(allocation_range.clone())
                .app_data(payload.clone())
                .configure(api::routes)
                .default_service(web::to(api::unsupported_request))
                .wrap(from_fn(api::limits::body_deadline))
                .wrap(from_fn(api::wire::head_clock))
                .wrap(from_fn(api::echo_ids))
                .wrap(from_fn(api::metrics::record))
                .wrap(from_fn(api::log_request))
                .wrap(cors())
        };
        // What `actix_web::HttpServer::listen` assembles, but with each
        // connection's stream wrapped in `Refusals`, so that the HTTP
        // parser's own bodiless refusals (400, 408, 431) get an
        // OperationOutcome too. `HttpServer` has no way to wrap the stream.
        let mut builder = actix_server::Server::build()
            .workers(settings.workers)
            // Every blocking task holds a connection permit, so this many
            // threads per worker is enough; fewer threads, less memory held.
            .worker_max_blocking_threads((settings.pool_size + settings.write_pool_size) as usize)
            // actix stops accepting on SIGTERM/SIGINT and gives in-flight
            // requests this long; `run_until_stopped` then flushes the audit.
            .shutdown_timeout(settings.shutdown_timeout.as_secs());
        let shutdown = builder.graceful_shutdown_signal();
        builder = builder.listen("pds", listener, move || {
            let shutdown = shutdown.clone();
            let http = HttpService::build()
                // Idle keep-alive connections close at once on shutdown,
                // as `HttpServer` arranges it.
                .graceful_shutdown_signal(move || {
                    let shutdown = shutdown.clone();
                    async move { shutdown.notified().await }
                })
                .keep_alive(keep_alive)
                .client_request_timeout(client_request_timeout)
                // How long a closing connection reads on, so the answer is
                // not lost to a reset (`HttpServer`'s default).
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(addr)
                // Lets the requests tell `Refusals` when their head is in.
                .on_connect_ext(|io: &Refusals<TcpStream>, data: &mut Extensions| {
                    data.insert(io.clock());
                })
                .finish(map_config(
                    app()
                        .into_factory()
                        .map_err(|error: actix_web::Error| error.error_response()),
                    // Names the host for requests without a `Host` header.
                    |_| AppConfig::default(),
                ));
            fn_service(move |io: TcpStream| async move {
                let peer = io.peer_addr().ok();
                let io = Refusals::new(io, client_request_timeout);
                Ok::<_, DispatchError>((io, Protocol::Http1, peer))
            })
            .and_then(http)
        })?;
        let server = builder.run();
        Ok(Self {
            port,
            server,
            db,
            auditor,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn auditor(&self) -> &Auditor {
        &self.auditor
    }

    /// Serves until SIGTERM/SIGINT (actix finishes in-flight requests), then
    /// writes out the audit events still queued.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let janitor = tokio::spawn(expire_idempotency_keys(self.db.clone()));
        let result = self.server.await;
        janitor.abort();
        let auditor = self.auditor.clone();
        let flushed =
            actix_web::web::block(move || auditor.shutdown(std::time::Duration::from_secs(10)))
                .await
                .unwrap_or(false);
        if !flushed {
            tracing::error!("audit events could not all be written before shutdown");
        }
        result
    }
}

/// Deletes replayable answers older than their 24-hour window, every ten
/// minutes. Each instance does it; deleting twice is harmless.
async fn expire_idempotency_keys(db: Db) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        match db
            .run(|conn| Ok::<_, DbError>(crate::store::updates::expire(conn)?))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "expired idempotency keys"),
            Err(e) => tracing::warn!(error = %e, "could not expire idempotency keys"),
        }
    }
}

/// Browser preflight as the PDS proxy answers it: any origin, these headers.
fn cors() -> Cors {
    Cors::default()
        .allow_any_origin()
        .allowed_methods([
            Method::GET,
            Method::PUT,
            Method::POST,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers([
            "origin",
            "x-requested-with",
            "accept",
            "content-type",
            "if-match",
            "nhsd-session-urid",
            "authorization",
            "x-correlation-id",
            "x-request-id",
            "nhsd-end-user-organisation-ods",
        ])
        .expose_headers(["x-correlation-id", "x-request-id", "etag"])
        .max_age(3_628_800)
}
