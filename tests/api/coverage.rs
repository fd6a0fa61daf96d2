//! `GET /Coverage?subscriber:identifier=` and `POST /Coverage`: a patient's
//! EHIC, patient access only, versioned with the patient record.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, patient_token, rid, send_as, spine_code, token};
use pds::auth::personas::Persona;
use pds::seed::sandbox;

const STUB: &str = include_str!("../fixtures/coverage/patient_with_coverage_9000000009.json");

fn search(nhs_number: &str) -> String {
    format!("/Coverage?subscriber:identifier={nhs_number}")
}

/// The Postman collection's "Add Coverage" body for `nhs_number`, with a
/// real country (its `FAU` is no ISO 3166 code).
fn card(nhs_number: &str) -> Value {
    json!({
        "resourceType": "Coverage",
        "identifier": [{
            "value": "291234567890121234",
            "assigner": {"identifier": {"system": "urn:iso:std:iso:3166", "value": "DEU"}}
        }],
        "status": "active",
        "type": {"coding": [{
            "system": "http://terminology.hl7.eu/CodeSystem/v3-ActCode",
            "code": "EHIC",
            "display": "European Health Insurance Card"
        }]},
        "beneficiary": {"identifier": {"value": "9876543218"}},
        "period": {"end": "2026-08-20"},
        "payor": [{"identifier": {"value": "DE98735"}}],
        "subscriber": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs_number}}
    })
}

async fn get(app: &TestApp, path: &str, token: &str) -> (u16, Option<String>, Value) {
    send_as(app, Method::GET, path, token, &rid(), &[], None).await
}

/// `POST /Coverage` as `token`, with these headers (If-Match, Content-Type).
async fn post(
    app: &TestApp,
    token: &str,
    request_id: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (u16, Option<String>, Value) {
    send_as(
        app,
        Method::POST,
        "/Coverage",
        token,
        request_id,
        headers,
        Some(body),
    )
    .await
}

/// A patient's POST with `If-Match` and `application/json`, as PDS wants it.
async fn post_own(
    app: &TestApp,
    nhs_number: &str,
    if_match: &str,
    body: &Value,
) -> (u16, Option<String>, Value) {
    let headers = [("If-Match", if_match), ("Content-Type", "application/json")];
    post(app, &patient_token(nhs_number), &rid(), &headers, body).await
}

fn diagnostics(body: &Value) -> &str {
    body["issue"][0]["diagnostics"].as_str().unwrap_or("<none>")
}

fn display(body: &Value) -> &str {
    body["issue"][0]["details"]["coding"][0]["display"]
        .as_str()
        .unwrap_or("<none>")
}

/// The record's version and the card number shown, read back as the patient.
async fn state(app: &TestApp, nhs_number: &str) -> (Option<String>, Value) {
    let (status, etag, body) = get(app, &search(nhs_number), &patient_token(nhs_number)).await;
    assert_eq!(status, 200, "{body}");
    (
        etag,
        body["entry"][0]["resource"]["identifier"][0]["value"].clone(),
    )
}

#[tokio::test]
async fn jane_smith_sees_the_sandbox_ehic_under_the_records_version() {
    let app = TestApp::spawn().await;
    let request_id = rid();
    let response = app
        .client
        .get(app.url(&search(sandbox::JANE_SMITH)))
        .bearer_auth(patient_token(sandbox::JANE_SMITH))
        .header("X-Request-ID", &request_id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/fhir+json");
    assert_eq!(response.headers()["etag"], "W/\"2\"");
    assert_eq!(response.headers()["x-request-id"], request_id.as_str());
    let body: Value = response.json().await.unwrap();
    let stub: Value = serde_json::from_str(STUB).unwrap();
    assert_eq!(body["resourceType"], "Bundle");
    assert_eq!(body["type"], "searchset");
    assert_eq!(body["meta"]["versionId"], "2");
    assert_eq!(body["total"], 1);
    assert_eq!(body["entry"][0]["resource"], stub["entry"][0]["resource"]);
    assert_eq!(
        body["entry"][0]["fullUrl"],
        app.url("/Coverage?subscriber:identifier=9000000009")
    );
    let timestamp = body["timestamp"].as_str().unwrap();
    assert!(
        timestamp.ends_with("+00:00") && timestamp.len() == 25,
        "{timestamp}"
    );

    let rows = app.audit_of(&request_id);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].action.as_deref(), Some("coverage"));
    assert_eq!(rows[0].access_mode.as_deref(), Some("patient-access"));
    assert_eq!(rows[0].level.as_deref(), Some("patient_self"));
    assert_eq!(rows[0].nhs_number, Some(9000000009));
    assert_eq!(rows[0].status, 200);

    // The colon may come percent-encoded.
    let (status, _, body) = get(
        &app,
        "/Coverage?subscriber%3Aidentifier=9000000009",
        &patient_token(sandbox::JANE_SMITH),
    )
    .await;
    assert_eq!((status, body["total"].clone()), (200, json!(1)));
}

#[tokio::test]
async fn a_patient_without_an_ehic_gets_an_empty_bundle_that_still_has_the_version() {
    let app = TestApp::spawn().await;
    let (status, etag, body) = get(
        &app,
        &search(sandbox::MINIMAL),
        &patient_token(sandbox::MINIMAL),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(etag.as_deref(), Some("W/\"2\""));
    assert_eq!(body["meta"]["versionId"], "2");
    assert_eq!(body["total"], 0);
    assert!(body.get("entry").is_none(), "{body}");
}

#[tokio::test]
async fn an_ehic_lacking_its_institution_or_personal_id_is_not_shown() {
    let app = TestApp::spawn().await;
    app.execute("UPDATE patient_coverage SET institution = NULL WHERE nhs_number = 9000000009");
    let (status, etag, body) = get(
        &app,
        &search(sandbox::JANE_SMITH),
        &patient_token(sandbox::JANE_SMITH),
    )
    .await;
    assert_eq!((status, etag.as_deref()), (200, Some("W/\"2\"")));
    assert_eq!(body["total"], 0);
    assert_eq!(body["meta"]["versionId"], "2");
    assert!(body.get("entry").is_none(), "{body}");
}

#[tokio::test]
async fn the_search_must_be_subscriber_identifier_and_nothing_else() {
    let app = TestApp::spawn().await;
    let jane = patient_token(sandbox::JANE_SMITH);
    let format = "Invalid search data provided - 'Coverage search request must follow the format /Coverage?subscriber:identifier=NHS_NUMBER'";
    for path in [
        "/Coverage?subscriber:identifier=9999999990&year=2003",
        "/Coverage?subscriber:identifier=9000000009&year=2003",
        "/Coverage",
        "/Coverage?identifier=9000000009",
        "/Coverage?subscriber:identifier=",
        "/Coverage?subscriber:identifier=abc",
        "/Coverage?subscriber:identifier=900000000",
        "/Coverage?subscriber:identifier=9000000009&subscriber:identifier=9000000009",
        "/Coverage?subscriber:identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009",
    ] {
        let (status, _, body) = get(&app, path, &jane).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(spine_code(&body), "INVALID_SEARCH_DATA", "{path}");
        assert_eq!(display(&body), "Search data is invalid");
        assert_eq!(diagnostics(&body), format, "{path}");
    }
    // Ten digits that fail the check digit.
    let (status, _, body) = get(&app, &search("9000000000"), &jane).await;
    assert_eq!((status, spine_code(&body)), (400, "INVALID_RESOURCE_ID"));
    // The gate's checks come first.
    let response = app
        .client
        .get(app.url(&search(sandbox::JANE_SMITH)))
        .bearer_auth(&jane)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(spine_code(&body), "MISSING_VALUE");
    let response = app
        .client
        .get(app.url(&search(sandbox::JANE_SMITH)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn every_other_access_mode_is_refused_on_both_operations() {
    let app = TestApp::spawn().await;
    for (persona, kind) in [
        (Persona::Clinician, "user-restricted"),
        (Persona::Clerk, "user-restricted"),
        (Persona::Admin, "user-restricted"),
        (Persona::App, "application-restricted"),
        (Persona::PrivilegedApp, "privileged-application-restricted"),
    ] {
        let t = token(persona);
        let request_id = rid();
        let (status, _, body) = send_as(
            &app,
            Method::GET,
            &search(sandbox::JANE_SMITH),
            &t,
            &request_id,
            &[],
            None,
        )
        .await;
        assert_eq!(status, 403, "{persona:?}: {body}");
        assert_eq!(spine_code(&body), "ACCESS_DENIED");
        assert_eq!(body["issue"][0]["code"], "forbidden");
        assert_eq!(
            display(&body),
            format!("Cannot GET resource with {kind} access token")
        );
        assert_eq!(
            diagnostics(&body),
            "Your app has insufficient permissions to use this operation. Please contact support."
        );
        let rows = app.audit_of(&request_id);
        assert_eq!(rows[0].action.as_deref(), Some("coverage"), "{persona:?}");
        assert_eq!(
            (rows[0].status, rows[0].nhs_number),
            (403, Some(9000000009))
        );

        let headers = [
            ("If-Match", "W/\"2\""),
            ("Content-Type", "application/json"),
        ];
        let (status, _, body) = post(&app, &t, &rid(), &headers, &card(sandbox::JANE_SMITH)).await;
        assert_eq!(status, 403, "{persona:?}: {body}");
        assert_eq!(spine_code(&body), "ACCESS_DENIED");
        assert_eq!(
            display(&body),
            format!("Cannot POST resource with {kind} access token")
        );
    }
    // Nothing changed.
    assert_eq!(
        state(&app, sandbox::JANE_SMITH).await.0.as_deref(),
        Some("W/\"2\"")
    );
}

#[tokio::test]
async fn a_patient_may_neither_read_nor_set_another_patients_ehic() {
    let app = TestApp::spawn().await;
    let other = patient_token(sandbox::JAYNE_SMYTH);
    let (status, _, body) = get(&app, &search(sandbox::JANE_SMITH), &other).await;
    assert_eq!((status, spine_code(&body)), (403, "ACCESS_DENIED"));
    assert_eq!(display(&body), "Patient cannot perform this action");
    let headers = [
        ("If-Match", "W/\"2\""),
        ("Content-Type", "application/json"),
    ];
    let (status, _, body) = post(&app, &other, &rid(), &headers, &card(sandbox::JANE_SMITH)).await;
    assert_eq!(
        (status, spine_code(&body)),
        (403, "ACCESS_DENIED"),
        "{body}"
    );
    assert_eq!(display(&body), "Patient cannot perform this action");
    assert_eq!(
        state(&app, sandbox::JANE_SMITH).await,
        (Some("W/\"2\"".into()), json!("ES456789012345"))
    );
}

#[tokio::test]
async fn a_post_sets_the_ehic_as_the_next_version_of_the_patient_record() {
    let app = TestApp::spawn().await;
    let jane = patient_token(sandbox::JANE_SMITH);
    let request_id = rid();
    let headers = [
        ("If-Match", "W/\"2\""),
        ("Content-Type", "application/json"),
    ];
    let (status, etag, body) = post(
        &app,
        &jane,
        &request_id,
        &headers,
        &card(sandbox::JANE_SMITH),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(etag.as_deref(), Some("W/\"3\""));
    assert_eq!(body["meta"]["versionId"], "3");
    assert_eq!(body["total"], 1);
    let resource = &body["entry"][0]["resource"];
    assert_eq!(resource["identifier"][0]["value"], "291234567890121234");
    assert_eq!(resource["identifier"][0]["assigner"]["display"], "Germany");
    assert_eq!(
        resource["identifier"][0]["assigner"]["identifier"]["value"],
        "DEU"
    );
    assert_eq!(
        resource["payor"],
        json!([{"identifier": {"value": "DE98735"}}])
    );
    assert_eq!(resource["beneficiary"]["identifier"]["value"], "9876543218");
    assert_eq!(resource["period"]["end"], "2026-08-20");
    assert_eq!(resource["subscriber"]["identifier"]["value"], "9000000009");
    assert!(
        resource.get("type").is_none(),
        "the EHIC type coding is not echoed"
    );

    // The search shows it, under the same version as the record.
    let (got_etag, got) = state(&app, sandbox::JANE_SMITH).await;
    assert_eq!(
        (got_etag.as_deref(), got),
        (Some("W/\"3\""), json!("291234567890121234"))
    );
    let (status, etag, patient) = get(&app, "/Patient/9000000009", &jane).await;
    assert_eq!((status, etag.as_deref()), (200, Some("W/\"3\"")));
    assert_eq!(patient["meta"]["versionId"], "3");
    // Version 2 is kept in the history, and a PATCH from it is stale now.
    let (status, _, old) = get(
        &app,
        "/Patient/9000000009/_history/2",
        &token(Persona::Clinician),
    )
    .await;
    assert_eq!(
        (status, old["meta"]["versionId"].clone()),
        (200, json!("2"))
    );
    let patch = json!({"patches": [{"op": "replace", "path": "/gender", "value": "female"}]});
    let (status, _, body) = crate::helpers::patch_as(
        &app,
        "/Patient/9000000009",
        "W/\"2\"",
        &patch,
        &token(Persona::Clinician),
        &rid(),
    )
    .await;
    assert_eq!(
        (status, spine_code(&body)),
        (409, "RESOURCE_VERSION_MISMATCH")
    );

    let rows = app.audit_of(&request_id);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].action.as_deref(), Some("update-coverage"));
    assert_eq!(rows[0].access_mode.as_deref(), Some("patient-access"));
    assert_eq!(
        (rows[0].status, rows[0].nhs_number),
        (201, Some(9000000009))
    );

    // A patient without one adds one the same way.
    let (status, etag, body) =
        post_own(&app, sandbox::MINIMAL, "W/\"2\"", &card(sandbox::MINIMAL)).await;
    assert_eq!((status, etag.as_deref()), (201, Some("W/\"3\"")), "{body}");
    assert_eq!(
        state(&app, sandbox::MINIMAL).await.1,
        json!("291234567890121234")
    );
}

#[tokio::test]
async fn if_match_is_checked_as_for_patch() {
    let app = TestApp::spawn().await;
    let jane = patient_token(sandbox::JANE_SMITH);
    let body = card(sandbox::JANE_SMITH);

    let (status, _, outcome) = post(
        &app,
        &jane,
        &rid(),
        &[("Content-Type", "application/json")],
        &body,
    )
    .await;
    assert_eq!((status, spine_code(&outcome)), (412, "PRECONDITION_FAILED"));
    assert_eq!(
        diagnostics(&outcome),
        "Invalid request with error - If-Match header must be supplied to update this resource"
    );

    let (status, _, outcome) = post_own(&app, sandbox::JANE_SMITH, "W/\"1\"", &body).await;
    assert_eq!(
        (status, spine_code(&outcome)),
        (409, "RESOURCE_VERSION_MISMATCH")
    );
    assert_eq!(
        display(&outcome),
        "Resource version supplied does not match actual version"
    );
    assert!(outcome["issue"][0].get("diagnostics").is_none());

    for malformed in ["2", "W/2", "W/\"two\""] {
        let (status, _, outcome) = post_own(&app, sandbox::JANE_SMITH, malformed, &body).await;
        assert_eq!(
            (status, spine_code(&outcome)),
            (412, "PRECONDITION_FAILED"),
            "{malformed}"
        );
        assert_eq!(
            diagnostics(&outcome),
            "Invalid request with error - If-Match header must be of the form W/\"<version>\""
        );
    }
    assert_eq!(
        state(&app, sandbox::JANE_SMITH).await,
        (Some("W/\"2\"".into()), json!("ES456789012345"))
    );
}

#[tokio::test]
async fn the_body_is_json_under_any_of_its_json_media_types() {
    let app = TestApp::spawn().await;
    let jane = patient_token(sandbox::JANE_SMITH);
    let mut version = 2;
    for media in [
        "application/json",
        "application/json-patch+json",
        "application/fhir+json; charset=utf-8",
    ] {
        let if_match = format!("W/\"{version}\"");
        let headers = [("If-Match", if_match.as_str()), ("Content-Type", media)];
        let (status, _, body) =
            post(&app, &jane, &rid(), &headers, &card(sandbox::JANE_SMITH)).await;
        assert_eq!(status, 201, "{media}: {body}");
        version += 1;
    }
    let if_match = format!("W/\"{version}\"");
    for headers in [
        vec![
            ("If-Match", if_match.as_str()),
            ("Content-Type", "text/plain"),
        ],
        vec![
            ("If-Match", if_match.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        vec![("If-Match", if_match.as_str())],
    ] {
        let (status, _, body) =
            post(&app, &jane, &rid(), &headers, &card(sandbox::JANE_SMITH)).await;
        assert_eq!(
            (status, spine_code(&body)),
            (400, "UNSUPPORTED_SERVICE"),
            "{headers:?}"
        );
        assert!(body["issue"][0].get("diagnostics").is_none());
    }
}

/// `card(9000000009)` with the value at `pointer` replaced (`None`: removed).
fn changed(pointer: &str, value: Option<Value>) -> Value {
    let mut body = card(sandbox::JANE_SMITH);
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = body.pointer_mut(parent).unwrap();
    match (value, parent) {
        (Some(v), Value::Object(map)) => {
            map.insert(key.into(), v);
        }
        (Some(v), Value::Array(items)) => items[key.parse::<usize>().unwrap()] = v,
        (None, Value::Object(map)) => {
            map.remove(key);
        }
        _ => unreachable!("{pointer}"),
    }
    body
}

#[tokio::test]
async fn each_invalid_body_gets_the_pds_code_and_diagnostics() {
    let app = TestApp::spawn().await;
    let missing = |p: &str| changed(p, None);
    let set = |p: &str, v: Value| changed(p, Some(v));
    let two_payors =
        json!([{"identifier": {"value": "DE98765"}}, {"identifier": {"value": "FR98765"}}]);
    let cases: Vec<(Value, u16, &str, String)> = vec![
        (missing("/beneficiary/identifier/value"), 400, "MISSING_VALUE", "Missing value - 'beneficiary/identifier/value'".into()),
        (missing("/identifier/0/value"), 400, "MISSING_VALUE", "Missing value - 'identifier/0/value'".into()),
        (missing("/status"), 400, "MISSING_VALUE", "Missing value - 'status'".into()),
        (missing("/period/end"), 400, "MISSING_VALUE", "Missing value - 'period/end'".into()),
        (missing("/payor"), 400, "MISSING_VALUE", "Missing value - 'payor'".into()),
        (missing("/subscriber"), 400, "MISSING_VALUE", "Missing value - 'subscriber'".into()),
        (set("/period/end", json!("1860-12-15")), 400, "INVALID_VALUE", "Invalid value - '1860-12-15' in field 'period/end'".into()),
        (set("/period/end", json!("2026-02-30")), 400, "INVALID_VALUE", "Invalid value - '2026-02-30' in field 'period/end'".into()),
        (set("/payor/0/identifier/value", json!("")), 400, "INVALID_VALUE", "Invalid value - '' in field 'payor/0/identifier/value'".into()),
        (set("/payor", two_payors), 400, "TOO_MANY_VALUES_SUBMITTED",
            "Too many values submitted - [{'identifier': {'value': 'DE98765'}}, {'identifier': {'value': 'FR98765'}}] in field 'payor'".into()),
        (set("/identifier", json!([])), 400, "TOO_FEW_VALUES_SUBMITTED", "Too few values submitted - [] in field 'identifier'".into()),
        (set("/identifier/0/value", json!("29401395498043123948ABCDEF")), 400, "INVALID_VALUE",
            "Invalid value - '29401395498043123948ABCDEF' in field 'identifier/0/value'".into()),
        (set("/identifier/0/assigner/identifier/value", json!("FAU")), 400, "INVALID_VALUE",
            "Invalid value - 'FAU' in field 'identifier/0/assigner/identifier/value'".into()),
        (set("/beneficiary/identifier/value", json!("178705_ABC")), 400, "INVALID_VALUE",
            "Invalid value - '178705_ABC' in field 'beneficiary/identifier/value'".into()),
        (set("/status", json!("Expired")), 400, "INVALID_VALUE", "Invalid value - 'Expired' in field 'status'".into()),
        (set("/subscriber/identifier/value", json!("9000000000")), 400, "INVALID_RESOURCE_ID", "<none>".into()),
    ];
    for (body, status, code, text) in cases {
        let (got, _, outcome) = post_own(&app, sandbox::JANE_SMITH, "W/\"2\"", &body).await;
        assert_eq!(
            (got, spine_code(&outcome)),
            (status, code),
            "{text}: {outcome}"
        );
        assert_eq!(diagnostics(&outcome), text);
    }
    // A body that is no JSON object is an invalid update.
    let jane = patient_token(sandbox::JANE_SMITH);
    let response = app
        .client
        .post(app.url("/Coverage"))
        .bearer_auth(&jane)
        .header("X-Request-ID", rid())
        .header("If-Match", "W/\"2\"")
        .header("Content-Type", "application/json")
        .body("{\"resourceType\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let outcome: Value = response.json().await.unwrap();
    assert_eq!(spine_code(&outcome), "INVALID_UPDATE");
    assert!(
        diagnostics(&outcome).starts_with("Invalid update with error - "),
        "{outcome}"
    );
    // None of it changed anything.
    assert_eq!(
        state(&app, sandbox::JANE_SMITH).await,
        (Some("W/\"2\"".into()), json!("ES456789012345"))
    );
}

#[tokio::test]
async fn a_retry_with_the_same_request_id_is_applied_once_and_answered_again() {
    let app = TestApp::spawn().await;
    let jane = patient_token(sandbox::JANE_SMITH);
    let request_id = rid();
    let headers = [
        ("If-Match", "W/\"2\""),
        ("Content-Type", "application/json"),
    ];
    let first = post(
        &app,
        &jane,
        &request_id,
        &headers,
        &card(sandbox::JANE_SMITH),
    )
    .await;
    assert_eq!((first.0, first.1.as_deref()), (201, Some("W/\"3\"")));
    let again = post(
        &app,
        &jane,
        &request_id,
        &headers,
        &card(sandbox::JANE_SMITH),
    )
    .await;
    assert_eq!(
        (again.0, again.1.as_deref()),
        (201, Some("W/\"3\"")),
        "{}",
        again.2
    );
    assert_eq!(again.2["entry"], first.2["entry"]);
    assert_eq!(
        state(&app, sandbox::JANE_SMITH).await.0.as_deref(),
        Some("W/\"3\"")
    );
    let actions: Vec<_> = app
        .audit_of(&request_id)
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert_eq!(
        actions,
        [
            Some("update-coverage".to_owned()),
            Some("update-coverage-replay".to_owned())
        ]
    );

    // Another card under the same id is another request: refused.
    let other = changed("/identifier/0/value", Some(json!("OTHER-CARD")));
    let (status, _, outcome) = post(&app, &jane, &request_id, &headers, &other).await;
    assert_eq!(
        (status, spine_code(&outcome)),
        (400, "INVALID_VALUE"),
        "{outcome}"
    );

    // After a later change the retry still shows what it set, at its version.
    let (status, etag, _) = post_own(&app, sandbox::JANE_SMITH, "W/\"3\"", &other).await;
    assert_eq!((status, etag.as_deref()), (201, Some("W/\"4\"")));
    let again = post(
        &app,
        &jane,
        &request_id,
        &headers,
        &card(sandbox::JANE_SMITH),
    )
    .await;
    assert_eq!((again.0, again.1.as_deref()), (201, Some("W/\"3\"")));
    assert_eq!(
        again.2["entry"][0]["resource"]["identifier"][0]["value"],
        "291234567890121234"
    );
    assert_eq!(
        state(&app, sandbox::JANE_SMITH).await.1,
        json!("OTHER-CARD")
    );
}

#[tokio::test]
async fn of_concurrent_posts_from_one_version_exactly_one_succeeds() {
    let app = TestApp::spawn().await;
    let posts = (0..8).map(|i| {
        let body = changed("/identifier/0/value", Some(json!(format!("CARD-{i}"))));
        let app = &app;
        async move { post_own(app, sandbox::JANE_SMITH, "W/\"2\"", &body).await.0 }
    });
    let mut statuses = futures_util::future::join_all(posts).await;
    statuses.sort_unstable();
    assert_eq!(statuses[0], 201, "{statuses:?}");
    assert!(statuses[1..].iter().all(|s| *s == 409), "{statuses:?}");
    assert_eq!(
        state(&app, sandbox::JANE_SMITH).await.0.as_deref(),
        Some("W/\"3\"")
    );
}

#[tokio::test]
async fn superseded_unknown_and_invalidated_numbers_are_answered_as_pds_does() {
    let app = TestApp::spawn().await;
    // Superseded: the search shows the retained record's EHIC and version.
    let merged = patient_token(sandbox::SUPERSEDED);
    let request_id = rid();
    let (status, etag, body) = send_as(
        &app,
        Method::GET,
        &search(sandbox::SUPERSEDED),
        &merged,
        &request_id,
        &[],
        None,
    )
    .await;
    assert_eq!((status, etag.as_deref()), (200, Some("W/\"2\"")), "{body}");
    let resource = &body["entry"][0]["resource"];
    assert_eq!(resource["subscriber"]["identifier"]["value"], "9000000009");
    assert_eq!(resource["identifier"][0]["value"], "ES456789012345");
    assert_eq!(
        body["entry"][0]["fullUrl"],
        app.url(&search(sandbox::JANE_SMITH))
    );
    let rows = app.audit_of(&request_id);
    assert_eq!(rows[0].nhs_number, Some(9000000041));
    assert_eq!(rows[0].other_nhs_numbers, Some(vec![9000000009]));
    // ... and refuses a change through the old number.
    let (status, _, outcome) = post_own(
        &app,
        sandbox::SUPERSEDED,
        "W/\"1\"",
        &card(sandbox::SUPERSEDED),
    )
    .await;
    assert_eq!(
        (status, spine_code(&outcome)),
        (403, "FORBIDDEN_UPDATE"),
        "{outcome}"
    );
    assert_eq!(outcome["issue"][0]["severity"], "information");
    assert_eq!(
        diagnostics(&outcome),
        "Forbidden update with error - Update Failed - NHS No. supplied has been superseded in a merge"
    );

    for (number, code) in [
        ("9111231130", "RESOURCE_NOT_FOUND"),
        (sandbox::INVALIDATED, "INVALIDATED_RESOURCE"),
    ] {
        let t = patient_token(number);
        let (status, _, outcome) = get(&app, &search(number), &t).await;
        assert_eq!((status, spine_code(&outcome)), (404, code), "{number}");
        let (status, _, outcome) = post_own(&app, number, "W/\"1\"", &card(number)).await;
        assert_eq!((status, spine_code(&outcome)), (404, code), "{number}");
    }
}

#[tokio::test]
async fn other_paths_and_methods_under_coverage_are_refused() {
    let app = TestApp::spawn().await;
    let jane = patient_token(sandbox::JANE_SMITH);
    let (status, _, body) = get(&app, "/Coverage/9000000009", &jane).await;
    assert_eq!((status, spine_code(&body)), (400, "UNSUPPORTED_REQUEST"));
    assert_eq!(
        diagnostics(&body),
        "Unsupported path - '/Coverage/9000000009'"
    );
    let (status, _, body) =
        send_as(&app, Method::DELETE, "/Coverage", &jane, &rid(), &[], None).await;
    assert_eq!((status, spine_code(&body)), (400, "UNSUPPORTED_SERVICE"));
}

#[tokio::test]
async fn the_capability_statement_lists_coverage() {
    let app = TestApp::spawn().await;
    let body: Value = app
        .client
        .get(app.url("/metadata"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resources = body["rest"][0]["resource"].as_array().unwrap();
    let coverage = resources
        .iter()
        .find(|r| r["type"] == "Coverage")
        .expect("Coverage listed");
    let codes: Vec<&str> = coverage["interaction"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["search-type", "create"]);
    assert_eq!(coverage["searchParam"][0]["name"], "subscriber");
}
