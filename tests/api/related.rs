//! `GET /Patient/{id}/RelatedPerson`.

use crate::helpers::{TestApp, patient_token, spine_code, token, token_with};
use pds::auth::personas::{Overrides, Persona};
use pds::domain::NhsNumber;
use pds::domain::codes::{AddressUse, TelecomSystem};
use pds::domain::patient::{Address, Telecom};
use pds::domain::related::{RelatedDetails, RelatedPerson, Relationship};
use pds::seed::sandbox;
use pds::store::related::{self, RelatedRow};
use serde_json::Value;

async fn json(response: reqwest::Response) -> Value {
    response.json().await.expect("JSON body")
}

fn path(nhs_number: &str) -> String {
    format!("/Patient/{nhs_number}/RelatedPerson")
}

/// Ids of the bundle's entries, asserting it is a well-formed searchset.
fn ids(bundle: &Value) -> Vec<&str> {
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "searchset");
    let entries = bundle["entry"].as_array().map_or(&[][..], Vec::as_slice);
    assert_eq!(bundle["total"], entries.len());
    entries
        .iter()
        .map(|e| {
            assert!(e.get("search").is_none(), "no search element");
            e["resource"]["id"].as_str().unwrap()
        })
        .collect()
}

fn assert_empty_bundle(bundle: &Value) {
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "searchset");
    assert_eq!(bundle["total"], 0);
    assert!(bundle.get("entry").is_none(), "no entry: {bundle}");
    let timestamp = bundle["timestamp"].as_str().unwrap();
    assert!(
        timestamp.ends_with("+00:00") && timestamp.len() == 25,
        "{timestamp}"
    );
}

#[tokio::test]
async fn jane_smith_has_the_two_sandbox_related_people() {
    let app = TestApp::spawn().await;
    let response = app.get(&path(sandbox::JANE_SMITH)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/fhir+json");
    let b = json(response).await;
    assert_eq!(ids(&b), ["507B7621", "B3380E98"]);
    let timestamp = b["timestamp"].as_str().unwrap();
    assert!(timestamp.ends_with("+00:00"), "{timestamp}");
    assert!(
        b["entry"][0]["fullUrl"]
            .as_str()
            .unwrap()
            .ends_with("/Patient/9000000009/RelatedPerson/507B7621")
    );
    assert!(
        b["entry"][0]["fullUrl"]
            .as_str()
            .unwrap()
            .starts_with("http")
    );

    let full = &b["entry"][0]["resource"];
    assert_eq!(full["resourceType"], "RelatedPerson");
    assert_eq!(full["active"], true);
    assert_eq!(
        full["patient"]["identifier"]["system"],
        "https://fhir.nhs.uk/Id/nhs-number"
    );
    assert_eq!(full["patient"]["identifier"]["value"], "9000000009");
    assert_eq!(full["period"]["start"], "2020-01-01");
    assert_eq!(full["period"]["end"], "2021-12-31");
    let name = &full["name"][0];
    assert_eq!(name["use"], "usual");
    assert_eq!(name["given"][0], "Jane");
    assert_eq!(name["family"], "Smith");
    assert_eq!(name["prefix"][0], "Mrs");
    assert_eq!(name["suffix"][0], "MBE");
    assert!(name.get("id").is_none());
    let coding = &full["relationship"][0]["coding"];
    assert_eq!(coding.as_array().unwrap().len(), 1);
    assert_eq!(
        coding[0]["system"],
        "https://fhir.nhs.uk/R4/CodeSystem/UKCore-AdditionalRelatedPersonRole"
    );
    assert_eq!(coding[0]["code"], "Guardian");
    assert_eq!(coding[0]["display"], "Guardian of patient");
    let telecom = &full["telecom"][0];
    assert_eq!(telecom["system"], "phone");
    assert_eq!(telecom["value"], "01632960587");
    assert_eq!(telecom["use"], "home");
    assert_eq!(telecom["period"]["start"], "2020-01-01");
    let address = &full["address"][0];
    assert_eq!(address["use"], "home");
    assert_eq!(address["line"].as_array().unwrap().len(), 5);
    assert_eq!(address["line"][0], "1 Trevelyan Square");
    assert_eq!(address["postalCode"], "LS1 6AE");
    assert_eq!(
        address["extension"][0]["extension"][0]["valueCoding"]["code"],
        "PAF"
    );
    assert_eq!(
        address["extension"][1]["extension"][1]["valueString"],
        "123456789012"
    );

    let ext = full["extension"].as_array().unwrap();
    let urls: Vec<&str> = ext.iter().map(|e| e["url"].as_str().unwrap()).collect();
    assert_eq!(
        urls,
        [
            "https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-CopyCorrespondenceIndicator",
            "https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-ContactRank",
            "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-ContactPreference",
            "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication",
        ]
    );
    assert_eq!(ext[0]["valueBoolean"], true);
    assert_eq!(ext[1]["valuePositiveInt"], 1);
    let preference = &ext[2]["extension"];
    assert_eq!(
        preference[0]["valueCodeableConcept"]["coding"][0]["code"],
        "12"
    );
    assert_eq!(
        preference[0]["valueCodeableConcept"]["coding"][0]["display"],
        "Braille"
    );
    assert_eq!(
        preference[1]["valueCodeableConcept"]["coding"][0]["code"],
        "1"
    );
    assert_eq!(preference[2]["valueString"], "Not after 7pm");
    let language = &ext[3]["extension"][0]["valueCodeableConcept"]["coding"][0];
    assert_eq!(language["code"], "fr");
    assert_eq!(language["display"], "French");
    assert_eq!(language["version"], "1.0.0");
    assert_eq!(ext[3]["extension"][1]["valueBoolean"], true);

    // The second is only a reference, with the same relationship and extensions.
    let reference = &b["entry"][1]["resource"];
    assert_eq!(reference["patient"]["identifier"]["value"], "9000000009");
    assert_eq!(reference["relationship"], full["relationship"]);
    assert_eq!(reference["extension"], full["extension"]);
    for absent in ["name", "telecom", "address"] {
        assert!(reference.get(absent).is_none(), "{absent}");
    }
}

#[tokio::test]
async fn jayne_smyth_has_one_related_person_with_their_own_nhs_number() {
    let app = TestApp::spawn().await;
    let b = json(app.get(&path(sandbox::JAYNE_SMYTH)).await).await;
    assert_eq!(ids(&b), ["F4CF8B96"]);
    let r = &b["entry"][0]["resource"];
    assert_eq!(r["patient"]["identifier"]["value"], "5328023641");
    assert_eq!(r["name"][0]["family"], "Smith");
    assert_eq!(r["relationship"][0]["coding"][0]["code"], "Guardian");
    assert_eq!(r["address"][0]["postalCode"], "LS1 6AE");
    assert!(
        b["entry"][0]["fullUrl"]
            .as_str()
            .unwrap()
            .ends_with("/Patient/9000000017/RelatedPerson/F4CF8B96")
    );
}

#[tokio::test]
async fn no_related_people_is_an_empty_bundle_not_a_404() {
    let app = TestApp::spawn().await;
    let response = app.get(&path(sandbox::MINIMAL)).await;
    assert_eq!(response.status(), 200);
    assert_empty_bundle(&json(response).await);
}

#[tokio::test]
async fn unknown_invalid_and_invalidated_numbers_are_errors() {
    let app = TestApp::spawn().await;
    let unknown = app.get(&path("9111231130")).await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(spine_code(&json(unknown).await), "RESOURCE_NOT_FOUND");

    let invalid = app.get(&path("9000000000")).await;
    assert_eq!(invalid.status(), 400);
    assert_eq!(spine_code(&json(invalid).await), "INVALID_RESOURCE_ID");

    let invalidated = app.get(&path(sandbox::INVALIDATED)).await;
    assert_eq!(invalidated.status(), 404);
    assert_eq!(spine_code(&json(invalidated).await), "INVALIDATED_RESOURCE");
}

#[tokio::test]
async fn a_superseded_number_returns_the_retained_records_related_people() {
    let app = TestApp::spawn().await;
    let b = json(app.get(&path(sandbox::SUPERSEDED)).await).await;
    assert_eq!(ids(&b), ["507B7621", "B3380E98"]);
    assert!(
        b["entry"][0]["fullUrl"]
            .as_str()
            .unwrap()
            .ends_with("/Patient/9000000009/RelatedPerson/507B7621")
    );
}

#[tokio::test]
async fn a_restricted_patient_has_none_unless_the_caller_has_sensitive_access() {
    let app = TestApp::spawn().await;
    let restricted = path(sandbox::JANET_SMYTHE_RESTRICTED);
    for persona in [Persona::Clinician, Persona::PrivilegedApp] {
        let response = app.get_as(&restricted, &token(persona)).await;
        assert_eq!(response.status(), 200, "{persona:?}");
        assert_empty_bundle(&json(response).await);
    }
    let response = app
        .get_as(&restricted, &token(Persona::SensitiveClinician))
        .await;
    assert_eq!(response.status(), 200);
    let b = json(response).await;
    assert_eq!(b["total"], 0);
}

#[tokio::test]
async fn a_patient_sees_their_own_related_people_and_no_one_elses() {
    let app = TestApp::spawn().await;
    let own = app
        .get_as(
            &path(sandbox::JAYNE_SMYTH),
            &patient_token(sandbox::JAYNE_SMYTH),
        )
        .await;
    assert_eq!(own.status(), 200);
    assert_eq!(ids(&json(own).await), ["F4CF8B96"]);

    let other = app
        .get_as(
            &path(sandbox::JANE_SMITH),
            &patient_token(sandbox::JAYNE_SMYTH),
        )
        .await;
    assert_eq!(other.status(), 403);
    let body = json(other).await;
    assert_eq!(spine_code(&body), "ACCESS_DENIED");
    assert!(
        body["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("Patient access restrictions")
    );
}

#[tokio::test]
async fn a_token_narrowed_to_search_may_not_read_related_people() {
    let app = TestApp::spawn().await;
    let narrowed = token_with(
        Persona::Clinician,
        &Overrides {
            scopes: vec!["user/Patient.s".into()],
            ..Overrides::default()
        },
    );
    let response = app.get_as(&path(sandbox::JANE_SMITH), &narrowed).await;
    assert_eq!(response.status(), 403);
    assert_eq!(spine_code(&json(response).await), "ACCESS_DENIED");
}

#[tokio::test]
async fn a_person_referencing_a_restricted_patient_loses_address_and_telecom() {
    let app = TestApp::spawn().await;
    let mut conn = app.database.as_ref().unwrap().connect();
    let person = RelatedPerson {
        id: "R1".into(),
        details: RelatedDetails {
            patient: Some(NhsNumber::parse(sandbox::JANET_SMYTHE_RESTRICTED).unwrap()),
            active: true,
            address: Some(Address {
                address_use: AddressUse::Home,
                period: None,
                text: None,
                lines: vec!["1 Hidden Lane".into()],
                postal_code: Some("LS1 1AA".into()),
                keys: vec![],
            }),
            telecoms: vec![Telecom {
                period: None,
                system: TelecomSystem::Phone,
                value: "01632960001".into(),
                telecom_use: None,
                textphone: false,
            }],
            relationship: vec![Relationship::Personal, Relationship::Sister],
            ..RelatedDetails::default()
        },
    };
    let minimal = NhsNumber::parse(sandbox::MINIMAL).unwrap();
    related::upsert(&mut conn, &[RelatedRow::from_person(minimal, &person)]).unwrap();

    let b = json(app.get(&path(sandbox::MINIMAL)).await).await;
    assert_eq!(ids(&b), ["R1"]);
    let r = &b["entry"][0]["resource"];
    assert_eq!(r["patient"]["identifier"]["value"], "9000000025");
    assert!(r.get("address").is_none() && r.get("telecom").is_none());
    let coding = &r["relationship"][0]["coding"];
    assert_eq!(coding[1]["code"], "SIS");
    assert_eq!(
        coding[1]["system"],
        "http://hl7.org/fhir/ValueSet/relatedperson-relationshiptype"
    );

    let full = app
        .get_as(&path(sandbox::MINIMAL), &token(Persona::SensitiveClinician))
        .await;
    let r = &json(full).await["entry"][0]["resource"];
    assert_eq!(r["address"][0]["postalCode"], "LS1 1AA");
    assert_eq!(r["telecom"][0]["value"], "01632960001");
}

#[derive(diesel::QueryableByName, Debug)]
struct TrailRow {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    request_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    nhs_number: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::SmallInt)]
    status: i16,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    redacted: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    sensitive_override: bool,
}

#[tokio::test]
async fn every_related_read_is_audited_with_redaction() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn().await;
    let send = |persona: Persona, nhs_number: &str, id: &'static str| {
        app.client
            .get(app.url(&path(nhs_number)))
            .bearer_auth(token(persona))
            .header("X-Request-ID", id)
            .send()
    };
    let plain = "11111111-1111-4111-8111-111111111111";
    let hidden = "22222222-2222-4222-8222-222222222222";
    let shown = "33333333-3333-4333-8333-333333333333";
    let merged = "44444444-4444-4444-8444-444444444444";
    let denied = "55555555-5555-4555-8555-555555555555";
    let response = app
        .client
        .get(app.url(&path(sandbox::JANE_SMITH)))
        .bearer_auth(patient_token(sandbox::JAYNE_SMYTH))
        .header("X-Request-ID", denied)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    for (persona, number, id) in [
        (Persona::Clinician, sandbox::JANE_SMITH, plain),
        (Persona::Clinician, sandbox::JANET_SMYTHE_RESTRICTED, hidden),
        (
            Persona::SensitiveClinician,
            sandbox::JANET_SMYTHE_RESTRICTED,
            shown,
        ),
        (Persona::Clinician, sandbox::SUPERSEDED, merged),
    ] {
        assert_eq!(send(persona, number, id).await.unwrap().status(), 200);
    }

    assert!(app.auditor.flush(std::time::Duration::from_secs(10)));
    let mut conn = app.database.as_ref().unwrap().connect();
    let rows: Vec<TrailRow> = diesel::sql_query(
        "SELECT request_id, nhs_number, status, redacted, sensitive_override \
         FROM audit_trail WHERE action = 'related' ORDER BY at",
    )
    .load(&mut conn)
    .unwrap();
    assert_eq!(rows.len(), 5, "{rows:?}");
    let find = |id: &str| {
        rows.iter()
            .find(|r| r.request_id.as_deref() == Some(id))
            .expect(id)
    };
    let jane = 9_000_000_009;
    let janet = 9_000_000_025;

    let r = find(plain);
    assert_eq!((r.nhs_number, r.status), (Some(jane), 200));
    assert!(!r.redacted && !r.sensitive_override);
    let r = find(hidden);
    assert_eq!(r.nhs_number, Some(janet));
    assert!(r.redacted && !r.sensitive_override);
    let r = find(shown);
    assert_eq!(r.nhs_number, Some(janet));
    assert!(!r.redacted && r.sensitive_override);
    // A merged number is recorded as the record actually read.
    assert_eq!(find(merged).nhs_number, Some(jane));
    // A refusal is recorded as an attempt at this action, on this number.
    let r = find(denied);
    assert_eq!((r.nhs_number, r.status), (Some(jane), 403));
}
