//! `GET /metrics`: Prometheus text exposition of request counts and
//! latencies (by route template, never the raw path with an NHS number),
//! database pool usage and the answers given because the service failed.
//!
//! The registry belongs to the `Application`, not the process, so each
//! server (and each test server) counts only its own requests.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::time::Instant;

use super::error::ServerFault;
use crate::store::audit::Auditor;
use crate::store::db::{Db, Pool, Writes};
use crate::store::lookup::Lookup;

mod replica;
use replica::ReplicaMetrics;

/// The label for anything outside a label's fixed set: a method the
/// service does not know, a path that matched no route, a status outside
/// 100-599. Every label value comes from a fixed set, so no request can add
/// series: a client's method or path is never copied into a label.
const OTHER: &str = "other";

/// Methods counted under their own name; any other is `other`.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"];

fn method_label(method: &str) -> &'static str {
    METHODS
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or(OTHER)
}

/// A route template of `api::ROUTES`, else `other`.
fn route_label(pattern: Option<&str>) -> &'static str {
    crate::api::ROUTES
        .iter()
        .map(|(path, _)| *path)
        .find(|path| Some(*path) == pattern)
        .unwrap_or(OTHER)
}

/// The status code (the server's own, never the client's), else `other`.
fn status_label(status: u16) -> std::borrow::Cow<'static, str> {
    if (100..600).contains(&status) {
        status.to_string().into()
    } else {
        OTHER.into()
    }
}

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    faults: IntCounterVec,
    pool_in_use: IntGaugeVec,
    pool_idle: IntGaugeVec,
    pool_max: IntGaugeVec,
    replica: ReplicaMetrics,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("pds_http_requests_total", "HTTP requests answered"),
            &["method", "route", "status"],
        )
        .expect("metric definition");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "pds_http_request_duration_seconds",
                "Time from receiving a request to its response head",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route", "status"],
        )
        .expect("metric definition");
        let faults = IntCounterVec::new(
            Opts::new(
                "pds_database_errors_total",
                "Answers given because of the service's own failure: kind=\"unavailable\" \
                 (503, database unreachable or every connection busy) or kind=\"internal\" (500)",
            ),
            &["kind"],
        )
        .expect("metric definition");
        // pool="reads" (searches and other reads), "writes" (PATCH, POST)
        // or "lookup" (the retrieve threads' own connections); with a read
        // target, "reads-standby" and "lookup-standby" are theirs there.
        let gauge = |name: &str, help: &str| {
            IntGaugeVec::new(Opts::new(name, help), &["pool"]).expect("metric definition")
        };
        let pool_in_use = gauge(
            "pds_db_pool_connections_in_use",
            "Database connections checked out of the pool",
        );
        let pool_idle = gauge(
            "pds_db_pool_connections_idle",
            "Open database connections waiting in the pool",
        );
        let pool_max = gauge(
            "pds_db_pool_connections_max",
            "Largest number of database connections the pool opens",
        );
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(faults.clone()),
            Box::new(pool_in_use.clone()),
            Box::new(pool_idle.clone()),
            Box::new(pool_max.clone()),
        ] {
            registry.register(collector).expect("unique metric names");
        }
        // Present from the start, so a rate of zero is visible.
        for kind in ["unavailable", "internal"] {
            faults.with_label_values(&[kind]);
        }
        let replica = ReplicaMetrics::register(&registry);
        Self {
            replica,
            registry,
            requests,
            latency,
            faults,
            pool_in_use,
            pool_idle,
            pool_max,
        }
    }

    fn observe(
        &self,
        method: &str,
        route: Option<&str>,
        status: u16,
        seconds: f64,
        fault: Option<&str>,
    ) {
        let status = status_label(status);
        let labels = [method_label(method), route_label(route), &status];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
        if let Some(kind) = fault {
            self.faults.with_label_values(&[kind]).inc();
        }
    }

    /// The exposition text, with the pool gauges read now.
    fn render(&self, pools: &[(&str, &Pool)]) -> String {
        for (name, pool) in pools {
            let state = pool.state();
            let labels = [*name];
            self.pool_in_use
                .with_label_values(&labels)
                .set(i64::from(state.connections - state.idle_connections));
            self.pool_idle
                .with_label_values(&labels)
                .set(i64::from(state.idle_connections));
            self.pool_max
                .with_label_values(&labels)
                .set(i64::from(pool.max_size()));
        }
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("encoding metrics");
        String::from_utf8(buffer).expect("metrics are UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts and times every request, labelled with its method, route template
/// and status, each from a fixed set (see `OTHER`).
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().clone();
    let response = next.call(req).await?;
    if let Some(metrics) = metrics {
        let route = response.request().match_pattern();
        let fault = response
            .response()
            .extensions()
            .get::<ServerFault>()
            .copied();
        metrics.observe(
            method.as_str(),
            route.as_deref(),
            response.status().as_u16(),
            started.elapsed().as_secs_f64(),
            fault.map(|f| f.0),
        );
    }
    Ok(response)
}

pub async fn metrics(
    metrics: web::Data<Metrics>,
    reads: Option<web::Data<Db>>,
    writes: Option<web::Data<Writes>>,
    lookup: Option<web::Data<Lookup>>,
    auditor: Option<web::Data<Auditor>>,
) -> HttpResponse {
    let mut pools: Vec<(&str, &Pool)> = Vec::new();
    if let Some(db) = &reads {
        pools.push(("reads", db.pool()));
        if let Some(replica) = db.replica() {
            pools.push(("reads-standby", replica.pool()));
        }
    }
    if let Some(db) = &writes {
        pools.push(("writes", db.pool()));
    }
    if let Some(lookup) = &lookup {
        pools.push(("lookup", lookup.pool()));
        if let Some(replica) = lookup.replica() {
            pools.push(("lookup-standby", replica.pool()));
        }
    }
    metrics.replica.update(
        reads
            .as_ref()
            .and_then(|db| db.replica())
            .map(|replica| replica.health()),
        auditor.as_ref().map_or(0, |auditor| auditor.held()),
    );
    HttpResponse::Ok()
        .content_type(prometheus::TEXT_FORMAT)
        .body(metrics.render(&pools))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_fixed_sets() {
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(method_label("OPTIONS"), "OPTIONS");
        for junk in ["patch", "FOO", "TRACE", "CONNECT", "X-\u{1b}[31m", ""] {
            assert_eq!(method_label(junk), OTHER, "{junk}");
        }
        assert_eq!(route_label(Some("/Patient/{id}")), "/Patient/{id}");
        assert_eq!(route_label(Some("/Patient/9000000009")), OTHER);
        assert_eq!(route_label(None), OTHER);
        assert_eq!(status_label(404), "404");
        assert_eq!(status_label(999), OTHER);
    }
}
