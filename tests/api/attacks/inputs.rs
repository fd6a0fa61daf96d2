//! Hostile inputs on every parameter of every `/Patient` endpoint: SQL
//! injection, control characters, header injection, very long values,
//! path traversal, deeply nested and oversized bodies. Never a 5xx, every
//! error an OperationOutcome with its 4xx, no header split, nothing served
//! from outside the assets, the gate never bypassed, and the store intact.

use diesel::{QueryableByName, RunQueryDsl};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

use super::raw::exchange;
use crate::helpers::{TestApp, settings, spine_code, token};
use pds::auth::personas::Persona;

/// What an attacker tries in any text field.
fn payloads() -> Vec<String> {
    let mut out: Vec<String> = [
        "' OR 1=1--",
        "'; DROP TABLE patients;--",
        "\" OR \"\"=\"",
        "1; SELECT pg_sleep(10)--",
        "Smith' UNION SELECT details FROM patients--",
        "S%",
        "Sm_th",
        "\\",
        "\0",
        "Sm\0ith",
        "\r\nX-Injected: yes",
        "a\rX-Injected: yes",
        "a\nX-Injected: yes",
        "\u{1b}[31mred\u{1b}[0m\u{7}",
        "\u{202e}htimS",
        "\u{feff}\u{200b}Smith",
        "../../etc/passwd",
        "${jndi:ldap://x}",
        "<script>alert(1)</script>",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    out.push("a".repeat(10_000));
    out
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// The number of rows in each table the service writes.
fn store_counts(app: &TestApp) -> Vec<i64> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.database.as_ref().unwrap().connect();
    ["patients", "patient_versions", "patient_former_names"]
        .iter()
        .map(|table| {
            diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
                .get_result::<Count>(&mut conn)
                .unwrap_or_else(|e| panic!("{table}: {e}"))
                .n
        })
        .collect()
}

/// Checks what a client sees of one answer; returns its status and body.
async fn check(what: &str, response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    assert!(status < 500, "{what}: {status}");
    for (name, value) in response.headers() {
        assert!(!name.as_str().contains("injected"), "{what}: header split");
        assert!(
            !value.as_bytes().iter().any(|b| *b == b'\r' || *b == b'\n'),
            "{what}"
        );
    }
    let body: Value = if status == 204 {
        Value::Null
    } else {
        let text = response.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: {status} not JSON"))
    };
    if status >= 400 {
        assert_eq!(body["resourceType"], "OperationOutcome", "{what}: {status}");
        assert!(spine_code(&body) != "<none>", "{what}");
    }
    (status, body)
}

fn short(text: &str) -> String {
    text.chars()
        .take(60)
        .collect::<String>()
        .escape_debug()
        .to_string()
}

#[tokio::test]
async fn hostile_search_parameters_are_refused_or_harmless() {
    let app = TestApp::spawn().await;
    let before = store_counts(&app);
    // Every parameter the search knows, so a new one is attacked too.
    let names = pds::domain::search::params::KNOWN;
    for name in names {
        for payload in payloads() {
            let mut query = format!("{name}={}", encode(&payload));
            if name != "birthdate" {
                query.push_str("&birthdate=eq2010-10-22");
            }
            if name != "family" {
                query.push_str("&family=Smith");
            }
            let what = format!("{name}={}", short(&payload));
            let (status, body) = check(&what, app.get(&format!("/Patient?{query}")).await).await;
            match status {
                // A value that is only a name with odd characters may match.
                200 => assert_eq!(body["type"], "searchset", "{what}"),
                400 => {}
                other => panic!("{what}: {other}"),
            }
        }
        // A parameter name that is itself hostile.
        for payload in payloads() {
            let query = format!("{}=1&family=Smith&birthdate=eq2010-10-22", encode(&payload));
            let what = format!("name {}", short(&payload));
            let (status, body) = check(&what, app.get(&format!("/Patient?{query}")).await).await;
            assert_eq!(status, 400, "{what}");
            assert_eq!(spine_code(&body), "ADDITIONAL_PROPERTIES", "{what}");
        }
    }
    assert_eq!(store_counts(&app), before);
}

#[tokio::test]
async fn a_percent_encoded_byte_that_is_not_utf8_is_refused_not_dropped() {
    let app = TestApp::spawn().await;
    // Sm%ffith used to find Smith: the lossy decoding made it "Sm\u{fffd}ith"
    // and the name normaliser dropped the U+FFFD.
    for query in [
        "family=Sm%ffith&birthdate=eq2010-10-22",
        "family=Smith&given=J%C3%28ane&birthdate=eq2010-10-22",
        "family=Smith&birthdate=eq2010-10-22%ff",
    ] {
        let (status, body) = check(query, app.get(&format!("/Patient?{query}")).await).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(spine_code(&body), "INVALID_VALUE", "{query}");
        let diagnostics = body["issue"][0]["diagnostics"].as_str().unwrap();
        assert!(
            diagnostics.starts_with("Invalid value - '"),
            "{diagnostics}"
        );
    }
    let (_, body) = check(
        "%ff",
        app.get("/Patient?family=Sm%ffith&birthdate=eq2010-10-22")
            .await,
    )
    .await;
    assert_eq!(
        body["issue"][0]["diagnostics"],
        "Invalid value - 'Sm%ffith' in field 'family'"
    );
    // Control and bidirectional-text characters, which the name normaliser
    // would drop as silently: refused the same way (Smith is not found).
    for (value, query) in [
        ("Sm%00ith", "family=Sm%00ith&birthdate=eq2010-10-22"),
        ("Sm%1Bith", "family=Sm%1Bith&birthdate=eq2010-10-22"),
        (
            "%E2%80%AEhtimS",
            "family=%E2%80%AEhtimS&birthdate=eq2010-10-22",
        ),
        (
            "Ja%0Ane",
            "family=Smith&given=Ja%0Ane&birthdate=eq2010-10-22",
        ),
    ] {
        let (status, body) = check(query, app.get(&format!("/Patient?{query}")).await).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(spine_code(&body), "INVALID_VALUE", "{query}");
        let diagnostics = body["issue"][0]["diagnostics"].as_str().unwrap();
        assert!(diagnostics.contains(&format!("'{value}'")), "{diagnostics}");
    }
    // History paging decodes the same way.
    let (status, body) = check(
        "_count",
        app.get("/Patient/9000000009/_history?_count=1%ff").await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["issue"][0]["diagnostics"],
        "Invalid value - '1%ff' in field '_count'"
    );
    // Raw bytes that are not UTF-8 are refused by the HTTP layer itself,
    // with the same status and code (it cannot name the parameter).
    let mut request = b"GET /Patient?family=Sm\xffith&birthdate=eq2010-10-22 HTTP/1.1\r\n".to_vec();
    request.extend_from_slice(
        format!(
            "Host: localhost\r\nAuthorization: Bearer {}\r\nX-Request-ID: {}\r\n\
             Connection: close\r\n\r\n",
            token(Persona::Clinician),
            uuid::Uuid::new_v4()
        )
        .as_bytes(),
    );
    let reply = exchange(&app, &request).await;
    assert_eq!(reply.status, 400);
    assert_eq!(spine_code(&reply.json()), "INVALID_VALUE");
}

#[tokio::test]
async fn hostile_ids_versions_and_paging_are_refused() {
    let app = TestApp::spawn().await;
    let before = store_counts(&app);
    for payload in payloads() {
        let p = encode(&payload);
        for path in [
            format!("/Patient/{p}"),
            format!("/Patient/{p}/_history"),
            format!("/Patient/{p}/RelatedPerson"),
            format!("/Patient/9000000009/_history/{p}"),
            format!("/Patient/9000000009/_history?_count={p}"),
            format!("/Patient/9000000009/_history?_before={p}"),
        ] {
            let what = short(&path);
            let (status, body) = check(&what, app.get(&path).await).await;
            assert!(matches!(status, 400 | 404), "{what}: {status}");
            let code = spine_code(&body);
            assert!(
                ["INVALID_RESOURCE_ID", "INVALID_VALUE", "RESOURCE_NOT_FOUND"].contains(&code),
                "{what}: {code}"
            );
        }
    }
    assert_eq!(store_counts(&app), before);
}

#[tokio::test]
async fn hostile_headers_are_refused_and_never_split_the_answer() {
    let app = TestApp::spawn().await;
    let clinician = token(Persona::Clinician);
    let patch = r#"{"patches":[{"op":"replace","path":"/gender","value":"female"}]}"#;
    for payload in payloads() {
        // What an HTTP client can send at all as a header value.
        let Ok(value) = reqwest::header::HeaderValue::from_str(&payload) else {
            continue;
        };
        let what = short(&payload);
        let send = |name: &'static str| {
            let mut request = app
                .client
                .get(app.url("/Patient/9000000009"))
                .bearer_auth(&clinician);
            if name != "X-Request-ID" {
                request = request.header("X-Request-ID", uuid::Uuid::new_v4().to_string());
            }
            request.header(name, value.clone()).send()
        };
        let (status, body) = check(&what, send("X-Request-ID").await.unwrap()).await;
        assert_eq!(status, 400, "X-Request-ID {what}");
        assert!(
            ["INVALID_VALUE", "MISSING_VALUE"].contains(&spine_code(&body)),
            "{what}"
        );
        let response = send("X-Correlation-ID").await.unwrap();
        let echoed = response.headers().get("x-correlation-id").cloned();
        let (status, _) = check(&what, response).await;
        assert_eq!(status, 200, "X-Correlation-ID {what}");
        if !payload.trim().is_empty() {
            assert_eq!(echoed.as_ref(), Some(&value), "X-Correlation-ID {what}");
        }
        let (status, body) = check(&what, send("NHSD-Session-URID").await.unwrap()).await;
        assert_eq!(status, 400, "NHSD-Session-URID {what}");
        assert_eq!(spine_code(&body), "INVALID_VALUE", "{what}");
        let response = app
            .request(Method::PATCH, "/Patient/9000000009")
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .header("If-Match", value.clone())
            .header("Content-Type", "application/json-patch+json")
            .body(patch)
            .send()
            .await
            .unwrap();
        let (status, body) = check(&what, response).await;
        assert!(matches!(status, 400 | 412), "If-Match {what}: {status}");
        assert!(
            ["INVALID_VALUE", "PRECONDITION_FAILED"].contains(&spine_code(&body)),
            "{what}"
        );
    }
    // Line breaks and control bytes inside a header, sent raw: the HTTP
    // layer refuses the request, and nothing the client wrote comes back
    // as a header of its own.
    for value in [
        &b"abc\r\n X-Injected: yes"[..],
        b"abc\rX-Injected: yes",
        b"abc\nX-Injected: yes",
        b"abc\x00def",
        b"\x1b[31mred",
    ] {
        let mut request = b"GET /Patient/9000000009 HTTP/1.1\r\nHost: localhost\r\n\
            X-Correlation-ID: "
            .to_vec();
        request.extend_from_slice(value);
        request.extend_from_slice(
            format!(
                "\r\nAuthorization: Bearer {clinician}\r\nX-Request-ID: {}\r\n\
                 Connection: close\r\n\r\n",
                uuid::Uuid::new_v4()
            )
            .as_bytes(),
        );
        let reply = exchange(&app, &request).await;
        let what = String::from_utf8_lossy(value).escape_debug().to_string();
        assert!(reply.header("x-injected").is_none(), "{what}");
        if value.contains(&b'\r') || !value.contains(&b'\n') {
            assert_eq!(reply.status, 400, "{what}");
            assert_eq!(reply.json()["resourceType"], "OperationOutcome", "{what}");
        } else {
            // A bare LF ends a header line (RFC 9112 lets a server read it
            // so): two request headers, and only the first is echoed.
            assert_eq!(reply.status, 200, "{what}");
            assert_eq!(reply.header("x-correlation-id"), Some("abc"), "{what}");
        }
    }
}

/// The name item 0's id of 9000000009, which sub-element patches need.
async fn name_id(app: &TestApp) -> (String, String) {
    let response = app.get("/Patient/9000000009").await;
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    (body["name"][0]["id"].as_str().unwrap().to_owned(), etag)
}

async fn patch(app: &TestApp, etag: &str, body: String) -> reqwest::Response {
    app.request(Method::PATCH, "/Patient/9000000009")
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .header("If-Match", etag)
        .header("Content-Type", "application/json-patch+json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn hostile_patch_values_and_paths_are_refused_or_stored_as_text() {
    let app = TestApp::spawn().await;
    let before = store_counts(&app);
    let mut accepted = 0;
    for payload in payloads() {
        let (id, etag) = name_id(&app).await;
        let what = short(&payload);
        let bodies = [
            json!({"patches": [{"op": "replace", "path": "/gender", "value": payload}]}),
            json!({"patches": [
                {"op": "test", "path": "/name/0/id", "value": id},
                {"op": "replace", "path": "/name/0/family", "value": payload}
            ]}),
            json!({"patches": [{"op": "add", "path": "/telecom/-", "value": {
                "system": "email", "value": payload, "use": "home"}}]}),
            json!({"patches": [{"op": "replace", "path": format!("/{payload}"), "value": "x"}]}),
            json!({"patches": [{"op": "add", "path": format!("/name/0/{payload}"), "value": "x"}]}),
            json!({"patches": [{"op": payload, "path": "/gender", "value": "male"}]}),
            json!({"patches": [{"op": "remove", "path": payload}]}),
        ];
        for body in bodies {
            let (status, response) = check(&what, patch(&app, &etag, body.to_string()).await).await;
            match status {
                200 => {
                    accepted += 1;
                    assert_eq!(response["resourceType"], "Patient", "{what}");
                    break;
                }
                400 | 403 | 409 => {}
                other => panic!("{what}: {other}"),
            }
        }
    }
    // A PATCH changes a record, never the number of them.
    let after = store_counts(&app);
    assert_eq!(after[0], before[0]);
    assert_eq!(after[1], before[1] + accepted);
    // The record still reads.
    assert_eq!(app.get("/Patient/9000000009").await.status(), 200);
}

fn create_body(family: &str, given: &str, postcode: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "name": [{"use": "usual", "family": family, "given": [given], "period": {"start": "2020-01-01"}}],
        "gender": "female",
        "birthDate": "1990-05-17",
        "address": [{"use": "home", "line": ["1 Road"], "postalCode": postcode, "period": {"start": "2020-01-01"}}],
    })
}

#[tokio::test]
async fn hostile_create_fields_are_refused_or_stored_as_text() {
    let app = TestApp::spawn().await;
    let before = store_counts(&app);
    let mut created = 0;
    for payload in payloads() {
        let what = short(&payload);
        for body in [
            create_body(&payload, "Jane", "LS1 6AE"),
            create_body("Attack", &payload, "LS1 6AE"),
            create_body("Attack", "Jane", &payload),
            json!({"resourceType": payload}),
            json!({"resourceType": "Patient", payload.clone(): "x"}),
        ] {
            let response = app
                .request(Method::POST, "/Patient")
                .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
                .header("Content-Type", "application/fhir+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let (status, _) = check(&what, response).await;
            match status {
                201 => created += 1,
                200 | 400 => {}
                other => panic!("{what}: {other}"),
            }
        }
    }
    let after = store_counts(&app);
    assert_eq!(after[0], before[0] + created, "patients");
}

#[tokio::test]
async fn traversal_paths_serve_nothing_outside_the_assets_and_skip_no_gate() {
    let app = TestApp::spawn().await;
    let targets = [
        "/Patient/../metrics",
        "/Patient/%2e%2e/metrics",
        "/Patient/%2E%2E/%2E%2E/metrics",
        "/Patient/..%2fmetrics",
        "/Patient/9000000009/../../metrics",
        "/Patient%2f9000000009",
        "/Patient/9000000009%2f_history",
        "/Patient/9000000009/%2e%2e/9000000017",
        "/Patient/./9000000009",
        "//Patient/9000000009",
        "/patient/9000000009",
        "/PATIENT/9000000009",
        "/docs/../../etc/passwd",
        "/docs/%2e%2e/%2e%2e/etc/passwd",
        "/docs/..%2f..%2f..%2fetc%2fpasswd",
        "/docs/..%5c..%5cCargo.toml",
        "/docs/redoc.standalone.js/../../../etc/passwd",
        "/docs/redoc.standalone.js/..%2f..%2fCargo.toml",
        "/docs/redoc.standalone.js%00.html",
        "/docs/../openapi.yaml/../../Cargo.toml",
        "/../../../../etc/passwd",
        "/assets/redoc/redoc.standalone.js",
        "/assets/../Cargo.toml",
        "/src/main.rs",
        "/Cargo.toml",
        "/.env",
        "/data/dev-keys",
    ];
    for target in targets {
        // Sent as is: an HTTP client would resolve the dots itself.
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: localhost\r\nX-Request-ID: {}\r\n\
             Connection: close\r\n\r\n",
            uuid::Uuid::new_v4()
        );
        let reply = exchange(&app, request.as_bytes()).await;
        let text = String::from_utf8_lossy(&reply.body);
        assert!(reply.status >= 400, "{target}: {}", reply.status);
        assert!(reply.status < 500, "{target}: {}", reply.status);
        for leaked in [
            "root:",
            "[package]",
            "pds_http_requests_total",
            "\"resourceType\":\"Patient\"",
            "BEGIN",
            "fn main",
        ] {
            assert!(!text.contains(leaked), "{target} served {leaked}");
        }
        assert_eq!(reply.json()["resourceType"], "OperationOutcome", "{target}");
        // Everything under /Patient, however spelt, meets the gate first.
        if target.starts_with("/Patient/") {
            assert_eq!(reply.status, 401, "{target}");
        }
    }
    // The asset itself is still served.
    let response = app
        .client
        .get(app.url("/docs/redoc.standalone.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// `depth` levels of `[` … `]`, or of `{"a":` … `}`.
fn nested(depth: usize, object: bool) -> String {
    if object {
        format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
    } else {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }
}

async fn post_body(app: &TestApp, method: Method, path: &str, body: String) -> reqwest::Response {
    app.request(method, path)
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .header("If-Match", "W/\"2\"")
        .header("Content-Type", "application/fhir+json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn deeply_nested_bodies_are_refused_without_harm() {
    // With the default cap, 100,000 levels are over it: 413.
    let app = TestApp::spawn().await;
    for object in [false, true] {
        for (method, path) in [
            (Method::PATCH, "/Patient/9000000009"),
            (Method::POST, "/Patient"),
        ] {
            let what = format!("{method} {path} object={object}");
            let body = nested(100_000, object);
            let (status, body) = check(&what, post_body(&app, method, path, body).await).await;
            assert_eq!(status, 413, "{what}");
            assert_eq!(spine_code(&body), "REQUEST_TOO_LARGE", "{what}");
        }
    }
    // With a cap large enough to let them through, the JSON parser's depth
    // limit refuses them: 400.
    let mut settings = settings();
    settings.max_body_bytes = 4 * 1024 * 1024;
    let app = TestApp::spawn_with(settings).await;
    for object in [false, true] {
        for (method, path) in [
            (Method::PATCH, "/Patient/9000000009"),
            (Method::POST, "/Patient"),
        ] {
            let what = format!("{method} {path} object={object}");
            for depth in [100_000, 127, 129] {
                let body = nested(depth, object);
                let wrapped = if method == Method::PATCH {
                    format!(r#"{{"patches":[{{"op":"replace","path":"/gender","value":{body}}}]}}"#)
                } else {
                    body
                };
                let (status, _) =
                    check(&what, post_body(&app, method.clone(), path, wrapped).await).await;
                assert!(
                    matches!(status, 400 | 403),
                    "{what} depth {depth}: {status}"
                );
            }
        }
    }
    assert_eq!(app.get("/Patient/9000000009").await.status(), 200);
}

/// `add` ops that each go one nesting of arrays deeper than the last build
/// a document far deeper than the JSON parser allows in one value; the
/// service's own code (patching, validation, errors) must not recurse
/// over it unboundedly.
#[tokio::test]
async fn patches_that_build_a_deep_document_do_not_crash_the_server() {
    let mut settings = settings();
    settings.max_body_bytes = 1024 * 1024;
    let app = TestApp::spawn_with(settings).await;
    let (id, etag) = name_id(&app).await;
    const STEP: usize = 120;
    let mut ops = vec![json!({"op": "test", "path": "/name/0/id", "value": id})];
    let mut path = String::from("/name/0/x");
    let mut size = 0;
    while size < 900 * 1024 {
        let value: Value = serde_json::from_str(&nested(STEP, false)).unwrap();
        ops.push(json!({"op": "add", "path": path.clone(), "value": value}));
        size += path.len() + 2 * STEP + 40;
        // Index 0 of the innermost (empty) array just added.
        path.push_str(&"/0".repeat(STEP));
    }
    let depth = (ops.len() - 1) * STEP;
    let body = json!({"patches": ops}).to_string();
    let started = Instant::now();
    let (status, answer) = check("deep document", patch(&app, &etag, body).await).await;
    assert!(depth > 10_000, "only {depth} levels");
    assert_eq!(spine_code(&answer), "ADDITIONAL_PROPERTIES", "{answer}");
    assert!(matches!(status, 400 | 403), "{status} at depth {depth}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.get("/Patient/9000000009").await.status(), 200);
}

#[tokio::test]
async fn a_body_just_over_the_cap_gets_413_and_many_small_patches_are_answered_quickly() {
    let mut settings = settings();
    settings.max_body_bytes = 1024 * 1024;
    let app = TestApp::spawn_with(settings).await;
    let limit = 1024 * 1024;
    for (method, path) in [
        (Method::PATCH, "/Patient/9000000009"),
        (Method::POST, "/Patient"),
    ] {
        let over = format!("[{}]", " ".repeat(limit - 1));
        let (status, _) = check(path, post_body(&app, method.clone(), path, over).await).await;
        assert_eq!(status, 413, "{method} {path}");
        let at = format!("[{}]", " ".repeat(limit - 2));
        let (status, _) = check(path, post_body(&app, method.clone(), path, at).await).await;
        assert_ne!(status, 413, "{method} {path}: exactly at the cap");
    }
    // 10,000 small operations: answered (refused or applied) quickly.
    let (id, etag) = name_id(&app).await;
    for op in [
        json!({"op": "test", "path": "/gender", "value": "female"}),
        json!({"op": "test", "path": "/name/0/id", "value": id}),
        json!({"op": "add", "path": "/telecom/-", "value": {"system": "email", "value": "a@example.com", "use": "home"}}),
        json!({"op": "replace", "path": "/gender", "value": "male"}),
    ] {
        let body = json!({"patches": vec![op.clone(); 10_000]}).to_string();
        let started = Instant::now();
        let (status, _) = check("10,000 ops", patch(&app, &etag, body).await).await;
        assert!(matches!(status, 200 | 400 | 403 | 409), "{op}: {status}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{op}: {:?}",
            started.elapsed()
        );
    }
    assert_eq!(app.get("/Patient/9000000009").await.status(), 200);
}
