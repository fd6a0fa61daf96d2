//! The read target's figures: its lag, whether reads may use it, and which
//! server served each lane's reads (`store::replica`).

use prometheus::{Gauge, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use crate::store::replica::{Health, Lane, Target};

pub struct ReplicaMetrics {
    lag: Gauge,
    worst_lag: Gauge,
    usable: IntGauge,
    reads: IntCounterVec,
    behind: IntCounter,
    waited: IntCounter,
    held: IntCounter,
}

impl ReplicaMetrics {
    pub fn register(registry: &Registry) -> Self {
        let this = Self {
            lag: Gauge::new(
                "pds_replica_lag_seconds",
                "How far the read target (DATABASE_READ_URL) was behind the primary at the last check",
            )
            .expect("metric definition"),
            worst_lag: Gauge::new(
                "pds_replica_lag_max_seconds",
                "The largest lag of the read target seen since start",
            )
            .expect("metric definition"),
            usable: IntGauge::new(
                "pds_replica_usable",
                "1 while reads may go to the read target (it answers and lags at most MAX_REPLICA_LAG_MS), else 0",
            )
            .expect("metric definition"),
            reads: IntCounterVec::new(
                Opts::new(
                    "pds_db_reads_total",
                    "Reads by lane (retrieve, search, history, related) and the server that \
                     answered them (target=standby or primary), when a read target is set",
                ),
                &["lane", "target"],
            )
            .expect("metric definition"),
            behind: IntCounter::new(
                "pds_db_reads_behind_total",
                "Reads sent to the primary because the standby had not replayed, within \
                 REPLICA_CATCH_UP_MS, what the primary had flushed when the read began",
            )
            .expect("metric definition"),
            waited: IntCounter::new(
                "pds_db_reads_waited_total",
                "Reads that found the standby short of what the primary had flushed when \
                 they began, and waited for it to replay that far",
            )
            .expect("metric definition"),
            held: IntCounter::new(
                "pds_audit_held_total",
                "Answers sent with their audit rows held in memory while the primary could not be written",
            )
            .expect("metric definition"),
        };
        for collector in [
            Box::new(this.lag.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(this.worst_lag.clone()),
            Box::new(this.usable.clone()),
            Box::new(this.reads.clone()),
            Box::new(this.behind.clone()),
            Box::new(this.waited.clone()),
            Box::new(this.held.clone()),
        ] {
            registry.register(collector).expect("unique metric names");
        }
        this
    }

    /// Reads the counters kept in `health` (shared by every read path) and
    /// the auditor's held answers.
    pub fn update(&self, health: Option<&Health>, held: u64) {
        raise(&self.held, held);
        let Some(health) = health else {
            return;
        };
        self.lag.set(health.lag().as_secs_f64());
        self.worst_lag.set(health.worst_lag().as_secs_f64());
        self.usable.set(i64::from(health.usable()));
        raise(&self.behind, health.behind());
        raise(&self.waited, health.waited());
        for lane in Lane::ALL {
            for target in Target::ALL {
                let counter = self
                    .reads
                    .with_label_values(&[lane.as_str(), target.as_str()]);
                raise(&counter, health.served(lane, target));
            }
        }
    }
}

/// Sets a counter to a total kept elsewhere (which only grows).
fn raise(counter: &IntCounter, total: u64) {
    let now = counter.get();
    if total > now {
        counter.inc_by(total - now);
    }
}
