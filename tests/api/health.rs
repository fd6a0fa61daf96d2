//! `/_ping` and `/_status`.

use crate::helpers::TestApp;
use serde_json::Value;

#[tokio::test]
async fn ping_needs_no_request_id_and_reports_the_version() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/_ping")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    for key in ["revision", "releaseId", "commitId"] {
        assert!(body[key].is_string(), "{key}");
    }
}

#[tokio::test]
async fn status_passes_when_the_database_answers() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/_status")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "pass");
    assert_eq!(body["checks"]["database"][0]["status"], "pass");
}

#[tokio::test]
async fn other_methods_on_health_endpoints_get_an_operation_outcome() {
    let app = TestApp::spawn().await;
    let response = app.client.post(app.url("/_ping")).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(crate::helpers::spine_code(&body), "UNSUPPORTED_SERVICE");
}
