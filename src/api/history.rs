//! `GET /Patient/{id}/_history/{vid}` (vread) and `GET /Patient/{id}/_history`.

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::audit::AuditNote;
use super::base_url;
use super::patient::{may_read, respond};
use super::{ApiError, FHIR_JSON};
use crate::auth::caller::Caller;
use crate::domain::{NhsNumber, Patient};
use crate::fhir;
use crate::store::db::{Db, DbError};
use crate::store::patients::{self, Retrieved};
use crate::store::updates;

/// Default and largest page of the history bundle.
const PAGE: i64 = 10;
const MAX_PAGE: i64 = 50;

/// The current record (never following a merge: history is per number).
fn current(
    conn: &mut diesel::PgConnection,
    nhs_number: NhsNumber,
) -> Result<Result<Patient, ApiError>, DbError> {
    Ok(match patients::retrieve_exact(conn, nhs_number)? {
        Retrieved::Current(p) => Ok(*p),
        Retrieved::Invalidated => Err(ApiError::Invalidated),
        Retrieved::Missing => Err(ApiError::NotFound),
    })
}

pub async fn vread(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: web::ReqData<Caller>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, vid) = path.into_inner();
    let nhs_number = NhsNumber::parse(&id).map_err(|_| ApiError::InvalidResourceId)?;
    may_read(&caller, nhs_number)?;
    let version: i32 =
        vid.parse()
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| ApiError::InvalidValue {
                field: "vid".into(),
                value: vid.clone(),
            })?;
    let found = db
        .run(move |conn| {
            let now = match current(conn, nhs_number)? {
                Ok(p) => p,
                Err(e) => return Ok(Err(e)),
            };
            if now.version as i32 == version {
                return Ok(Ok(now));
            }
            match updates::version(conn, nhs_number, version)? {
                Some(row) => Ok(Ok(row.into_patient()?)),
                None => Ok(Err(ApiError::NotFound)),
            }
        })
        .await??;
    Ok(respond(&req, found, &caller, "history"))
}

#[derive(Deserialize)]
pub struct Paging {
    #[serde(rename = "_count")]
    count: Option<String>,
    /// Show versions older than this one (the "next" link sets it).
    #[serde(rename = "_before")]
    before: Option<String>,
}

fn number(field: &str, value: &Option<String>, default: i64, max: i64) -> Result<i64, ApiError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::InvalidValue {
                field: field.into(),
                value: v.clone(),
            }),
    }
}

pub async fn history(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: web::ReqData<Caller>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let paging: Paging = super::query::parse(req.query_string())?;
    let nhs_number = NhsNumber::parse(&id).map_err(|_| ApiError::InvalidResourceId)?;
    may_read(&caller, nhs_number)?;
    let count = number("_count", &paging.count, PAGE, MAX_PAGE)?;
    let before = number(
        "_before",
        &paging.before,
        i64::from(i32::MAX),
        i64::from(i32::MAX),
    )? as i32;
    let (versions, total) = db
        .run(move |conn| {
            let now = match current(conn, nhs_number)? {
                Ok(p) => p,
                Err(e) => return Ok(Err(e)),
            };
            let total = now.version as i64;
            let mut out = Vec::new();
            if (now.version as i32) < before {
                out.push(now.clone());
            }
            let older = updates::versions(
                conn,
                nhs_number,
                before.min(now.version as i32),
                count + 1 - out.len() as i64,
            )?;
            for v in older {
                if let Some(row) = updates::version(conn, nhs_number, v)? {
                    out.push(row.into_patient()?);
                }
            }
            Ok(Ok((out, total)))
        })
        .await??;
    let more = versions.len() as i64 > count;
    let base = base_url(&req);
    let mut note = AuditNote {
        action: "history",
        nhs_numbers: vec![nhs_number.as_i64()],
        ..AuditNote::default()
    };
    let entries: Vec<serde_json::Value> = versions
        .into_iter()
        .take(count as usize)
        .map(|p| {
            let (p, redacted) = p.visible_to(caller.grants.clearance);
            note.redacted |= redacted;
            json!({
                "fullUrl": format!("{base}/Patient/{}/_history/{}", p.nhs_number, p.version),
                "resource": fhir::patient::render(&p),
                "request": {"method": if p.version == 1 { "POST" } else { "PATCH" }, "url": format!("Patient/{}", p.nhs_number)},
            })
        })
        .collect();
    let self_url = format!("{base}/Patient/{nhs_number}/_history?_count={count}");
    let mut links = vec![json!({"relation": "self", "url": self_url})];
    let oldest = entries
        .last()
        .and_then(|e| e["resource"]["meta"]["versionId"].as_str());
    if let (true, Some(oldest)) = (more, oldest) {
        links.push(json!({"relation": "next", "url": format!("{self_url}&_before={oldest}")}));
    }
    req.extensions_mut().insert(note);
    let mut bundle = json!({
        "resourceType": "Bundle",
        "type": "history",
        "timestamp": fhir::instant(&chrono::Utc::now()),
        "total": total,
        "link": links,
    });
    if !entries.is_empty() {
        bundle["entry"] = serde_json::Value::Array(entries);
    }
    Ok(HttpResponse::Ok().content_type(FHIR_JSON).json(bundle))
}
