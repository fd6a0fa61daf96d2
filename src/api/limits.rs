//! Per-client rate limiting and the request body cap, for `/Patient`.
//!
//! The rate limit sits after the gate, so the client is known: its token's
//! `client_id`, else its user id (`sub`), else the peer IP. Each client has
//! a token bucket (`RATE_LIMIT_PER_SECOND` sustained, `RATE_LIMIT_BURST` at
//! once); over it, 429 TOO_MANY_REQUESTS with `Retry-After`.
//!
//! The buckets live in this instance's memory: nothing is shared, so the
//! server stays stateless, and N instances behind a load balancer together
//! admit up to N times the configured rate. A platform-wide quota belongs in
//! the API gateway in front (as PDS's is in Apigee).

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use futures_util::StreamExt;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use super::ApiError;
use crate::auth::caller::Caller;

/// Forget idle clients' buckets every this many checks, so the map does not
/// grow with every client ever seen.
const SWEEP_EVERY: u64 = 4096;

pub struct RateLimit {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    per_second: u32,
    checks: AtomicU64,
}

impl RateLimit {
    /// `per_second` sustained with bursts of `burst`; either 0 disables.
    pub fn new(per_second: u32, burst: u32) -> Self {
        let limiter = match (NonZeroU32::new(per_second), NonZeroU32::new(burst)) {
            (Some(rate), Some(burst)) => Some(DefaultKeyedRateLimiter::keyed(
                Quota::per_second(rate).allow_burst(burst),
            )),
            _ => None,
        };
        Self {
            limiter,
            per_second,
            checks: AtomicU64::new(0),
        }
    }

    /// `Err` with whole seconds to wait (at least 1) when `client` is over.
    pub fn check(&self, client: &str) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        limiter.check_key(&client.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs_f64().ceil().max(1.0) as u64
        })
    }
}

/// Who the bucket belongs to.
fn client_key(req: &ServiceRequest) -> String {
    let extensions = req.extensions();
    let caller = extensions.get::<Caller>();
    caller
        .and_then(|c| c.client_id.clone().or_else(|| c.user_id.clone()))
        .or_else(|| req.peer_addr().map(|a| a.ip().to_string()))
        .unwrap_or_else(|| "unknown".into())
}

/// 429 for a client over its rate; reads the `Caller` the gate stored.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if let Some(limit) = req.app_data::<web::Data<RateLimit>>() {
        let client = client_key(&req);
        if let Err(retry_after) = limit.check(&client) {
            tracing::info!(client, retry_after, "rate limited");
            let error = ApiError::TooManyRequests {
                client,
                per_second: limit.per_second,
                retry_after,
            };
            return Ok(req
                .into_response(error.error_response())
                .map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// The body cap (`MAX_BODY_BYTES`), as the service's own 413 rather than
/// actix's plain-text one.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Refuses a body over the cap: at once when `Content-Length` says so,
/// else (chunked) by reading it up to the cap and handing it on.
pub async fn body_limit(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(limit) = req.app_data::<web::Data<BodyLimit>>().map(|l| l.0) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let too_large = |req: ServiceRequest| {
        let error = ApiError::PayloadTooLarge { limit };
        Ok(req
            .into_response(error.error_response())
            .map_into_right_body())
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => return too_large(req),
        // actix holds the body to its declared length.
        Some(_) => {}
        None => {
            let mut payload = req.take_payload();
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk?;
                if body.len() + chunk.len() > limit {
                    return too_large(req);
                }
                body.extend_from_slice(&chunk);
            }
            req.set_payload(Payload::from(body.freeze()));
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}
