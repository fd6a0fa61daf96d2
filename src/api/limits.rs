//! Per-client rate limiting and the request body cap, for `/Patient`; the
//! deadlines on request bodies, for every path; and [`Refusals`], which
//! gives the HTTP parser's own refusals an OperationOutcome.
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
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
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

/// A connection's byte stream, passed through unchanged except for the
/// HTTP parser's own refusals. actix-http answers a request it cannot parse
/// (a URL of 65,534 bytes or more, bytes that are not UTF-8 in the URL, a
/// malformed header) with a bodiless 400, a head over its limits with a
/// bodiless 431 and a head that took longer than `CLIENT_REQUEST_TIMEOUT_MS`
/// with a bodiless 408, from inside its dispatcher, before any service or
/// middleware runs, and offers no hook to change them. Each is the last
/// response on its connection. This wrapper recognises such a response as
/// the last thing written and writes, in its place, the same status with an
/// OperationOutcome ([`ApiError::Unparsed`]) and `connection: close`.
///
/// What it holds is bounded: nothing while bytes pass, and one replacement
/// (under 1 KiB) once a refusal is seen.
///
/// It also times the heads after the first on a kept-alive connection,
/// which actix-http does not (its `client_request_timeout` covers only the
/// first): once a request has been answered ([`HeadClock`]), the next
/// request's head has `head_timeout` from its first byte to reach the
/// service, or the connection is closed.
pub struct Refusals<T> {
    io: T,
    /// A replacement being written, and how much of it is.
    pending: Option<(web::Bytes, usize)>,
    clock: Rc<HeadClock>,
    head_timeout: Duration,
    /// Made once, reset for each later head; `timing` while one arrives.
    head_timer: Option<Pin<Box<Sleep>>>,
    timing: bool,
}

impl<T> Refusals<T> {
    pub fn new(io: T, head_timeout: Duration) -> Self {
        Self {
            io,
            pending: None,
            clock: Rc::new(HeadClock::default()),
            head_timeout,
            head_timer: None,
            timing: false,
        }
    }

    /// Shared with the requests of this connection (as connection data),
    /// which tell it when a head has arrived (see [`head_clock`]).
    pub fn clock(&self) -> Rc<HeadClock> {
        self.clock.clone()
    }
}

/// Whether a connection's request is with the service, and whether one has
/// been: set by [`head_clock`], read by [`Refusals`].
#[derive(Debug, Default)]
pub struct HeadClock {
    busy: Cell<bool>,
    served: Cell<bool>,
}

/// Marks the connection busy while its request is with the service, so
/// that [`Refusals`] times only what comes after, the next head.
pub async fn head_clock(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let clock = req.conn_data::<Rc<HeadClock>>().cloned();
    if let Some(clock) = &clock {
        clock.busy.set(true);
        clock.served.set(true);
    }
    let response = next.call(req).await;
    if let Some(clock) = &clock {
        clock.busy.set(false);
    }
    response
}

/// Statuses the parser answers without a body.
const REFUSED: [u16; 3] = [400, 408, 431];

/// Where a bodiless parser refusal that ends `buf` starts, and its status.
///
/// Such a response is a status line and only the headers the encoder
/// writes for an empty body (`content-length: 0`, `connection`, `date`),
/// and it is the last thing the dispatcher writes. None of the service's
/// own responses has that shape: every error of the service has a body and
/// a `content-type`, and bodies are JSON (line breaks escaped), plain text
/// or documents without a `\r\n\r\n`.
fn refusal_at_end(buf: &[u8]) -> Option<(usize, u16)> {
    let head = buf.strip_suffix(b"\r\n\r\n")?;
    let start = head.windows(7).rposition(|w| w == b"HTTP/1.")?;
    let text = std::str::from_utf8(&head[start..]).ok()?;
    let mut lines = text.split("\r\n");
    let mut status_line = lines.next()?.splitn(3, ' ');
    if !matches!(status_line.next(), Some("HTTP/1.0" | "HTTP/1.1")) {
        return None;
    }
    let status: u16 = status_line.next()?.parse().ok()?;
    if !REFUSED.contains(&status) {
        return None;
    }
    let mut empty = false;
    for line in lines {
        let (name, value) = line.split_once(": ")?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" if value == "0" => empty = true,
            "connection" | "date" => {}
            _ => return None,
        }
    }
    empty.then_some((start, status))
}

/// The refusal `head` (from [`refusal_at_end`]) with an OperationOutcome.
fn replacement(head: &[u8], status: u16) -> web::Bytes {
    let response = ApiError::Unparsed { status }.error_response();
    let content_type = response
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(super::FHIR_JSON)
        .to_owned();
    let body = response
        .into_body()
        .try_into_bytes()
        .unwrap_or_else(|_| web::Bytes::new());
    let text = String::from_utf8_lossy(head);
    let mut lines = text.trim_end().split("\r\n");
    let mut out = String::with_capacity(body.len() + 256);
    out.push_str(lines.next().unwrap_or("HTTP/1.1 400 Bad Request"));
    out.push_str("\r\n");
    for line in lines {
        let name = line.split(':').next().unwrap_or_default();
        if name.eq_ignore_ascii_case("date") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!(
        "content-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = web::BytesMut::from(out.as_bytes());
    bytes.extend_from_slice(&body);
    bytes.freeze()
}

impl<T: AsyncWrite + Unpin> Refusals<T> {
    /// Writes what is left of a replacement.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            match Pin::new(&mut self.io).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Refusals<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.clock.busy.get() {
            this.timing = false;
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.io).poll_read(cx, buf);
        let read = buf.filled().len() > before;
        let clock = &this.clock;
        if read && !this.timing && clock.served.get() && !clock.busy.get() {
            // The first bytes of a later request's head.
            let deadline = tokio::time::Instant::now() + this.head_timeout;
            match this.head_timer.as_mut() {
                Some(timer) => timer.as_mut().reset(deadline),
                None => this.head_timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            this.timing = true;
        }
        if let (true, Some(timer)) = (this.timing, this.head_timer.as_mut())
            && timer.as_mut().poll(cx).is_ready()
        {
            tracing::info!("a request head on a kept-alive connection was too slow");
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "request head too slow",
            )));
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Refusals<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
            return Poll::Ready(Err(e));
        }
        if this.pending.is_some() {
            return Poll::Pending;
        }
        match refusal_at_end(buf) {
            // What comes before it first, so it is never written in part.
            Some((start, _)) if start > 0 => Pin::new(&mut this.io).poll_write(cx, &buf[..start]),
            Some((_, status)) => {
                tracing::info!(status, "the HTTP parser refused a request");
                this.pending = Some((replacement(buf, status), 0));
                // Taken whole; the replacement goes out now or with the flush.
                if let Poll::Ready(Err(e)) = this.poll_pending(cx) {
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(buf.len()))
            }
            None => Pin::new(&mut this.io).poll_write(cx, buf),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.io).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.io).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const REFUSAL: &[u8] =
        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\ndate: Tue, 01 Dec 2026 07:45:53 GMT\r\n\r\n";

    #[test]
    fn recognises_only_bodiless_parser_refusals() {
        assert_eq!(refusal_at_end(REFUSAL), Some((0, 400)));
        let keep_alive = b"HTTP/1.0 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: keep-alive\r\ndate: x\r\n\r\n";
        assert_eq!(refusal_at_end(keep_alive), Some((0, 431)));
        let timeout = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(refusal_at_end(timeout), Some((0, 408)));
        // After an earlier response in the same write.
        let mut both = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".to_vec();
        both.extend_from_slice(REFUSAL);
        assert_eq!(
            refusal_at_end(&both),
            Some((both.len() - REFUSAL.len(), 400))
        );
        for other in [
            // The service's own errors have a body and a content-type.
            &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 10\r\ncontent-type: application/fhir+json\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 0\r\n\r\n",
            // Other statuses, and bodiless successes.
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\ndate: x\r\n\r\n",
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n",
            // Not the end of a head, or not a head.
            &REFUSAL[..REFUSAL.len() - 2],
            b"{\"a\":\"b\"}\r\n\r\n",
            b"HTTP/2 400\r\ncontent-length: 0\r\n\r\n",
            b"",
        ] {
            assert_eq!(refusal_at_end(other), None, "{}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn the_replacement_keeps_status_and_date_and_adds_an_outcome() {
        let bytes = replacement(REFUSAL, 400);
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(
            head.contains("\r\ndate: Tue, 01 Dec 2026 07:45:53 GMT"),
            "{head}"
        );
        assert!(
            head.contains("\r\ncontent-type: application/fhir+json"),
            "{head}"
        );
        assert!(head.contains("\r\nconnection: close"), "{head}");
        assert!(
            head.contains(&format!("\r\ncontent-length: {}", body.len())),
            "{head}"
        );
        let outcome: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(outcome["resourceType"], "OperationOutcome");
        assert_eq!(
            outcome["issue"][0]["details"]["coding"][0]["code"],
            "INVALID_VALUE"
        );
        assert!(bytes.len() < 1024);
    }

    /// Through a real (in-memory) stream, written in small pieces.
    #[tokio::test]
    async fn passes_everything_else_through_and_replaces_the_refusal() {
        let (client, server) = tokio::io::duplex(16);
        let mut wrapped = Refusals::new(server, Duration::from_secs(5));
        let ordinary = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".to_vec();
        let mut all = ordinary.clone();
        all.extend_from_slice(REFUSAL);
        let writer = async move {
            wrapped.write_all(&all).await.unwrap();
            wrapped.shutdown().await.unwrap();
        };
        let mut client = client;
        let mut received = Vec::new();
        let ((), read) = tokio::join!(writer, client.read_to_end(&mut received));
        read.unwrap();
        assert!(received.starts_with(&ordinary));
        let rest = String::from_utf8(received[ordinary.len()..].to_vec()).unwrap();
        assert!(rest.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{rest}");
        assert!(rest.contains("OperationOutcome"), "{rest}");
        assert!(!rest.contains("content-length: 0"), "{rest}");
    }
}
