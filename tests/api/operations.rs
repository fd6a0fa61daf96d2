//! Operational endpoints and limits: `/metrics`, `/metadata`, the per-client
//! rate limit and the request body cap.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, settings, spine_code, token};
use pds::auth::personas::Persona;

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_show_the_pool() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/Patient/9000000009").await.status(), 200);
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("pds_http_requests_total")
                && l.contains(r#"route="/Patient/{id}""#)
                && l.contains(r#"status="200""#)
                && l.contains(r#"method="GET""#)
                && l.ends_with(" 1")),
        "{text}"
    );
    assert!(
        text.contains("pds_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        !text.contains("9000000009"),
        "NHS numbers must not be labels"
    );
    // Each lane's pool (the test settings: 2 reads, 2 writes, 1 lookup).
    for (pool, max) in [("reads", 2), ("writes", 2), ("lookup", 1)] {
        let line = format!(r#"pds_db_pool_connections_max{{pool="{pool}"}} {max}"#);
        assert!(text.contains(&line), "{line} in {text}");
    }
    assert!(
        text.contains(r#"pds_db_pool_connections_in_use{pool="reads"} 0"#),
        "{text}"
    );
    assert!(text.contains("pds_db_pool_connections_idle{"), "{text}");
    assert!(
        text.contains(r#"pds_database_errors_total{kind="unavailable"} 0"#),
        "{text}"
    );
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_and_others_are_unaffected() {
    let mut settings = settings();
    settings.rate_limit_per_second = 1;
    settings.rate_limit_burst = 2;
    let app = TestApp::spawn_with(settings).await;
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..4 {
        let response = app.get("/Patient/9000000009").await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            limited = Some(response);
            break;
        }
    }
    let response = limited.unwrap_or_else(|| panic!("never limited: {statuses:?}"));
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["resourceType"], "OperationOutcome");
    assert_eq!(spine_code(&body), "TOO_MANY_REQUESTS");
    assert_eq!(body["issue"][0]["code"], "value");
    assert_eq!(
        body["issue"][0]["details"]["coding"][0]["display"],
        "Too many requests"
    );
    let diagnostics = body["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        diagnostics.contains("has exceeded its quota of 1 requests every 1 second(s)"),
        "{diagnostics}"
    );

    let other = app
        .get_as("/Patient/9000000009", &token(Persona::App))
        .await;
    assert_eq!(other.status(), 200);
}

#[tokio::test]
async fn oversized_request_heads_get_431_as_an_operation_outcome() {
    let app = TestApp::spawn().await;
    let ping = |headers: reqwest::header::HeaderMap| {
        app.client.get(app.url("/_ping")).headers(headers).send()
    };
    let refused = |response: reqwest::Response| async move {
        assert_eq!(response.status(), 431);
        assert_eq!(response.headers()["content-type"], "application/fhir+json");
        assert_eq!(response.headers()["connection"], "close");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["resourceType"], "OperationOutcome");
        assert_eq!(body["issue"][0]["code"], "too-long");
        assert_eq!(spine_code(&body), "REQUEST_TOO_LARGE");
    };
    let mut big = reqwest::header::HeaderMap::new();
    big.insert("x-big", "a".repeat(200_000).parse().unwrap());
    refused(ping(big).await.unwrap()).await;
    let mut many = reqwest::header::HeaderMap::new();
    for i in 0..120 {
        let name: reqwest::header::HeaderName = format!("x-h{i}").parse().unwrap();
        many.insert(name, "v".parse().unwrap());
    }
    refused(ping(many).await.unwrap()).await;
    // Ordinary heads, even long tokens, are fine.
    let mut normal = reqwest::header::HeaderMap::new();
    normal.insert("x-long", "a".repeat(8_000).parse().unwrap());
    assert_eq!(ping(normal).await.unwrap().status(), 200);
}

/// Sends a GET for `target` over a raw socket (HTTP clients refuse such
/// URLs themselves) and reads the answer until the server closes.
async fn raw_get(app: &TestApp, target: &[u8]) -> (String, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut request = b"GET ".to_vec();
    request.extend_from_slice(target);
    let head = format!(
        " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         X-Request-ID: {}\r\nConnection: close\r\n\r\n",
        token(Persona::Clinician),
        uuid::Uuid::new_v4()
    );
    request.extend_from_slice(head.as_bytes());
    stream.write_all(&request).await.unwrap();
    let mut reply = Vec::new();
    let read = stream.read_to_end(&mut reply);
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("an answer within 10 s")
        .unwrap();
    let reply = String::from_utf8(reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").expect("a head");
    let body = serde_json::from_str(body).unwrap_or(Value::Null);
    (head.to_owned(), body)
}

#[tokio::test]
async fn a_url_over_64_kib_gets_400_as_an_operation_outcome() {
    let app = TestApp::spawn().await;
    // The HTTP layer refuses URLs of 65,534 bytes or more itself.
    let target = format!(
        "/Patient?family={}&birthdate=eq2010-10-22",
        "a".repeat(70_000)
    );
    let (head, body) = raw_get(&app, target.as_bytes()).await;
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    assert!(
        head.contains("content-type: application/fhir+json"),
        "{head}"
    );
    assert_eq!(body["resourceType"], "OperationOutcome");
    assert_eq!(spine_code(&body), "INVALID_VALUE");
    let diagnostics = body["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(diagnostics.contains("65,533 bytes"), "{diagnostics}");
    // Just under the limit, the service itself answers: the name is too long.
    let target = format!(
        "/Patient?family={}&birthdate=eq2010-10-22",
        "a".repeat(65_000)
    );
    let (head, body) = raw_get(&app, target.as_bytes()).await;
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    assert_eq!(spine_code(&body), "INVALID_VALUE");
    let diagnostics = body["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        diagnostics.contains("'family'"),
        "{}",
        &diagnostics[..200.min(diagnostics.len())]
    );
}

#[tokio::test]
async fn an_oversized_patch_body_gets_413_as_an_operation_outcome() {
    let mut settings = settings();
    settings.max_body_bytes = 1024;
    let app = TestApp::spawn_with(settings).await;
    let body = format!(
        r#"{{"patches":[{{"op":"replace","path":"/gender","value":"{}"}}]}}"#,
        "x".repeat(2048)
    );
    let response = app
        .request(Method::PATCH, "/Patient/9000000009")
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .header("If-Match", "W/\"2\"")
        .header("Content-Type", "application/json-patch+json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["resourceType"], "OperationOutcome");
    assert_eq!(body["issue"][0]["code"], "too-long");
    assert_eq!(spine_code(&body), "REQUEST_TOO_LARGE");
}

#[tokio::test]
async fn an_oversized_chunked_body_gets_413_too() {
    use std::io::{Read, Write};
    let mut settings = settings();
    settings.max_body_bytes = 1024;
    let app = TestApp::spawn_with(settings).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let bearer = token(Persona::Clinician);
    let reply = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        let head = format!(
            "POST /Patient HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {bearer}\r\n\
             X-Request-ID: {}\r\nContent-Type: application/fhir+json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            uuid::Uuid::new_v4()
        );
        stream.write_all(head.as_bytes()).unwrap();
        for _ in 0..4 {
            let _ = stream.write_all(format!("200\r\n{}\r\n", " ".repeat(512)).as_bytes());
        }
        let _ = stream.write_all(b"0\r\n\r\n");
        let mut reply = String::new();
        let _ = stream.read_to_string(&mut reply);
        reply
    })
    .await
    .unwrap();
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains("REQUEST_TOO_LARGE"), "{reply}");
}

#[tokio::test]
async fn metadata_is_a_capability_statement_without_a_token() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/metadata")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["resourceType"], "CapabilityStatement");
    assert_eq!(body["fhirVersion"], "4.0.1");
    assert_eq!(body["software"]["version"], env!("CARGO_PKG_VERSION"));
    let patient = &body["rest"][0]["resource"][0];
    assert_eq!(patient["type"], "Patient");
    let interactions: Vec<&str> = patient["interaction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    for code in ["read", "vread", "search-type", "patch", "create"] {
        assert!(interactions.contains(&code), "{code}");
    }
    assert!(
        patient["searchParam"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "family" && p["type"] == "string")
    );
}

#[tokio::test]
async fn other_methods_on_the_new_endpoints_are_unsupported_services() {
    let app = TestApp::spawn().await;
    for path in ["/metrics", "/metadata"] {
        let response = app.client.post(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 400, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(spine_code(&body), "UNSUPPORTED_SERVICE", "{path}");
    }
}
