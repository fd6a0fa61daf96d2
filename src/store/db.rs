//! The connection pool, and the one door through which requests reach it.
//!
//! diesel is synchronous, so queries run on blocking threads. A semaphore
//! sized to the pool admits that many requests at once and turns the rest
//! away after a short wait (503) instead of queueing without bound: a small
//! pool keeps tail latency low, a long queue only hides overload.

use diesel::r2d2::{self, ManageConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::{Connection, PgConnection};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

use super::codec::CodecError;

/// A pooled connection that remembers whether it failed at the transport
/// level, so the pool replaces it instead of handing it out again (libpq
/// never reconnects by itself, and diesel cannot tell).
pub struct Conn {
    pub pg: PgConnection,
    broken: bool,
}

pub struct Manager {
    url: String,
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Conn, r2d2::Error> {
        let pg = PgConnection::establish(&self.url).map_err(r2d2::Error::ConnectionError)?;
        Ok(Conn { pg, broken: false })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), r2d2::Error> {
        use diesel::connection::SimpleConnection;
        conn.pg
            .batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.broken
    }
}

pub type Pool = r2d2::Pool<Manager>;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database is unreachable, or every connection is busy.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Query(DieselError),
    #[error(transparent)]
    Corrupt(#[from] CodecError),
    /// A failure shared by several requests (a batched lookup), as text.
    #[error("database error: {0}")]
    Shared(String),
}

impl From<DieselError> for DbError {
    fn from(error: DieselError) -> Self {
        if is_transport_error(&error) {
            DbError::Unavailable(error.to_string())
        } else {
            DbError::Query(error)
        }
    }
}

/// Errors that say "the server went away" rather than "this query was wrong".
/// A stopped server reports `57P01 admin_shutdown` (kind Unknown) on open
/// connections, then refused connections.
fn is_transport_error(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(kind, info) => match kind {
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => true,
            DatabaseErrorKind::Unknown => {
                let message = info.message();
                message.contains("terminating connection")
                    || message.contains("server closed the connection")
                    || message.contains("no connection to the server")
                    || message.contains("the database system is")
            }
            _ => false,
        },
        DieselError::BrokenTransactionManager => true,
        _ => false,
    }
}

#[derive(Clone)]
pub struct Db {
    pool: Pool,
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl Db {
    /// Builds the pool without connecting: the server starts (and answers
    /// 503) even while the database is down, and recovers when it returns.
    pub fn new(url: &str, size: u32, wait: Duration) -> Self {
        Self {
            pool: pool(url, size, wait),
            permits: Arc::new(Semaphore::new(size as usize)),
            wait,
        }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Runs `work` on a blocking thread with a pooled connection.
    pub async fn run<T, F>(&self, work: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut PgConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| DbError::Unavailable("too many requests in flight".into()))?
            .map_err(|_| DbError::Unavailable("pool closed".into()))?;
        let pool = self.pool.clone();
        let wait = self.wait;
        actix_web::web::block(move || {
            let _permit = permit;
            with_conn(&pool, wait, work)
        })
        .await
        .map_err(|e| DbError::Unavailable(format!("blocking pool: {e}")))?
    }
}

/// The connections for writes (PATCH, POST), apart from the ones reads use:
/// a write spends most of its time waiting on round trips and the commit,
/// and a burst of CPU-heavy searches should not queue updates behind it
/// (nor the reverse).
#[derive(Clone)]
pub struct Writes(pub Db);

impl std::ops::Deref for Writes {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.0
    }
}

/// A pool of `size` connections, opened lazily.
pub fn pool(url: &str, size: u32, wait: Duration) -> Pool {
    r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(0))
        .connection_timeout(wait)
        // Checking each checkout would add a round trip per request;
        // broken connections are caught by `Conn::broken` instead.
        .test_on_check_out(false)
        .build_unchecked(Manager {
            url: url.to_owned(),
        })
}

/// Runs `work` on this (blocking) thread with a pooled connection; a
/// connection that failed at the transport level is not reused.
pub fn with_conn<T>(
    pool: &Pool,
    wait: Duration,
    work: impl FnOnce(&mut PgConnection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    let mut conn = pool
        .get_timeout(wait)
        .map_err(|e| DbError::Unavailable(e.to_string()))?;
    let result = work(&mut conn.pg);
    if matches!(result, Err(DbError::Unavailable(_))) {
        conn.broken = true;
    }
    result
}
