//! `GET /Patient`: search.

use crate::helpers::{TestApp, patient_token, spine_code, token};
use pds::auth::personas::Persona;
use pds::seed::sandbox;
use serde_json::Value;

async fn search(app: &TestApp, query: &str) -> (u16, Value) {
    search_as(app, query, &token(Persona::Clinician)).await
}

async fn search_as(app: &TestApp, query: &str, t: &str) -> (u16, Value) {
    let response = app.get_as(&format!("/Patient?{query}"), t).await;
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "application/fhir+json");
    (status, response.json().await.unwrap())
}

fn ids(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|x| x["resource"]["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn scores(bundle: &Value) -> Vec<f64> {
    bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|x| x["search"]["score"].as_f64().unwrap())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn family_gender_and_birth_date_find_one_patient_with_the_search_subset() {
    let app = TestApp::spawn().await;
    let (status, b) = search(&app, "family=Smith&gender=female&birthdate=eq2010-10-22").await;
    assert_eq!(status, 200);
    assert_eq!(b["resourceType"], "Bundle");
    assert_eq!(b["type"], "searchset");
    assert_eq!(b["total"], 1);
    let ts = b["timestamp"].as_str().unwrap();
    assert!(ts.ends_with("+00:00") && ts.len() == 25, "{ts}");
    let entry = &b["entry"][0];
    assert_eq!(entry["search"]["score"], 1.0);
    assert!(
        entry["fullUrl"]
            .as_str()
            .unwrap()
            .ends_with("/Patient/9000000009")
    );
    let p = &entry["resource"];
    assert_eq!(p["id"], "9000000009");
    assert_eq!(
        p["address"].as_array().unwrap().len(),
        1,
        "home address only"
    );
    assert_eq!(p["address"][0]["use"], "home");
    assert!(p.get("managingOrganization").is_none());
    let ext: Vec<&str> = p["extension"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        ext,
        ["https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus"]
    );
    assert!(p["telecom"].is_array() && p["generalPractitioner"].is_array());
}

#[tokio::test]
async fn no_match_is_an_empty_bundle_without_entry() {
    let app = TestApp::spawn().await;
    let (status, b) = search(&app, "family=Nobodyatall&birthdate=2010-10-22").await;
    assert_eq!(status, 200);
    assert_eq!(b["total"], 0);
    assert!(b.get("entry").is_none());
}

#[tokio::test]
async fn more_matches_than_max_results_is_too_many_matches_with_status_200() {
    let app = TestApp::spawn().await;
    let (status, b) = search(&app, "family=YOUDS&birthdate=1970-01-24").await;
    assert_eq!(status, 200);
    assert_eq!(b["total"], 4);
    let mut found = ids(&b);
    found.sort();
    assert_eq!(found, sandbox::YOUDS);

    let (status, b) = search(&app, "family=YOUDS&birthdate=1970-01-24&_max-results=1").await;
    assert_eq!(status, 200);
    assert_eq!(b["resourceType"], "OperationOutcome");
    assert_eq!(spine_code(&b), "TOO_MANY_MATCHES");
    assert_eq!(b["issue"][0]["severity"], "information");
    assert_eq!(b["issue"][0]["code"], "multiple-matches");
}

#[tokio::test]
async fn validation_errors_come_in_the_pds_order() {
    let app = TestApp::spawn().await;
    let cases = [
        ("", 400, "UNSUPPORTED_SERVICE", None),
        (
            "family=Smith&birthdate=2010-10-22&year=2020",
            400,
            "ADDITIONAL_PROPERTIES",
            Some(
                "Invalid request with error - Additional properties are not allowed ('year' was unexpected)",
            ),
        ),
        (
            "family=Smith&birthdate=20101022",
            400,
            "INVALID_VALUE",
            Some("Invalid value - '20101022' in field 'birthdate'"),
        ),
        (
            "family=Smith",
            400,
            "MISSING_VALUE",
            Some("Missing value - 'birth_date/birth_date_range_start/birth_date_range_end'"),
        ),
        (
            "birthdate=2010-10-22",
            400,
            "INVALID_SEARCH_DATA",
            Some(
                "Invalid search data provided - 'No searches were performed as the search criteria did not meet the minimum requirements'",
            ),
        ),
        (
            "family=Sm*&given=Jane&birthdate=2010-10-22&_fuzzy-match=true",
            400,
            "INVALID_SEARCH_DATA",
            Some(
                "Invalid search data provided - 'A fuzzy search was requested however the data given did not meet the fuzzy search criteria'",
            ),
        ),
        (
            "family=Smith&birthdate=2010-10-22&gender=mal",
            400,
            "INVALID_VALUE",
            Some("Invalid value - 'mal' in field 'gender'"),
        ),
        (
            "family=Smith&birthdate=2010-10-22&_max-results=51",
            400,
            "INVALID_VALUE",
            None,
        ),
        ("family=S*&birthdate=2010-10-22", 400, "INVALID_VALUE", None),
    ];
    for (query, status, code, diagnostics) in cases {
        let (s, b) = search(&app, query).await;
        assert_eq!(s, status, "{query}: {b}");
        assert_eq!(spine_code(&b), code, "{query}");
        if let Some(d) = diagnostics {
            assert_eq!(b["issue"][0]["diagnostics"], d, "{query}");
        }
    }
}

#[tokio::test]
async fn wildcards_match_with_lower_scores_and_exact_match_drops_them() {
    let app = TestApp::spawn().await;
    let (_, b) = search(&app, "family=Sm*&gender=female&birthdate=2010-10-22").await;
    let found = ids(&b);
    assert!(
        found.contains(&"9000000009".to_string()) && found.contains(&"9000000017".to_string()),
        "{found:?}"
    );
    let s = scores(&b);
    assert!(s.iter().all(|x| *x < 1.0 && *x > 0.0), "{s:?}");
    assert!(
        s.windows(2).all(|w| w[0] >= w[1]),
        "sorted best first: {s:?}"
    );

    let (_, b) = search(
        &app,
        "family=Sm*&gender=female&birthdate=2010-10-22&_exact-match=true",
    )
    .await;
    assert_eq!(b["total"], 0);
}

#[tokio::test]
async fn birth_date_ranges_and_postcodes_without_spaces() {
    let app = TestApp::spawn().await;
    let (_, b) = search(
        &app,
        "family=Smith&gender=female&birthdate=ge2010-10-21&birthdate=le2010-10-23",
    )
    .await;
    assert_eq!(ids(&b), ["9000000009"]);
    let (_, b) = search(
        &app,
        "family=YOUDS&birthdate=1970-01-24&address-postalcode=dn174ab",
    )
    .await;
    assert_eq!(b["total"], 2);
    let (_, b) = search(
        &app,
        "family=YOUDS&birthdate=1970-01-24&address-postalcode=DN*",
    )
    .await;
    assert_eq!(b["total"], 2);
    let (_, b) = search(&app, "family=YOUDS&birthdate=1970-01-24&given=Carol").await;
    assert_eq!(ids(&b), ["9000000106"]);
}

#[tokio::test]
async fn former_names_match_only_with_history() {
    let app = TestApp::spawn().await;
    let (_, b) = search(&app, "family=Oldcastle&birthdate=1980-05-05").await;
    assert_eq!(b["total"], 0);
    let (_, b) = search(&app, "family=Oldcastle&birthdate=1980-05-05&_history=true").await;
    assert_eq!(ids(&b), [sandbox::RENAMED]);
    // The current name is what comes back.
    assert_eq!(b["entry"][0]["resource"]["name"][0]["family"], "Newland");
}

#[tokio::test]
async fn fuzzy_search_finds_homophones_and_ranks_the_exact_spelling_first() {
    let app = TestApp::spawn().await;
    let (status, b) = search(
        &app,
        "family=Smith&given=Jane&birthdate=2010-10-22&_fuzzy-match=true",
    )
    .await;
    assert_eq!(status, 200, "{b}");
    let found = ids(&b);
    assert_eq!(
        found.first().map(String::as_str),
        Some("9000000009"),
        "{found:?}"
    );
    assert!(
        found.contains(&"9000000017".to_string()),
        "Jayne Smyth: {found:?}"
    );
}

#[tokio::test]
async fn restricted_patients_are_redacted_and_hidden_from_location_searches() {
    let app = TestApp::spawn().await;
    for persona in [Persona::Clinician, Persona::SensitiveClinician] {
        let (_, b) = search_as(&app, "family=Smythe&birthdate=2010-10-22", &token(persona)).await;
        assert_eq!(ids(&b), [sandbox::JANET_SMYTHE_RESTRICTED]);
        let p = &b["entry"][0]["resource"];
        assert_eq!(p["meta"]["security"][0]["code"], "R");
        for hidden in ["address", "telecom", "contact", "generalPractitioner"] {
            assert!(p.get(hidden).is_none(), "{hidden}");
        }
    }
    let (_, b) = search(
        &app,
        "family=Smythe&birthdate=2010-10-22&address-postalcode=LS1%206AE",
    )
    .await;
    assert_eq!(b["total"], 0);
    let (_, b) = search(
        &app,
        "family=Smythe&birthdate=2010-10-22&general-practitioner=Y12345",
    )
    .await;
    assert_eq!(b["total"], 0);
}

#[tokio::test]
async fn applications_get_one_result_and_patients_cannot_search() {
    let app = TestApp::spawn().await;
    let t = token(Persona::App);
    let (_, b) = search_as(&app, "family=Smith&gender=female&birthdate=2010-10-22", &t).await;
    assert_eq!(ids(&b), ["9000000009"]);
    let (_, b) = search_as(&app, "family=YOUDS&birthdate=1970-01-24", &t).await;
    assert_eq!(spine_code(&b), "TOO_MANY_MATCHES");
    let (status, b) = search_as(&app, "family=YOUDS&birthdate=1970-01-24&_max-results=2", &t).await;
    assert_eq!(status, 403);
    assert_eq!(spine_code(&b), "INVALID_VALUE");
    assert_eq!(
        b["issue"][0]["details"]["coding"][0]["display"],
        "Cannot retrieve more than one result with application-restricted access token"
    );

    let (status, b) = search_as(
        &app,
        "family=Smith&birthdate=2010-10-22",
        &patient_token("9000000009"),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(spine_code(&b), "ACCESS_DENIED");
}

#[derive(diesel::QueryableByName)]
struct Audited {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    action: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    nhs_number: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::BigInt>>)]
    other_nhs_numbers: Option<Vec<i64>>,
}

#[tokio::test]
async fn every_patient_returned_by_a_search_is_audited() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn().await;
    let (_, b) = search(&app, "family=YOUDS&birthdate=1970-01-24").await;
    assert_eq!(b["total"], 4);
    assert!(app.auditor.flush(std::time::Duration::from_secs(10)));
    let mut conn = app.database.as_ref().unwrap().connect();
    let rows: Vec<Audited> =
        diesel::sql_query("SELECT action, nhs_number, other_nhs_numbers FROM audit_trail")
            .load(&mut conn)
            .unwrap();
    let row = rows
        .iter()
        .find(|r| r.action.as_deref() == Some("search"))
        .expect("search audited");
    let mut all: Vec<i64> = row
        .nhs_number
        .into_iter()
        .chain(row.other_nhs_numbers.clone().unwrap_or_default())
        .collect();
    all.sort();
    let expected: Vec<i64> = sandbox::YOUDS.iter().map(|n| n.parse().unwrap()).collect();
    assert_eq!(all, expected);
}
