//! `POST /Patient`: create a patient and allocate an NHS number.

use crate::helpers::{TestApp, patient_token, settings, spine_code, token};
use diesel::RunQueryDsl;
use pds::auth::personas::Persona;
use pds::domain::{NhsNumber, Patient};
use pds::seed::sandbox;
use pds::store::allocate::{AllocationRange, DEFAULT_RANGE};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;

const REGISTERING_AUTHORITY: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-RegisteringAuthority";

fn rid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A PatientCreateRequest in the shape of the PDS examples.
pub fn person(family: &str, given: &[&str], birth: &str, gender: &str, postcode: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "name": [{
            "use": "usual",
            "given": given,
            "family": family,
            "prefix": ["Mrs"],
            "period": {"start": "1986-07-01"}
        }],
        "gender": gender,
        "birthDate": birth,
        "address": [{
            "use": "home",
            "line": ["1 Trevelyan Square", "Boar Lane", "City Centre", "Leeds", "West Yorkshire"],
            "postalCode": postcode,
            "period": {"start": "2020-01-01"},
            "extension": [{
                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
                "extension": [
                    {"url": "type", "valueCoding": {
                        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                        "code": "UPRN"}},
                    {"url": "value", "valueString": "203700882517"}
                ]
            }]
        }],
        "telecom": [{
            "use": "home",
            "system": "phone",
            "value": "01632960587",
            "period": {"start": "2020-01-02", "end": "2021-01-02"}
        }],
        "extension": [{
            "url": REGISTERING_AUTHORITY,
            "extension": [
                {"url": "registeringAuthorityType", "valueCodeableConcept": {"coding": [{
                    "system": "https://fhir.nhs.uk/CodeSystem/UKCore-RegisteringAuthorityType",
                    "code": "x"}]}},
                {"url": "organisationIdentifier", "valueString": "RGS"}
            ]
        }]
    })
}

/// Jane Edwards, the PDS example of a new patient.
fn jane_edwards() -> Value {
    person("Edwards", &["Jane"], "1982-07-10", "female", "LS1 6AE")
}

async fn post_raw(
    app: &TestApp,
    body: String,
    content_type: &str,
    t: &str,
    request_id: &str,
) -> (u16, HeaderMap, Value) {
    let response = app
        .client
        .request(Method::POST, app.url("/Patient"))
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

async fn post(app: &TestApp, body: &Value, t: &str, request_id: &str) -> (u16, HeaderMap, Value) {
    post_raw(app, body.to_string(), "application/json", t, request_id).await
}

async fn create(app: &TestApp, body: &Value) -> (u16, HeaderMap, Value) {
    post(app, body, &token(Persona::Clinician), &rid()).await
}

fn number_of(body: &Value) -> NhsNumber {
    NhsNumber::parse(body["id"].as_str().expect("an id")).expect("a valid NHS number")
}

fn in_range(n: NhsNumber) -> bool {
    (DEFAULT_RANGE.first()..=DEFAULT_RANGE.last()).contains(&n.as_u64())
}

/// The first `count` numbers the default range hands out in an empty range.
fn first_numbers(count: usize) -> Vec<NhsNumber> {
    (DEFAULT_RANGE.first() / 10..)
        .filter_map(NhsNumber::from_stem)
        .take(count)
        .collect()
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn count(app: &TestApp, sql: &str) -> i64 {
    let mut conn = app.database.as_ref().unwrap().connect();
    diesel::sql_query(sql).load::<Count>(&mut conn).unwrap()[0].n
}

fn patients(app: &TestApp) -> i64 {
    count(app, "SELECT count(*) AS n FROM patients")
}

fn diagnostics(body: &Value) -> &str {
    body["issue"][0]["diagnostics"].as_str().unwrap_or("<none>")
}

#[tokio::test]
async fn a_new_patient_gets_a_fresh_number_and_version_one() {
    let app = TestApp::spawn().await;
    let (status, headers, body) = create(&app, &jane_edwards()).await;
    assert_eq!(status, 201, "{body}");
    let n = number_of(&body);
    assert!(in_range(n), "{n}");
    assert_eq!(headers["content-type"], "application/fhir+json");
    assert_eq!(headers["etag"], "W/\"1\"");
    let location = headers["location"].to_str().unwrap();
    assert!(location.ends_with(&format!("/Patient/{n}")), "{location}");

    assert_eq!(body["resourceType"], "Patient");
    assert_eq!(body["identifier"][0]["value"], n.to_string());
    assert_eq!(
        body["identifier"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "01"
    );
    assert_eq!(body["meta"]["versionId"], "1");
    assert_eq!(body["meta"]["security"][0]["code"], "U");
    let name = &body["name"][0];
    assert!(name["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(name["use"], "usual");
    assert_eq!(name["given"], json!(["Jane"]));
    assert_eq!(name["family"], "Edwards");
    assert_eq!(name["prefix"], json!(["Mrs"]));
    assert_eq!(name["period"]["start"], "1986-07-01");
    assert_eq!(body["gender"], "female");
    assert_eq!(body["birthDate"], "1982-07-10");
    let address = &body["address"][0];
    assert!(address["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_ne!(address["id"], name["id"]);
    assert_eq!(address["line"].as_array().unwrap().len(), 5);
    assert_eq!(address["postalCode"], "LS1 6AE");
    assert!(body["telecom"][0]["id"].is_string());
    // Registering Authority is checked, not kept (PDS).
    assert!(body.get("extension").is_none(), "{body}");

    let stored = app.get(&format!("/Patient/{n}")).await;
    assert_eq!(stored.status(), 200);
    assert_eq!(stored.headers()["etag"], "W/\"1\"");
    let stored: Value = stored.json().await.unwrap();
    assert_eq!(stored, body);

    // Searchable at once, and a second create of the same person is a match.
    let found: Value = app
        .get("/Patient?family=Edwards&given=Jane&birthdate=eq1982-07-10")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["entry"][0]["resource"]["id"], n.to_string());
    let (status, _, again) = create(&app, &jane_edwards()).await;
    assert_eq!(status, 200);
    assert_eq!(spine_code(&again), "SINGLE_MATCH");
    assert!(diagnostics(&again).contains(&n.to_string()), "{again}");
}

#[tokio::test]
async fn fhir_json_is_accepted_too_and_other_content_types_are_not() {
    let app = TestApp::spawn().await;
    let clin = token(Persona::Clinician);
    let body = jane_edwards().to_string();
    for wrong in [
        "text/plain",
        "application/json-patch+json",
        "application/xml",
    ] {
        let (status, _, answer) = post_raw(&app, body.clone(), wrong, &clin, &rid()).await;
        assert_eq!(status, 400, "{wrong}");
        assert_eq!(spine_code(&answer), "UNSUPPORTED_SERVICE", "{wrong}");
    }
    let (status, _, answer) = post_raw(
        &app,
        body,
        "application/fhir+json; charset=utf-8",
        &clin,
        &rid(),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
}

#[tokio::test]
async fn an_existing_patients_demographics_answer_single_match() {
    let app = TestApp::spawn().await;
    let before = patients(&app);
    // Jayne Smyth (9000000017) resembles her too, but not closely enough.
    let (status, headers, body) = create(
        &app,
        &person("Smith", &["Jane"], "2010-10-22", "female", "LS1 6AE"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "application/fhir+json");
    assert_eq!(body["resourceType"], "OperationOutcome");
    let issue = &body["issue"][0];
    assert_eq!(issue["severity"], "error");
    assert_eq!(issue["code"], "value");
    assert_eq!(spine_code(&body), "SINGLE_MATCH");
    assert_eq!(
        issue["details"]["coding"][0]["display"],
        "Single match found"
    );
    assert_eq!(
        diagnostics(&body),
        format!(
            "Unable to create new patient. NHS number {} found for supplied demographic data.",
            sandbox::JANE_SMITH
        )
    );
    assert_eq!(patients(&app), before);
}

#[tokio::test]
async fn demographics_matching_several_patients_answer_multiple_matches() {
    let app = TestApp::spawn().await;
    let before = patients(&app);
    // The four YOUDS born 1970-01-24 have different given names; without
    // one, and without a known gender, Ann and Barry (both at DN17 4AB)
    // match equally well.
    let mut youds = person("YOUDS", &[], "1970-01-24", "unknown", "DN17 4AB");
    youds["name"][0].as_object_mut().unwrap().remove("given");
    let (status, _, body) = create(&app, &youds).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(spine_code(&body), "MULTIPLE_MATCHES");
    assert_eq!(body["issue"][0]["severity"], "error");
    assert_eq!(body["issue"][0]["code"], "value");
    assert_eq!(
        body["issue"][0]["details"]["coding"][0]["display"],
        "Multiple matches found"
    );
    assert_eq!(
        diagnostics(&body),
        "Unable to create new patient. Multiple matches found for supplied demographic data."
    );
    // A given name tells them apart.
    let (status, _, body) = create(
        &app,
        &person("Youds", &["Ann"], "1970-01-24", "female", "DN17 4AB"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(spine_code(&body), "SINGLE_MATCH");
    assert!(diagnostics(&body).contains(sandbox::YOUDS[0]), "{body}");
    assert_eq!(patients(&app), before);
}

#[tokio::test]
async fn invalid_requests_get_the_pds_codes_and_paths() {
    let app = TestApp::spawn().await;
    let before = patients(&app);
    let edited = |edit: &dyn Fn(&mut Value)| {
        let mut v = jane_edwards();
        edit(&mut v);
        v
    };
    let remove = |v: &mut Value, pointer: &str, key: &str| {
        v.pointer_mut(pointer)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(key);
    };
    let cases: Vec<(Value, &str, String)> = vec![
        (
            json!({"bananas": "in pyjamas"}),
            "MISSING_VALUE",
            "Missing value - 'name'".into(),
        ),
        (
            edited(&|v| remove(v, "", "address")),
            "MISSING_VALUE",
            "Missing value - 'address'".into(),
        ),
        (
            edited(&|v| remove(v, "", "gender")),
            "MISSING_VALUE",
            "Missing value - 'gender'".into(),
        ),
        (
            edited(&|v| remove(v, "", "birthDate")),
            "MISSING_VALUE",
            "Missing value - 'birthDate'".into(),
        ),
        (
            edited(&|v| remove(v, "/address/0", "period")),
            "MISSING_VALUE",
            "Missing value - 'address/0/period'".into(),
        ),
        (
            edited(&|v| remove(v, "/address/0/extension/0", "extension")),
            "MISSING_VALUE",
            "Missing value - 'address/0/extension/0/extension'".into(),
        ),
        (
            edited(&|v| v["name"][0]["given"] = json!("not an array")),
            "INVALID_VALUE",
            "Invalid value - 'not an array' in field 'name/0/given'".into(),
        ),
        (
            edited(&|v| v["address"][0] = json!("1 Road")),
            "INVALID_VALUE",
            "Invalid value - '1 Road' in field 'address/0'".into(),
        ),
        (
            edited(&|v| v["gender"] = json!("other")),
            "INVALID_VALUE",
            "Invalid value - 'other' in field 'gender'".into(),
        ),
        (
            edited(&|v| v["birthDate"] = json!("not-a-date")),
            "INVALID_VALUE",
            "Invalid value - 'not-a-date' in field 'birthDate'".into(),
        ),
        (
            edited(&|v| v["name"][0]["given"] = json!(["One", "Two", "Three", "Four", "Five", "six"])),
            "TOO_MANY_VALUES_SUBMITTED",
            "Too many values submitted - ['One', 'Two', 'Three', 'Four', 'Five', 'six'] in field 'name/0/given'".into(),
        ),
        (
            edited(&|v| v["address"][0]["line"] = json!(["1 Road", "", "Leeds"])),
            "INVALID_CREATE",
            "Invalid patient create data provided - 'address lines 1 and 4 or 2 and 4 must be completed as a minimum'".into(),
        ),
        (
            edited(&|v| {
                v["telecom"] = json!([{"system": "email", "value": "jane.example.com", "use": "home"}])
            }),
            "INVALID_CREATE",
            "Invalid patient create data provided - 'email format is invalid'".into(),
        ),
        (
            edited(&|v| v["name"][0]["period"]["end"] = json!("2020-01-01")),
            "INVALID_CREATE",
            "Invalid patient create data provided - 'An end date can not be provided on usual name'".into(),
        ),
        (
            edited(&|v| v["pets"] = json!("cat")),
            "ADDITIONAL_PROPERTIES",
            "Invalid request with error - Additional properties are not allowed ('pets' was unexpected)".into(),
        ),
    ];
    let clin = token(Persona::Clinician);
    for (body, code, expected) in cases {
        let (status, _, answer) = post(&app, &body, &clin, &rid()).await;
        assert_eq!(status, 400, "{expected}: {answer}");
        assert_eq!(spine_code(&answer), code, "{answer}");
        assert_eq!(diagnostics(&answer), expected);
        if code == "INVALID_CREATE" {
            assert_eq!(answer["issue"][0]["code"], "value");
            assert_eq!(
                answer["issue"][0]["details"]["coding"][0]["display"],
                "Patient create data is invalid"
            );
        }
    }
    let (status, _, answer) =
        post_raw(&app, "{not json".into(), "application/json", &clin, &rid()).await;
    assert_eq!(status, 400);
    assert_eq!(spine_code(&answer), "INVALID_CREATE");
    // Blank prefixes and suffixes are fine (PDS).
    let (status, _, answer) = create(
        &app,
        &edited(&|v| {
            v["name"][0]["family"] = json!("Blankfix");
            v["name"][0]["prefix"] = json!([""]);
            v["name"][0]["suffix"] = json!([""]);
        }),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(patients(&app), before + 1);
}

#[tokio::test]
async fn only_healthcare_workers_who_may_create_can() {
    let app = TestApp::spawn().await;
    let before = patients(&app);
    for (who, t) in [
        ("application-restricted", token(Persona::App)),
        (
            "privileged-application-restricted",
            token(Persona::PrivilegedApp),
        ),
        ("patient-access", patient_token("9000000017")),
    ] {
        let (status, _, body) = post(&app, &jane_edwards(), &t, &rid()).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(spine_code(&body), "INVALID_METHOD");
        assert_eq!(
            body["issue"][0]["details"]["coding"][0]["display"],
            format!("Cannot create resource with {who} access token")
        );
    }
    let (status, _, body) = post(&app, &jane_edwards(), &token(Persona::Clerk), &rid()).await;
    assert_eq!(status, 403);
    assert_eq!(spine_code(&body), "ACCESS_DENIED");
    assert_eq!(patients(&app), before);
}

#[tokio::test]
async fn a_retry_with_the_same_request_id_returns_the_same_patient() {
    let app = TestApp::spawn().await;
    let clin = token(Persona::Clinician);
    let before = patients(&app);
    let id = rid();
    let (s1, h1, b1) = post(&app, &jane_edwards(), &clin, &id).await;
    let (s2, h2, b2) = post(&app, &jane_edwards(), &clin, &id).await;
    assert_eq!((s1, s2), (201, 201), "{b1} {b2}");
    assert_eq!(b1, b2);
    assert_eq!(h1["location"], h2["location"]);
    assert_eq!(h2["etag"], "W/\"1\"");
    assert_eq!(patients(&app), before + 1);

    // Sent twice at once (a client retrying a request still in flight).
    let id = rid();
    let other = person("Fairweather", &["Tobias"], "1975-03-04", "male", "LS2 7EY");
    let (a, b) = tokio::join!(
        post(&app, &other, &clin, &id),
        post(&app, &other, &clin, &id)
    );
    assert_eq!((a.0, b.0), (201, 201), "{} {}", a.2, b.2);
    assert_eq!(number_of(&a.2), number_of(&b.2));
    assert_eq!(patients(&app), before + 2);

    // The same id for a different request is refused.
    let (status, _, body) = post(
        &app,
        &person("Ollerenshaw", &["Maud"], "1950-05-06", "female", "LS3 1AB"),
        &clin,
        &id,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(spine_code(&body), "INVALID_VALUE");
    assert_eq!(patients(&app), before + 2);
}

#[tokio::test]
async fn twenty_concurrent_creates_get_twenty_distinct_numbers() {
    let mut s = settings();
    s.pool_size = 4;
    s.db_wait = Duration::from_secs(20);
    s.workers = 2;
    let app = TestApp::spawn_with(s).await;
    let clin = token(Persona::Clinician);
    let given = [
        "Ada", "Basil", "Cora", "Dexter", "Edith", "Felix", "Greta", "Hugo", "Iris", "Jasper",
        "Kit", "Lorna", "Milo", "Nell", "Otto", "Pearl", "Quentin", "Rhoda", "Silas", "Thea",
    ];
    let bodies: Vec<Value> = given
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let birth = format!("1991-02-{:02}", i + 1);
            person("Paralleley", &[g], &birth, "unknown", "LS1 4AP")
        })
        .collect();
    let ids: Vec<String> = bodies.iter().map(|_| rid()).collect();
    let answers = futures_util::future::join_all(
        bodies
            .iter()
            .zip(&ids)
            .map(|(body, id)| post(&app, body, &clin, id)),
    )
    .await;
    let mut numbers = HashSet::new();
    for (status, _, body) in &answers {
        assert_eq!(*status, 201, "{body}");
        let n = number_of(body);
        assert!(in_range(n), "{n}");
        numbers.insert(n);
    }
    assert_eq!(numbers.len(), 20);
    // They are exactly the first twenty of the range, each stored once.
    let expected: HashSet<NhsNumber> = first_numbers(20).into_iter().collect();
    assert_eq!(numbers, expected);
    for n in &numbers {
        assert_eq!(app.get(&format!("/Patient/{n}")).await.status(), 200);
    }
}

#[tokio::test]
async fn a_failed_create_allocates_nothing() {
    let app = TestApp::spawn().await;
    let clin = token(Persona::Clinician);
    // Refused before, at and after matching.
    let (status, _, _) = post(&app, &json!({"bananas": 1}), &clin, &rid()).await;
    assert_eq!(status, 400);
    let (status, _, _) = create(
        &app,
        &person("Smith", &["Jane"], "2010-10-22", "female", "LS1 6AE"),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = post(&app, &jane_edwards(), &token(Persona::App), &rid()).await;
    assert_eq!(status, 403);
    let mut lines = jane_edwards();
    lines["address"][0]["line"] = json!(["", "", "", "Leeds"]);
    let (status, _, _) = post(&app, &lines, &clin, &rid()).await;
    assert_eq!(status, 400);

    let first = first_numbers(2);
    let (status, _, body) = create(&app, &jane_edwards()).await;
    assert_eq!(status, 201);
    assert_eq!(number_of(&body), first[0]);
    let (status, _, body) = create(
        &app,
        &person("Quennell", &["Rosalind"], "1964-09-12", "female", "YO1 7HH"),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(number_of(&body), first[1]);
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) AS n FROM patients WHERE nhs_number BETWEEN {} AND {}",
                DEFAULT_RANGE.first(),
                DEFAULT_RANGE.last()
            )
        ),
        2
    );
}

#[tokio::test]
async fn each_app_allocates_from_its_own_range_until_it_is_used_up() {
    // Two blocks of ten: at most two numbers (one check digit each).
    let range = AllocationRange::parse("9000004000-9000004019").unwrap();
    let mut s = settings();
    s.allocation_range = range;
    let app = TestApp::spawn_with(s).await;
    let expected: Vec<NhsNumber> = (range.first() / 10..=range.last() / 10)
        .filter_map(NhsNumber::from_stem)
        .collect();
    let people = [
        person("Quennell", &["Rosalind"], "1964-09-12", "female", "YO1 7HH"),
        person("Abernathy", &["Tobias"], "1975-03-04", "male", "EX1 1AA"),
        person("Okonkwo", &["Ifeoma"], "1988-11-30", "female", "M1 1AE"),
    ];
    let mut given = Vec::new();
    for body in &people[..expected.len()] {
        let (status, _, answer) = create(&app, body).await;
        assert_eq!(status, 201, "{answer}");
        given.push(number_of(&answer));
    }
    assert_eq!(given, expected);
    // The next create finds the range used up: 503, and nothing stored.
    let before = patients(&app);
    let (status, headers, body) = create(&app, &people[expected.len()]).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(spine_code(&body), "SERVICE_UNAVAILABLE");
    assert_eq!(body["issue"][0]["code"], "exception");
    assert!(diagnostics(&body).contains(&range.to_string()), "{body}");
    assert_eq!(headers.get("retry-after").unwrap(), "5");
    assert_eq!(patients(&app), before);
    // Another app of the same process still allocates from the default.
    let other = TestApp::spawn().await;
    let (status, _, answer) = create(&other, &people[expected.len()]).await;
    assert_eq!(status, 201, "{answer}");
    assert!(in_range(number_of(&answer)));
}

#[tokio::test]
async fn numbers_already_in_the_store_are_never_issued_again() {
    let app = TestApp::spawn().await;
    let first = first_numbers(3);
    // Loaded by some other route since.
    {
        let mut conn = app.database.as_ref().unwrap().connect();
        for n in &first[..2] {
            let row =
                pds::store::patients::PatientRow::from_patient(&Patient::minimal(*n, 1), None);
            pds::store::patients::insert(&mut conn, &[row], &[]).unwrap();
        }
    }
    let (status, _, body) = create(&app, &jane_edwards()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(number_of(&body), first[2]);
}

#[tokio::test]
async fn creates_are_audited_in_the_same_transaction() {
    let app = TestApp::spawn().await;
    let (status, _, body) = create(&app, &jane_edwards()).await;
    assert_eq!(status, 201);
    let n = number_of(&body);
    // No flush: the row was committed with the patient.
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) AS n FROM audit_trail WHERE action = 'create' AND status = 201 \
                 AND nhs_number = {n} AND level = 'demographics_update'"
            )
        ),
        1
    );
}

#[tokio::test]
async fn a_restricted_match_is_named_only_to_those_who_may_see_it_in_full() {
    let app = TestApp::spawn().await;
    let janet = person("Smythe", &["Janet"], "2010-10-22", "female", "LS1 6AE");
    // Refused, but without which, how many or where: the same answer at
    // the record's postcode and at any other.
    let mut answers = Vec::new();
    for postcode in ["LS1 6AE", "EX1 1AA"] {
        let someone = person("Smythe", &["Janet"], "2010-10-22", "female", postcode);
        let (status, _, body) = create(&app, &someone).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(spine_code(&body), "MULTIPLE_MATCHES", "{body}");
        assert!(
            !diagnostics(&body).contains(sandbox::JANET_SMYTHE_RESTRICTED),
            "{body}"
        );
        answers.push(body);
    }
    assert_eq!(answers[0], answers[1]);
    let (status, _, body) = post(&app, &janet, &token(Persona::SensitiveClinician), &rid()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(spine_code(&body), "SINGLE_MATCH");
    assert!(
        diagnostics(&body).contains(sandbox::JANET_SMYTHE_RESTRICTED),
        "{body}"
    );
}
