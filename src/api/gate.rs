//! The gate every `/Patient` request passes, in the PDS order: the bearer
//! token (401), the access mode (403 for NHS login below P9), the
//! `X-Request-ID` (400), the CIS2 role (400) and an access level (403).
//! A request that passes carries its `Caller` in the request extensions; one
//! refused after its token verified carries the token's `Identity`, for the
//! audit trail.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{AUTHORIZATION, HeaderName};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use std::sync::Arc;

use super::ApiError;
use super::headers::check_request_id;
use crate::auth::caller::{self, Denial};
use crate::auth::policy::Policy;
use crate::auth::verify::Verifier;

pub const NHSD_SESSION_URID: HeaderName = HeaderName::from_static("nhsd-session-urid");

/// What the gate needs, shared by all workers.
pub struct Gate {
    pub verifier: Verifier,
    pub policy: Arc<Policy>,
}

async fn admit(req: &ServiceRequest) -> Result<caller::Caller, ApiError> {
    let gate = req
        .app_data::<web::Data<Gate>>()
        .ok_or_else(|| ApiError::Internal("gate not configured".into()))?;
    let authorization = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
    let claims = gate.verifier.verify(authorization).await.map_err(|e| {
        tracing::debug!(reason = %e, "token refused");
        ApiError::Unauthorized(e.diagnostics())
    })?;
    let mode = caller::mode(&claims);
    // The header only means something for healthcare workers (the PDS
    // proxy removes it in the other modes).
    let urid = match (&mode, req.headers().get(NHSD_SESSION_URID)) {
        (Ok(caller::Mode::HealthcareWorker), Some(v)) => Some(v.to_str().map_err(|_| ())),
        _ => None,
    };
    let admitted = (|| {
        let mode = mode.clone()?;
        check_request_id(req)?;
        let urid = urid
            .transpose()
            .map_err(|_| ApiError::InvalidRole(String::new()))?;
        Ok(caller::resolve(&claims, mode, urid, &gate.policy)?)
    })();
    if admitted.is_err() {
        // The token verified: whatever was refused, the audit trail names
        // who asked (only worked out here, off the admitted requests' path).
        let identified = match &mode {
            Ok(m) => Some(*m),
            Err(Denial::PatientNotAllowed) => Some(caller::Mode::Patient),
            Err(_) => None,
        };
        let urid = urid.and_then(Result::ok);
        req.extensions_mut()
            .insert(caller::identify(&claims, identified, urid));
    }
    admitted
}

pub async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    match admit(&req).await {
        Ok(caller) => {
            super::headers::record_access_mode(caller.mode.as_str());
            req.extensions_mut().insert(caller);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(error) => Ok(req
            .into_response(error.error_response())
            .map_into_right_body()),
    }
}
