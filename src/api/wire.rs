//! The connection under the HTTP layer: [`Refusals`] gives the HTTP
//! parser's own bodiless refusals an OperationOutcome and times the later
//! request heads of a kept-alive connection; [`head_clock`] tells it when a
//! request is with the service.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::ApiError;

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
