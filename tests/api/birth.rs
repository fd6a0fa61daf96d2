//! `POST /Patient/$process-birth-details`: birth registration.

use crate::helpers::{TestApp, patient_token, rid, spine_code, token};
use diesel::RunQueryDsl;
use pds::auth::personas::Persona;
use pds::domain::NhsNumber;
use pds::seed::sandbox;
use pds::store::allocate::DEFAULT_RANGE;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const PATH: &str = "/Patient/$process-birth-details";
const BUNDLE: &str = include_str!("../fixtures/birth-registration.json");
const MOTHER: &str = sandbox::JANE_SMITH;
/// A valid number no patient has (the PDS sandbox's).
const ABSENT: &str = "9111231130";

/// The example registration: a live girl of Jane Smith, born 2026-11-28.
fn registration() -> Value {
    serde_json::from_str(BUNDLE).expect("the fixture is JSON")
}

/// The registration with `edit` applied.
fn with(edit: impl FnOnce(&mut Value)) -> Value {
    let mut v = registration();
    edit(&mut v);
    v
}

/// The same baby born to another mother (on file).
fn of_mother(mother: &str) -> Value {
    with(|v| {
        v["entry"][6]["resource"]["identifier"][0]["value"] = json!(mother);
        v["entry"][7]["resource"]["identifier"][0]["value"] = json!(mother);
    })
}

async fn send(
    app: &TestApp,
    body: String,
    content_type: &str,
    query: &str,
    t: &str,
    request_id: &str,
) -> (u16, HeaderMap, Value) {
    let response = app
        .client
        .post(app.url(&format!("{PATH}{query}")))
        .bearer_auth(t)
        .header("X-Request-ID", request_id)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn post_as(
    app: &TestApp,
    body: &Value,
    query: &str,
    t: &str,
    id: &str,
) -> (u16, HeaderMap, Value) {
    send(app, body.to_string(), "application/fhir+json", query, t, id).await
}

async fn register(app: &TestApp, body: &Value, query: &str) -> (u16, HeaderMap, Value) {
    post_as(app, body, query, &token(Persona::Clinician), &rid()).await
}

fn number_of(body: &Value) -> NhsNumber {
    NhsNumber::parse(body["id"].as_str().expect("an id")).expect("a valid NHS number")
}

fn diagnostics(body: &Value) -> &str {
    body["issue"][0]["diagnostics"].as_str().unwrap_or("<none>")
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn count(app: &TestApp, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .load::<Count>(&mut app.connect())
        .unwrap()[0]
        .n
}

/// Patients and related people on file.
fn rows(app: &TestApp) -> (i64, i64) {
    (
        count(app, "SELECT count(*) AS n FROM patients"),
        count(app, "SELECT count(*) AS n FROM related_people"),
    )
}

#[tokio::test]
async fn a_birth_gets_a_new_number_and_the_mother_as_its_related_person() {
    let app = TestApp::spawn().await;
    let request_id = rid();
    let (status, headers, baby) = post_as(
        &app,
        &registration(),
        "",
        &token(Persona::Clinician),
        &request_id,
    )
    .await;
    assert_eq!(status, 201, "{baby}");
    let n = number_of(&baby);
    assert!(
        (DEFAULT_RANGE.first()..=DEFAULT_RANGE.last()).contains(&n.as_u64()),
        "{n}"
    );
    assert_eq!(headers["content-type"], "application/fhir+json");
    assert_eq!(headers["etag"], "W/\"1\"");
    let location = headers["location"].to_str().unwrap();
    assert!(location.ends_with(&format!("/Patient/{n}")), "{location}");
    let notification = headers["notification-id"].to_str().unwrap();
    assert!(
        uuid::Uuid::try_parse(notification).is_ok(),
        "{notification}"
    );

    // As the PDS answer shows a new baby.
    assert_eq!(baby["meta"]["versionId"], "1");
    assert_eq!(baby["meta"]["security"][0]["code"], "U");
    assert_eq!(
        baby["identifier"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "01"
    );
    assert_eq!(baby["name"][0]["given"], json!(["Aurora", "May"]));
    assert_eq!(baby["name"][0]["family"], "Brightwater");
    assert!(baby["name"][0]["id"].is_string());
    assert_eq!(baby["gender"], "female");
    assert_eq!(baby["birthDate"], "2026-11-28");
    assert_eq!(baby["multipleBirthInteger"], 1);
    // Blank address lines removed.
    assert_eq!(
        baby["address"][0]["line"],
        json!(["12 Wellington Street", "Leeds"])
    );
    assert_eq!(baby["address"][0]["postalCode"], "LS1 4DL");
    let extensions = baby["extension"].as_array().expect("extensions");
    let place = extensions
        .iter()
        .find(|e| e["url"] == "http://hl7.org/fhir/StructureDefinition/patient-birthPlace")
        .expect("the place of birth");
    assert_eq!(place["valueAddress"]["city"], "Leeds");
    assert_eq!(place["valueAddress"]["district"], "West Yorkshire");
    // Alive: no death, and the "removed" notification is not kept.
    assert!(baby.get("deceasedDateTime").is_none(), "{baby}");
    assert_eq!(extensions.len(), 1, "{baby}");

    // Retrievable as answered.
    let stored = app.get(&format!("/Patient/{n}")).await;
    assert_eq!(stored.status(), 200);
    assert_eq!(stored.json::<Value>().await.unwrap(), baby);

    // The mother, as the baby's related person.
    let related: Value = app
        .get(&format!("/Patient/{n}/RelatedPerson"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(related["total"], 1, "{related}");
    let mother = &related["entry"][0]["resource"];
    assert_eq!(mother["resourceType"], "RelatedPerson");
    assert_eq!(mother["patient"]["identifier"]["value"], MOTHER);
    assert_eq!(mother["active"], true);
    assert_eq!(mother["period"]["start"], "2026-11-28");
    let codes: Vec<&str> = mother["relationship"][0]["coding"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["code"].as_str())
        .collect();
    assert!(codes.contains(&"MTH"), "{mother}");
    // The mother's own record is not changed.
    let jane = app.get(&format!("/Patient/{MOTHER}")).await;
    assert_eq!(jane.headers()["etag"], "W/\"2\"");

    // Audited, naming the baby and the mother, with the create.
    let audit = app.audit_of(&request_id);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].action.as_deref(), Some("birth"));
    assert_eq!(audit[0].status, 201);
    assert_eq!(audit[0].nhs_number, Some(n.as_i64()));
    assert_eq!(
        audit[0].other_nhs_numbers.as_deref(),
        Some(&[MOTHER.parse::<i64>().unwrap()][..])
    );
}

#[tokio::test]
async fn the_same_birth_again_is_a_single_match_even_ignoring_potential_matches() {
    let app = TestApp::spawn().await;
    let (status, _, first) = register(&app, &registration(), "").await;
    assert_eq!(status, 201, "{first}");
    let n = number_of(&first).to_string();
    let before = rows(&app);
    for query in ["", "?ignore_potential_matches=true"] {
        let (status, headers, body) = register(&app, &registration(), query).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(spine_code(&body), "SINGLE_MATCH");
        assert_eq!(
            diagnostics(&body),
            format!(
                "Unable to create new patient. NHS number {n} found for supplied demographic data."
            )
        );
        assert!(headers.get("notification-id").is_none());
    }
    assert_eq!(rows(&app), before);
}

#[tokio::test]
async fn a_lookalike_of_another_mother_is_a_potential_match() {
    let app = TestApp::spawn().await;
    let (status, _, first) = register(&app, &registration(), "").await;
    assert_eq!(status, 201, "{first}");

    // The same name, day and place, another mother: stopped unless the
    // caller says it is another baby.
    let second = of_mother(sandbox::JAYNE_SMYTH);
    let (status, _, body) = register(&app, &second, "").await;
    assert_eq!((status, spine_code(&body)), (200, "SINGLE_MATCH"), "{body}");
    let (status, _, twin) = register(&app, &second, "?ignore_potential_matches=true").await;
    assert_eq!(status, 201, "{twin}");
    assert_ne!(number_of(&twin), number_of(&first));

    // A third lookalike matches both.
    let third = of_mother(sandbox::MINIMAL);
    let (status, _, body) = register(&app, &third, "").await;
    assert_eq!(
        (status, spine_code(&body)),
        (200, "MULTIPLE_MATCHES"),
        "{body}"
    );
    assert_eq!(
        diagnostics(&body),
        "Unable to create new patient. Multiple matches found for supplied demographic data."
    );
    let (status, _, body) = register(&app, &third, "?ignore_potential_matches=false").await;
    assert_eq!(
        (status, spine_code(&body)),
        (200, "MULTIPLE_MATCHES"),
        "{body}"
    );
    let (status, _, body) = register(&app, &third, "?ignore_potential_matches=true").await;
    assert_eq!(status, 201, "{body}");

    // The second baby's related person is its own mother.
    let related: Value = app
        .get(&format!("/Patient/{}/RelatedPerson", number_of(&twin)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        related["entry"][0]["resource"]["patient"]["identifier"]["value"],
        sandbox::JAYNE_SMYTH
    );
}

fn remove(v: &mut Value, pointer: &str, key: &str) {
    v.pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .unwrap()
        .remove(key);
}

#[tokio::test]
async fn each_validation_error_has_its_pds_code_and_path() {
    let app = TestApp::spawn().await;
    let before = rows(&app);
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Edit, &str, String)> = vec![
        (
            Box::new(|v| remove(v, "/entry/0/resource/name/0", "use")),
            "MISSING_VALUE",
            "Missing value - 'entry/0/resource/name/0/use'".into(),
        ),
        (
            Box::new(|v| remove(v, "/entry/0/resource", "birthDate")),
            "MISSING_VALUE",
            "Missing value - 'entry/0/resource/birthDate'".into(),
        ),
        (
            Box::new(|v| remove(v, "/entry/0/resource", "gender")),
            "MISSING_VALUE",
            "Missing value - 'entry/0/resource/gender'".into(),
        ),
        (
            Box::new(|v| remove(v, "/entry/0/resource", "address")),
            "MISSING_VALUE",
            "Missing value - 'entry/0/resource/address'".into(),
        ),
        (
            Box::new(|v| remove(v, "/entry/1/resource/valueQuantity", "value")),
            "MISSING_VALUE",
            "Missing value - 'entry/1/resource/valueQuantity/value'".into(),
        ),
        (
            Box::new(|v| remove(v, "/entry/7/resource/identifier/0", "value")),
            "MISSING_VALUE",
            "Missing value - 'entry/7/resource/identifier/0/value'".into(),
        ),
        (
            Box::new(|v| v["entry"][0]["resource"]["name"][0]["given"] = json!("not an array")),
            "INVALID_VALUE",
            "Invalid value - 'not an array' in field 'entry/0/resource/name/0/given'".into(),
        ),
        (
            Box::new(|v| v["entry"][0]["resource"]["address"][0] = json!("another")),
            "INVALID_VALUE",
            "Invalid value - 'another' in field 'entry/0/resource/address/0'".into(),
        ),
        (
            Box::new(|v| v["entry"][0]["resource"]["gender"] = json!("other")),
            "INVALID_VALUE",
            "Invalid value - 'other' in field 'gender'".into(),
        ),
        (
            Box::new(|v| v["entry"][0]["resource"]["birthDate"] = json!("not-a-date")),
            "INVALID_VALUE",
            "Invalid value - 'not-a-date' in field 'birthDate'".into(),
        ),
        (
            Box::new(|v| v["entry"][0]["resource"]["multipleBirthInteger"] = json!(100)),
            "INVALID_VALUE",
            "Invalid value - '100' in field 'entry/0/resource/multipleBirthInteger'".into(),
        ),
        (
            Box::new(|v| v["entry"][1]["resource"]["valueQuantity"]["value"] = json!(35552)),
            "INVALID_VALUE",
            "Invalid value - '35552' in field 'entry/1/resource/valueQuantity/value'".into(),
        ),
        (
            Box::new(|v| v["entry"][0]["resource"]["address"][0]["line"] = json!(["12 Wellington Street"])),
            "INVALID_CREATE",
            "Invalid patient create data provided - 'address lines 1 and 4 or 2 and 4 must be completed as a minimum'".into(),
        ),
        (
            Box::new(|v| v["entry"][0]["resource"]["name"][0]["period"]["end"] = json!("2026-11-29")),
            "INVALID_CREATE",
            "Invalid patient create data provided - 'An end date can not be provided on usual name'".into(),
        ),
        (
            // No delivery Location.
            Box::new(|v| {
                v["entry"].as_array_mut().unwrap().remove(9);
            }),
            "TOO_FEW_VALUES_SUBMITTED",
            "Too few values submitted - <json too long to display> in field 'entry'".into(),
        ),
        (
            // No ethnic category.
            Box::new(|v| {
                v["entry"][0]["resource"]["extension"].as_array_mut().unwrap().remove(1);
            }),
            "TOO_FEW_VALUES_SUBMITTED",
            "Too few values submitted - <json too long to display> in field 'entry/0/resource/extension'".into(),
        ),
        (
            // A mother not on file, and one invalidated.
            Box::new(|v| *v = of_mother(ABSENT)),
            "INVALID_VALUE",
            format!("Invalid value - '{}' in field 'entry/7/resource/identifier/0/value'", ABSENT),
        ),
        (
            Box::new(|v| *v = of_mother(sandbox::INVALIDATED)),
            "INVALID_VALUE",
            format!("Invalid value - '{}' in field 'entry/7/resource/identifier/0/value'", sandbox::INVALIDATED),
        ),
        (
            // The order: the Bundle's entries before the baby's fields,
            // the baby before the Observations.
            Box::new(|v| {
                v["entry"][8]["resource"]["resourceType"] = json!("Encounter");
                remove(v, "/entry/0/resource", "gender");
            }),
            "INVALID_VALUE",
            "Invalid value - 'Encounter' in field 'entry/8/resource/resourceType'".into(),
        ),
        (
            Box::new(|v| {
                remove(v, "/entry/1/resource/valueQuantity", "value");
                remove(v, "/entry/0/resource", "gender");
            }),
            "MISSING_VALUE",
            "Missing value - 'entry/0/resource/gender'".into(),
        ),
        (
            Box::new(|v| {
                remove(v, "/entry/1/resource/valueQuantity", "value");
                v["entry"][3]["resource"]["valueQuantity"]["value"] = json!(60);
            }),
            "MISSING_VALUE",
            "Missing value - 'entry/1/resource/valueQuantity/value'".into(),
        ),
    ];
    for (edit, code, expected) in cases {
        let (status, _, body) = register(&app, &with(edit), "").await;
        assert_eq!(status, 400, "{expected}: {body}");
        assert_eq!(spine_code(&body), code, "{body}");
        assert_eq!(diagnostics(&body), expected);
    }
    // Not JSON of any kind, and the wrong media type.
    let clin = token(Persona::Clinician);
    let (status, _, body) = send(&app, "{".into(), "application/json", "", &clin, &rid()).await;
    assert_eq!(
        (status, spine_code(&body)),
        (400, "INVALID_CREATE"),
        "{body}"
    );
    let body = registration().to_string();
    let (status, _, answer) = send(&app, body, "text/plain", "", &clin, &rid()).await;
    assert_eq!(
        (status, spine_code(&answer)),
        (400, "UNSUPPORTED_SERVICE"),
        "{answer}"
    );
    let (status, _, answer) = register(&app, &registration(), "?bananas=1").await;
    assert_eq!(
        (status, spine_code(&answer)),
        (400, "ADDITIONAL_PROPERTIES"),
        "{answer}"
    );
    assert_eq!(rows(&app), before);
}

/// The baby recorded as dead at birth with `status` (2: formal), and the
/// delivery `delivery` (1: live, 2–4: still).
fn died(delivery: &str, status: &str) -> Value {
    with(|v| {
        let baby = &mut v["entry"][0]["resource"];
        baby["deceasedDateTime"] = json!("2026-11-28T09:42:00+00:00");
        baby["extension"][2]["extension"][0]["valueCodeableConcept"]["coding"][0] = json!({
            "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus",
            "code": status
        });
        v["entry"][2]["resource"]["valueCodeableConcept"]["coding"][0]["code"] = json!(delivery);
    })
}

#[tokio::test]
async fn a_vital_status_that_contradicts_the_delivery_is_refused() {
    let app = TestApp::spawn().await;
    let before = rows(&app);
    let still_alive = with(|v| {
        v["entry"][2]["resource"]["valueCodeableConcept"]["coding"][0]["code"] = json!("3");
    });
    for body in [died("1", "2"), died("2", "1"), still_alive] {
        let (status, _, answer) = register(&app, &body, "").await;
        assert_eq!(status, 400, "{answer}");
        // The PDS body (sandbox stub INSERT_BIRTH_DEATH_STATUS_INCONSISTENT.json).
        assert_eq!(
            answer,
            json!({
                "resourceType": "OperationOutcome",
                "issue": [{
                    "severity": "error",
                    "code": "processing",
                    "details": {"coding": [{
                        "system": "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode",
                        "version": "1",
                        "code": "INSERT_BIRTH_DEATH_STATUS_INCONSISTENT",
                        "display": "INSERT_BIRTH_DEATH_STATUS_INCONSISTENT"
                    }]},
                    "diagnostics": "Insert Birth - Death Status Inconsistent"
                }]
            })
        );
    }
    assert_eq!(rows(&app), before);
}

#[tokio::test]
async fn a_still_birth_is_registered_as_a_formal_death() {
    let app = TestApp::spawn().await;
    let (status, _, baby) = register(&app, &died("2", "2"), "").await;
    assert_eq!(status, 201, "{baby}");
    assert_eq!(baby["deceasedDateTime"], "2026-11-28T09:42:00+00:00");
    let notification = baby["extension"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["url"] == "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus"
        })
        .expect("a death notification");
    assert_eq!(
        notification["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "2"
    );
    let stored: Value = app
        .get(&format!("/Patient/{}", number_of(&baby)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored, baby);
}

#[tokio::test]
async fn only_healthcare_workers_who_may_create_can_register_births() {
    let app = TestApp::spawn().await;
    let before = rows(&app);
    for (who, t) in [
        ("application-restricted", token(Persona::App)),
        (
            "privileged-application-restricted",
            token(Persona::PrivilegedApp),
        ),
        ("patient-access", patient_token(MOTHER)),
    ] {
        let (status, _, body) = post_as(&app, &registration(), "", &t, &rid()).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(spine_code(&body), "INVALID_METHOD");
        assert_eq!(
            body["issue"][0]["details"]["coding"][0]["display"],
            format!("Cannot create resource with {who} access token")
        );
    }
    // A worker whose role may only view.
    let request_id = rid();
    let (status, _, body) = post_as(
        &app,
        &registration(),
        "",
        &token(Persona::Clerk),
        &request_id,
    )
    .await;
    assert_eq!(
        (status, spine_code(&body)),
        (403, "ACCESS_DENIED"),
        "{body}"
    );
    assert_eq!(
        app.audit_of(&request_id)[0].action.as_deref(),
        Some("birth")
    );
    assert_eq!(rows(&app), before);
}

#[tokio::test]
async fn a_retry_gets_the_same_baby_and_notification_id() {
    let app = TestApp::spawn().await;
    let clin = token(Persona::Clinician);
    let before = rows(&app);
    let id = rid();
    let (s1, h1, b1) = post_as(&app, &registration(), "", &clin, &id).await;
    let (s2, h2, b2) = post_as(&app, &registration(), "", &clin, &id).await;
    assert_eq!((s1, s2), (201, 201), "{b1} {b2}");
    assert_eq!(b1, b2);
    assert_eq!(h1["notification-id"], h2["notification-id"]);
    assert_eq!(h1["location"], h2["location"]);
    assert_eq!(rows(&app), (before.0 + 1, before.1 + 1));
    let audit = app.audit_of(&id);
    assert_eq!(audit[1].action.as_deref(), Some("birth-replay"));

    // Another birth gets another notification id.
    let (status, h3, _) = register(
        &app,
        &of_mother(sandbox::JAYNE_SMYTH),
        "?ignore_potential_matches=true",
    )
    .await;
    assert_eq!(status, 201);
    assert_ne!(h3["notification-id"], h1["notification-id"]);

    // The same id for a different request is refused.
    let (status, _, body) = post_as(&app, &died("2", "2"), "", &clin, &id).await;
    assert_eq!(
        (status, spine_code(&body)),
        (400, "INVALID_VALUE"),
        "{body}"
    );
    assert_eq!(rows(&app), (before.0 + 2, before.1 + 2));
}

#[tokio::test]
async fn the_baby_and_the_mothers_link_are_written_together_or_not_at_all() {
    let app = TestApp::spawn().await;
    let before = rows(&app);
    // Make the related-person insert fail, after the baby's.
    app.execute("ALTER TABLE related_people ADD CONSTRAINT refuse_all CHECK (false) NOT VALID");
    let id = rid();
    let clin = token(Persona::Clinician);
    let (status, _, body) = post_as(&app, &registration(), "", &clin, &id).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(rows(&app), before, "the baby was rolled back with the link");
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM idempotency_keys"),
        0,
        "no answer kept for a retry"
    );

    // Once the store accepts it, the same request creates both.
    app.execute("ALTER TABLE related_people DROP CONSTRAINT refuse_all");
    let (status, _, baby) = post_as(&app, &registration(), "", &clin, &id).await;
    assert_eq!(status, 201, "{baby}");
    assert_eq!(rows(&app), (before.0 + 1, before.1 + 1));
}

#[tokio::test]
async fn the_capability_statement_lists_the_operation() {
    let app = TestApp::spawn().await;
    let statement: Value = app.get("/metadata").await.json().await.unwrap();
    let operations = &statement["rest"][0]["resource"][0]["operation"];
    assert_eq!(
        operations[0]["name"], "process-birth-details",
        "{statement}"
    );
}

#[tokio::test]
async fn a_mother_known_by_a_superseded_number_is_related_by_her_current_one() {
    let app = TestApp::spawn().await;
    let (status, _, baby) = register(&app, &of_mother(sandbox::SUPERSEDED), "").await;
    assert_eq!(status, 201, "{baby}");
    let related: Value = app
        .get(&format!("/Patient/{}/RelatedPerson", number_of(&baby)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        related["entry"][0]["resource"]["patient"]["identifier"]["value"],
        sandbox::JANE_SMITH,
        "{related}"
    );
}

#[tokio::test]
async fn a_restricted_lookalike_stops_a_caller_who_may_not_see_whose_baby_it_is() {
    let app = TestApp::spawn().await;
    let (status, _, first) = register(&app, &registration(), "").await;
    assert_eq!(status, 201, "{first}");
    app.execute(&format!(
        "UPDATE patients SET security = 1 WHERE nhs_number = {}",
        number_of(&first)
    ));
    let other = of_mother(sandbox::JAYNE_SMYTH);
    let query = "?ignore_potential_matches=true";
    // Without sensitive access, the restricted baby's mother is hidden:
    // the lookalike stops the registration whoever its mother is.
    let (status, _, body) = register(&app, &other, query).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !diagnostics(&body).contains(first["id"].as_str().unwrap()),
        "{body}"
    );
    let (status, _, same) = register(&app, &registration(), query).await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(same, body, "the same answer for the same birth and another");
    // With it, another mother's baby is only a potential match.
    let sensitive = token(Persona::SensitiveClinician);
    let (status, _, body) = post_as(&app, &other, query, &sensitive, &rid()).await;
    assert_eq!(status, 201, "{body}");
}
