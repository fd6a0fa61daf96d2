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
use super::replica::{Lane, Replica, Target};

/// A pooled connection that remembers whether it failed at the transport
/// level, so the pool replaces it instead of handing it out again (libpq
/// never reconnects by itself, and diesel cannot tell).
pub struct Conn {
    pub pg: PgConnection,
    broken: bool,
}

impl Conn {
    /// Retire the connection when it goes back to the pool.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }
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
/// connections, then refused connections. A write refused as read-only
/// (`25006`) was sent to a server that is no longer the primary (it was
/// demoted in a failover): that connection must go too, so that the next
/// one finds the new primary.
fn is_transport_error(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(kind, info) => match kind {
            DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::ReadOnlyTransaction => true,
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

/// Whether a libpq connection failure says the server could not be
/// reached (down, refused, starting, failing over, no primary among the
/// hosts) rather than that the URL or the credentials are wrong.
pub fn unreachable(message: &str) -> bool {
    [
        "Connection refused",
        "could not translate host name",
        "timeout expired",
        "server closed the connection unexpectedly",
        "No route to host",
        "Network is unreachable",
        "Connection reset",
        "No such file or directory",
        "the database system is",
        "session is read-only",
        "server is in hot standby mode",
        "server is not in hot standby mode",
    ]
    .iter()
    .any(|sign| message.contains(sign))
}

/// Connections to the primary, and (for reads) to the read target.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    permits: Arc<Semaphore>,
    wait: Duration,
    replica: Option<Replica>,
}

impl Db {
    /// Builds the pool without connecting: the server starts (and answers
    /// 503) even while the database is down, and recovers when it returns.
    pub fn new(url: &str, size: u32, wait: Duration) -> Self {
        Self {
            pool: pool(url, size, wait),
            permits: Arc::new(Semaphore::new(size as usize)),
            wait,
            replica: None,
        }
    }

    /// Reads ([`Db::read`]) go to `replica` when it can answer them.
    pub fn with_replica(mut self, replica: Replica) -> Self {
        self.replica = Some(replica);
        self
    }

    /// The primary's connections.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub fn replica(&self) -> Option<&Replica> {
        self.replica.as_ref()
    }

    /// Runs a read of `lane`: on the read target when it has replayed every
    /// write acknowledged before now (see `store::replica`), else on the
    /// primary. Without a read target, the same as [`Db::run`].
    pub async fn read<T, E, F>(&self, lane: Lane, work: F) -> Result<T, E>
    where
        F: Fn(&mut PgConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: RunError + Send + 'static,
    {
        let replica = self.replica.clone();
        self.blocking(move |pool, wait| match replica {
            None => with_conn(pool, wait, work),
            Some(replica) => read_routed(pool, wait, &replica, lane, work),
        })
        .await
    }

    /// Runs `work` on a blocking thread with a pooled connection. `work`
    /// fails with any error a [`DbError`] converts into (a handler's own
    /// error type, so its refusals and the database's failures take one
    /// path); so do the wait for a permit and the blocking pool.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: RunError + Send + 'static,
    {
        self.blocking(move |pool, wait| with_conn(pool, wait, work))
            .await
    }

    /// Runs `job` on a blocking thread once a permit is free.
    async fn blocking<T, E, J>(&self, job: J) -> Result<T, E>
    where
        J: FnOnce(&Pool, Duration) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: RunError + Send + 'static,
    {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| DbError::Unavailable("too many requests in flight".into()))?
            .map_err(|_| DbError::Unavailable("pool closed".into()))?;
        let pool = self.pool.clone();
        let wait = self.wait;
        // The blocking thread works for this request: its log lines carry
        // the request's span (request id, route, access mode).
        let span = tracing::Span::current();
        actix_web::web::block(move || {
            let _permit = permit;
            let _request = span.enter();
            job(&pool, wait)
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
    builder(size, wait).build_unchecked(Manager {
        url: url.to_owned(),
    })
}

/// A pool that does not log its failures to connect: for a caller that
/// reports them itself (the replica checker, which asks twice a second and
/// logs when what it sees changes).
pub fn quiet_pool(url: &str, size: u32, wait: Duration) -> Pool {
    builder(size, wait)
        .error_handler(Box::new(r2d2::NopErrorHandler))
        .build_unchecked(Manager {
            url: url.to_owned(),
        })
}

fn builder(size: u32, wait: Duration) -> r2d2::Builder<Manager> {
    r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(0))
        .connection_timeout(wait)
        // Checking each checkout would add a round trip per request;
        // broken connections are caught by `Conn::broken` instead.
        .test_on_check_out(false)
}

/// What the work given a pooled connection may fail with: an error a
/// [`DbError`] converts into, which still tells whether it is the
/// connection that failed. A connection lost at the transport level must
/// not be handed out again (libpq never reconnects), so that much of a
/// [`DbError::Unavailable`] has to survive the conversion.
pub trait RunError: From<DbError> {
    /// This error is (or carries) a transport failure of the connection
    /// the work ran on.
    fn connection_lost(&self) -> bool;
}

impl RunError for DbError {
    fn connection_lost(&self) -> bool {
        matches!(self, DbError::Unavailable(_))
    }
}

/// A read on the standby [`Replica::connection_for_read`] hands out, else on
/// the primary; counted by lane and target. A read whose standby connection
/// is lost under it (the standby stopped, or a load balancer cut its
/// sessions as it was promoted) is tried again on the primary.
fn read_routed<T, E: RunError>(
    primary: &Pool,
    wait: Duration,
    replica: &Replica,
    lane: Lane,
    work: impl Fn(&mut PgConnection) -> Result<T, E>,
) -> Result<T, E> {
    if let Some(mut conn) = replica.connection_for_read(primary) {
        let result = work(&mut conn.pg);
        if !result.as_ref().is_err_and(E::connection_lost) {
            replica.health().count(lane, Target::Standby);
            return result;
        }
        replica.failed(&mut conn);
    }
    replica.health().count(lane, Target::Primary);
    with_conn(primary, wait, work)
}

/// Runs `work` on this (blocking) thread with a pooled connection; a
/// connection that failed at the transport level is not reused.
pub fn with_conn<T, E: RunError>(
    pool: &Pool,
    wait: Duration,
    work: impl FnOnce(&mut PgConnection) -> Result<T, E>,
) -> Result<T, E> {
    let mut conn = pool
        .get_timeout(wait)
        .map_err(|e| DbError::Unavailable(e.to_string()))?;
    let result = work(&mut conn.pg);
    if result.as_ref().is_err_and(E::connection_lost) {
        conn.broken = true;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::connection::SimpleConnection;
    use pds_test_db::server_url;

    /// A handler's own error type: the database's failures, or its own
    /// refusals.
    #[derive(Debug)]
    enum Failure {
        Db(DbError),
        Refused,
    }

    impl From<DbError> for Failure {
        fn from(error: DbError) -> Self {
            Self::Db(error)
        }
    }

    impl RunError for Failure {
        fn connection_lost(&self) -> bool {
            matches!(self, Self::Db(e) if e.connection_lost())
        }
    }

    fn select_one(conn: &mut PgConnection) -> Result<(), DbError> {
        Ok(conn.batch_execute("SELECT 1")?)
    }

    #[test]
    fn a_write_refused_as_read_only_is_unavailable_and_retires_the_connection() {
        // What a demoted primary (or one still being promoted) answers.
        let wait = Duration::from_secs(10);
        let pool = pool(&server_url(), 1, wait);
        let refused = with_conn(&pool, wait, |conn| {
            conn.batch_execute("SET default_transaction_read_only = on")?;
            Ok::<_, DbError>(conn.batch_execute("CREATE TABLE pds_read_only_probe (n int)")?)
        });
        assert!(
            matches!(&refused, Err(DbError::Unavailable(_))),
            "{refused:?}"
        );
        assert_eq!(pool.state().connections, 0);
    }

    #[test]
    fn a_connection_lost_under_the_works_own_error_is_not_handed_out_again() {
        let wait = Duration::from_secs(10);
        let pool = pool(&server_url(), 1, wait);
        // The work's own refusal leaves the connection in the pool.
        let refused = with_conn(&pool, wait, |conn| {
            select_one(conn)?;
            Err::<(), _>(Failure::Refused)
        });
        assert!(matches!(refused, Err(Failure::Refused)));
        assert_eq!(pool.state().connections, 1);
        // The server ends the session: its transport error, passed on in
        // the work's own error type, still retires the connection.
        let lost = with_conn(&pool, wait, |conn| {
            let _ = conn.batch_execute("SELECT pg_terminate_backend(pg_backend_pid())");
            select_one(conn)?;
            Ok::<_, Failure>(())
        });
        assert!(matches!(&lost, Err(f) if f.connection_lost()), "{lost:?}");
        assert_eq!(pool.state().connections, 0);
        // The next work gets a new one.
        with_conn(&pool, wait, select_one).unwrap();
        assert_eq!(pool.state().connections, 1);
    }
}
