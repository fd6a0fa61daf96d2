//! `GET /Patient/{id}/_history/{vid}` (vread) and `GET /Patient/{id}/_history`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::audit::{self, AuditNote};
use super::base_url;
use super::patient::{may_read, respond, shown_as, view_of};
use super::{ApiError, FHIR_JSON};
use crate::auth::caller::Caller;
use crate::domain::codes::Security;
use crate::domain::patient::Clearance;
use crate::domain::{NhsNumber, Patient};
use crate::fhir;
use crate::store::audit::Auditor;
use crate::store::db::Db;
use crate::store::patients::{self, Retrieved};
use crate::store::replica::Lane;
use crate::store::updates;

/// Default and largest page of the history bundle.
const PAGE: i64 = 10;
const MAX_PAGE: i64 = 50;

/// The current record (never following a merge: history is per number)
/// and what its stored history says.
struct Record {
    now: Patient,
    /// Earlier versions stored (seeded records may lack their first ones).
    stored: i64,
    /// The label earlier versions are shown under: the strictest the record
    /// has had, now or in any stored version, so a record that became
    /// restricted does not show its old addresses to callers who may not
    /// see its current ones.
    earlier_label: Security,
}

fn record(conn: &mut diesel::PgConnection, nhs_number: NhsNumber) -> Result<Record, ApiError> {
    let now = current(conn, nhs_number)?;
    let (stored, earlier_label) = updates::history_summary(conn, nhs_number, now.security)?;
    Ok(Record {
        now,
        stored,
        earlier_label,
    })
}

/// The current version of exactly this number.
fn current(conn: &mut diesel::PgConnection, nhs_number: NhsNumber) -> Result<Patient, ApiError> {
    match patients::retrieve_exact(conn, nhs_number)? {
        Retrieved::Current(p) => Ok(*p),
        Retrieved::Invalidated => Err(ApiError::Invalidated),
        Retrieved::Missing => Err(ApiError::NotFound),
    }
}

/// Version `version` of exactly this number (never following a merge) as
/// `clearance` may see it, with its audit flags (redacted,
/// sensitive_override): the current version under its own label, an
/// earlier one under the strictest label the record has had. For vread and
/// for the replay of a kept answer.
pub(super) fn shown_version(
    conn: &mut diesel::PgConnection,
    nhs_number: NhsNumber,
    version: i32,
    clearance: Clearance,
) -> Result<(Patient, bool, bool), ApiError> {
    let now = current(conn, nhs_number)?;
    if now.version as i32 == version {
        let label = now.security;
        return Ok(shown_as(now, label, clearance));
    }
    let row = updates::version(conn, nhs_number, version)?.ok_or(ApiError::NotFound)?;
    let (_, label) = updates::history_summary(conn, nhs_number, now.security)?;
    Ok(shown_as(row.into_patient()?, label, clearance))
}

pub async fn vread(
    req: HttpRequest,
    db: web::Data<Db>,
    auditor: web::Data<Auditor>,
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
    let clearance = caller.grants.clearance;
    let event = audit::event_for(&req, &caller, AuditNote::recorded("history"), 200);
    let (shown, event) = db
        .read(Lane::History, move |conn| {
            // Fresh for each attempt: the read may be tried again on the primary.
            let mut event = event.clone();
            let (shown, redacted, sensitive_override) =
                shown_version(conn, nhs_number, version, clearance)?;
            event.nhs_numbers = vec![nhs_number.as_i64()];
            event.redacted = redacted;
            event.sensitive_override = sensitive_override;
            Ok::<_, ApiError>((shown, event))
        })
        .await?;
    audit::commit(&req, &auditor, event).await?;
    Ok(respond(shown, view_of(&caller)))
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
    auditor: web::Data<Auditor>,
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
    let clearance = caller.grants.clearance;
    let event = audit::event_for(&req, &caller, AuditNote::recorded("history"), 200);
    let (versions, total, event) = db
        .read(Lane::History, move |conn| {
            // Fresh for each attempt: the read may be tried again on the primary.
            let mut event = event.clone();
            let record = record(conn, nhs_number)?;
            let now_version = record.now.version as i32;
            let mut out = Vec::new();
            if now_version < before {
                let label = record.now.security;
                out.push(shown_as(record.now, label, clearance));
            }
            let older = updates::versions(
                conn,
                nhs_number,
                before.min(now_version),
                count + 1 - out.len() as i64,
            )?;
            for v in older {
                if let Some(row) = updates::version(conn, nhs_number, v)? {
                    out.push(shown_as(
                        row.into_patient()?,
                        record.earlier_label,
                        clearance,
                    ));
                }
            }
            out.truncate(count as usize + 1);
            let listed = &out[..out.len().min(count as usize)];
            event.nhs_numbers = vec![nhs_number.as_i64()];
            event.redacted = listed.iter().any(|(_, redacted, _)| *redacted);
            event.sensitive_override = listed.iter().any(|(_, _, full)| *full);
            // Every entry that can be listed: the current version and the
            // stored earlier ones (not the version number, which counts
            // versions whose copies a seeded record never had).
            Ok::<_, ApiError>((out, 1 + record.stored, event))
        })
        .await?;
    audit::commit(&req, &auditor, event).await?;
    let more = versions.len() as i64 > count;
    let view = view_of(&caller);
    let base = base_url(&req);
    let entries: Vec<serde_json::Value> = versions
        .into_iter()
        .take(count as usize)
        .map(|(p, _, _)| {
            json!({
                "fullUrl": format!("{base}/Patient/{}/_history/{}", p.nhs_number, p.version),
                "resource": fhir::patient::render(&p, view),
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
