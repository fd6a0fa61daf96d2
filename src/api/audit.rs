//! One audit event per `/Patient` request, allowed or denied.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};

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
}

fn header(req: &ServiceRequest, name: &actix_web::http::header::HeaderName) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(|v| v.chars().take(200).collect())
}

pub async fn audit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(auditor) = req.app_data::<web::Data<Auditor>>().cloned() else {
        return next.call(req).await;
    };
    let request_id = header(&req, &X_REQUEST_ID);
    let correlation_id = header(&req, &X_CORRELATION_ID);
    let method = req.method().as_str().to_ascii_lowercase();
    let response = next.call(req).await?;
    let request = response.request();
    let extensions = request.extensions();
    let note = extensions
        .get::<AuditNote>()
        .cloned()
        .unwrap_or_else(|| AuditNote {
            // Denied before a handler ran: record what was attempted on which number.
            action: match method.as_str() {
                "get" => "retrieve",
                "patch" => "update",
                "post" => "create",
                _ => "other",
            },
            // A request refused by the gate never reached route matching, so
            // read the number from the path itself.
            nhs_numbers: request
                .match_info()
                .get("id")
                .or_else(|| request.path().strip_prefix("/Patient/")?.split('/').next())
                .and_then(|id| NhsNumber::parse(id).ok())
                .map(|n| vec![n.as_i64()])
                .unwrap_or_default(),
            ..AuditNote::default()
        });
    let caller = extensions.get::<Caller>();
    let event = AuditEvent {
        at: chrono::Utc::now(),
        request_id,
        correlation_id,
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
        status: response.status().as_u16(),
        redacted: note.redacted,
        sensitive_override: note.sensitive_override,
    };
    drop(extensions);
    auditor.record(event);
    Ok(response)
}
