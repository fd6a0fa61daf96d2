//! Cross-patient access in patient mode (NHS login P9): a patient reaches
//! their own record on every `/Patient` route and nobody else's, whatever
//! number they name (another patient's, a restricted, superseded,
//! invalidated or unknown one), and a merge never leads one patient into
//! another's record.
//!
//! The routes come from `pds::api::ROUTES`: a new `/Patient` route fails
//! `every_patient_route_has_a_cross_patient_attack` until it has one here.

use diesel::RunQueryDsl;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, patient_token, spine_code, token};
use pds::auth::personas::Persona;
use pds::seed::sandbox;

/// The attacker: Jayne Smyth, through NHS login P9.
const ME: &str = sandbox::JAYNE_SMYTH;
/// A valid NHS number that no record has.
const UNKNOWN: &str = "9000001005";
/// The numbers a patient other than their owner must not reach.
const OTHERS: &[&str] = &[
    sandbox::JANE_SMITH,
    sandbox::JANET_SMYTHE_RESTRICTED,
    sandbox::MINIMAL,
    sandbox::SUPERSEDED,
    sandbox::INVALIDATED,
    sandbox::VERY_RESTRICTED,
    UNKNOWN,
];

/// A change patients may make to their own record.
fn add_mobile() -> Value {
    json!({"patches": [{"op": "add", "path": "/telecom/-",
        "value": {"system": "phone", "value": "07700900999", "use": "mobile"}}]})
}

/// A PatientCreateRequest (refused before it is read, but well formed).
fn create_request() -> Value {
    json!({
        "resourceType": "Patient",
        "name": [{"use": "usual", "given": ["Mallory"], "family": "Intruder",
            "period": {"start": "2020-01-01"}}],
        "gender": "female",
        "birthDate": "1990-01-01",
        "address": [{"use": "home", "line": ["1 Trevelyan Square", "Leeds"],
            "postalCode": "LS1 6AE", "period": {"start": "2020-01-01"}}],
    })
}

/// Searches a patient might try, aimed at Jane Smith or at everybody.
const SEARCHES: &[&str] = &[
    "family=Smith&gender=female&birthdate=eq2010-10-22",
    "family=Smith&birthdate=eq2010-10-22&_max-results=1",
    "_fuzzy-match=true&family=Smith&given=Jane&birthdate=eq2010-10-22",
    "family=Smyth&birthdate=eq2010-10-22",
    "identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009",
    "_id=9000000009",
    "birthdate=ge1900-01-01",
    "",
];

/// One request of an attack: a label, the method, the path, and the
/// If-Match and body it carries.
/// The example birth registration, with `mother` as the mother.
fn birth_registration(mother: &str) -> Value {
    let mut body: Value =
        serde_json::from_str(include_str!("../../fixtures/birth-registration.json"))
            .expect("the fixture is JSON");
    body["entry"][6]["resource"]["identifier"][0]["value"] = json!(mother);
    body["entry"][7]["resource"]["identifier"][0]["value"] = json!(mother);
    body
}

struct Call {
    label: String,
    method: Method,
    path: String,
    if_match: Option<String>,
    body: Option<Value>,
}

fn call(method: Method, path: String) -> Call {
    Call {
        label: format!("{method} {path}"),
        method,
        path,
        if_match: None,
        body: None,
    }
}

/// The current ETag of `nhs_number` as a clinician sees it, or `W/"1"`.
async fn etag(app: &TestApp, nhs_number: &str) -> String {
    let response = app.get(&format!("/Patient/{nhs_number}")).await;
    response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| "W/\"1\"".to_owned(), str::to_owned)
}

/// The requests that aim `route` at `target`'s record. Panics for a
/// `/Patient` route this suite does not know yet.
async fn aimed_at(app: &TestApp, route: (&str, &str), target: &str) -> Vec<Call> {
    match route {
        ("/Patient/{id}", "GET") => vec![call(Method::GET, format!("/Patient/{target}"))],
        ("/Patient/{id}", "PATCH") => {
            let mut c = call(Method::PATCH, format!("/Patient/{target}"));
            c.if_match = Some(etag(app, target).await);
            c.body = Some(add_mobile());
            vec![c]
        }
        ("/Patient/{id}/_history", "GET") => vec![
            call(Method::GET, format!("/Patient/{target}/_history")),
            call(Method::GET, format!("/Patient/{target}/_history?_count=50")),
        ],
        ("/Patient/{id}/_history/{vid}", "GET") => vec![
            call(Method::GET, format!("/Patient/{target}/_history/1")),
            call(Method::GET, format!("/Patient/{target}/_history/2")),
        ],
        ("/Patient/{id}/RelatedPerson", "GET") => {
            vec![call(
                Method::GET,
                format!("/Patient/{target}/RelatedPerson"),
            )]
        }
        // Not aimed at one record: the same whoever the target is.
        ("/Patient", "GET") => SEARCHES
            .iter()
            .map(|q| call(Method::GET, format!("/Patient?{q}")))
            .collect(),
        ("/Patient", "POST") => {
            let mut c = call(Method::POST, "/Patient".into());
            c.body = Some(create_request());
            vec![c]
        }
        // A registration naming the target as the mother.
        ("/Patient/$process-birth-details", "POST") => {
            let mut c = call(Method::POST, "/Patient/$process-birth-details".into());
            c.body = Some(birth_registration(target));
            vec![c]
        }
        (path, method) => panic!(
            "{method} {path} is a new /Patient route: add its cross-patient attack to \
             tests/api/attacks/patient_mode.rs"
        ),
    }
}

/// Every `/Patient` route of the service.
fn patient_routes() -> Vec<(&'static str, &'static str)> {
    pds::api::ROUTES
        .iter()
        .filter(|(path, _)| *path == "/Patient" || path.starts_with("/Patient/"))
        .copied()
        .collect()
}

struct Answer {
    status: u16,
    body: Value,
    text: String,
}

async fn send(app: &TestApp, token: &str, c: &Call) -> Answer {
    let mut request = app
        .client
        .request(c.method.clone(), app.url(&c.path))
        .bearer_auth(token)
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string());
    if let Some(m) = &c.if_match {
        request = request.header("If-Match", m);
    }
    if let Some(body) = &c.body {
        let content_type = match c.method {
            Method::PATCH => "application/json-patch+json",
            _ => "application/fhir+json",
        };
        request = request
            .header("Content-Type", content_type)
            .body(body.to_string());
    }
    let response = request.send().await.expect("request failed");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, body, text }
}

/// Why `a` is not a patient-access refusal, if it is not. POST is refused
/// as a method patients may not use at all (PDS's INVALID_METHOD); every
/// other route as patient access restrictions (ACCESS_DENIED).
fn not_refused(c: &Call, a: &Answer, own_data: &[&str]) -> Option<String> {
    let issue = &a.body["issue"][0];
    let (code, display) = if c.method == Method::POST {
        (
            "INVALID_METHOD",
            "Cannot create resource with patient-access access token",
        )
    } else {
        ("ACCESS_DENIED", "Patient cannot perform this action")
    };
    let leaked = ["Smith", "Smyth", "birthDate", "address", "telecom"]
        .iter()
        .chain(own_data)
        .find(|data| a.text.contains(*data));
    let ok = a.status == 403
        && a.body["resourceType"] == "OperationOutcome"
        && spine_code(&a.body) == code
        && issue["code"] == "forbidden"
        && issue["details"]["coding"][0]["display"] == display
        && leaked.is_none();
    (!ok).then(|| {
        format!(
            "{}: {} (leaked {leaked:?}) {}",
            c.label,
            a.status,
            a.text.chars().take(300).collect::<String>()
        )
    })
}

fn patient_count(app: &TestApp) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.database.as_ref().expect("database").connect();
    diesel::sql_query("SELECT count(*) AS n FROM patients")
        .get_result::<Count>(&mut conn)
        .expect("counting patients")
        .n
}

#[tokio::test]
async fn every_patient_route_has_a_cross_patient_attack() {
    let app = TestApp::spawn().await;
    let routes = patient_routes();
    assert!(routes.len() >= 7, "{routes:?}");
    for route in routes {
        assert!(
            !aimed_at(&app, route, sandbox::JANE_SMITH).await.is_empty(),
            "{route:?}"
        );
    }
}

#[tokio::test]
async fn a_patient_reaches_their_own_record_on_every_route_that_allows_it() {
    let app = TestApp::spawn().await;
    let me = patient_token(ME);
    let get = |path: String| call(Method::GET, path);

    let a = send(&app, &me, &get(format!("/Patient/{ME}"))).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["id"], ME);
    let a = send(&app, &me, &get(format!("/Patient/{ME}/_history"))).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["type"], "history");
    let versions = a.body["entry"].as_array().cloned().unwrap_or_default();
    assert!(!versions.is_empty());
    assert!(versions.iter().all(|e| e["resource"]["id"] == ME));
    let version = etag(&app, ME).await;
    let version = version.trim_start_matches("W/\"").trim_end_matches('"');
    let a = send(&app, &me, &get(format!("/Patient/{ME}/_history/{version}"))).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["id"], ME);
    assert_eq!(a.body["meta"]["versionId"], version);
    let a = send(&app, &me, &get(format!("/Patient/{ME}/RelatedPerson"))).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["resourceType"], "Bundle");
    assert!(
        a.body["total"].as_u64().is_some_and(|n| n >= 1),
        "{}",
        a.text
    );

    // The very PATCH the attacks send, aimed at the patient's own record.
    let mut patch = aimed_at(&app, ("/Patient/{id}", "PATCH"), ME).await;
    let a = send(&app, &me, &patch.remove(0)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.text.contains("07700900999"));
}

#[tokio::test]
async fn a_patient_cannot_reach_another_patient_on_any_route() {
    let app = TestApp::spawn().await;
    let clinician = token(Persona::Clinician);
    let unknown = app.get_as(&format!("/Patient/{UNKNOWN}"), &clinician).await;
    assert_eq!(unknown.status(), 404, "{UNKNOWN} must not exist");
    let mut before = Vec::new();
    for target in OTHERS {
        before.push(etag(&app, target).await);
    }
    let patients_before = patient_count(&app);

    let me = patient_token(ME);
    let mut failures = Vec::new();
    let mut sent = 0;
    for route in patient_routes() {
        let targets: &[&str] = if route.0.contains("{id}") {
            OTHERS
        } else {
            &[sandbox::JANE_SMITH]
        };
        for target in targets {
            for c in aimed_at(&app, route, target).await {
                let answer = send(&app, &me, &c).await;
                sent += 1;
                // The target's number, and that of the record 9000000041
                // was merged into, must not appear either.
                let own: &[&str] = if c.path.contains(sandbox::SUPERSEDED) {
                    &[sandbox::JANE_SMITH]
                } else {
                    &[]
                };
                if let Some(why) = not_refused(&c, &answer, own) {
                    failures.push(why);
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {sent} cross-patient requests were not refused:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Nothing was changed or created.
    for (target, etag_before) in OTHERS.iter().zip(&before) {
        assert_eq!(&etag(&app, target).await, etag_before, "{target} changed");
    }
    assert_eq!(
        patient_count(&app),
        patients_before,
        "a patient was created"
    );
    // The same token still reads its own record.
    let own = app.get_as(&format!("/Patient/{ME}"), &me).await;
    assert_eq!(own.status(), 200);
}

#[tokio::test]
async fn a_superseded_number_never_leads_a_patient_into_another_record() {
    let app = TestApp::spawn().await;
    let superseded = sandbox::SUPERSEDED;
    let retained = sandbox::JANE_SMITH;
    let get = |path: String| call(Method::GET, path);

    // A clinician asking for 9000000041 gets 9000000009's record: the merge.
    let merged = app.get(&format!("/Patient/{superseded}")).await;
    assert_eq!(merged.status(), 200);
    let merged: Value = merged.json().await.expect("JSON");
    assert_eq!(merged["id"], retained);

    // Another patient naming the superseded number: refused on every route
    // (covered route by route above); here, the retrieve, explicitly.
    let other = send(
        &app,
        &patient_token(ME),
        &get(format!("/Patient/{superseded}")),
    )
    .await;
    assert_eq!(other.status, 403, "{}", other.text);
    assert_eq!(spine_code(&other.body), "ACCESS_DENIED");
    assert!(!other.text.contains(retained), "{}", other.text);

    // The retained record's own patient may name only the number in their
    // token, not their superseded one.
    let owner = patient_token(retained);
    let a = send(&app, &owner, &get(format!("/Patient/{superseded}"))).await;
    assert_eq!(a.status, 403, "{}", a.text);
    assert_eq!(spine_code(&a.body), "ACCESS_DENIED");
    let a = send(&app, &owner, &get(format!("/Patient/{retained}"))).await;
    assert_eq!(a.status, 200, "{}", a.text);

    // A patient whose token still carries the superseded number is the
    // person the merge kept: they read the retained record through that
    // number, as anyone allowed to read 9000000041 does...
    let stale = patient_token(superseded);
    let a = send(&app, &stale, &get(format!("/Patient/{superseded}"))).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["id"], retained);
    // ...but may not name the retained number itself,
    let a = send(&app, &stale, &get(format!("/Patient/{retained}"))).await;
    assert_eq!(a.status, 403, "{}", a.text);
    assert_eq!(spine_code(&a.body), "ACCESS_DENIED");
    // nor change the retained record through the superseded number.
    let version = etag(&app, retained).await;
    let mut patch = call(Method::PATCH, format!("/Patient/{superseded}"));
    patch.if_match = Some(version.clone());
    patch.body = Some(add_mobile());
    let a = send(&app, &stale, &patch).await;
    assert_eq!(a.status, 403, "{}", a.text);
    assert_eq!(spine_code(&a.body), "FORBIDDEN_UPDATE");
    assert_eq!(
        etag(&app, retained).await,
        version,
        "the retained record changed"
    );
    let a = send(&app, &stale, &get(format!("/Patient/{retained}/_history"))).await;
    assert_eq!(a.status, 403, "{}", a.text);
    let a = send(
        &app,
        &stale,
        &get(format!("/Patient/{retained}/RelatedPerson")),
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.text);
}

#[tokio::test]
async fn a_patients_remembered_answer_is_replayed_to_nobody_else() {
    // A PATCH's answer is remembered for retries under its X-Request-ID.
    // A restricted patient's answer holds their whole record (address
    // included): sending the same request id, path and body must not hand
    // it to a clinician without sensitive access, nor to another patient.
    let app = TestApp::spawn().await;
    let restricted = sandbox::JANET_SMYTHE_RESTRICTED;
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut c = call(Method::PATCH, format!("/Patient/{restricted}"));
    c.if_match = Some(etag(&app, restricted).await);
    c.body = Some(add_mobile());
    let send_as = |token: String| {
        let (c, request_id, app) = (&c, request_id.clone(), &app);
        async move {
            let response = app
                .client
                .patch(app.url(&c.path))
                .bearer_auth(token)
                .header("X-Request-ID", request_id)
                .header("If-Match", c.if_match.clone().unwrap_or_default())
                .header("Content-Type", "application/json-patch+json")
                .body(c.body.as_ref().map(Value::to_string).unwrap_or_default())
                .send()
                .await
                .expect("request failed");
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            (status, body, text)
        }
    };

    let (status, first, text) = send_as(patient_token(restricted)).await;
    assert_eq!(status, 200, "{text}");
    assert!(first.get("address").is_some(), "the patient sees it all");

    let (status, body, text) = send_as(token(Persona::Clinician)).await;
    assert_eq!(status, 400, "{text}");
    assert_eq!(spine_code(&body), "INVALID_VALUE");
    assert!(
        !text.contains("address") && !text.contains("Smythe"),
        "{text}"
    );
    let (status, body, text) = send_as(patient_token(ME)).await;
    assert_eq!(status, 403, "{text}");
    assert_eq!(spine_code(&body), "ACCESS_DENIED");
    // The clinician's own view of the record stays redacted.
    let view: Value = app
        .get(&format!("/Patient/{restricted}"))
        .await
        .json()
        .await
        .expect("JSON");
    assert!(view.get("address").is_none());

    // The patient's own retry still gets the remembered answer.
    let (status, again, text) = send_as(patient_token(restricted)).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(again, first);
}
