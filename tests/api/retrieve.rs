//! `GET /Patient/{id}`.

use crate::helpers::{TestApp, spine_code};
use pds::seed::sandbox;
use serde_json::Value;

async fn json(response: reqwest::Response) -> Value {
    response.json().await.expect("JSON body")
}

#[tokio::test]
async fn returns_the_full_sandbox_record_with_etag_and_fhir_content_type() {
    let app = TestApp::spawn().await;
    let response = app.get("/Patient/9000000009").await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/fhir+json");
    assert_eq!(response.headers()["etag"], "W/\"2\"");
    let p = json(response).await;
    assert_eq!(p["resourceType"], "Patient");
    assert_eq!(p["id"], "9000000009");
    assert_eq!(
        p["identifier"][0]["system"],
        "https://fhir.nhs.uk/Id/nhs-number"
    );
    assert_eq!(p["identifier"][0]["value"], "9000000009");
    let verification = &p["identifier"][0]["extension"][0];
    assert_eq!(
        verification["url"],
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
    );
    assert_eq!(
        verification["valueCodeableConcept"]["coding"][0]["code"],
        "01"
    );
    assert_eq!(p["meta"]["versionId"], "2");
    assert_eq!(p["meta"]["security"][0]["code"], "U");
    assert_eq!(p["meta"]["security"][0]["display"], "unrestricted");

    let name = &p["name"][0];
    assert_eq!(name["id"], "123");
    assert_eq!(name["use"], "usual");
    assert_eq!(name["given"][0], "Jane");
    assert_eq!(name["family"], "Smith");
    assert_eq!(name["prefix"][0], "Mrs");
    assert_eq!(name["period"]["start"], "2020-01-01");
    assert_eq!(name["period"]["end"], "2021-12-31");

    assert_eq!(p["gender"], "female");
    assert_eq!(p["birthDate"], "2010-10-22");
    assert_eq!(p["multipleBirthInteger"], 1);
    assert_eq!(p["deceasedDateTime"], "2010-10-22T00:00:00+00:00");

    let home = &p["address"][0];
    assert_eq!(home["id"], "456");
    assert_eq!(home["use"], "home");
    assert_eq!(home["line"].as_array().unwrap().len(), 5);
    assert_eq!(home["postalCode"], "LS1 6AE");
    let key = &home["extension"][0];
    assert_eq!(
        key["url"],
        "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-AddressKey"
    );
    assert_eq!(key["extension"][0]["valueCoding"]["code"], "PAF");
    assert_eq!(key["extension"][1]["valueString"], "12345678");
    assert_eq!(p["address"][1]["use"], "temp");
    assert_eq!(p["address"][1]["text"], "Student Accommodation");

    let telecom = p["telecom"].as_array().unwrap();
    assert_eq!(telecom.len(), 3);
    assert_eq!(telecom[0]["system"], "phone");
    assert_eq!(telecom[0]["value"], "01632960587");
    assert_eq!(telecom[1]["value"], "jane.smith@example.com");
    assert_eq!(
        telecom[2]["extension"][0]["valueCoding"]["code"],
        "textphone"
    );

    assert_eq!(p["contact"][0]["id"], "C123");
    assert_eq!(p["contact"][0]["relationship"][0]["coding"][0]["code"], "C");
    assert_eq!(p["generalPractitioner"][0]["id"], "254406A3");
    assert_eq!(p["generalPractitioner"][0]["type"], "Organization");
    assert_eq!(p["generalPractitioner"][0]["identifier"]["value"], "Y12345");
    assert_eq!(p["managingOrganization"]["identifier"]["value"], "Y12345");

    let urls: Vec<&str> = p["extension"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NominatedPharmacy",
            "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-PreferredDispenserOrganization",
            "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-MedicalApplianceSupplier",
            "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus",
            "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication",
            "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-ContactPreference",
            "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
            "https://fhir.nhs.uk/StructureDefinition/Extension-PDS-RemovalFromRegistration",
        ]
    );
    let ext = p["extension"].as_array().unwrap();
    assert_eq!(ext[0]["valueReference"]["identifier"]["value"], "Y12345");
    assert_eq!(
        ext[3]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "2"
    );
    assert_eq!(
        ext[4]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "fr"
    );
    assert_eq!(ext[4]["extension"][1]["valueBoolean"], true);
    assert_eq!(ext[5]["extension"][2]["valueString"], "Not after 7pm");
    assert_eq!(ext[6]["valueAddress"]["city"], "Manchester");
    assert_eq!(
        ext[7]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "SCT"
    );
    assert_eq!(
        ext[7]["extension"][1]["valuePeriod"]["start"],
        "2020-01-01T00:00:00+00:00"
    );
}

#[tokio::test]
async fn a_restricted_record_is_labelled_and_stripped_of_location_data() {
    let app = TestApp::spawn().await;
    let response = app
        .get(&format!("/Patient/{}", sandbox::JANET_SMYTHE_RESTRICTED))
        .await;

    assert_eq!(response.status(), 200);
    let p = json(response).await;
    assert_eq!(p["meta"]["security"][0]["code"], "R");
    assert_eq!(p["meta"]["security"][0]["display"], "restricted");
    assert_eq!(p["name"][0]["family"], "Smythe");
    assert_eq!(p["birthDate"], "2010-10-22");
    for hidden in [
        "address",
        "telecom",
        "contact",
        "generalPractitioner",
        "managingOrganization",
    ] {
        assert!(p.get(hidden).is_none(), "{hidden} must be removed");
    }
    let urls: Vec<&str> = p["extension"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        ["https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus"]
    );
}

#[tokio::test]
async fn a_minimal_record_has_only_identity_and_meta() {
    let app = TestApp::spawn().await;
    let p = json(app.get("/Patient/9000000033").await).await;
    let mut keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["id", "identifier", "meta", "resourceType"]);
}

#[tokio::test]
async fn an_invalid_nhs_number_is_rejected_before_any_lookup() {
    let app = TestApp::spawn().await;
    for id in [
        "9000000000",
        "900000000",
        "90000000099",
        "abcdefghij",
        "9000000009%20x",
    ] {
        let response = app.get(&format!("/Patient/{id}")).await;
        assert_eq!(response.status(), 400, "{id}");
        assert_eq!(response.headers()["content-type"], "application/fhir+json");
        let body = json(response).await;
        assert_eq!(spine_code(&body), "INVALID_RESOURCE_ID", "{id}");
        assert_eq!(body["issue"][0]["code"], "value");
        assert_eq!(
            body["issue"][0]["details"]["coding"][0]["display"],
            "Resource Id is invalid"
        );
        assert!(body["issue"][0].get("diagnostics").is_none());
    }
}

#[tokio::test]
async fn an_unknown_number_is_not_found_with_information_severity() {
    let app = TestApp::spawn().await;
    let response = app.get("/Patient/9111231130").await;
    assert_eq!(response.status(), 404);
    let body = json(response).await;
    assert_eq!(spine_code(&body), "RESOURCE_NOT_FOUND");
    assert_eq!(body["issue"][0]["severity"], "information");
    assert_eq!(body["issue"][0]["code"], "not-found");
    assert_eq!(
        body["issue"][0]["details"]["coding"][0]["system"],
        "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode"
    );
    assert_eq!(body["issue"][0]["details"]["coding"][0]["version"], "1");
}

#[tokio::test]
async fn an_invalidated_number_is_not_found_as_invalidated() {
    let app = TestApp::spawn().await;
    let response = app.get(&format!("/Patient/{}", sandbox::INVALIDATED)).await;
    assert_eq!(response.status(), 404);
    let body = json(response).await;
    assert_eq!(spine_code(&body), "INVALIDATED_RESOURCE");
    assert_eq!(body["issue"][0]["severity"], "error");
    assert_eq!(body["issue"][0]["code"], "processing");
}

#[tokio::test]
async fn a_superseded_number_returns_the_retained_record() {
    let app = TestApp::spawn().await;
    let response = app.get(&format!("/Patient/{}", sandbox::SUPERSEDED)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "W/\"2\"");
    let p = json(response).await;
    assert_eq!(p["id"], sandbox::JANE_SMITH);
    assert_eq!(p["name"][0]["family"], "Smith");
}

#[tokio::test]
async fn synthetic_patients_are_served_too() {
    let app = TestApp::spawn().await;
    let first = pds::seed::generator::Population::new(crate::helpers::TEMPLATE_SEED)
        .find(|g| g.superseded_by.is_none() && g.patient.security.code() == "U")
        .unwrap();
    let number = first.patient.nhs_number.to_string();
    let response = app.get(&format!("/Patient/{number}")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["etag"],
        format!("W/\"{}\"", first.patient.version).as_str()
    );
    let p = json(response).await;
    assert_eq!(p["id"], number.as_str());
    assert_eq!(
        p["name"][0]["family"].as_str(),
        first.patient.details.names[0].family.as_deref()
    );
}

#[tokio::test]
async fn concurrent_retrieves_batched_together_each_get_their_own_answer() {
    let app = TestApp::spawn().await;
    // Found, merged, invalidated, missing and repeated numbers in flight at
    // once: the lookup thread answers them in shared batches.
    let cases = [
        (sandbox::JANE_SMITH, 200, sandbox::JANE_SMITH),
        (sandbox::JAYNE_SMYTH, 200, sandbox::JAYNE_SMYTH),
        (sandbox::MINIMAL, 200, sandbox::MINIMAL),
        (sandbox::SUPERSEDED, 200, sandbox::JANE_SMITH),
        (sandbox::INVALIDATED, 404, "INVALIDATED_RESOURCE"),
        ("9691914948", 404, "RESOURCE_NOT_FOUND"),
    ];
    let requests = (0..120).map(|i| {
        let (id, status, expected) = cases[i % cases.len()];
        let app = &app;
        async move {
            let response = app.get(&format!("/Patient/{id}")).await;
            assert_eq!(response.status(), status, "{id}");
            let body = json(response).await;
            let got = if status == 200 {
                body["id"].as_str().unwrap_or_default().to_owned()
            } else {
                spine_code(&body).to_owned()
            };
            assert_eq!(got, expected, "answer for {id}");
        }
    });
    futures_util::future::join_all(requests).await;
}
