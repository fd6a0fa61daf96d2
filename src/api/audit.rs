//! One audit event per `/Patient` request, allowed or denied.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, web};

use super::headers::{X_CORRELATION_ID, X_REQUEST_ID};
use crate::auth::caller::Caller;
use crate::domain::NhsNumber;
use crate::store::audit::{AuditEvent, Auditor};

/// What a handler adds about its answer: the action, the patients returned
/// and whether a restricted record was redacted or shown in full.
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    pub action: &'static str,
    pub nhs_numbers: Vec<i64>,
    pub redacted: bool,
    pub sensitive_override: bool,
    /// The handler wrote the event itself, in its own transaction (updates).
    pub already_recorded: bool,
}

fn header(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(|v| v.chars().take(200).collect())
}

/// The event for a request before its outcome is known.
fn event(headers: &HeaderMap, caller: Option<&Caller>, note: AuditNote) -> AuditEvent {
    AuditEvent {
        at: chrono::Utc::now(),
        request_id: header(headers, &X_REQUEST_ID),
        correlation_id: header(headers, &X_CORRELATION_ID),
        access_mode: caller
            .map_or("unauthenticated", |c| c.mode.as_str())
            .to_owned(),
        user_id: caller.and_then(|c| c.user_id.clone()),
        role_id: caller.and_then(|c| c.role_id.clone()),
        role_code: caller.and_then(|c| c.role_code.clone()),
        org_code: caller.and_then(|c| c.org_code.clone()),
        client_id: caller.and_then(|c| c.client_id.clone()),
        level: caller
            .and_then(|c| c.level_for(note.action))
            .map(|l| l.as_str().to_owned()),
        action: note.action.to_owned(),
        nhs_numbers: note.nhs_numbers,
        status: 0,
        redacted: note.redacted,
        sensitive_override: note.sensitive_override,
    }
}

/// For handlers that must commit the audit row with their change.
pub fn event_for(
    req: &HttpRequest,
    caller: &Caller,
    action: &'static str,
    nhs_number: NhsNumber,
) -> AuditEvent {
    let note = AuditNote {
        action,
        nhs_numbers: vec![nhs_number.as_i64()],
        ..AuditNote::default()
    };
    let mut e = event(req.headers(), Some(caller), note);
    e.status = 200;
    e
}

/// What was attempted, for a request refused before a handler said more.
fn attempted(request: &HttpRequest) -> AuditNote {
    let path = request.path();
    let action = match request.method().as_str() {
        "GET" if path.trim_end_matches('/') == "/Patient" => "search",
        "GET" if path.contains("/_history") => "history",
        "GET" if path.ends_with("/RelatedPerson") => "related",
        "GET" => "retrieve",
        "PATCH" => "update",
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
    let request = response.request();
    let extensions = request.extensions();
    let note = extensions
        .get::<AuditNote>()
        .cloned()
        .unwrap_or_else(|| attempted(request));
    if !note.already_recorded {
        let mut e = event(request.headers(), extensions.get::<Caller>(), note);
        e.status = response.status().as_u16();
        auditor.record(e);
    }
    drop(extensions);
    Ok(response)
}
