//! Reads on a standby (`DATABASE_READ_URL`), and when they go to the
//! primary instead.
//!
//! * **Health.** A checker thread per instance asks, every
//!   `REPLICA_CHECK_MS`, the primary how far it has flushed its WAL and the
//!   read target how far it has replayed it. A read target that does not
//!   answer, or lags more than `MAX_REPLICA_LAG_MS`, is not used: reads go
//!   to the primary until it catches up. The lag is the time since the
//!   checker first saw the primary at a position the standby has not yet
//!   replayed (accurate to one check), so an idle primary shows no lag.
//! * **Read-your-writes (the fence).** A read that goes to the standby first
//!   asks the primary for its flushed position, then waits (at most
//!   `REPLICA_CATCH_UP_MS`) until the standby has replayed that far, and
//!   only then reads. Every write acknowledged before the read began was
//!   flushed before it, so whichever instance answered the write, the read
//!   sees it; a standby that does not catch up in time sends the read to
//!   the primary. This costs one small query on the primary per read (per
//!   batch of retrieves) and holds for any standby, synchronous or not,
//!   behind any load balancer.
//! * While the primary cannot be asked (it is failing over), the fence is
//!   the highest position this instance saw it at, so a standby that has
//!   not replayed the writes acknowledged before then does not serve reads
//!   (they get 503 until a primary answers). A write the old primary
//!   acknowledged after that, in the moments before it died, is covered
//!   only once the new primary answers the fence query, which every read
//!   tries rather than trust the checker.
//! * A read target that turns out to be a primary is used as one (logged
//!   once).

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::r2d2::PooledConnection;
use diesel::sql_types::{BigInt, Bool};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use super::db::{self, DbError, Manager, Pool, RunError};

/// What a read is for, as `/metrics` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Retrieve,
    Search,
    History,
    Related,
    Coverage,
}

impl Lane {
    pub const ALL: [Lane; 5] = [
        Lane::Retrieve,
        Lane::Search,
        Lane::History,
        Lane::Related,
        Lane::Coverage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Retrieve => "retrieve",
            Lane::Search => "search",
            Lane::History => "history",
            Lane::Related => "related",
            Lane::Coverage => "coverage",
        }
    }
}

/// Which server answered a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Standby,
    Primary,
}

impl Target {
    pub const ALL: [Target; 2] = [Target::Standby, Target::Primary];

    pub fn as_str(self) -> &'static str {
        match self {
            Target::Standby => "standby",
            Target::Primary => "primary",
        }
    }
}

/// How reads are routed (from the settings).
#[derive(Debug, Clone, Copy)]
pub struct Routing {
    /// `MAX_REPLICA_LAG_MS`: a read target further behind is not used.
    pub max_lag: Duration,
    /// `REPLICA_CATCH_UP_MS`: how long a read waits for the standby to
    /// replay what the primary had flushed when the read began.
    pub catch_up: Duration,
    /// `REPLICA_CHECK_MS`: how often the checker looks.
    pub check_every: Duration,
}

/// What the checker last saw, shared by every pool that reads from the
/// read target, and the counts `/metrics` shows.
#[derive(Default)]
pub struct Health {
    /// Reads may go to the read target: it answered the last check and is
    /// not too far behind.
    usable: AtomicBool,
    lag_ms: AtomicU64,
    worst_lag_ms: AtomicU64,
    /// The primary answered the last check.
    primary_answered: AtomicBool,
    /// Reads by lane and target (`Lane::ALL` × `Target::ALL`).
    served: [[AtomicU64; 2]; Lane::ALL.len()],
    /// Reads sent to the primary because the standby had not replayed the
    /// fence in time.
    behind: AtomicU64,
    /// Reads that found the standby short of their fence at first and
    /// waited for it (whether or not it caught up in time).
    waited: AtomicU64,
    /// The fence queries of this instance's reads.
    fences: Fences,
    /// The highest flushed position this instance has seen the primary at
    /// (the fence while it does not answer).
    highest: AtomicI64,
}

impl Health {
    pub fn lag(&self) -> Duration {
        Duration::from_millis(self.lag_ms.load(Ordering::Relaxed))
    }

    pub fn worst_lag(&self) -> Duration {
        Duration::from_millis(self.worst_lag_ms.load(Ordering::Relaxed))
    }

    pub fn usable(&self) -> bool {
        self.usable.load(Ordering::Relaxed)
    }

    pub fn served(&self, lane: Lane, target: Target) -> u64 {
        self.served[lane as usize][target as usize].load(Ordering::Relaxed)
    }

    pub fn behind(&self) -> u64 {
        self.behind.load(Ordering::Relaxed)
    }

    pub fn waited(&self) -> u64 {
        self.waited.load(Ordering::Relaxed)
    }

    pub fn count(&self, lane: Lane, target: Target) {
        self.served[lane as usize][target as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A read found the read target gone: stop using it until the next
    /// check says otherwise.
    fn lost(&self) {
        self.usable.store(false, Ordering::Relaxed);
    }
}

/// The read target: connections to it, and the health its checker keeps.
#[derive(Clone)]
pub struct Replica {
    pool: Pool,
    health: Arc<Health>,
    catch_up: Duration,
    wait: Duration,
}

/// A connection to the standby that has replayed the read's fence.
pub type StandbyConn = PooledConnection<Manager>;

impl Replica {
    /// A pool of `size` connections to `url`, sharing `health`.
    pub fn new(
        url: &str,
        size: u32,
        wait: Duration,
        health: Arc<Health>,
        routing: Routing,
    ) -> Self {
        Self {
            pool: db::pool(url, size, wait),
            health,
            catch_up: routing.catch_up,
            wait,
        }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub fn health(&self) -> &Health {
        &self.health
    }

    /// A standby connection for a read beginning now, or `None` when the
    /// read should go to the primary (`primary` is asked for the fence).
    pub fn connection_for_read(&self, primary: &Pool) -> Option<StandbyConn> {
        if !self.health.usable() {
            return None;
        }
        let fence = self.fence(primary)?;
        let mut conn = match self.pool.get_timeout(self.wait / 4) {
            Ok(conn) => conn,
            Err(_) => {
                self.health.lost();
                return None;
            }
        };
        match caught_up(&mut conn.pg, fence, self.catch_up, &self.health.waited) {
            Ok(true) => Some(conn),
            Ok(false) => {
                self.health.behind.fetch_add(1, Ordering::Relaxed);
                None
            }
            Err(e) => {
                if matches!(e, DbError::Unavailable(_)) {
                    conn.mark_broken();
                    self.health.lost();
                }
                None
            }
        }
    }

    /// The position a read beginning now must see: the primary's flushed
    /// position, asked now (in a round shared with other reads). While the
    /// primary does not answer (it is failing over), the highest position
    /// this instance saw it at: every write acknowledged before then is
    /// covered. `None`: the read goes to the primary (which should answer,
    /// but did not in time).
    fn fence(&self, primary: &Pool) -> Option<i64> {
        let down = !self.health.primary_answered.load(Ordering::Relaxed);
        // Asked even while the checker saw it down: a new primary may be up
        // by now, and a write it acknowledged is covered only if it is
        // asked. (The rounds are shared, so an outage costs the reads in
        // it this wait, not a wait each.)
        let patience = self.wait / 4;
        let asked = self.health.fences.fence(patience, || {
            // Once more on a new connection if a pooled one died with the
            // old primary.
            let ask = || db::with_conn(primary, patience, |c| Ok::<_, DbError>(flushed(c)?));
            match ask() {
                Err(e) if e.connection_lost() => ask().ok(),
                other => other.ok(),
            }
        });
        match asked {
            Some(at) => {
                self.health.highest.fetch_max(at, Ordering::Relaxed);
                Some(at)
            }
            None if down => Some(self.health.highest.load(Ordering::Relaxed)),
            None => None,
        }
    }

    /// Work on a standby connection failed: a lost connection is not
    /// reused, and the standby is not used until the next check.
    pub fn failed(&self, conn: &mut StandbyConn) {
        conn.mark_broken();
        self.health.lost();
    }
}

/// The primary's flushed position for reads, one query for many: a read
/// needs the answer of a query sent after it began, so reads arriving
/// while one is in flight share the next (as a group commit shares a
/// flush). Under load the primary sees one fence query per round trip per
/// instance, not one per read.
#[derive(Default)]
struct Fences {
    rounds: Mutex<Rounds>,
    done: Condvar,
}

#[derive(Default)]
struct Rounds {
    started: u64,
    finished: u64,
    /// The answer of the last round to finish (None: it failed).
    answer: Option<i64>,
}

impl Fences {
    /// A fence for a read beginning now: `ask` (the query) runs in the
    /// round that serves it, led by one of the reads waiting. None if that
    /// round failed, or did not finish within `wait`.
    fn fence(&self, wait: Duration, ask: impl FnOnce() -> Option<i64>) -> Option<i64> {
        let deadline = Instant::now() + wait;
        let mut rounds = self.rounds.lock().unwrap_or_else(PoisonError::into_inner);
        // A round in flight was sent before now: the next one serves us.
        let needed = rounds.started + 1;
        loop {
            if rounds.finished >= needed {
                // That round, or a later one (sent later still).
                return rounds.answer;
            }
            if rounds.started == rounds.finished {
                rounds.started = needed;
                drop(rounds);
                let answer = ask();
                let mut rounds = self.rounds.lock().unwrap_or_else(PoisonError::into_inner);
                rounds.finished = needed;
                rounds.answer = answer;
                self.done.notify_all();
                return answer;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            rounds = self
                .done
                .wait_timeout(rounds, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// The primary's flushed WAL position, as a number.
fn flushed(conn: &mut PgConnection) -> QueryResult<i64> {
    diesel::select(sql::<BigInt>(
        "(pg_current_wal_flush_lsn() - '0/0'::pg_lsn)::bigint",
    ))
    .get_result(conn)
}

/// Whether the server is a standby, and how far it has replayed.
fn replayed(conn: &mut PgConnection) -> QueryResult<(bool, i64)> {
    diesel::select((
        sql::<Bool>("pg_is_in_recovery()"),
        sql::<BigInt>("coalesce((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, 0)"),
    ))
    .get_result(conn)
}

const FIRST_PAUSE: Duration = Duration::from_micros(50);

/// Waits (at most `catch_up`) until the standby has replayed `fence`. Its
/// check runs before the read's own statement, which therefore sees at
/// least that much. A primary has nothing to replay.
fn caught_up(
    conn: &mut PgConnection,
    fence: i64,
    catch_up: Duration,
    waited: &AtomicU64,
) -> Result<bool, DbError> {
    let deadline = Instant::now() + catch_up;
    // A standby is usually microseconds behind: look again soon, then less
    // often (each look is a round trip).
    let mut pause = FIRST_PAUSE;
    loop {
        let (in_recovery, at) = replayed(conn)?;
        if !in_recovery || at >= fence {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        if pause == FIRST_PAUSE {
            waited.fetch_add(1, Ordering::Relaxed);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(2));
    }
}

/// Primary positions with the time the checker first saw each, oldest
/// first (bounded: beyond it, the lag is at least the oldest's age).
struct Positions {
    seen: VecDeque<(Instant, i64)>,
}

const MAX_POSITIONS: usize = 512;

impl Positions {
    fn push(&mut self, at: Instant, position: i64) {
        if self.seen.back().is_none_or(|(_, last)| position > *last) {
            if self.seen.len() == MAX_POSITIONS {
                self.seen.pop_front();
            }
            self.seen.push_back((at, position));
        }
    }

    /// How long the standby has been behind: since the first position it
    /// has not replayed.
    fn lag(&self, replayed: i64, now: Instant) -> Duration {
        self.seen
            .iter()
            .find(|(_, position)| *position > replayed)
            .map_or(Duration::ZERO, |(at, _)| now.saturating_duration_since(*at))
    }
}

/// Starts the checker thread; it stops when `health` is dropped.
pub fn start_checker(primary_url: &str, read_url: &str, health: &Arc<Health>, routing: Routing) {
    let wait = routing.check_every.max(Duration::from_millis(100)) * 4;
    let primary = db::quiet_pool(primary_url, 1, wait);
    let read = db::quiet_pool(read_url, 1, wait);
    let health = Arc::downgrade(health);
    let spawned = std::thread::Builder::new()
        .name("pds-replica-check".into())
        .spawn(move || check_loop(&primary, &read, &health, routing, wait));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the replica checker: reads stay on the primary");
    }
}

fn check_loop(
    primary: &Pool,
    read: &Pool,
    health: &Weak<Health>,
    routing: Routing,
    wait: Duration,
) {
    let mut positions = Positions {
        seen: VecDeque::new(),
    };
    let mut told_primary = false;
    while let Some(health) = health.upgrade() {
        let now = Instant::now();
        let primary_at = db::with_conn(primary, wait, |c| Ok::<_, DbError>(flushed(c)?));
        let read_at = db::with_conn(read, wait, |c| Ok::<_, DbError>(replayed(c)?));
        if let Ok(position) = primary_at {
            positions.push(now, position);
            health.highest.fetch_max(position, Ordering::Relaxed);
        }
        let (usable, lag) = match &read_at {
            Ok((true, replayed)) => {
                let lag = positions.lag(*replayed, now);
                (lag <= routing.max_lag, lag)
            }
            Ok((false, _)) => (true, Duration::ZERO),
            Err(_) => (false, Duration::ZERO),
        };
        let was_usable = health.usable.swap(usable, Ordering::Relaxed);
        health
            .primary_answered
            .store(primary_at.is_ok(), Ordering::Relaxed);
        let lag_ms = lag.as_millis() as u64;
        health.lag_ms.store(lag_ms, Ordering::Relaxed);
        health.worst_lag_ms.fetch_max(lag_ms, Ordering::Relaxed);
        if let Ok((in_recovery, _)) = read_at {
            if !in_recovery && !told_primary {
                tracing::warn!(
                    "DATABASE_READ_URL reaches a primary, not a standby: reads are served there"
                );
            }
            told_primary = !in_recovery;
        }
        if was_usable != usable {
            match &read_at {
                _ if usable => tracing::info!("reads go to the read target again"),
                Err(e) => {
                    tracing::warn!(error = %e, "the read target does not answer: reads go to the primary")
                }
                Ok(_) => tracing::warn!(
                    lag_ms,
                    max_lag_ms = routing.max_lag.as_millis() as u64,
                    "the read target lags too far behind: reads go to the primary"
                ),
            }
        }
        drop(health);
        std::thread::sleep(routing.check_every);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_share_a_fence_query_sent_after_they_began() {
        let fences = Arc::new(Fences::default());
        let asked = Arc::new(AtomicU64::new(0));
        let (entered, release) = (
            Arc::new(std::sync::Barrier::new(2)),
            Arc::new(Mutex::new(())),
        );
        // A round in flight, held open.
        let hold = release.lock().unwrap();
        let leader = {
            let (fences, asked, entered, release) = (
                fences.clone(),
                asked.clone(),
                entered.clone(),
                release.clone(),
            );
            std::thread::spawn(move || {
                fences.fence(Duration::from_secs(10), || {
                    entered.wait();
                    let _released = release.lock();
                    Some(asked.fetch_add(1, Ordering::SeqCst) as i64 + 100)
                })
            })
        };
        entered.wait();
        // Reads beginning now must not take the answer of the round in
        // flight (sent before them): they share the next one.
        let followers: Vec<_> = (0..8)
            .map(|_| {
                let (fences, asked) = (fences.clone(), asked.clone());
                std::thread::spawn(move || {
                    fences.fence(Duration::from_secs(10), || {
                        Some(asked.fetch_add(1, Ordering::SeqCst) as i64 + 100)
                    })
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        drop(hold);
        assert_eq!(leader.join().unwrap(), Some(100));
        for follower in followers {
            assert_eq!(follower.join().unwrap(), Some(101));
        }
        assert_eq!(asked.load(Ordering::SeqCst), 2, "one query for the eight");
        // A round that does not finish in time gives no fence.
        let stuck = Arc::new(Fences::default());
        stuck.rounds.lock().unwrap().started = 1;
        assert_eq!(stuck.fence(Duration::from_millis(20), || Some(1)), None);
    }

    #[test]
    fn lag_runs_from_the_first_position_the_standby_has_not_replayed() {
        let start = Instant::now();
        let mut positions = Positions {
            seen: VecDeque::new(),
        };
        positions.push(start, 100);
        positions.push(start + Duration::from_secs(1), 100);
        positions.push(start + Duration::from_secs(2), 200);
        positions.push(start + Duration::from_secs(3), 300);
        let now = start + Duration::from_secs(5);
        assert_eq!(positions.lag(300, now), Duration::ZERO);
        assert_eq!(positions.lag(250, now), Duration::from_secs(2));
        assert_eq!(positions.lag(150, now), Duration::from_secs(3));
        assert_eq!(positions.lag(0, now), Duration::from_secs(5));
        // Bounded: the oldest go first.
        for i in 0..(MAX_POSITIONS as i64 * 2) {
            positions.push(now, 1000 + i);
        }
        assert_eq!(positions.seen.len(), MAX_POSITIONS);
    }
}
