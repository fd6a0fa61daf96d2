//! `/_ping` (is the process up) and `/_status` (can it reach its database).

use actix_web::{HttpResponse, web};
use serde_json::json;
use std::time::Instant;

use crate::store::db::{Db, DbError};

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

pub async fn status(db: web::Data<Db>) -> HttpResponse {
    let started = Instant::now();
    let check = db
        .run(|conn| {
            use diesel::connection::SimpleConnection;
            conn.batch_execute("SELECT 1").map_err(DbError::from)
        })
        .await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (pass, outcome) = match check {
        Ok(()) => (true, "database reachable".to_owned()),
        Err(e) => (false, e.to_string()),
    };
    let verdict = if pass { "pass" } else { "fail" };
    let mut body = version_fields();
    body["status"] = json!(verdict);
    body["checks"] = json!({"database": [{
        "status": verdict,
        "responseTime": (elapsed_ms * 10.0).round() / 10.0,
        "outcome": outcome,
    }]});
    if pass {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", super::error::RETRY_AFTER_SECS.to_string()))
            .json(body)
    }
}
