//! The PATCH examples and the update error scenarios.

use super::bodies;
use crate::helpers::{TestApp, patch_as, rid, send_as, spine_code, token};
use pds::auth::personas::Persona;
use pds::seed::sandbox;
use reqwest::Method;
use serde_json::{Value, json};

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
