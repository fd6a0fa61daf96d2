//! Per-client rate limiting and the request body cap, for `/Patient`; the
//! deadlines on request bodies, for every path. (The connection's own
//! limits, under the HTTP layer, are in `wire`.)
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

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::ConnectionType;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use futures_util::{Stream, StreamExt};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

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
                // As a response (not an `Err`), so the middleware above
                // (`body_deadline`) can see it and answer a timeout.
                let chunk = match chunk {
                    Ok(chunk) => chunk,
                    Err(error) => {
                        let error = Error::from(error);
                        return Ok(req.error_response(error).map_into_right_body());
                    }
                };
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

/// How long a request body may take (`CLIENT_BODY_TIMEOUT_MS`, from the
/// end of the head) and pause (`CLIENT_BODY_IDLE_TIMEOUT_MS`).
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline {
    pub total: Duration,
    pub idle: Duration,
}

/// The connection's body stream and what became of it, shared by the
/// timed stream handed to the handlers and by [`body_deadline`].
struct Watched {
    /// The body as the connection delivers it. Kept here, not in the timed
    /// stream, so it outlives a handler that drops the stream unread.
    payload: Option<Payload>,
    /// Read to its end (or to an error of its own).
    finished: bool,
    /// Which limit ran out, if one did.
    timed_out: Option<ApiError>,
}

/// The body with the deadlines applied: what arrives is passed on at once,
/// and only while nothing is there do the timers count.
struct Timed {
    watched: Rc<RefCell<Watched>>,
    limits: BodyDeadline,
    total: Pin<Box<Sleep>>,
    idle: Pin<Box<Sleep>>,
}

impl Stream for Timed {
    type Item = Result<web::Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let mut watched = this.watched.borrow_mut();
        if watched.finished || watched.timed_out.is_some() {
            return Poll::Ready(None);
        }
        let Some(payload) = watched.payload.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(payload).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.idle
                    .as_mut()
                    .reset(tokio::time::Instant::now() + this.limits.idle);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(other) => {
                watched.finished = true;
                Poll::Ready(other)
            }
            Poll::Pending => {
                let error = if this.total.as_mut().poll(cx).is_ready() {
                    ApiError::BodyTimeout {
                        idle: false,
                        ms: this.limits.total.as_millis(),
                    }
                } else if this.idle.as_mut().poll(cx).is_ready() {
                    ApiError::BodyTimeout {
                        idle: true,
                        ms: this.limits.idle.as_millis(),
                    }
                } else {
                    return Poll::Pending;
                };
                tracing::info!(%error, "request body too slow");
                watched.timed_out = Some(error);
                Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request body too slow",
                )))))
            }
        }
    }
}

/// A response body that keeps the request body's stream alive until the
/// response is written. actix-http closes the connection after a response
/// while the body it belongs to is unread and still held; once the stream
/// is dropped it would instead read (drain) a chunked body to its end,
/// however slowly it comes, with no time limit.
pub struct HoldingBody<B> {
    body: B,
    _payload: Option<Payload>,
}

impl<B: MessageBody + Unpin> MessageBody for HoldingBody<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<web::Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}

/// Applies [`BodyDeadline`] to every request body, on every path. A body
/// too slow gets 408 UNABLE_TO_CALL_SERVICE, whatever the handler made of
/// the failed read, and the connection is closed after it. A body the
/// handler left unread (an early error) also closes the connection after
/// the response rather than being drained without a limit.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let limits = req
        .app_data::<web::Data<BodyDeadline>>()
        .map(|d| *d.get_ref());
    let has_body = req.headers().contains_key(TRANSFER_ENCODING)
        || req
            .headers()
            .get(CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    let (Some(limits), true) = (limits, has_body) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let now = tokio::time::Instant::now();
    let watched = Rc::new(RefCell::new(Watched {
        payload: Some(req.take_payload()),
        finished: false,
        timed_out: None,
    }));
    let timed = Timed {
        watched: watched.clone(),
        limits,
        total: Box::pin(tokio::time::sleep_until(now + limits.total)),
        idle: Box::pin(tokio::time::sleep_until(now + limits.idle)),
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(timed),
    });
    let result = next.call(req).await;
    let mut watched = watched.borrow_mut();
    let held = match watched.finished {
        true => None,
        false => watched.payload.take(),
    };
    let response = match (watched.timed_out.take(), result) {
        (Some(error), Ok(response)) => {
            let mut answer = error.error_response();
            answer.head_mut().set_connection_type(ConnectionType::Close);
            let (request, _) = response.into_parts();
            ServiceResponse::new(request, answer.map_into_boxed_body())
        }
        (None, Ok(response)) if held.is_some() => response.map_into_boxed_body(),
        (_, result) => return Ok(result?.map_into_left_body()),
    };
    Ok(response
        .map_body(|_, body| HoldingBody {
            body,
            _payload: held,
        })
        .map_into_right_body())
}
