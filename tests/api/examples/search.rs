//! The search examples: the sandbox scenarios and the parameters' examples.

use crate::helpers::{TestApp, rid, send_as, spine_code, token};
use pds::auth::personas::Persona;
use pds::seed::sandbox;
use reqwest::Method;
use serde_json::Value;

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
