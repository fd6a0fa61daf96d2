//! One audit event per `/Patient` and `/Coverage` request, allowed or denied, committed
//! before the answer leaves (see `store::audit`).
//!
//! Handlers whose answer carries patient data write their own event before
//! answering ([`event_for`], then [`commit`], or in their own statement or
//! transaction) and say so with [`AuditNote::recorded`]; this middleware
//! writes the event of every other answer and holds the answer until it is
//! committed.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderName};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, web};
use std::time::Duration;

use super::ApiError;
use super::headers::{X_CORRELATION_ID, X_REQUEST_ID};
use crate::auth::caller::{Caller, Identity};
use crate::domain::NhsNumber;
use crate::store::audit::{AuditEvent, Auditor};

/// Longest an answer waits for its audit row while the writer is healthy
/// (a commit normally takes a millisecond or two).
const DURABLE_WAIT: Duration = Duration::from_secs(1);

/// What a handler adds about its answer: the action, the patients returned
/// and whether a restricted record was redacted or shown in full.
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    pub action: &'static str,
    pub nhs_numbers: Vec<i64>,
    pub redacted: bool,
    pub sensitive_override: bool,
    /// The handler wrote the event itself, before answering.
    pub already_recorded: bool,
}

impl AuditNote {
    /// The note a handler leaves once it has written its own event.
    pub fn recorded(action: &'static str) -> Self {
        Self {
            action,
            already_recorded: true,
            ..Self::default()
        }
    }
}

/// The audit flags of a record shown to a caller: `redacted` when the
/// redaction removed anything, `sensitive_override` when a restricted
/// record was shown in full.
pub fn shown(restricted: bool, redacted: bool) -> (bool, bool) {
    (redacted, restricted && !redacted)
}

fn header(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(|v| v.chars().take(200).collect())
}

/// Who asked: the admitted caller, else the identity of a token that
/// verified before the request was refused, else nobody known.
enum Who<'a> {
    Caller(&'a Caller),
    Identity(&'a Identity),
    Unauthenticated,
}

/// The event for a request with `note` and `status`.
fn event(headers: &HeaderMap, who: Who<'_>, note: AuditNote, status: u16) -> AuditEvent {
    let identity = match &who {
        Who::Caller(c) => Some(c.identity()),
        Who::Identity(i) => Some((*i).clone()),
        Who::Unauthenticated => None,
    };
    let access_mode = match &identity {
        None => "unauthenticated",
        Some(i) => i.mode.map_or("unknown-scope", |m| m.as_str()),
    };
    let level = match who {
        Who::Caller(c) => c.level_for(note.action).map(|l| l.as_str().to_owned()),
        _ => None,
    };
    let identity = identity.unwrap_or_default();
    AuditEvent {
        at: chrono::Utc::now(),
        request_id: header(headers, &X_REQUEST_ID),
        correlation_id: header(headers, &X_CORRELATION_ID),
        access_mode: access_mode.to_owned(),
        user_id: identity.user_id,
        role_id: identity.role_id,
        role_code: identity.role_code,
        org_code: identity.org_code,
        client_id: identity.client_id,
        level,
        action: note.action.to_owned(),
        nhs_numbers: note.nhs_numbers,
        status,
        redacted: note.redacted,
        sensitive_override: note.sensitive_override,
    }
}

/// The event of an answer a handler writes itself, before answering.
pub fn event_for(req: &HttpRequest, caller: &Caller, note: AuditNote, status: u16) -> AuditEvent {
    event(req.headers(), Who::Caller(caller), note, status)
}

/// Commits a data answer's event through the audit writer, which shares
/// one commit among the requests waiting (after the handler has given its
/// database connection back). The answer may only be sent on `Ok`: if the
/// trail cannot be written it is 503, whatever the data, unless the
/// primary is unreachable and the auditor holds events meanwhile
/// (`AUDIT_HOLD_WHILE_PRIMARY_DOWN`, see [`Auditor::hold`]).
pub async fn commit(
    req: &HttpRequest,
    auditor: &Auditor,
    event: AuditEvent,
) -> Result<(), ApiError> {
    if !auditor.is_writing() {
        // Held in memory until a primary returns, when the settings allow
        // it (reads served by a standby during a failover); else 503.
        if !auditor.hold(event) {
            return Err(ApiError::Unavailable(
                "the audit trail cannot be written".into(),
            ));
        }
    } else if !auditor.record_durably(event, DURABLE_WAIT).await {
        return Err(ApiError::Unavailable(
            "the audit trail could not be written in time".into(),
        ));
    }
    req.extensions_mut().insert(AuditNote {
        already_recorded: true,
        ..AuditNote::default()
    });
    Ok(())
}

/// What was attempted, for a request refused before a handler said more.
fn attempted(request: &HttpRequest) -> AuditNote {
    let path = request.path();
    let coverage = path == "/Coverage";
    let action = match request.method().as_str() {
        "GET" if coverage => "coverage",
        "POST" if coverage => "update-coverage",
        "GET" if path.trim_end_matches('/') == "/Patient" => "search",
        "GET" if path.contains("/_history") => "history",
        "GET" if path.ends_with("/RelatedPerson") => "related",
        "GET" => "retrieve",
        "PATCH" => "update",
        "POST" if path.ends_with("/$process-birth-details") => "birth",
        "POST" => "create",
        _ => "other",
    };
    // A request refused by the gate never reached route matching, so read
    // the number from the path itself.
    let nhs_numbers = request
        .match_info()
        .get("id")
        .or_else(|| path.strip_prefix("/Patient/")?.split('/').next())
        .and_then(|id| NhsNumber::parse(id).ok())
        .or_else(|| {
            (coverage && request.method() == actix_web::http::Method::GET)
                .then(|| super::coverage::asked(request.query_string()))
                .flatten()
        })
        .map(|n| vec![n.as_i64()])
        .unwrap_or_default();
    AuditNote {
        action,
        nhs_numbers,
        ..AuditNote::default()
    }
}

pub async fn audit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(auditor) = req.app_data::<web::Data<Auditor>>().cloned() else {
        return next.call(req).await;
    };
    let response = next.call(req).await?;
    let status = response.status();
    let event = {
        let request = response.request();
        let extensions = request.extensions();
        let note = extensions
            .get::<AuditNote>()
            .cloned()
            .unwrap_or_else(|| attempted(request));
        if note.already_recorded {
            None
        } else {
            let who = match (extensions.get::<Caller>(), extensions.get::<Identity>()) {
                (Some(caller), _) => Who::Caller(caller),
                (None, Some(identity)) => Who::Identity(identity),
                (None, None) => Who::Unauthenticated,
            };
            Some(event(request.headers(), who, note, status.as_u16()))
        }
    };
    let Some(e) = event else {
        return Ok(response);
    };
    // A 503 is given because the database is unreachable or overloaded, and
    // a writer that cannot reach it would only hold the answer up: queue the
    // event (it is written when the database returns) and answer at once.
    if status == StatusCode::SERVICE_UNAVAILABLE || !auditor.is_writing() {
        auditor.record(e);
    } else if !auditor.record_durably(e, DURABLE_WAIT).await {
        tracing::warn!("audit event not committed in time; answering anyway, it stays queued");
    }
    Ok(response)
}
