//! Every example request of the PDS OpenAPI document
//! (`personal-demographics.yaml`: the "Sandbox test scenarios" tables of
//! retrieve, search and update, the search parameters' `examples`, and the
//! PATCH request bodies in `components/examples/requests/PatientPatch/`),
//! walked on the seeded server as a healthcare worker would send it.
//!
//! Where the document contradicts itself or the sandbox's own bodies, the
//! sandbox's records win (README, "Where the documented examples
//! disagree"); the rows marked ≠ answer differently from the document, and
//! say why.
//!
//! Retrieve (`GET /Patient/{id}`):
//!
//! | request | documented answer | here |
//! |---|---|---|
//! | `9000000009` | 200, the full record | the sandbox body, field by field; telecom periods open-ended ≠ |
//! | `9000000025` | 200, restricted data removed | the sandbox body, field by field |
//! | `9000000033` | 200, minimal data | the sandbox body, field by field |
//! | `9111231130` | 404 | 404 `RESOURCE_NOT_FOUND` |
//! | `9000000000` | 400 | 400 `INVALID_RESOURCE_ID` |
//! | no `X-Request-ID` | 400 | 400 `MISSING_VALUE` |
//!
//! Search (`GET /Patient`; `Sm*` is sent as `Sm%2A`):
//!
//! | scenario | request | documented answer | here |
//! |---|---|---|---|
//! | phone & email positive | `family=Smith, gender=female, birthdate=eq2010-10-22, email=jane.smith@example.com, phone=01632960587` | one result | `9000000009` |
//! | phone & email negative | the same with `email=deb.trotter@example.com, phone=0121111111` | no results | none |
//! | wildcard | `family=Sm*, gender=female, birthdate=eq2010-10-22` | two results | ≠ three: `9000000009`, `9000000017`, and `9000000025` (Janet Smythe, born 2010-10-22 in the sandbox's record) |
//! | wildcard, email and phone | `family=Sm*, …, email=jane.smith@…, phone=01632960587` | one result | `9000000009` |
//! | limited results | the same with `_max-results=1` | one result | `9000000009` |
//! | date range | `family=Smith, gender=female, birthdate=ge2010-10-21, birthdate=le2010-10-23, email, phone` | one result | `9000000009` |
//! | fuzzy, phone and email | `family=Smith, given=Jane, gender=female, birthdate=eq2010-10-22, email, phone, _fuzzy-match=true` | one result (sandbox: `9000000009`) | `9000000009` once a supplied email or phone that differs excludes a fuzzy match (ignored test until then) |
//! | fuzzy, no phone or email | `family=Smith, given=Jane, gender=female, birthdate=eq2010-10-22, _fuzzy-match=true` | one result (sandbox: `9000000017` alone) | ≠ every homophone, best first: `9000000009`, `9000000017`, `9000000025` |
//! | restricted | `family=Smythe, given=Janet, gender=female, birthdate=eq2005-06-16, email=janet.smythe@…, phone` | one result, restricted data omitted | ≠ none (her record says 2010-10-22); with `eq2010-10-22` `9000000025`, redacted, for a caller who may see her telecoms; nobody for one who may not |
//! | compound name | `family=Smith, given=John Paul, given=James, gender=male, birthdate=eq2010-10-22, email=johnp.smith@…, phone` | one result (`9000000015`) | `9000000157` (`9000000015` fails the check digit) |
//! | unsuccessful search | any other valid search | 200, a sandbox-only warning | 200 with what matches (here none) |
//! | valid/invalid criteria | `family=Sm*, gender=female, invalidParam=123, birthdate, email, phone` | 400 | 400 `ADDITIONAL_PROPERTIES` |
//! | email/phone only | `email=j.smith@example.com, phone=0163` | 400 | 400 `MISSING_VALUE` |
//! | invalid date format | `birthdate` or `death-date` not `YYYY-MM-DD` | 400 | 400 `INVALID_VALUE` |
//! | too few parameters | an invalid combination; none at all | 400 | 400 `INVALID_SEARCH_DATA`; `UNSUPPORTED_SERVICE` |
//! | missing `X-Request-ID` | a valid search | 400 | 400 `MISSING_VALUE` |
//!
//! Search parameter examples:
//!
//! | parameter | example | documented answer | here |
//! |---|---|---|---|
//! | `family` | `Sm*t*` | matches Smith, Smythe | `9000000009`, `9000000017`, `9000000157`, `9000000025` (with `birthdate=eq2010-10-22`) |
//! | `birthdate` | `ge2010-10-22`, `le2010-10-22` | include 2010-10-22 | `9000000009` (with `family=Smith, gender=female` and the other end of a short range) |
//! | `death-date` | `eq`, `ge`, `le2010-10-22` | include 2010-10-22 | `9000000009` |
//! | `address-postalcode`, `address-postcode` | `LS1 6AE`, `LS16AE`, `LS1*` | spaces ignored, a wildcard | Carol YOUDS `9000000106`, whose home address is current; Jane Smith's ended in 2021, so she is found by it only with `_history` |
//! | `general-practitioner` | `Y12345` | exact | `9000000009` |
//!
//! Update (`PATCH /Patient/9000000009`, `If-Match: W/"2"`, each on a fresh
//! copy of the seed; the document says the sandbox applies no business
//! rules, so its "200 with updated patient" holds here only where the rules
//! the same document lists allow it):
//!
//! | example | documented answer | here |
//! |---|---|---|
//! | `add-deceased-date-time` | 200 | 200, `deceasedDateTime` as sent |
//! | `add-name` | 200 | 200, the `old` name appended with an id of its own |
//! | `add-extension` (nominated pharmacy) | 200 | ≠ 400 `TOO_MANY_VALUES_SUBMITTED` (she has one); on `9000000033`, the patient the document names for adding, 400 `ADDITIONAL_PROPERTIES`: the identifier's `period` is not in the extension's schema; without it 200 |
//! | `update-gender` | 200 | 200, `male` |
//! | `update-address` | 200 | 200, line 1 and postcode replaced, other lines kept |
//! | `update-address-alternative` | 200 | ≠ 400 `INVALID_VALUE`: its PAF key `9876543` has 7 digits, the schema says 8; with `09876543` 200 |
//! | `update-extension` (informal death notification) | 200 | ≠ 403 `FORBIDDEN_UPDATE`: her notification is formal, which cannot be replaced |
//! | `delete-gender` | 200 | ≠ 403 `FORBIDDEN_UPDATE`: gender cannot be removed (as the sandbox's own demo) |
//! | `delete-name` | 200 | ≠ 403 `FORBIDDEN_UPDATE`: the usual name cannot be removed (as the sandbox's demo) |
//! | `delete-name-alternative` | 200 | ≠ 400 `INVALID_UPDATE`: its `test` value has suffix `MBE`, her record none; with her name as it is, 403 as `delete-name` |
//! | `delete-extension` (preferred dispenser) | 200 | 200, that extension gone, the other seven kept |
//!
//! Update scenarios: `9111231130` 404 `RESOURCE_NOT_FOUND`; `9000000000`
//! 400 `INVALID_RESOURCE_ID`; no `If-Match` 412 `PRECONDITION_FAILED`
//! (`If-Match: 2`, "set to format other than `W/"<version>"`", is
//! documented as 412 too but answered 400 `INVALID_VALUE` here: an ignored
//! test); `W/"1"` 409 `RESOURCE_VERSION_MISMATCH`; a content type not
//! `application/json…`, or none, 400 `UNSUPPORTED_SERVICE`; no `patches`
//! 400 `INVALID_UPDATE`; an invalid operation 400 `INVALID_VALUE`; no
//! `X-Request-ID` 400 `MISSING_VALUE`.

use crate::helpers::{TestApp, patch_as, rid, send_as, spine_code, token};
use pds::auth::personas::Persona;
use pds::seed::sandbox;
use reqwest::Method;
use serde_json::{Value, json};

// ---------------------------------------------------------------- retrieve

/// The sandbox's retrieve bodies (`sandbox-stubs/patientResponses/`).
const SANDBOX_9000000009: &str = include_str!("../fixtures/pds-sandbox/patient_9000000009.json");
const SANDBOX_9000000025: &str = include_str!("../fixtures/pds-sandbox/patient_9000000025.json");
const SANDBOX_9000000033: &str = include_str!("../fixtures/pds-sandbox/patient_9000000033.json");

/// Where `a` and `b` differ, as JSON pointers (empty when equal).
fn differences(a: &Value, b: &Value, at: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let path = format!("{at}/{key}");
                match (x.get(key), y.get(key)) {
                    (Some(l), Some(r)) => differences(l, r, &path, out),
                    (l, r) => out.push(format!("{path}: {l:?} against {r:?}")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (l, r)) in x.iter().zip(y).enumerate() {
                differences(l, r, &format!("{at}/{i}"), out);
            }
        }
        _ if a != b => out.push(format!("{at}: {a} against {b}")),
        _ => {}
    }
}

fn assert_same(ours: &Value, expected: &Value, what: &str) {
    let mut found = Vec::new();
    differences(ours, expected, "", &mut found);
    assert!(found.is_empty(), "{what} differs:\n{}", found.join("\n"));
}

#[tokio::test]
async fn retrieve_examples_answer_the_sandbox_bodies() {
    let app = TestApp::spawn().await;
    let mut jane: Value = serde_json::from_str(SANDBOX_9000000009).unwrap();
    // Our one change: her telecoms keep their start but have not ended, so
    // the documented phone and email searches find her (see the README).
    for telecom in jane["telecom"].as_array_mut().unwrap() {
        telecom["period"].as_object_mut().unwrap().remove("end");
    }
    let cases = [
        (sandbox::JANE_SMITH, jane),
        (
            sandbox::JANET_SMYTHE_RESTRICTED,
            serde_json::from_str(SANDBOX_9000000025).unwrap(),
        ),
        (
            sandbox::MINIMAL,
            serde_json::from_str(SANDBOX_9000000033).unwrap(),
        ),
    ];
    for (number, expected) in cases {
        let response = app.get(&format!("/Patient/{number}")).await;
        assert_eq!(response.status(), 200, "{number}");
        assert_eq!(response.headers()["etag"], "W/\"2\"", "{number}");
        let body: Value = response.json().await.unwrap();
        assert_same(&body, &expected, number);
    }

    for (path, status, code) in [
        ("/Patient/9111231130", 404, "RESOURCE_NOT_FOUND"),
        ("/Patient/9000000000", 400, "INVALID_RESOURCE_ID"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(spine_code(&body), code, "{path}");
    }
    let response = app
        .request(Method::GET, "/Patient/9000000009")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(spine_code(&body), "MISSING_VALUE");
}

// ------------------------------------------------------------------ search

#[derive(Debug, Clone, Copy)]
enum Answer {
    /// A searchset with these NHS numbers, in this order.
    Found(&'static [&'static str]),
    /// An OperationOutcome with this status and Spine code.
    Refused(u16, &'static str),
}
use Answer::{Found, Refused};

const JANE: &str = sandbox::JANE_SMITH;
const JAYNE: &str = sandbox::JAYNE_SMYTH;
const JANET: &str = sandbox::JANET_SMYTHE_RESTRICTED;
const JOHN_PAUL: &str = sandbox::JOHN_PAUL_SMITH;
const CAROL_YOUDS: &str = sandbox::YOUDS[2];

const CONTACT: &str = "email=jane.smith%40example.com&phone=01632960587";

/// The search examples: (scenario, query, who asks, answer).
fn search_examples() -> Vec<(&'static str, String, Persona, Answer)> {
    use Persona::{Clinician, SensitiveClinician};
    let smith = "family=Smith&gender=female&birthdate=eq2010-10-22";
    let wildcard = "family=Sm%2A&gender=female&birthdate=eq2010-10-22";
    let janet = "family=Smythe&given=Janet&gender=female";
    let janet_contact = "email=janet.smythe%40example.com&phone=01632960587";
    let youds = "family=YOUDS&birthdate=eq1970-01-24";
    vec![
        // The sandbox scenarios.
        (
            "phone & email positive",
            format!("{smith}&{CONTACT}"),
            Clinician,
            Found(&[JANE]),
        ),
        (
            "phone & email negative",
            format!("{smith}&email=deb.trotter%40example.com&phone=0121111111"),
            Clinician,
            Found(&[]),
        ),
        // ≠ two: Janet Smythe is born on 2010-10-22 in the sandbox's record.
        (
            "wildcard",
            wildcard.into(),
            Clinician,
            Found(&[JANE, JAYNE, JANET]),
        ),
        (
            "wildcard with email and phone",
            format!("{wildcard}&{CONTACT}"),
            Clinician,
            Found(&[JANE]),
        ),
        (
            "limited results",
            format!("{wildcard}&{CONTACT}&_max-results=1"),
            Clinician,
            Found(&[JANE]),
        ),
        (
            "date range",
            format!(
                "family=Smith&gender=female&birthdate=ge2010-10-21&birthdate=le2010-10-23&{CONTACT}"
            ),
            Clinician,
            Found(&[JANE]),
        ),
        // ≠ one: a fuzzy search finds every homophone, Jane Smith exactly.
        (
            "fuzzy without phone or email",
            "family=Smith&given=Jane&gender=female&birthdate=eq2010-10-22&_fuzzy-match=true".into(),
            Clinician,
            Found(&[JANE, JAYNE, JANET]),
        ),
        // ≠ one: her record says 2010-10-22.
        (
            "restricted, as documented",
            format!("{janet}&birthdate=eq2005-06-16&{janet_contact}"),
            SensitiveClinician,
            Found(&[]),
        ),
        (
            "restricted, on her birth date",
            format!("{janet}&birthdate=eq2010-10-22&{janet_contact}"),
            SensitiveClinician,
            Found(&[JANET]),
        ),
        // No oracle: her telecoms are hidden from this caller, so they
        // cannot be confirmed by a match.
        (
            "restricted, by a caller who may not see her telecoms",
            format!("{janet}&birthdate=eq2010-10-22&{janet_contact}"),
            Clinician,
            Found(&[]),
        ),
        (
            "restricted, on name and birth date",
            format!("{janet}&birthdate=eq2010-10-22"),
            Clinician,
            Found(&[JANET]),
        ),
        (
            "compound name",
            "family=Smith&given=John%20Paul&given=James&gender=male&birthdate=eq2010-10-22\
             &email=johnp.smith%40example.com&phone=01632960587"
                .into(),
            Clinician,
            Found(&[JOHN_PAUL]),
        ),
        (
            "unsuccessful search",
            "family=Bingham&given=John&gender=male&birthdate=1934-12-18".into(),
            Clinician,
            Found(&[]),
        ),
        (
            "valid/invalid search criteria",
            "family=Sm%2A&gender=female&invalidParam=123&birthdate=eq2010-10-22\
             &email=j.smith%40example.com&phone=0163"
                .into(),
            Clinician,
            Refused(400, "ADDITIONAL_PROPERTIES"),
        ),
        (
            "email and phone only",
            "email=j.smith%40example.com&phone=0163".into(),
            Clinician,
            Refused(400, "MISSING_VALUE"),
        ),
        (
            "invalid birth date format",
            "family=Smith&given=Jane&gender=female&birthdate=20101022".into(),
            Clinician,
            Refused(400, "INVALID_VALUE"),
        ),
        (
            "invalid death date format",
            "family=Smith&given=Jane&birthdate=2000-01-01&gender=female&death-date=20101022".into(),
            Clinician,
            Refused(400, "INVALID_VALUE"),
        ),
        (
            "too few search parameters",
            "birthdate=eq2010-10-22&gender=female".into(),
            Clinician,
            Refused(400, "INVALID_SEARCH_DATA"),
        ),
        (
            "no search parameters",
            String::new(),
            Clinician,
            Refused(400, "UNSUPPORTED_SERVICE"),
        ),
        // The parameters' examples.
        (
            "family Sm*t*",
            "family=Sm%2At%2A&birthdate=eq2010-10-22".into(),
            Clinician,
            Found(&[JANE, JAYNE, JOHN_PAUL, JANET]),
        ),
        // Each bounded on the other side too, to keep the synthetic
        // population's Smiths out.
        (
            "birthdate ge",
            "family=Smith&gender=female&birthdate=ge2010-10-22&birthdate=le2010-10-31".into(),
            Clinician,
            Found(&[JANE]),
        ),
        (
            "birthdate le",
            "family=Smith&gender=female&birthdate=le2010-10-22&birthdate=ge2010-10-01".into(),
            Clinician,
            Found(&[JANE]),
        ),
        (
            "death-date eq",
            format!("{smith}&death-date=eq2010-10-22"),
            Clinician,
            Found(&[JANE]),
        ),
        (
            "death-date ge",
            format!("{smith}&death-date=ge2010-10-22"),
            Clinician,
            Found(&[JANE]),
        ),
        (
            "death-date le",
            format!("{smith}&death-date=le2010-10-22"),
            Clinician,
            Found(&[JANE]),
        ),
        (
            "address-postalcode LS1 6AE",
            format!("{youds}&address-postalcode=LS1%206AE"),
            Clinician,
            Found(&[CAROL_YOUDS]),
        ),
        (
            "address-postalcode LS16AE",
            format!("{youds}&address-postalcode=LS16AE"),
            Clinician,
            Found(&[CAROL_YOUDS]),
        ),
        (
            "address-postalcode LS1*",
            format!("{youds}&address-postalcode=LS1%2A"),
            Clinician,
            Found(&[CAROL_YOUDS]),
        ),
        (
            "address-postcode LS1 6AE",
            format!("{youds}&address-postcode=LS1%206AE"),
            Clinician,
            Found(&[CAROL_YOUDS]),
        ),
        // Jane Smith's home address ended in 2021 in the sandbox's record.
        (
            "address-postalcode on an ended address",
            format!("{smith}&address-postalcode=LS16AE"),
            Clinician,
            Found(&[]),
        ),
        (
            "address-postalcode on an ended address, with history",
            format!("{smith}&address-postalcode=LS16AE&_history=true"),
            Clinician,
            Found(&[JANE]),
        ),
        (
            "general-practitioner",
            format!("{smith}&general-practitioner=Y12345"),
            Clinician,
            Found(&[JANE]),
        ),
    ]
}

async fn search_as(app: &TestApp, query: &str, persona: Persona) -> (u16, Value) {
    let (status, _, body) = send_as(
        app,
        Method::GET,
        &format!("/Patient?{query}"),
        &token(persona),
        &rid(),
        &[],
        None,
    )
    .await;
    (status, body)
}

fn numbers(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|e| e["resource"]["id"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn check_search(
    app: &TestApp,
    scenario: &str,
    query: &str,
    persona: Persona,
    answer: Answer,
) {
    let (status, body) = search_as(app, query, persona).await;
    match answer {
        Found(expected) => {
            assert_eq!(status, 200, "{scenario}: {body}");
            assert_eq!(body["resourceType"], "Bundle", "{scenario}: {body}");
            assert_eq!(numbers(&body), expected, "{scenario}");
            assert_eq!(body["total"], expected.len(), "{scenario}");
        }
        Refused(expected_status, code) => {
            assert_eq!(status, expected_status, "{scenario}: {body}");
            assert_eq!(spine_code(&body), code, "{scenario}: {body}");
        }
    }
}

#[tokio::test]
async fn search_examples_give_the_documented_results() {
    let app = TestApp::spawn().await;
    for (scenario, query, persona, answer) in search_examples() {
        check_search(&app, scenario, &query, persona, answer).await;
    }
    // The restricted example's answer is redacted, as documented.
    let (_, body) = search_as(
        &app,
        "family=Smythe&given=Janet&gender=female&birthdate=eq2010-10-22\
         &email=janet.smythe%40example.com&phone=01632960587",
        Persona::SensitiveClinician,
    )
    .await;
    let janet = &body["entry"][0]["resource"];
    assert_eq!(janet["meta"]["security"][0]["code"], "R", "{body}");
    for hidden in ["address", "telecom", "contact", "generalPractitioner"] {
        assert!(janet.get(hidden).is_none(), "{hidden}: {body}");
    }
    // The wildcard example with `_max-results=1` but no phone or email is
    // too many (the sandbox's own answer too).
    check_search(
        &app,
        "wildcard with one result allowed",
        "family=Sm%2A&gender=female&birthdate=eq2010-10-22&_max-results=1",
        Persona::Clinician,
        Refused(200, "TOO_MANY_MATCHES"),
    )
    .await;
    // Missing X-Request-ID.
    let response = app
        .request(
            Method::GET,
            "/Patient?family=Smith&gender=female&birthdate=eq2010-10-22",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(spine_code(&body), "MISSING_VALUE");
}

#[tokio::test]
#[ignore = "needs the fuzzy exclusion of a supplied email or phone that does not match \
            (score.rs, being changed by the fuzzy-search helper of issue 15): today Jayne \
            Smyth and Janet Smythe are returned too"]
async fn fuzzy_search_with_phone_and_email_finds_jane_smith_alone() {
    let app = TestApp::spawn().await;
    check_search(
        &app,
        "fuzzy with phone and email",
        &format!(
            "family=Smith&given=Jane&gender=female&birthdate=eq2010-10-22&{CONTACT}&_fuzzy-match=true"
        ),
        Persona::Clinician,
        Found(&[JANE]),
    )
    .await;
}

// ------------------------------------------------------------------ update

/// The PATCH examples of `components/examples/requests/PatientPatch/`.
mod bodies {
    use serde_json::{Value, json};

    pub const DEATH: &str =
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus";
    pub const PHARMACY: &str =
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NominatedPharmacy";
    pub const DISPENSER: &str = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-PreferredDispenserOrganization";

    pub fn add_deceased_date_time() -> Value {
        json!({"patches": [{"op": "add", "path": "/deceasedDateTime",
            "value": "2010-10-22T00:00:00+00:00"}]})
    }

    pub fn added_name() -> Value {
        json!({"use": "old", "period": {"start": "2019-12-31"}, "prefix": ["Dr"],
            "given": ["Joe", "Horation", "Maximus"], "family": "Bloggs", "suffix": ["PhD"]})
    }

    pub fn add_name() -> Value {
        json!({"patches": [{"op": "add", "path": "/name/-", "value": added_name()}]})
    }

    /// The nominated pharmacy, with the example's identifier `period` or
    /// without it.
    pub fn add_extension(period: bool) -> Value {
        let mut identifier = json!({
            "system": "https://fhir.nhs.uk/Id/ods-organization-code",
            "value": "Y12345"});
        if period {
            identifier["period"] = json!({"start": "2020-01-01", "end": "2021-12-31"});
        }
        json!({"patches": [{"op": "add", "path": "/extension/-", "value": {
            "url": PHARMACY, "valueReference": {"identifier": identifier}}}]})
    }

    pub fn update_gender() -> Value {
        json!({"patches": [{"op": "replace", "path": "/gender", "value": "male"}]})
    }

    pub fn update_address() -> Value {
        json!({"patches": [
            {"op": "replace", "path": "/address/0/id", "value": "456"},
            {"op": "replace", "path": "/address/0/line/0", "value": "2 Whitehall Quay"},
            {"op": "replace", "path": "/address/0/postalCode", "value": "LS1 4BU"}]})
    }

    /// The whole-address replacement, with this PAF key.
    pub fn replaced_address(paf: &str) -> Value {
        json!({"id": "456", "period": {"start": "2020-01-01", "end": "2021-12-31"},
            "use": "home", "line": ["2 Whitehall Quay", "Leeds", "West Yorkshire"],
            "postalCode": "LS1 4BU",
            "extension": [{
                "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey",
                "extension": [
                    {"url": "type", "valueCoding": {
                        "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-AddressKeyType",
                        "code": "PAF"}},
                    {"url": "value", "valueString": paf}]}]})
    }

    pub fn update_address_alternative(paf: &str) -> Value {
        json!({"patches": [{"op": "replace", "path": "/address/0", "value": replaced_address(paf)}]})
    }

    pub fn update_extension() -> Value {
        json!({"patches": [{"op": "replace", "path": "/extension/3", "value": {
            "url": DEATH,
            "extension": [{"url": "deathNotificationStatus", "valueCodeableConcept": {
                "coding": [{
                    "system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus",
                    "version": "1.0.0", "code": "1",
                    "display": "Informal - death notice received via an update from a local NHS Organisation such as GP or Trust"}]}}]}}]})
    }

    pub fn delete_gender() -> Value {
        json!({"patches": [{"op": "remove", "path": "/gender"}]})
    }

    pub fn delete_name() -> Value {
        json!({"patches": [
            {"op": "test", "path": "/name/0/id", "value": "123"},
            {"op": "remove", "path": "/name/0"}]})
    }

    /// The name-object form, testing the name with these suffixes (none:
    /// no `suffix` at all, as her record has it).
    pub fn delete_name_alternative(suffix: &[&str]) -> Value {
        let mut name = json!({
            "id": "123", "use": "usual",
            "period": {"start": "2020-01-01", "end": "2021-12-31"},
            "given": ["Jane"], "family": "Smith", "prefix": ["Mrs"]});
        if !suffix.is_empty() {
            name["suffix"] = json!(suffix);
        }
        json!({"patches": [
            {"op": "test", "path": "/name/0", "value": name},
            {"op": "remove", "path": "/name/0"}]})
    }

    pub fn delete_extension() -> Value {
        json!({"patches": [
            {"op": "test", "path": "/extension/1/url", "value": DISPENSER},
            {"op": "remove", "path": "/extension/1"}]})
    }
}

/// What one update example should leave.
enum Outcome {
    /// 200; the check runs on the answered (and then stored) record.
    Updated(fn(&Value)),
    Refused(u16, &'static str),
}

fn urls(p: &Value) -> Vec<String> {
    p["extension"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|x| x["url"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn update_examples() -> Vec<(&'static str, &'static str, Value, Outcome)> {
    use Outcome::{Refused, Updated};
    let jane = sandbox::JANE_SMITH;
    vec![
        (
            "add-deceased-date-time",
            jane,
            bodies::add_deceased_date_time(),
            Updated(|p| assert_eq!(p["deceasedDateTime"], "2010-10-22T00:00:00+00:00")),
        ),
        (
            "add-name",
            jane,
            bodies::add_name(),
            Updated(|p| {
                let names = p["name"].as_array().unwrap();
                assert_eq!(names.len(), 2, "{p}");
                assert_eq!(names[0]["id"], "123");
                let mut added = names[1].clone();
                let id = added.as_object_mut().unwrap().remove("id");
                // The id is the server's: present and new.
                assert!(
                    id.as_ref()
                        .and_then(Value::as_str)
                        .is_some_and(|i| !i.is_empty() && i != "123"),
                    "{id:?}"
                );
                assert_eq!(added, bodies::added_name());
            }),
        ),
        (
            "add-extension",
            jane,
            bodies::add_extension(true),
            Refused(400, "TOO_MANY_VALUES_SUBMITTED"),
        ),
        (
            "add-extension on the minimal patient",
            sandbox::MINIMAL,
            bodies::add_extension(true),
            Refused(400, "ADDITIONAL_PROPERTIES"),
        ),
        (
            "add-extension on the minimal patient, without the identifier period",
            sandbox::MINIMAL,
            bodies::add_extension(false),
            Updated(|p| {
                assert_eq!(urls(p), [bodies::PHARMACY]);
                let identifier = &p["extension"][0]["valueReference"]["identifier"];
                assert_eq!(
                    identifier,
                    &json!({"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "Y12345"})
                );
            }),
        ),
        (
            "update-gender",
            jane,
            bodies::update_gender(),
            Updated(|p| assert_eq!(p["gender"], "male")),
        ),
        (
            "update-address",
            jane,
            bodies::update_address(),
            Updated(|p| {
                let home = &p["address"][0];
                assert_eq!(home["id"], "456");
                assert_eq!(
                    home["line"],
                    json!([
                        "2 Whitehall Quay",
                        "Boar Lane",
                        "City Centre",
                        "Leeds",
                        "West Yorkshire"
                    ])
                );
                assert_eq!(home["postalCode"], "LS1 4BU");
                assert_eq!(p["address"][1]["id"], "T456");
            }),
        ),
        (
            "update-address-alternative",
            jane,
            bodies::update_address_alternative("9876543"),
            Refused(400, "INVALID_VALUE"),
        ),
        (
            "update-address-alternative with an 8-digit PAF key",
            jane,
            bodies::update_address_alternative("09876543"),
            Updated(|p| {
                assert_eq!(p["address"][0], bodies::replaced_address("09876543"));
                assert_eq!(p["address"][1]["id"], "T456");
            }),
        ),
        (
            "update-extension",
            jane,
            bodies::update_extension(),
            Refused(403, "FORBIDDEN_UPDATE"),
        ),
        (
            "delete-gender",
            jane,
            bodies::delete_gender(),
            Refused(403, "FORBIDDEN_UPDATE"),
        ),
        (
            "delete-name",
            jane,
            bodies::delete_name(),
            Refused(403, "FORBIDDEN_UPDATE"),
        ),
        (
            "delete-name-alternative",
            jane,
            bodies::delete_name_alternative(&["MBE"]),
            Refused(400, "INVALID_UPDATE"),
        ),
        (
            "delete-name-alternative on her name as it is",
            jane,
            bodies::delete_name_alternative(&[]),
            Refused(403, "FORBIDDEN_UPDATE"),
        ),
        (
            "delete-extension",
            jane,
            bodies::delete_extension(),
            Updated(|p| {
                let urls = urls(p);
                assert_eq!(urls.len(), 7, "{urls:?}");
                assert!(!urls.iter().any(|u| u == bodies::DISPENSER), "{urls:?}");
                assert_eq!(urls[0], bodies::PHARMACY);
                assert_eq!(urls[2], bodies::DEATH);
            }),
        ),
    ]
}

#[tokio::test]
async fn update_examples_give_the_documented_results() {
    let clinician = token(Persona::Clinician);
    for (example, number, body, outcome) in update_examples() {
        // Each on a fresh copy of the seed, at version 2 as documented.
        let app = TestApp::spawn().await;
        let path = format!("/Patient/{number}");
        let (status, etag, answer) =
            patch_as(&app, &path, "W/\"2\"", &body, &clinician, &rid()).await;
        let (_, _, stored) = send_as(&app, Method::GET, &path, &clinician, &rid(), &[], None).await;
        match outcome {
            Outcome::Updated(check) => {
                assert_eq!(status, 200, "{example}: {answer}");
                assert_eq!(etag.as_deref(), Some("W/\"3\""), "{example}");
                assert_eq!(answer["meta"]["versionId"], "3", "{example}");
                check(&answer);
                // What was answered is what is kept.
                assert_eq!(stored, answer, "{example}");
            }
            Outcome::Refused(expected, code) => {
                assert_eq!(status, expected, "{example}: {answer}");
                assert_eq!(spine_code(&answer), code, "{example}: {answer}");
                assert_eq!(stored["meta"]["versionId"], "2", "{example}: unchanged");
            }
        }
    }
}

/// (scenario, path, headers, body, status, Spine code).
type UpdateScenario = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
    Value,
    u16,
    &'static str,
);

#[tokio::test]
async fn update_scenarios_give_the_documented_errors() {
    let app = TestApp::spawn().await;
    let clinician = token(Persona::Clinician);
    let gender = bodies::update_gender();
    let json_patch = ("Content-Type", "application/json-patch+json");
    let cases: Vec<UpdateScenario> = vec![
        (
            "patient does not exist",
            "/Patient/9111231130",
            vec![("If-Match", "W/\"2\""), json_patch],
            gender.clone(),
            404,
            "RESOURCE_NOT_FOUND",
        ),
        (
            "invalid NHS number",
            "/Patient/9000000000",
            vec![("If-Match", "W/\"2\""), json_patch],
            gender.clone(),
            400,
            "INVALID_RESOURCE_ID",
        ),
        (
            "missing resource version identifier",
            "/Patient/9000000009",
            vec![json_patch],
            gender.clone(),
            412,
            "PRECONDITION_FAILED",
        ),
        (
            "incorrect resource version",
            "/Patient/9000000009",
            vec![("If-Match", "W/\"1\""), json_patch],
            gender.clone(),
            409,
            "RESOURCE_VERSION_MISMATCH",
        ),
        (
            "wrong content type",
            "/Patient/9000000009",
            vec![
                ("If-Match", "W/\"2\""),
                ("Content-Type", "application/bananas"),
            ],
            gender.clone(),
            400,
            "UNSUPPORTED_SERVICE",
        ),
        (
            "no content type",
            "/Patient/9000000009",
            vec![("If-Match", "W/\"2\"")],
            gender.clone(),
            400,
            "UNSUPPORTED_SERVICE",
        ),
        (
            "no patches sent",
            "/Patient/9000000009",
            vec![("If-Match", "W/\"2\""), json_patch],
            json!({}),
            400,
            "INVALID_UPDATE",
        ),
        (
            "invalid patch operations",
            "/Patient/9000000009",
            vec![("If-Match", "W/\"2\""), json_patch],
            json!({"patches": [{"op": "bogus", "path": "/gender", "value": "male"}]}),
            400,
            "INVALID_VALUE",
        ),
    ];
    for (scenario, path, headers, body, status, code) in cases {
        let (got, _, answer) = send_as(
            &app,
            Method::PATCH,
            path,
            &clinician,
            &rid(),
            &headers,
            Some(&body),
        )
        .await;
        assert_eq!(got, status, "{scenario}: {answer}");
        assert_eq!(spine_code(&answer), code, "{scenario}: {answer}");
    }
    let response = app
        .request(Method::PATCH, "/Patient/9000000009")
        .header("If-Match", "W/\"2\"")
        .header("Content-Type", "application/json-patch+json")
        .body(gender.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "missing X-Request-ID");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(spine_code(&answer), "MISSING_VALUE");
    // None of them changed her.
    let (_, etag, _) = send_as(
        &app,
        Method::GET,
        "/Patient/9000000009",
        &clinician,
        &rid(),
        &[],
        None,
    )
    .await;
    assert_eq!(etag.as_deref(), Some("W/\"2\""));
}

#[tokio::test]
#[ignore = "needs a decision: the PDS document answers an If-Match 'set to format other \
            than W/\"<version>\"' with 412, like a missing one; this server answers 400 \
            INVALID_VALUE by design (openapi.yaml, IfMatch)"]
async fn a_malformed_if_match_is_a_failed_precondition() {
    let app = TestApp::spawn().await;
    let (status, _, answer) = patch_as(
        &app,
        "/Patient/9000000009",
        "2",
        &bodies::update_gender(),
        &token(Persona::Clinician),
        &rid(),
    )
    .await;
    assert_eq!(status, 412, "{answer}");
    assert_eq!(spine_code(&answer), "PRECONDITION_FAILED");
}
