//! Rules every endpoint shares: request ids, error shape, unknown routes, CORS.

use crate::helpers::{TestApp, spine_code};
use serde_json::Value;

const ID: &str = "60E0B220-8136-4CA5-AE46-1D97EF59D068";

#[tokio::test]
async fn a_missing_or_empty_request_id_is_a_missing_value() {
    let app = TestApp::spawn().await;
    for value in [None, Some("")] {
        let mut request = app.request(reqwest::Method::GET, "/Patient/9000000009");
        if let Some(v) = value {
            request = request.header("X-Request-ID", v);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 400);
        assert!(response.headers().get("x-request-id").is_none());
        let body: Value = response.json().await.unwrap();
        assert_eq!(spine_code(&body), "MISSING_VALUE");
        assert_eq!(body["issue"][0]["code"], "required");
        assert_eq!(
            body["issue"][0]["diagnostics"],
            "Invalid request with error - X-Request-ID header must be supplied to access this resource"
        );
    }
}

#[tokio::test]
async fn a_malformed_request_id_is_an_invalid_value_and_is_echoed() {
    let app = TestApp::spawn().await;
    let response = app
        .request(reqwest::Method::GET, "/Patient/9000000009")
        .header("X-Request-ID", "1234")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["x-request-id"], "1234");
    let body: Value = response.json().await.unwrap();
    assert_eq!(spine_code(&body), "INVALID_VALUE");
    assert_eq!(
        body["issue"][0]["diagnostics"],
        "Invalid value - '1234' in header 'X-Request-ID'"
    );
}

#[tokio::test]
async fn a_malformed_request_id_wins_over_a_bad_nhs_number() {
    let app = TestApp::spawn().await;
    let response = app
        .request(reqwest::Method::GET, "/Patient/9000000000")
        .header("X-Request-ID", "not-a-uuid")
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(spine_code(&body), "INVALID_VALUE");
}

#[tokio::test]
async fn both_ids_are_echoed_on_success_and_on_errors() {
    let app = TestApp::spawn().await;
    for (path, status) in [
        ("/Patient/9000000009", 200),
        ("/Patient/9111231130", 404),
        ("/Patient/12", 400),
    ] {
        let response = app
            .request(reqwest::Method::GET, path)
            .header("X-Request-ID", ID)
            .header("X-Correlation-ID", "11C46F5F-CDEF-4865-94B2-0EE0EDCC26DA")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(response.headers()["x-request-id"], ID, "{path}");
        assert_eq!(
            response.headers()["x-correlation-id"],
            "11C46F5F-CDEF-4865-94B2-0EE0EDCC26DA",
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_unknown_path_is_an_unsupported_request() {
    let app = TestApp::spawn().await;
    let response = app.get("/HelloWorld").await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["content-type"], "application/fhir+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(spine_code(&body), "UNSUPPORTED_REQUEST");
    assert_eq!(
        body["issue"][0]["diagnostics"],
        "Unsupported path - '/HelloWorld'"
    );
}

#[tokio::test]
async fn an_unsupported_method_or_missing_number_is_an_unsupported_service() {
    let app = TestApp::spawn().await;
    let put = app
        .request(reqwest::Method::PUT, "/Patient/9000000009")
        .header("X-Request-ID", ID)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 400);
    let body: Value = put.json().await.unwrap();
    assert_eq!(spine_code(&body), "UNSUPPORTED_SERVICE");
    assert!(body["issue"][0].get("diagnostics").is_none());

    let bare = app.get("/Patient/").await;
    assert_eq!(bare.status(), 400);
    let body: Value = bare.json().await.unwrap();
    assert_eq!(spine_code(&body), "UNSUPPORTED_SERVICE");
}

#[tokio::test]
async fn cors_preflight_is_answered_like_the_pds_proxy() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/Patient/9000000009"))
        .header("Origin", "https://gp.example.org")
        .header("Access-Control-Request-Method", "GET")
        .header(
            "Access-Control-Request-Headers",
            "x-request-id, authorization",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let h = response.headers();
    assert_eq!(h["access-control-allow-origin"], "https://gp.example.org");
    assert_eq!(h["access-control-max-age"], "3628800");
    let methods = h["access-control-allow-methods"].to_str().unwrap();
    for m in ["GET", "PUT", "POST", "PATCH", "DELETE"] {
        assert!(methods.contains(m), "{methods}");
    }
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allowed.contains("x-request-id") && allowed.contains("authorization"),
        "{allowed}"
    );

    // And the actual request exposes the tracing ids to the browser.
    let response = app
        .request(reqwest::Method::GET, "/Patient/9000000009")
        .header("Origin", "https://gp.example.org")
        .header("X-Request-ID", ID)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://gp.example.org"
    );
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");
}
