//! `/_ping` (is the process up) and `/_status` (can it reach its database:
//! the primary for writes and, when there is one, the read target).

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use std::time::Instant;

use crate::store::db::{self, Db, DbError};
use crate::store::replica::Replica;

fn version_fields() -> serde_json::Value {
    let version = env!("CARGO_PKG_VERSION");
    let commit = option_env!("PDS_COMMIT").unwrap_or("unknown");
    json!({
        "version": version,
        "revision": commit,
        "releaseId": version,
        "commitId": commit,
    })
}

pub async fn ping() -> HttpResponse {
    HttpResponse::Ok().json(version_fields())
}

fn verdict(pass: bool) -> &'static str {
    if pass { "pass" } else { "fail" }
}

fn millis(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0
}

/// `pass` while reads can be served: by the primary, or by a read target
/// that answers and is not too far behind. Each side is reported apart, so
/// a primary failing over shows as the write side failing.
pub async fn status(db: web::Data<Db>) -> HttpResponse {
    let started = Instant::now();
    let check = db
        .run(|conn| {
            use diesel::connection::SimpleConnection;
            conn.batch_execute("SELECT 1").map_err(DbError::from)
        })
        .await;
    let primary_pass = check.is_ok();
    let mut checks = vec![json!({
        "componentId": "primary",
        "componentType": "datastore",
        "status": verdict(primary_pass),
        "responseTime": millis(started),
        "outcome": check.map_or_else(|e| e.to_string(), |()| "database reachable".to_owned()),
    })];
    let mut read_pass = false;
    if let Some(replica) = db.replica() {
        let (pass, check) = read_check(replica.clone()).await;
        read_pass = pass;
        checks.push(check);
    }
    let pass = primary_pass || read_pass;
    let mut body = version_fields();
    body["status"] = json!(verdict(pass));
    body["checks"] = json!({ "database": checks });
    if pass {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", super::error::RETRY_AFTER_SECS.to_string()))
            .json(body)
    }
}

/// The read target, asked now, with the lag its checker last saw.
async fn read_check(replica: Replica) -> (bool, Value) {
    let started = Instant::now();
    let asked = replica.clone();
    let answer = web::block(move || {
        db::with_conn(asked.pool(), std::time::Duration::from_secs(1), |conn| {
            use diesel::dsl::sql;
            use diesel::prelude::*;
            diesel::select(sql::<diesel::sql_types::Bool>("pg_is_in_recovery()"))
                .get_result::<bool>(conn)
                .map_err(DbError::from)
        })
    })
    .await
    .map_err(|e| DbError::Unavailable(e.to_string()))
    .and_then(|answer| answer);
    let responded = millis(started);
    let (usable, lag) = (replica.health().usable(), replica.health().lag());
    let (pass, role, outcome) = match answer {
        Err(e) => (false, None, format!("{e}: reads go to the primary")),
        Ok(in_recovery) if !usable => (
            false,
            Some(in_recovery),
            format!(
                "{} lags {} ms behind the primary: reads go to the primary",
                if in_recovery { "standby" } else { "server" },
                lag.as_millis()
            ),
        ),
        Ok(true) => (true, Some(true), "standby reachable".to_owned()),
        Ok(false) => (
            true,
            Some(false),
            "reachable, but a primary, not a standby".to_owned(),
        ),
    };
    let check = json!({
        "componentId": "read",
        "componentType": "datastore",
        "status": verdict(pass),
        "responseTime": responded,
        "role": role.map(|standby| if standby { "standby" } else { "primary" }),
        "observedValue": lag.as_millis() as u64,
        "observedUnit": "ms",
        "outcome": outcome,
    });
    (pass, check)
}
