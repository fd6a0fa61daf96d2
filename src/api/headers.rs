//! Request-scoped headers: the mandatory X-Request-ID, the echo of the
//! tracing ids, and one log line per request.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use std::time::Instant;
use tracing::Instrument;
use uuid::Uuid;

use super::ApiError;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const X_CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");

/// PDS accepts any UUID version, either case, hyphenated only.
fn is_uuid(value: &str) -> bool {
    value.len() == 36 && Uuid::try_parse(value).is_ok()
}

/// Patient endpoints need a UUID `X-Request-ID` (PDS uses it to de-duplicate
/// retries).
pub fn check_request_id(req: &ServiceRequest) -> Result<(), ApiError> {
    match req.headers().get(X_REQUEST_ID) {
        None => Err(ApiError::MissingRequestId),
        Some(v) if v.is_empty() => Err(ApiError::MissingRequestId),
        Some(v) => match v.to_str() {
            Ok(s) if is_uuid(s) => Ok(()),
            Ok(s) => Err(ApiError::InvalidRequestId(s.to_owned())),
            Err(_) => Err(ApiError::InvalidRequestId(
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )),
        },
    }
}

/// Mirrors non-empty `X-Request-ID` and `X-Correlation-ID` on every response,
/// errors included.
pub async fn echo_ids(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let ids: Vec<(HeaderName, HeaderValue)> = [X_REQUEST_ID, X_CORRELATION_ID]
        .into_iter()
        .filter_map(|name| {
            let value = req.headers().get(&name).filter(|v| !v.is_empty())?.clone();
            Some((name, value))
        })
        .collect();
    let mut response = next.call(req).await?;
    for (name, value) in ids {
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}

/// Runs each request in a `request` span carrying its method, route
/// template (never the NHS number), X-Request-ID and, once the gate has
/// admitted the caller, access mode: every log line inside it names the
/// request. Ends with one line per request: status and latency.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let span = request_span(&req);
    let response = next.call(req).instrument(span.clone()).await?;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_us = started.elapsed().as_micros() as u64,
            "request"
        )
    });
    Ok(response)
}

fn request_span(req: &ServiceRequest) -> tracing::Span {
    let request_id = req
        .headers()
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The app's resource map knows the template before routing runs.
    let route = req.match_pattern();
    tracing::info_span!(
        "request",
        method = %req.method(),
        route = route.as_deref().unwrap_or("-"),
        request_id,
        access_mode = tracing::field::Empty,
    )
}

/// Names the caller's access mode on the request's span (the gate calls it
/// once the token is verified).
pub fn record_access_mode(mode: &str) {
    tracing::Span::current().record("access_mode", mode);
}

#[cfg(test)]
mod tests {
    use super::is_uuid;

    #[test]
    fn request_ids_must_be_hyphenated_uuids_of_any_version() {
        assert!(is_uuid("60E0B220-8136-4CA5-AE46-1D97EF59D068"));
        assert!(is_uuid("00000000-0000-0000-0000-000000000000"));
        assert!(!is_uuid("1234"));
        assert!(!is_uuid("60E0B22081364CA5AE461D97EF59D068"));
        assert!(!is_uuid("{60E0B220-8136-4CA5-AE46-1D97EF59D068}"));
    }
}
