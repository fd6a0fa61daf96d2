//! What the policy configures per application (client id): confidential
//! removal reasons, empty address lines, the record-sharing consent, and
//! application-restricted updates.

use crate::helpers::{
    TestApp, dev_keys, patch_as, post_as, rid, seeded_database, send_as, settings, spine_code,
    token,
};
use pds::auth::personas::{self, Overrides, Persona};
use pds::domain::NhsNumber;
use pds::domain::codes::{RemovalReason, SharingConsent};
use pds::seed::apps::{ARMED_FORCES, armed_forces};
use pds::startup::Application;
use pds::store::patients::{self, PatientRow};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::PathBuf;

const APP_SCOPE: &str = "urn:nhsd:apim:app:level3:personal-demographics-service";
const REMOVAL: &str =
    "https://fhir.nhs.uk/StructureDefinition/Extension-PDS-RemovalFromRegistration";
const CONSENT: &str = "https://hl7.org/fhir/R4/consent.html";
const ABSENT: &str = "http://hl7.org/fhir/StructureDefinition/data-absent-reason";
const PATH: &str = "/Patient/9000000904";

/// The default policy with one client id for each flag.
fn policy_file() -> PathBuf {
    let mut doc: Value = serde_json::from_str(include_str!("../../policy/default.json")).unwrap();
    doc["applications"] = json!({
        "screening-app": {"confidential_removal_reasons": true},
        "lines-app": {"empty_address_lines": true},
        "consent-app": {"record_sharing_consent": true},
        "updater-app": {"update": true, "empty_address_lines": true},
    });
    write_policy(&doc)
}

fn write_policy(doc: &Value) -> PathBuf {
    let path = std::env::temp_dir().join(format!("pds-apps-policy-{}.json", rid()));
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

async fn spawn() -> TestApp {
    let mut s = settings();
    s.auth.policy_file = Some(policy_file());
    TestApp::spawn_with(s).await
}

/// An application-restricted token of `client_id`.
fn app_token(client_id: &str) -> String {
    dev_keys()
        .mint(&json!({"sub": client_id, "client_id": client_id, "scope": APP_SCOPE}))
        .unwrap()
}

/// A clinician (or patient) signed in through the application `client_id`.
fn through(persona: Persona, client_id: &str, o: &Overrides) -> String {
    let mut claims = personas::claims(persona, o).unwrap();
    claims["client_id"] = json!(client_id);
    dev_keys().mint(&claims).unwrap()
}

async fn get(app: &TestApp, path: &str, token: &str) -> Value {
    let (status, _, body) = send_as(app, Method::GET, path, token, &rid(), &[], None).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn extension<'a>(patient: &'a Value, url: &str) -> Option<&'a Value> {
    patient["extension"]
        .as_array()?
        .iter()
        .find(|e| e["url"] == url)
}

fn removal_code(patient: &Value) -> &str {
    extension(patient, REMOVAL).expect("a removal extension")["extension"][0]
        ["valueCodeableConcept"]["coding"][0]["code"]
        .as_str()
        .unwrap()
}

fn consent_code(patient: &Value) -> Option<&str> {
    extension(patient, CONSENT)?["extension"][1]["valueCodeableConcept"]["coding"][0]["code"]
        .as_str()
}

/// The seeded patient under another number, changed by `edit`: what the
/// API cannot write (the removal reason and consent are read-only).
fn insert_variant(app: &TestApp, number: &str, edit: impl FnOnce(&mut pds::domain::Patient)) {
    let mut p = armed_forces();
    p.nhs_number = NhsNumber::parse(number).unwrap();
    edit(&mut p);
    patients::insert(
        &mut app.connect(),
        &[PatientRow::from_patient(&p, None)],
        &[],
    )
    .unwrap();
}

const WRITTEN_LINES: [&str; 4] = [
    "Rose Cottage",
    "Scotton",
    "Catterick Garrison",
    "North Yorkshire",
];

fn assert_shown_with_empty_lines(patient: &Value) {
    let address = &patient["address"][0];
    assert_eq!(
        address["line"],
        json!([
            "Rose Cottage",
            null,
            "Scotton",
            "Catterick Garrison",
            "North Yorkshire"
        ]),
        "{patient}"
    );
    let absent = address["_line"].as_array().expect("a _line list");
    assert_eq!(absent.len(), 5);
    for (line, reason) in address["line"].as_array().unwrap().iter().zip(absent) {
        match line {
            Value::Null => {
                assert_eq!(reason["extension"][0]["url"], ABSENT);
                assert_eq!(reason["extension"][0]["valueCode"], "unknown");
            }
            _ => assert_eq!(reason, &Value::Null),
        }
    }
}

#[tokio::test]
async fn an_ordinary_application_sees_orr_no_empty_lines_and_no_consent() {
    let app = spawn().await;
    let tokens = [
        token(Persona::App),
        token(Persona::Clinician),
        app_token("unlisted-app"),
    ];
    for t in &tokens {
        let body = get(&app, PATH, t).await;
        assert_eq!(removal_code(&body), "ORR");
        assert_eq!(
            extension(&body, REMOVAL).unwrap()["extension"][0]["valueCodeableConcept"]["coding"][0]
                ["display"],
            "Other Reason"
        );
        assert_eq!(body["address"][0]["line"], json!(WRITTEN_LINES));
        assert!(body["address"][0].get("_line").is_none());
        assert_eq!(consent_code(&body), None);
    }
}

#[tokio::test]
async fn an_application_allowed_confidential_reasons_sees_afn_and_sdn_but_ldn_as_orr() {
    let app = spawn().await;
    insert_variant(&app, "9000000912", |p| {
        p.details.removal.as_mut().unwrap().reason = RemovalReason::ServicesDependant;
    });
    insert_variant(&app, "9000000920", |p| {
        p.details.removal.as_mut().unwrap().reason = RemovalReason::LogicalDeletion;
    });
    let screening = app_token("screening-app");
    let body = get(&app, PATH, &screening).await;
    assert_eq!(removal_code(&body), "AFN");
    assert_eq!(
        extension(&body, REMOVAL).unwrap()["extension"][0]["valueCodeableConcept"]["coding"][0]["display"],
        "Armed Forces (notified by Armed Forces)"
    );
    // Only that flag: no empty lines, no consent.
    assert_eq!(body["address"][0]["line"], json!(WRITTEN_LINES));
    assert_eq!(consent_code(&body), None);
    assert_eq!(
        removal_code(&get(&app, "/Patient/9000000912", &screening).await),
        "SDN"
    );
    // PDS shows a logical deletion as ORR even to these applications.
    assert_eq!(
        removal_code(&get(&app, "/Patient/9000000920", &screening).await),
        "ORR"
    );
    // The same application's clinicians see them too.
    let clinician = through(Persona::Clinician, "screening-app", &Overrides::default());
    assert_eq!(removal_code(&get(&app, PATH, &clinician).await), "AFN");
    assert_eq!(
        removal_code(&get(&app, "/Patient/9000000912", &token(Persona::App)).await),
        "ORR"
    );
}

#[tokio::test]
async fn an_application_allowed_empty_lines_gets_nulls_with_line_extensions_everywhere() {
    let app = spawn().await;
    let clinician = through(Persona::Clinician, "lines-app", &Overrides::default());
    let body = get(&app, PATH, &clinician).await;
    assert_shown_with_empty_lines(&body);
    assert_eq!(removal_code(&body), "ORR");
    assert_eq!(consent_code(&body), None);
    // A patient signed in through the same application.
    let patient = through(
        Persona::Patient,
        "lines-app",
        &Overrides {
            nhs_number: Some(ARMED_FORCES.into()),
            ..Overrides::default()
        },
    );
    assert_shown_with_empty_lines(&get(&app, PATH, &patient).await);
    // A search result and a history version.
    let search = get(
        &app,
        "/Patient?family=Fairweather&birthdate=eq2001-03-14",
        &clinician,
    )
    .await;
    assert_eq!(search["total"], 1, "{search}");
    assert_shown_with_empty_lines(&search["entry"][0]["resource"]);
    let plain = get(
        &app,
        "/Patient?family=Fairweather&birthdate=eq2001-03-14",
        &token(Persona::Clinician),
    )
    .await;
    assert_eq!(
        plain["entry"][0]["resource"]["address"][0]["line"],
        json!(WRITTEN_LINES)
    );
    assert_shown_with_empty_lines(&get(&app, "/Patient/9000000904/_history/1", &clinician).await);
    // A new patient's 201 answer.
    let mut person =
        crate::create::person("Quillfeather", &["Ada"], "1993-02-03", "female", "DL9 3NP");
    person["address"][0]["line"] = json!(["Rose Cottage", "", "Scotton", "Catterick Garrison"]);
    let (status, _, created) = post_as(&app, &clinician, &rid(), &person).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["address"][0]["line"],
        json!(["Rose Cottage", null, "Scotton", "Catterick Garrison"])
    );
    assert_eq!(
        created["address"][0]["_line"][1]["extension"][0]["url"],
        ABSENT
    );
    // Another application is shown the same record without the empty line.
    let id = created["id"].as_str().unwrap();
    let plain = get(&app, &format!("/Patient/{id}"), &token(Persona::Clinician)).await;
    assert_eq!(
        plain["address"][0]["line"],
        json!(["Rose Cottage", "Scotton", "Catterick Garrison"])
    );
}

#[tokio::test]
async fn an_application_allowed_the_consent_sees_consent_or_dissent_only_and_never_in_a_search() {
    let app = spawn().await;
    let consent_app = app_token("consent-app");
    // A search never carries it (PDS), nor the removal.
    let search = get(
        &app,
        "/Patient?family=Fairweather&birthdate=eq2001-03-14&_max-results=1",
        &consent_app,
    )
    .await;
    assert_eq!(search["total"], 1, "{search}");
    let found = &search["entry"][0]["resource"];
    assert_eq!(found["id"], ARMED_FORCES);
    assert_eq!(extension(found, CONSENT), None);
    assert_eq!(extension(found, REMOVAL), None);
    insert_variant(&app, "9000000939", |p| {
        p.details.extra.sharing_consent = Some(SharingConsent::Unknown)
    });
    insert_variant(&app, "9000000947", |p| {
        p.details.extra.sharing_consent = Some(SharingConsent::Callback)
    });
    insert_variant(&app, "9000000955", |p| {
        p.details.extra.sharing_consent = Some(SharingConsent::Dissent)
    });
    let body = get(&app, PATH, &consent_app).await;
    let ext = extension(&body, CONSENT).expect("the consent extension");
    assert_eq!(
        ext["extension"][0],
        json!({"url": "consentType", "valueCodeableConcept": {"coding": [{"code": "4", "display": "ncrs"}]}})
    );
    assert_eq!(ext["extension"][1]["url"], "consentValue");
    assert_eq!(
        ext["extension"][1]["valueCodeableConcept"]["coding"][0]["display"],
        "consent"
    );
    assert_eq!(consent_code(&body), Some("1"));
    // After the removal extension, as PDS orders them; the others unchanged.
    let urls: Vec<&Value> = body["extension"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["url"])
        .collect();
    assert_eq!(urls, [REMOVAL, CONSENT]);
    assert_eq!(removal_code(&body), "ORR");
    assert_eq!(body["address"][0]["line"], json!(WRITTEN_LINES));
    assert_eq!(
        consent_code(&get(&app, "/Patient/9000000955", &consent_app).await),
        Some("2")
    );
    // Read-only, like the removal: an update keeps it, and may not change it.
    let clinician = through(Persona::Clinician, "consent-app", &Overrides::default());
    let (status, _, updated) = patch_as(
        &app,
        PATH,
        "W/\"1\"",
        &gender("unknown"),
        &clinician,
        &rid(),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(consent_code(&updated), Some("1"));
    let dissent = json!({"patches": [
        {"op": "test", "path": "/extension/1/url", "value": CONSENT},{"op": "replace",
        "path": "/extension/1/extension/1/valueCodeableConcept/coding/0/code", "value": "2"}]});
    let (status, _, body) = patch_as(&app, PATH, "W/\"2\"", &dissent, &clinician, &rid()).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(spine_code(&body), "FORBIDDEN_UPDATE");
    let added = json!({"patches": [{"op": "add", "path": "/extension/-", "value": ext}]});
    let (status, _, body) = patch_as(
        &app,
        PATH,
        "W/\"2\"",
        &added,
        &token(Persona::Clinician),
        &rid(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(spine_code(&body), "FORBIDDEN_UPDATE");
    assert_eq!(
        consent_code(&get(&app, PATH, &consent_app).await),
        Some("1")
    );
    for number in ["9000000939", "9000000947"] {
        let shown = get(&app, &format!("/Patient/{number}"), &consent_app).await;
        assert_eq!(extension(&shown, CONSENT), None, "{number}: {shown}");
    }
}

fn gender(value: &str) -> Value {
    json!({"patches": [{"op": "replace", "path": "/gender", "value": value}]})
}

#[tokio::test]
async fn app_restricted_patch_is_refused_unless_the_application_may_update() {
    let app = spawn().await;
    for refused in [token(Persona::App), app_token("lines-app")] {
        let (status, _, body) =
            patch_as(&app, PATH, "W/\"1\"", &gender("unknown"), &refused, &rid()).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(spine_code(&body), "INVALID_METHOD");
    }
    assert_eq!(
        get(&app, PATH, &token(Persona::App)).await["meta"]["versionId"],
        "1"
    );

    let updater = app_token("updater-app");
    let request = rid();
    let (status, etag, body) = patch_as(
        &app,
        PATH,
        "W/\"1\"",
        &gender("unknown"),
        &updater,
        &request,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(etag.as_deref(), Some("W/\"2\""));
    assert_eq!(body["gender"], "unknown");
    // The answer is shown as this application is shown records.
    assert_shown_with_empty_lines(&body);
    let audit = app.audit_of(&request);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].action.as_deref(), Some("update"));
    assert_eq!(
        audit[0].access_mode.as_deref(),
        Some("application-restricted")
    );
    assert_eq!(audit[0].client_id.as_deref(), Some("updater-app"));
    assert_eq!(audit[0].status, 200);
    // A retry is answered the same way, again as this application sees it.
    let (status, _, replay) = patch_as(
        &app,
        PATH,
        "W/\"1\"",
        &gender("unknown"),
        &updater,
        &request,
    )
    .await;
    assert_eq!(status, 200, "{replay}");
    assert_eq!(replay["meta"]["versionId"], "2");
    assert_shown_with_empty_lines(&replay);
    // No restricted record: that takes sensitive access.
    let (status, _, body) = patch_as(
        &app,
        "/Patient/9000000025",
        "W/\"2\"",
        &gender("male"),
        &updater,
        &rid(),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(spine_code(&body), "FORBIDDEN_UPDATE");
    // A SMART scope without `u` takes the update away.
    let narrowed = dev_keys()
        .mint(&json!({"sub": "updater-app", "client_id": "updater-app",
            "scope": format!("{APP_SCOPE} system/Patient.rs")}))
        .unwrap();
    let (status, _, body) =
        patch_as(&app, PATH, "W/\"2\"", &gender("male"), &narrowed, &rid()).await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn an_update_by_an_application_not_shown_empty_lines_keeps_them_in_place() {
    let app = spawn().await;
    // A clinician of an ordinary application changes the gender, then the
    // postcode of the address whose empty line they were never shown.
    let clinician = token(Persona::Clinician);
    let (status, _, _) = patch_as(
        &app,
        PATH,
        "W/\"1\"",
        &gender("unknown"),
        &clinician,
        &rid(),
    )
    .await;
    assert_eq!(status, 200);
    let postcode = json!({"patches": [
        {"op": "test", "path": "/address/0/id", "value": "AFA1"},
        {"op": "replace", "path": "/address/0/postalCode", "value": "DL9 4AA"}]});
    let (status, _, body) = patch_as(&app, PATH, "W/\"2\"", &postcode, &clinician, &rid()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["address"][0]["line"], json!(WRITTEN_LINES));
    let lines_app = through(Persona::Clinician, "lines-app", &Overrides::default());
    let shown = get(&app, PATH, &lines_app).await;
    assert_eq!(shown["address"][0]["postalCode"], "DL9 4AA");
    assert_shown_with_empty_lines(&shown);
    // An application shown the empty lines patches by their places.
    let street = json!({"patches": [
        {"op": "test", "path": "/address/0/id", "value": "AFA1"},
        {"op": "replace", "path": "/address/0/line/1", "value": "Barracks Lane"}]});
    let (status, _, body) = patch_as(&app, PATH, "W/\"3\"", &street, &lines_app, &rid()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["address"][0]["line"],
        json!([
            "Rose Cottage",
            "Barracks Lane",
            "Scotton",
            "Catterick Garrison",
            "North Yorkshire"
        ])
    );
    assert!(body["address"][0].get("_line").is_none());
}

#[tokio::test]
async fn unknown_keys_in_the_policy_file_are_refused_at_start() {
    let database = seeded_database();
    let mut doc: Value = serde_json::from_str(include_str!("../../policy/default.json")).unwrap();
    doc["applications"] = json!({"some-app": {"record_sharing_consnet": true}});
    let mut s = settings();
    s.auth.policy_file = Some(write_policy(&doc));
    let refused = Application::build(&s, database.url())
        .err()
        .expect("refused");
    assert!(
        format!("{refused:#}").contains("unknown field `record_sharing_consnet`"),
        "{refused:#}"
    );
    // A known table starts.
    s.auth.policy_file = Some(policy_file());
    assert!(Application::build(&s, database.url()).is_ok());
}
