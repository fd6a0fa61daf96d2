//! Builds the running service, for `main` and for the tests alike.

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use diesel::{Connection, PgConnection};
use std::net::TcpListener;

use crate::api;
use crate::config::Settings;
use crate::store::db::Db;
use crate::store::provision::LocalCluster;
use crate::store::{migrate, seed};

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
    let mut conn = PgConnection::establish(&url).context("connecting to PostgreSQL")?;
    let applied = migrate::run(&mut conn)?;
    tracing::info!(?applied, "migrations up to date");
    if let Some(report) = seed::ensure_seeded(&mut conn, settings.seed_count, settings.seed)? {
        tracing::info!(
            rows = report.rows,
            rows_per_second = report.rows_per_second() as u64,
            "seeded an empty store with the sandbox patients and a synthetic population"
        );
    }
    Ok(url)
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

pub struct Application {
    port: u16,
    server: Server,
    db: Db,
}

impl Application {
    /// Binds the listener (port 0 picks a free one) and builds the server;
    /// does not touch the database, which may be down.
    pub fn build(settings: &Settings, database_url: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let db = Db::new(database_url, settings.pool_size, settings.db_wait);
        let data = web::Data::new(db.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .configure(api::routes)
                .default_service(web::to(api::unsupported_request))
                .wrap(from_fn(api::echo_ids))
                .wrap(from_fn(api::log_request))
                .wrap(cors())
        })
        .workers(settings.workers)
        .listen(listener)?
        .run();
        Ok(Self { port, server, db })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
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
