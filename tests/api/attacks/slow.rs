//! Slow clients: a head or a body sent a byte at a time must be cut off,
//! answered where an answer can still be sent, and the connection closed,
//! whatever the path and however the body is framed.

use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;

use super::raw::{connect, parse_reply};
use crate::helpers::{TestApp, settings, spine_code, token};
use pds::auth::personas::Persona;

/// The deadlines the tests configure: short, so the tests are.
const BODY_TOTAL: Duration = Duration::from_millis(1500);
const BODY_IDLE: Duration = Duration::from_millis(1000);
const HEAD_TIMEOUT: Duration = Duration::from_millis(1000);
/// Time allowed past a deadline: the server lingers up to 1 s reading what
/// is still coming before it closes, so the answer is not lost to a reset.
const MARGIN: Duration = Duration::from_millis(2500);

async fn app() -> TestApp {
    let mut settings = settings();
    settings.client_body_timeout = BODY_TOTAL;
    settings.client_body_idle_timeout = BODY_IDLE;
    settings.client_request_timeout = HEAD_TIMEOUT;
    TestApp::spawn_with(settings).await
}

#[derive(Clone, Copy, Debug)]
enum Framing {
    Length,
    Chunked,
}

/// A request head for `method path` with a body to come, as a clinician.
fn head(method: &str, path: &str, framing: Framing) -> String {
    let framing = match framing {
        Framing::Length => "Content-Length: 1000".to_owned(),
        Framing::Chunked => "Transfer-Encoding: chunked".to_owned(),
    };
    format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         X-Request-ID: {}\r\nIf-Match: W/\"2\"\r\n\
         Content-Type: application/json-patch+json\r\n{framing}\r\n\r\n",
        token(Persona::Clinician),
        uuid::Uuid::new_v4()
    )
}

/// Sends one body byte (one chunk, when chunked) every `every`, until the
/// server stops reading or closes, or 30 s pass.
async fn trickle(mut writer: OwnedWriteHalf, framing: Framing, every: Duration) {
    let piece: &[u8] = match framing {
        Framing::Length => b"[",
        Framing::Chunked => b"1\r\n[\r\n",
    };
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        let write = tokio::time::timeout(Duration::from_secs(1), writer.write_all(piece));
        match write.await {
            Ok(Ok(())) => tokio::time::sleep(every).await,
            _ => return,
        }
    }
}

/// What a slow client saw: the reply (if any), whether the server closed
/// the connection, and how long that took from the end of the head.
struct Seen {
    reply: Option<super::raw::Reply>,
    closed: bool,
    took: Duration,
}

/// Sends `head` at once, then the body a byte every `every`.
async fn slow_body(app: &TestApp, head: String, framing: Framing, every: Duration) -> Seen {
    let stream = connect(app).await;
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let writing = tokio::spawn(trickle(writer, framing, every));
    let limit = BODY_TOTAL + MARGIN + Duration::from_secs(5);
    let (bytes, closed) = read_all(&mut reader, limit).await;
    let took = started.elapsed();
    writing.abort();
    Seen {
        reply: parse_reply(&bytes),
        closed,
        took,
    }
}

async fn read_all(reader: &mut tokio::net::tcp::OwnedReadHalf, limit: Duration) -> (Vec<u8>, bool) {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, reader.read(&mut buf)).await {
            Err(_) => return (out, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

fn assert_timed_out(seen: &Seen, deadline: Duration, what: &str) {
    assert!(seen.closed, "{what}: still open after {:?}", seen.took);
    assert!(
        seen.took <= deadline + MARGIN,
        "{what}: closed only after {:?}",
        seen.took
    );
    let reply = seen
        .reply
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: no answer"));
    assert_eq!(reply.status, 408, "{what}: {reply:?}");
    assert_eq!(reply.header("connection"), Some("close"), "{what}");
    assert_eq!(
        reply.header("content-type"),
        Some("application/fhir+json"),
        "{what}"
    );
    assert!(reply.header("x-request-id").is_some(), "{what}");
    let body = reply.json();
    assert_eq!(body["resourceType"], "OperationOutcome", "{what}");
    assert_eq!(body["issue"][0]["code"], "timeout", "{what}");
    assert_eq!(spine_code(&body), "UNABLE_TO_CALL_SERVICE", "{what}");
}

#[tokio::test]
async fn a_body_sent_a_byte_at_a_time_gets_408_within_the_deadline() {
    let app = app().await;
    // A byte every 200 ms never pauses for the idle limit; the total runs out.
    for (method, path) in [("PATCH", "/Patient/9000000009"), ("POST", "/Patient")] {
        for framing in [Framing::Length, Framing::Chunked] {
            let what = format!("{method} {path} {framing:?}");
            let every = Duration::from_millis(200);
            let seen = slow_body(&app, head(method, path, framing), framing, every).await;
            assert_timed_out(&seen, BODY_TOTAL, &what);
            let diagnostics = seen.reply.unwrap().json()["issue"][0]["diagnostics"].clone();
            assert!(
                diagnostics.as_str().unwrap().contains("within 1500 ms"),
                "{what}: {diagnostics}"
            );
        }
    }
}

#[tokio::test]
async fn a_body_that_stops_coming_gets_408_after_the_idle_limit() {
    let app = app().await;
    for framing in [Framing::Length, Framing::Chunked] {
        let every = Duration::from_secs(60);
        let seen = slow_body(
            &app,
            head("PATCH", "/Patient/9000000009", framing),
            framing,
            every,
        )
        .await;
        assert_timed_out(&seen, BODY_IDLE, &format!("{framing:?}"));
        assert!(seen.took >= BODY_IDLE, "{:?}", seen.took);
        let body = seen.reply.unwrap().json();
        let diagnostics = body["issue"][0]["diagnostics"].as_str().unwrap().to_owned();
        assert!(diagnostics.contains("for 1000 ms"), "{diagnostics}");
    }
}

#[tokio::test]
async fn a_slow_body_nobody_reads_is_answered_and_the_connection_closed() {
    let app = app().await;
    // Routes that never read a body, and paths no route serves: the answer
    // comes at once, and the connection must not stay open draining. Under
    // `/Patient` a chunked body is read (for its size cap) before any
    // route, so it is the 408.
    let cases = [
        ("GET", "/Patient/9000000009", 200, 408),
        ("DELETE", "/Patient/9000000009", 400, 408),
        ("POST", "/Patient/9000000000", 400, 408),
        ("GET", "/_ping", 200, 200),
        ("POST", "/metrics", 400, 400),
        ("PUT", "/nowhere", 400, 400),
    ];
    for (method, path, length_status, chunked_status) in cases {
        for (framing, status) in [
            (Framing::Length, length_status),
            (Framing::Chunked, chunked_status),
        ] {
            let what = format!("{method} {path} {framing:?}");
            let every = Duration::from_millis(200);
            let seen = slow_body(&app, head(method, path, framing), framing, every).await;
            let reply = seen.reply.unwrap_or_else(|| panic!("{what}: no answer"));
            assert_eq!(reply.status, status, "{what}");
            reply.json();
            assert!(seen.closed, "{what}: still open after {:?}", seen.took);
            assert!(seen.took <= BODY_TOTAL + MARGIN, "{what}: {:?}", seen.took);
        }
    }
}

#[tokio::test]
async fn fifty_slow_bodies_at_once_are_all_cut_off() {
    let app = app().await;
    let clients: Vec<_> = (0..50)
        .map(|i| {
            let framing = if i % 2 == 0 {
                Framing::Length
            } else {
                Framing::Chunked
            };
            let (method, path) = match i % 3 {
                0 => ("PATCH", "/Patient/9000000009"),
                1 => ("POST", "/Patient"),
                _ => ("PATCH", "/Patient/9000000017"),
            };
            let head = head(method, path, framing);
            let app = &app;
            async move {
                let seen = slow_body(app, head, framing, Duration::from_millis(100)).await;
                (format!("client {i}: {method} {path} {framing:?}"), seen)
            }
        })
        .collect();
    let started = Instant::now();
    let results = futures_util::future::join_all(clients).await;
    for (what, seen) in &results {
        assert_timed_out(seen, BODY_TOTAL, what);
    }
    assert!(
        started.elapsed() <= BODY_TOTAL + MARGIN + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // The server is still serving.
    assert_eq!(app.get("/Patient/9000000009").await.status(), 200);
}

#[tokio::test]
async fn a_normal_body_is_not_disturbed() {
    let app = app().await;
    // Sent in a few parts with short pauses, well inside the limits.
    let stream = connect(&app).await;
    let (mut reader, mut writer) = stream.into_split();
    let body = br#"{"patches":[{"op":"replace","path":"/gender","value":"male"}]}"#;
    let head = head("PATCH", "/Patient/9000000009", Framing::Chunked);
    writer.write_all(head.as_bytes()).await.unwrap();
    for part in body.chunks(20) {
        let chunk = format!("{:x}\r\n", part.len());
        writer.write_all(chunk.as_bytes()).await.unwrap();
        writer.write_all(part).await.unwrap();
        writer.write_all(b"\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    writer.write_all(b"0\r\n\r\n").await.unwrap();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    let reply = loop {
        use tokio::io::AsyncReadExt;
        let n = tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert!(n > 0, "closed without an answer");
        bytes.extend_from_slice(&buf[..n]);
        if let Some(reply) = parse_reply(&bytes) {
            break reply;
        }
    };
    assert_eq!(
        reply.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.json()["gender"], "male");
    assert_ne!(reply.header("connection"), Some("close"));
}

/// Sends `head` a byte every 100 ms, until the server closes or 10 s pass.
async fn slow_head(app: &TestApp, before: &[u8], head: &[u8]) -> Seen {
    let stream = connect(app).await;
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(before).await.unwrap();
    let head = head.to_vec();
    let started = Instant::now();
    let writing = tokio::spawn(async move {
        for byte in head {
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let (bytes, closed) = read_all(&mut reader, Duration::from_secs(10)).await;
    writing.abort();
    // Skip any answer to `before`.
    let at = bytes
        .windows(9)
        .rposition(|w| w == b"HTTP/1.1 ")
        .unwrap_or(0);
    Seen {
        reply: parse_reply(&bytes[at..]),
        closed,
        took: started.elapsed(),
    }
}

const LONG_HEAD: &[u8] = b"GET /_ping HTTP/1.1\r\nHost: localhost\r\n\
    X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";

#[tokio::test]
async fn a_head_sent_a_byte_at_a_time_is_cut_off_by_the_request_timeout() {
    let app = app().await;
    let seen = slow_head(&app, b"", LONG_HEAD).await;
    assert!(seen.closed, "still open after {:?}", seen.took);
    assert!(seen.took <= HEAD_TIMEOUT + MARGIN, "{:?}", seen.took);
    let reply = seen.reply.expect("an answer");
    assert_eq!(reply.status, 408);
    let body = reply.json();
    assert_eq!(body["resourceType"], "OperationOutcome");
    assert_eq!(spine_code(&body), "UNABLE_TO_CALL_SERVICE");
}

#[tokio::test]
async fn a_slow_second_head_on_a_kept_alive_connection_is_cut_off_too() {
    let app = app().await;
    let first = b"GET /_ping HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let seen = slow_head(&app, first, LONG_HEAD).await;
    assert!(seen.closed, "still open after {:?}", seen.took);
    assert!(seen.took <= HEAD_TIMEOUT + MARGIN, "{:?}", seen.took);
}
