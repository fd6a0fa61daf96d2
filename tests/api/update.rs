//! `PATCH /Patient/{id}` and the version history.

use crate::helpers::{TestApp, patient_token, spine_code, token};
use pds::auth::personas::Persona;
use reqwest::Method;
use serde_json::{Value, json};

async fn patch(
    app: &TestApp,
    path: &str,
    if_match: Option<&str>,
    body: &Value,
    t: &str,
    request_id: &str,
) -> (u16, Option<String>, Value) {
    let mut r = app
        .client
        .request(Method::PATCH, app.url(path))
        .bearer_auth(t)
        .header("X-Request-ID", request_id)
        .header("Content-Type", "application/json-patch+json")
        .body(body.to_string());
    if let Some(m) = if_match {
        r = r.header("If-Match", m);
    }
    let response = r.send().await.unwrap();
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, etag, response.json().await.unwrap_or(Value::Null))
}

fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn gender(value: &str) -> Value {
    json!({"patches": [{"op": "replace", "path": "/gender", "value": value}]})
}

async fn version_of(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    response.headers()["etag"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_patch_returns_the_whole_record_with_the_next_version() {
    let app = TestApp::spawn().await;
    let clin = token(Persona::Clinician);
    let (status, etag, body) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &gender("male"),
        &clin,
        &rid(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(etag.as_deref(), Some("W/\"3\""));
    assert_eq!(body["gender"], "male");
    assert_eq!(body["meta"]["versionId"], "3");
    assert_eq!(body["name"][0]["family"], "Smith");
    assert_eq!(version_of(&app, "/Patient/9000000009").await, "W/\"3\"");
    // The earlier version is kept.
    let old = app.get("/Patient/9000000009/_history/2").await;
    assert_eq!(old.status(), 200);
    let old: Value = old.json().await.unwrap();
    assert_eq!(old["gender"], "female");
    let bundle: Value = app
        .get("/Patient/9000000009/_history")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bundle["type"], "history");
    let versions: Vec<&str> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["resource"]["meta"]["versionId"].as_str().unwrap())
        .collect();
    assert_eq!(versions[..2], ["3", "2"]);
}

#[tokio::test]
async fn a_bare_rfc6902_array_is_accepted_too() {
    let app = TestApp::spawn().await;
    let body = json!([{"op": "replace", "path": "/gender", "value": "male"}]);
    let (status, _, _) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &body,
        &token(Persona::Clinician),
        &rid(),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn if_match_is_required_and_must_be_current() {
    let app = TestApp::spawn().await;
    let clin = token(Persona::Clinician);
    let (status, _, body) = patch(
        &app,
        "/Patient/9000000009",
        None,
        &gender("male"),
        &clin,
        &rid(),
    )
    .await;
    assert_eq!(status, 412);
    assert_eq!(spine_code(&body), "PRECONDITION_FAILED");
    let (status, _, body) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"1\""),
        &gender("male"),
        &clin,
        &rid(),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(spine_code(&body), "RESOURCE_VERSION_MISMATCH");
    assert!(body["issue"][0].get("diagnostics").is_none());
    assert_eq!(version_of(&app, "/Patient/9000000009").await, "W/\"2\"");
}

#[tokio::test]
async fn malformed_requests_are_refused_with_the_pds_codes() {
    let app = TestApp::spawn().await;
    let clin = token(Persona::Clinician);
    let wrong_type = app
        .client
        .request(Method::PATCH, app.url("/Patient/9000000009"))
        .bearer_auth(&clin)
        .header("X-Request-ID", rid())
        .header("If-Match", "W/\"2\"")
        .header("Content-Type", "application/bananas")
        .body(gender("male").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 400);
    let body: Value = wrong_type.json().await.unwrap();
    assert_eq!(spine_code(&body), "UNSUPPORTED_SERVICE");

    let (status, _, body) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &json!({"patches": []}),
        &clin,
        &rid(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(spine_code(&body), "INVALID_UPDATE");
    assert_eq!(
        body["issue"][0]["diagnostics"],
        "Invalid update with error - No patches found"
    );

    let bad_op = json!({"patches": [{"op": "move", "path": "/gender", "from": "/x"}]});
    let (status, _, body) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &bad_op,
        &clin,
        &rid(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(spine_code(&body), "INVALID_VALUE");
    assert_eq!(
        body["issue"][0]["diagnostics"],
        "Invalid value - 'move' in field '0/op'"
    );

    let no_id = json!({"patches": [{"op": "replace", "path": "/address/0/postalCode", "value": "LS1 1AA"}]});
    let (status, _, body) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &no_id,
        &clin,
        &rid(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["issue"][0]["diagnostics"],
        "Invalid update with error - no id or url found for path with root /address/0"
    );
}

#[tokio::test]
async fn business_rules_refuse_and_leave_the_record_untouched() {
    let app = TestApp::spawn().await;
    let clin = token(Persona::Clinician);
    let remove_gender = json!({"patches": [{"op": "remove", "path": "/gender"}]});
    let (status, _, body) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &remove_gender,
        &clin,
        &rid(),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(spine_code(&body), "FORBIDDEN_UPDATE");
    assert_eq!(body["issue"][0]["severity"], "information");
    let (status, _, body) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &gender("other"),
        &clin,
        &rid(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let after: Value = app.get("/Patient/9000000009").await.json().await.unwrap();
    assert_eq!(after["meta"]["versionId"], "2");
    assert_eq!(after["gender"], "female");
}

#[tokio::test]
async fn applications_clerks_and_other_patients_may_not_update() {
    let app = TestApp::spawn().await;
    let (status, _, body) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &gender("male"),
        &token(Persona::App),
        &rid(),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(spine_code(&body), "INVALID_METHOD");
    assert_eq!(
        body["issue"][0]["details"]["coding"][0]["display"],
        "Cannot update resource with application-restricted access token"
    );
    let (status, _, _) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &gender("male"),
        &token(Persona::Clerk),
        &rid(),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, body) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &gender("male"),
        &patient_token("9000000017"),
        &rid(),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(spine_code(&body), "ACCESS_DENIED");
}

#[tokio::test]
async fn a_patient_may_change_only_the_fields_patients_may_change() {
    let app = TestApp::spawn().await;
    let me = patient_token("9000000017");
    let (status, _, body) = patch(
        &app,
        "/Patient/9000000017",
        Some("W/\"2\""),
        &gender("male"),
        &me,
        &rid(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["issue"][0]["diagnostics"],
        "Invalid update with error - This user does not have permission to update the fields in the patches provided."
    );
    let mobile = json!({"patches": [{"op": "add", "path": "/telecom/-", "value": {"system": "phone", "value": "07700900123", "use": "mobile"}}]});
    let (status, etag, body) = patch(
        &app,
        "/Patient/9000000017",
        Some("W/\"2\""),
        &mobile,
        &me,
        &rid(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(etag.as_deref(), Some("W/\"3\""));
    let added = body["telecom"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["value"] == "07700900123")
        .unwrap();
    assert!(
        added["id"].as_str().is_some_and(|id| !id.is_empty()),
        "server assigns an id"
    );
}

#[tokio::test]
async fn concurrent_patches_with_the_same_version_let_exactly_one_through() {
    let app = TestApp::spawn_with({
        let mut s = crate::helpers::settings();
        s.pool_size = 4;
        s.db_wait = std::time::Duration::from_secs(20);
        s
    })
    .await;
    let clin = token(Persona::Clinician);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let client = app.client.clone();
        let url = app.url("/Patient/9000000009");
        let t = clin.clone();
        let value = if i % 2 == 0 { "male" } else { "unknown" };
        tasks.push(tokio::spawn(async move {
            client
                .request(Method::PATCH, url)
                .bearer_auth(t)
                .header("X-Request-ID", rid())
                .header("If-Match", "W/\"2\"")
                .header("Content-Type", "application/json-patch+json")
                .body(gender(value).to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        49,
        "{statuses:?}"
    );
    assert_eq!(version_of(&app, "/Patient/9000000009").await, "W/\"3\"");
    // The losers wrote nothing: one history row, one successful update audited.
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM patient_versions WHERE nhs_number = 9000000009 AND version = 2"
        ),
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM audit_trail WHERE action = 'update' AND status = 200"
        ),
        1
    );
}

/// Runs a `SELECT count(*) AS n …` on the test's database.
fn count(app: &TestApp, sql: &str) -> i64 {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.database.as_ref().unwrap().connect();
    let rows: Vec<Row> = diesel::sql_query(sql).load(&mut conn).unwrap();
    rows[0].n
}

#[tokio::test]
async fn concurrent_retries_of_one_request_apply_it_once_and_all_get_its_answer() {
    let app = TestApp::spawn().await;
    let clin = token(Persona::Clinician);
    let id = rid();
    let path = "/Patient/9000000009";
    let body = gender("male");
    let answers = futures_util::future::join_all(
        (0..20).map(|_| patch(&app, path, Some("W/\"2\""), &body, &clin, &id)),
    )
    .await;
    for (status, etag, body) in &answers {
        assert_eq!((*status, etag.as_deref()), (200, Some("W/\"3\"")), "{body}");
        assert_eq!(body, &answers[0].2);
    }
    assert_eq!(version_of(&app, "/Patient/9000000009").await, "W/\"3\"");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM patient_versions WHERE nhs_number = 9000000009"
        ),
        1
    );
}

#[tokio::test]
async fn a_retry_with_the_same_request_id_replays_and_applies_nothing_twice() {
    let app = TestApp::spawn().await;
    let clin = token(Persona::Clinician);
    let id = rid();
    let (s1, e1, b1) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &gender("male"),
        &clin,
        &id,
    )
    .await;
    let (s2, e2, b2) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &gender("male"),
        &clin,
        &id,
    )
    .await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(e1, e2);
    assert_eq!(b1, b2);
    assert_eq!(version_of(&app, "/Patient/9000000009").await, "W/\"3\"");

    let (status, _, body) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"3\""),
        &gender("unknown"),
        &clin,
        &id,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("different request"),
        "{body}"
    );
}

#[tokio::test]
async fn updates_are_audited_in_the_same_transaction() {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let app = TestApp::spawn().await;
    let (status, _, _) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &gender("male"),
        &token(Persona::Clinician),
        &rid(),
    )
    .await;
    assert_eq!(status, 200);
    // No flush: the row was committed with the change.
    let mut conn = app.database.as_ref().unwrap().connect();
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT count(*) AS n FROM audit_trail WHERE action = 'update' AND status = 200 AND nhs_number = 9000000009 AND level = 'demographics_update'",
    )
    .load(&mut conn)
    .unwrap();
    assert_eq!(rows[0].n, 1);
}

#[tokio::test]
async fn vread_of_an_unknown_version_is_not_found() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.get("/Patient/9000000009/_history/9").await.status(),
        404
    );
    assert_eq!(
        app.get("/Patient/9000000009/_history/x").await.status(),
        400
    );
    assert_eq!(
        app.get("/Patient/9000000009/_history/2").await.status(),
        200
    );
}

#[tokio::test]
async fn a_restricted_record_needs_sensitive_access_to_update() {
    let app = TestApp::spawn().await;
    let path = "/Patient/9000000025";
    let (status, _, body) = patch(
        &app,
        path,
        Some("W/\"2\""),
        &gender("unknown"),
        &token(Persona::Clinician),
        &rid(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(spine_code(&body), "FORBIDDEN_UPDATE");
    let (status, etag, _) = patch(
        &app,
        path,
        Some("W/\"2\""),
        &gender("unknown"),
        &token(Persona::SensitiveClinician),
        &rid(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(etag.as_deref(), Some("W/\"3\""));
}

#[tokio::test]
async fn the_history_bundle_pages_newest_first() {
    let app = TestApp::spawn().await;
    let clin = token(Persona::Clinician);
    patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &gender("male"),
        &clin,
        &rid(),
    )
    .await;
    patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"3\""),
        &gender("unknown"),
        &clin,
        &rid(),
    )
    .await;

    let first: Value = app
        .get("/Patient/9000000009/_history?_count=1")
        .await
        .json()
        .await
        .unwrap();
    // Version 4 and the kept copies of 3 and 2; the seeded record's
    // version 1 was never stored, so it is not counted.
    assert_eq!(first["total"], 3);
    assert_eq!(first["entry"].as_array().unwrap().len(), 1);
    assert_eq!(first["entry"][0]["resource"]["meta"]["versionId"], "4");
    assert_eq!(first["entry"][0]["resource"]["gender"], "unknown");
    let next = first["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == "next")
        .expect("a next link")["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = &next[next.find("/Patient").unwrap()..];
    let second: Value = app.get(path).await.json().await.unwrap();
    assert_eq!(second["entry"][0]["resource"]["meta"]["versionId"], "3");
    assert_eq!(second["entry"][0]["resource"]["gender"], "male");
}

#[tokio::test]
async fn an_old_name_added_by_patch_is_found_by_history_search_and_survives_other_updates() {
    let app = TestApp::spawn().await;
    let clin = token(Persona::Clinician);
    let history_search = "/Patient?family=Formerly&birthdate=eq2010-10-22&_history=true";
    let found = |body: Value| body["total"].as_u64();
    assert_eq!(
        found(app.get(history_search).await.json().await.unwrap()),
        Some(0)
    );

    let old_name = json!({"patches": [{"op": "add", "path": "/name/-", "value":
        {"use": "old", "family": "Formerly", "given": ["Jane"], "period": {"start": "2001-01-01", "end": "2005-01-01"}}}]});
    let (status, etag, body) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &old_name,
        &clin,
        &rid(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let after_name = app.get(history_search).await.json::<Value>().await.unwrap();
    assert_eq!(after_name["entry"][0]["resource"]["id"], "9000000009");
    // Not a current name: a search without history does not find it.
    let current = app
        .get("/Patient?family=Formerly&birthdate=eq2010-10-22")
        .await;
    assert_eq!(found(current.json().await.unwrap()), Some(0));

    // A later update that leaves the names alone keeps the old one findable.
    let (status, _, body) = patch(
        &app,
        "/Patient/9000000009",
        etag.as_deref(),
        &gender("male"),
        &clin,
        &rid(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let still = app.get(history_search).await.json::<Value>().await.unwrap();
    assert_eq!(still["entry"][0]["resource"]["id"], "9000000009");
}

const COMMUNICATION: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication";

async fn record(app: &TestApp, number: &str) -> Value {
    app.get(&format!("/Patient/{number}"))
        .await
        .json()
        .await
        .unwrap()
}

/// Where the interpreter flag of the communication extension is:
/// `/extension/N/extension/M`, as a PDS client finds it.
fn interpreter_path(patient: &Value) -> String {
    let extensions = patient["extension"].as_array().unwrap();
    let n = extensions
        .iter()
        .position(|e| e["url"] == COMMUNICATION)
        .expect("9000000009 has the communication extension");
    let m = extensions[n]["extension"]
        .as_array()
        .unwrap()
        .iter()
        .position(|e| e["url"] == "interpreterRequired")
        .expect("with an interpreter flag");
    format!("/extension/{n}/extension/{m}")
}

#[tokio::test]
async fn the_interpreter_flag_is_replaced_by_index_as_pds_accepts() {
    let app = TestApp::spawn().await;
    let clin = token(Persona::Clinician);
    let before = record(&app, "9000000009").await;
    let path = interpreter_path(&before);
    let n: usize = path.split('/').nth(2).unwrap().parse().unwrap();
    assert_eq!(before["extension"][n]["extension"][1]["valueBoolean"], true);

    // The value alone, by index, with no test of the extension's url.
    let flag = json!({"patches": [
        {"op": "replace", "path": format!("{path}/valueBoolean"), "value": false}]});
    let (status, etag, body) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &flag,
        &clin,
        &rid(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(etag.as_deref(), Some("W/\"3\""));
    assert_eq!(body["meta"]["versionId"], "3");
    let communication = &body["extension"][n];
    assert_eq!(communication["url"], COMMUNICATION);
    assert_eq!(
        communication["extension"],
        json!([before["extension"][n]["extension"][0], {"url": "interpreterRequired", "valueBoolean": false}])
    );
    // Nothing else moved.
    let mut expected = before.clone();
    expected["extension"][n] = communication.clone();
    expected["meta"]["versionId"] = json!("3");
    assert_eq!(body, expected);

    // The whole sub-extension, as PDS's own test sends it.
    let part = json!({"patches": [{"op": "replace", "path": path,
        "value": {"url": "interpreterRequired", "valueBoolean": true}}]});
    let (status, _, body) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"3\""),
        &part,
        &clin,
        &rid(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["extension"][n]["extension"][1]["valueBoolean"], true);
    assert_eq!(record(&app, "9000000009").await["meta"]["versionId"], "4");
}

#[tokio::test]
async fn the_interpreter_flag_cannot_be_blanked() {
    let app = TestApp::spawn().await;
    let clin = token(Persona::Clinician);
    let path = interpreter_path(&record(&app, "9000000009").await);
    // PDS's test: the sub-extension sent with a blank url.
    let blank = json!({"patches": [{"op": "replace", "path": path,
        "value": {"url": " ", "valueBoolean": false}}]});
    let (status, _, body) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &blank,
        &clin,
        &rid(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(spine_code(&body), "INVALID_UPDATE");
    assert_eq!(
        body["issue"][0]["diagnostics"],
        "Invalid update with error - interpreterRequired cannot be removed"
    );
    // Removing it (after a test, as every list removal) is refused too.
    let removal = json!({"patches": [
        {"op": "test", "path": format!("{path}/url"), "value": "interpreterRequired"},
        {"op": "remove", "path": path}]});
    let (status, _, body) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &removal,
        &clin,
        &rid(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["issue"][0]["diagnostics"],
        "Invalid update with error - interpreterRequired cannot be removed"
    );
    assert_eq!(record(&app, "9000000009").await["meta"]["versionId"], "2");
}

#[tokio::test]
async fn a_test_ignores_member_order_and_takes_an_absent_list_as_empty() {
    let app = TestApp::spawn().await;
    let clin = token(Persona::Clinician);
    let before = record(&app, "9000000009").await;
    let telecom = before["telecom"][0].as_object().unwrap().clone();
    assert!(telecom.get("extension").is_none(), "{telecom:?}");
    // The members in reverse order, and a list the record does not show
    // sent empty.
    let mut tested: Vec<(String, Value)> = telecom.into_iter().rev().collect();
    tested.push(("extension".into(), json!([])));
    let tested_text = format!(
        "{{{}}}",
        tested
            .iter()
            .map(|(k, v)| format!("{}:{v}", Value::from(k.as_str())))
            .collect::<Vec<_>>()
            .join(",")
    );
    let body_text = format!(
        r#"{{"patches":[{{"op":"test","path":"/telecom/0","value":{tested_text}}},{{"op":"replace","path":"/gender","value":"male"}}]}}"#
    );
    let response = app
        .client
        .request(Method::PATCH, app.url("/Patient/9000000009"))
        .bearer_auth(&clin)
        .header("X-Request-ID", rid())
        .header("If-Match", "W/\"2\"")
        .header("Content-Type", "application/json-patch+json")
        .body(body_text)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["gender"], "male");
    assert_eq!(body["meta"]["versionId"], "3");

    // A value that differs fails, each side shown as Python shows it.
    let wrong = json!({"patches": [
        {"op": "test", "path": "/telecom/0/system", "value": "email"},
        {"op": "replace", "path": "/gender", "value": "female"}]});
    let (status, _, body) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"3\""),
        &wrong,
        &clin,
        &rid(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["issue"][0]["diagnostics"],
        "Invalid update with error - Invalid patch - phone (<class 'str'>) is not equal to tested value email (<class 'str'>)"
    );
    let wrong = json!({"patches": [
        {"op": "test", "path": "/address/0/period", "value": {"start": "1999-01-01"}},
        {"op": "replace", "path": "/gender", "value": "female"}]});
    let (status, _, body) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"3\""),
        &wrong,
        &clin,
        &rid(),
    )
    .await;
    assert_eq!(status, 400);
    let text = body["issue"][0]["diagnostics"].as_str().unwrap();
    assert!(
        text.starts_with("Invalid update with error - Invalid patch - {'end': '")
            && text.ends_with(
                "(<class 'dict'>) is not equal to tested value {'start': '1999-01-01'} (<class 'dict'>)"
            ),
        "{text}"
    );
}

#[tokio::test]
async fn patch_errors_use_the_pds_wording() {
    let app = TestApp::spawn().await;
    let clin = token(Persona::Clinician);
    let cases = [
        // PDS's removeErrors test: a suffix the name does not have.
        (
            json!({"patches": [
                {"op": "test", "path": "/name/0/id", "value": "123"},
                {"op": "remove", "path": "/name/0/suffix/0"}]}),
            400,
            "Invalid update with error - Invalid patch - can't remove non-existent object '0'",
        ),
        (
            json!({"patches": [
                {"op": "replace", "path": "/address/0/id", "value": "456"},
                {"op": "replace", "path": "/address/0/text", "value": "Second Home"}]}),
            400,
            "Invalid update with error - Invalid patch - can't replace non-existent object 'text'",
        ),
        (
            json!({"patches": [
                {"op": "test", "path": "/name/1/id", "value": "123456"},
                {"op": "remove", "path": "/name/1"}]}),
            400,
            "Invalid update with error - Invalid patch - index '1' is out of bounds",
        ),
        (
            json!({"patches": [{"op": "remove", "path": "/name/1"}]}),
            400,
            "Invalid update with error - removal '/name/1' is not immediately preceded by equivalent test - instead it is the first item",
        ),
        (
            json!({"patches": [
                {"op": "replace", "path": "/address/0/id", "value": "123456"},
                {"op": "replace", "path": "/address/0/postalCode", "value": "LS1 4BU"}]}),
            400,
            "Invalid update with error - no 'address' resources with object id '123456'",
        ),
        (
            json!({"patches": [
                {"op": "replace", "path": "/name/0/id", "value": "123"},
                {"op": "replace", "path": "/name/0/given",
                 "value": ["One", "Two", "Three", "Four", "Five", "six"]}]}),
            400,
            "Too many values submitted - ['One', 'Two', 'Three', 'Four', 'Five', 'six'] in field 'name/0/given'",
        ),
        (
            json!({"patches": [{"op": {"code": "xx"}, "path": "/gender"}]}),
            400,
            "Invalid value - '{'code': 'xx'}' in field '0/op'",
        ),
        (
            json!({"patches": [{"op": "replace", "path": "/multipleBirthInteger", "value": true}]}),
            400,
            "Invalid value - 'True' in field 'multipleBirthInteger'",
        ),
    ];
    assert!(
        record(&app, "9000000009").await["name"][0]
            .get("suffix")
            .is_none()
    );
    for (body, status, diagnostics) in cases {
        let (got, _, answer) = patch(
            &app,
            "/Patient/9000000009",
            Some("W/\"2\""),
            &body,
            &clin,
            &rid(),
        )
        .await;
        assert_eq!(got, status, "{body} -> {answer}");
        assert_eq!(answer["issue"][0]["diagnostics"], diagnostics, "{body}");
    }
    assert_eq!(record(&app, "9000000009").await["meta"]["versionId"], "2");
}

#[tokio::test]
async fn version_zero_is_a_mismatch_not_an_invalid_value() {
    let app = TestApp::spawn().await;
    let clin = token(Persona::Clinician);
    for if_match in ["W/\"0\"", "W/\"99999999999999999999\""] {
        let (status, _, body) = patch(
            &app,
            "/Patient/9000000009",
            Some(if_match),
            &gender("male"),
            &clin,
            &rid(),
        )
        .await;
        assert_eq!(status, 409, "{if_match}: {body}");
        assert_eq!(spine_code(&body), "RESOURCE_VERSION_MISMATCH");
        assert!(body["issue"][0].get("diagnostics").is_none());
    }
    for malformed in ["W/\"-1\"", "W/\"\"", "\"2\"", "W/\"2a\""] {
        let (status, _, body) = patch(
            &app,
            "/Patient/9000000009",
            Some(malformed),
            &gender("male"),
            &clin,
            &rid(),
        )
        .await;
        // As PDS's published scenarios answer a value "set to format other
        // than W/\"<version>\"": like a missing one.
        assert_eq!(status, 412, "{malformed}: {body}");
        assert_eq!(spine_code(&body), "PRECONDITION_FAILED");
        assert_eq!(
            body["issue"][0]["diagnostics"],
            "Invalid request with error - If-Match header must be of the form W/\"<version>\""
        );
    }
    assert_eq!(record(&app, "9000000009").await["meta"]["versionId"], "2");
}

#[tokio::test]
async fn privileged_applications_are_named_as_such() {
    let app = TestApp::spawn().await;
    let (status, _, body) = patch(
        &app,
        "/Patient/9000000009",
        Some("W/\"2\""),
        &gender("male"),
        &token(Persona::PrivilegedApp),
        &rid(),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(spine_code(&body), "INVALID_METHOD");
    assert_eq!(
        body["issue"][0]["details"]["coding"][0]["display"],
        "Cannot update resource with privileged-application-restricted access token"
    );
    assert_eq!(
        body["issue"][0]["diagnostics"],
        "Your app has insufficient permissions to use this method. Please contact support."
    );
}
