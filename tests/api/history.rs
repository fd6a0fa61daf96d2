//! `GET /Patient/{id}/_history` and vread: earlier versions are shown under
//! the strictest label their record has had, and `total` counts what can
//! be listed.

use crate::helpers::{TestApp, patch_as, rid, token};
use pds::auth::personas::Persona;
use pds::seed::sandbox;
use serde_json::{Value, json};

async fn get(app: &TestApp, path: &str, persona: Persona) -> Value {
    let response = app.get_as(path, &token(persona)).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

fn versions(bundle: &Value) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .map(|e| e.iter().map(|x| x["resource"].clone()).collect())
        .unwrap_or_default()
}

fn to_gender(value: &str) -> Value {
    json!({"patches": [{"op": "replace", "path": "/gender", "value": value}]})
}

#[tokio::test]
async fn a_record_restricted_later_hides_the_old_addresses_of_its_history() {
    let app = TestApp::spawn().await;
    let jane = format!("/Patient/{}", sandbox::JANE_SMITH);
    let (status, _, _) = patch_as(
        &app,
        &jane,
        "W/\"2\"",
        &to_gender("male"),
        &token(Persona::Clinician),
        &rid(),
    )
    .await;
    assert_eq!(status, 200);
    // Version 2 (kept, unrestricted then) still has Jane's address.
    let before = get(&app, &format!("{jane}/_history/2"), Persona::Clerk).await;
    assert!(before["address"].is_array());

    // Jane's record becomes restricted (there is no API for labels yet).
    app.execute(&format!(
        "UPDATE patients SET security = 1 WHERE nhs_number = {}",
        sandbox::JANE_SMITH
    ));
    for persona in [Persona::Clerk, Persona::Clinician, Persona::App] {
        let history = get(&app, &format!("{jane}/_history"), persona).await;
        let listed = versions(&history);
        assert_eq!(listed.len(), 2);
        for v in &listed {
            for hidden in ["address", "telecom", "contact", "generalPractitioner"] {
                assert!(
                    v.get(hidden).is_none(),
                    "{persona:?} v{}: {hidden}",
                    v["meta"]["versionId"]
                );
            }
            assert!(v["name"].is_array(), "the name stays (R, not V)");
        }
        // Each version keeps its own label.
        assert_eq!(listed[0]["meta"]["security"][0]["code"], "R");
        assert_eq!(listed[1]["meta"]["security"][0]["code"], "U");
        let old = get(&app, &format!("{jane}/_history/2"), persona).await;
        assert!(old.get("address").is_none(), "{persona:?}: {old}");
        assert!(old.get("telecom").is_none(), "{persona:?}: {old}");
    }
    // Control: sensitive access sees every version in full.
    let old = get(
        &app,
        &format!("{jane}/_history/2"),
        Persona::SensitiveClinician,
    )
    .await;
    assert!(old["address"].is_array());
}

#[tokio::test]
async fn a_label_lowered_since_does_not_uncover_what_was_very_restricted() {
    let app = TestApp::spawn().await;
    let vera = format!("/Patient/{}", sandbox::VERY_RESTRICTED);
    let (status, _, _) = patch_as(
        &app,
        &vera,
        "W/\"2\"",
        &to_gender("male"),
        &token(Persona::SensitiveClinician),
        &rid(),
    )
    .await;
    assert_eq!(status, 200);
    // Vera's record is no longer very restricted; version 2 (kept) was.
    app.execute(&format!(
        "UPDATE patients SET security = 0 WHERE nhs_number = {}",
        sandbox::VERY_RESTRICTED
    ));
    let history = get(&app, &format!("{vera}/_history"), Persona::Clerk).await;
    let listed = versions(&history);
    assert_eq!(listed[0]["meta"]["versionId"], "3");
    assert!(
        listed[0]["address"].is_array(),
        "the current version, now U"
    );
    assert_eq!(listed[1]["meta"]["versionId"], "2");
    for hidden in ["name", "birthDate", "address", "telecom"] {
        assert!(listed[1].get(hidden).is_none(), "{hidden}: {}", listed[1]);
    }
    let old = get(&app, &format!("{vera}/_history/2"), Persona::Clerk).await;
    assert!(
        old.get("name").is_none() && old.get("birthDate").is_none(),
        "{old}"
    );
}

#[tokio::test]
async fn total_is_the_number_of_versions_that_can_be_listed() {
    let app = TestApp::spawn().await;
    let jane = format!("/Patient/{}", sandbox::JANE_SMITH);
    // Seeded at version 2, with no copy of version 1.
    let history = get(&app, &format!("{jane}/_history"), Persona::Clerk).await;
    assert_eq!(history["total"], 1);
    assert_eq!(versions(&history).len(), 1);
    let clinician = token(Persona::Clinician);
    for (n, g) in [(2, "male"), (3, "female"), (4, "male")] {
        let (status, _, _) = patch_as(
            &app,
            &jane,
            &format!("W/\"{n}\""),
            &to_gender(g),
            &clinician,
            &rid(),
        )
        .await;
        assert_eq!(status, 200);
    }
    // Walk every page of two: as many entries as `total` says.
    let mut path = format!("{jane}/_history?_count=2");
    let mut seen = Vec::new();
    let mut totals = Vec::new();
    loop {
        let page = get(&app, &path, Persona::Clerk).await;
        totals.push(page["total"].clone());
        seen.extend(
            versions(&page)
                .into_iter()
                .map(|v| v["meta"]["versionId"].clone()),
        );
        let next = page["link"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["relation"] == "next"))
            .and_then(|l| l["url"].as_str())
            .map(|u| u[u.find("/Patient").unwrap()..].to_owned());
        match next {
            Some(next) => path = next,
            None => break,
        }
    }
    assert_eq!(seen, ["5", "4", "3", "2"]);
    assert!(totals.iter().all(|t| *t == 4), "{totals:?}");
}
