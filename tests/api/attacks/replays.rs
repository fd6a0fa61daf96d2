//! Replayed request ids: a kept answer is given only to the caller who got
//! it, shown as that caller may see the record now.

use crate::create::person;
use crate::helpers::{TestApp, patch_as, post_as, rid, send_as, spine_code, token, token_with};
use diesel::prelude::*;
use pds::auth::personas::{Overrides, Persona};
use pds::seed::sandbox;
use reqwest::Method;
use serde_json::{Value, json};

fn janet() -> String {
    format!("/Patient/{}", sandbox::JANET_SMYTHE_RESTRICTED)
}

fn to_male() -> Value {
    json!({"patches": [{"op": "replace", "path": "/gender", "value": "male"}]})
}

/// The sensitive clinician without B1611: the same user in the same role.
fn same_user_without_b1611() -> String {
    token_with(
        Persona::SensitiveClinician,
        &Overrides {
            activities: Some(vec!["B0825".into()]),
            ..Overrides::default()
        },
    )
}

#[derive(QueryableByName)]
struct Kept {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    nhs_number: i64,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    version: i32,
}

#[tokio::test]
async fn another_caller_reusing_a_request_id_gets_400_and_nothing_of_the_answer() {
    let app = TestApp::spawn().await;
    let id = rid();
    let (status, etag, first) = patch_as(
        &app,
        &janet(),
        "W/\"2\"",
        &to_male(),
        &token(Persona::SensitiveClinician),
        &id,
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(etag.as_deref(), Some("W/\"3\""));
    assert!(
        first["address"].is_array(),
        "the sensitive clinician sees it all"
    );

    // The same request id, path, body and If-Match, from other callers: a
    // clinician without B1611, and another user who even has it.
    for attacker in [token(Persona::Clinician), token(Persona::Admin)] {
        let (status, etag, body) =
            patch_as(&app, &janet(), "W/\"2\"", &to_male(), &attacker, &id).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(spine_code(&body), "INVALID_VALUE");
        assert_eq!(body["resourceType"], "OperationOutcome");
        assert!(etag.is_none());
        assert!(!body.to_string().contains("Leeds"), "{body}");
    }

    // Applied once; the audit trail names each caller for what they did.
    let response = app
        .get_as(&janet(), &token(Persona::SensitiveClinician))
        .await;
    assert_eq!(response.headers()["etag"], "W/\"3\"");
    let rows = app.audit_of(&id);
    let summary: Vec<(Option<&str>, Option<&str>, i16)> = rows
        .iter()
        .map(|r| (r.action.as_deref(), r.user_id.as_deref(), r.status))
        .collect();
    assert_eq!(
        summary,
        [
            (Some("update"), Some("555254240102"), 200),
            (Some("update"), Some("555254240101"), 400),
            (Some("update"), Some("555254240103"), 400),
        ]
    );

    // What is kept is the version, not the answer.
    let kept: Vec<Kept> = diesel::sql_query(
        "SELECT nhs_number, version FROM idempotency_keys WHERE request_id = $1::uuid",
    )
    .bind::<diesel::sql_types::Text, _>(&id)
    .load(&mut app.connect())
    .unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        (kept[0].nhs_number, kept[0].version),
        (sandbox::JANET_SMYTHE_RESTRICTED.parse().unwrap(), 3)
    );
}

#[tokio::test]
async fn the_same_caller_gets_the_version_again_shown_as_they_may_see_it_now() {
    let app = TestApp::spawn().await;
    let sensitive = token(Persona::SensitiveClinician);
    let id = rid();
    let (status, _, first) = patch_as(&app, &janet(), "W/\"2\"", &to_male(), &sensitive, &id).await;
    assert_eq!(status, 200);

    // The record moves on to version 4.
    let back = json!({"patches": [{"op": "replace", "path": "/gender", "value": "female"}]});
    let (status, _, _) = patch_as(&app, &janet(), "W/\"3\"", &back, &sensitive, &rid()).await;
    assert_eq!(status, 200);

    // The retry gets version 3 as it was, applies nothing, and is audited
    // as a replay.
    let (status, etag, again) =
        patch_as(&app, &janet(), "W/\"2\"", &to_male(), &sensitive, &id).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(etag.as_deref(), Some("W/\"3\""));
    assert_eq!(again, first);
    let replay = app.audit_of(&id).pop().unwrap();
    assert_eq!(replay.action.as_deref(), Some("update-replay"));
    assert!(replay.sensitive_override && !replay.redacted);
    let now = app.get_as(&janet(), &sensitive).await;
    assert_eq!(now.headers()["etag"], "W/\"4\"");

    // The same user in the same role, now without B1611: still their
    // retry, but shown redacted, as a retrieve would show it to them.
    let (status, etag, redacted) = patch_as(
        &app,
        &janet(),
        "W/\"2\"",
        &to_male(),
        &same_user_without_b1611(),
        &id,
    )
    .await;
    assert_eq!(status, 200, "{redacted}");
    assert_eq!(etag.as_deref(), Some("W/\"3\""));
    assert_eq!(redacted["gender"], "male");
    for hidden in ["address", "telecom", "contact", "generalPractitioner"] {
        assert!(redacted.get(hidden).is_none(), "{hidden}: {redacted}");
    }
    let replay = app.audit_of(&id).pop().unwrap();
    assert_eq!(replay.action.as_deref(), Some("update-replay"));
    assert!(replay.redacted && !replay.sensitive_override);
}

#[tokio::test]
async fn a_create_is_replayed_only_to_its_caller() {
    let app = TestApp::spawn().await;
    let body = person("Replayson", &["Ada"], "1991-03-04", "female", "LS1 6AE");
    let post = |t: String, id: String| {
        let body = body.clone();
        let app = &app;
        async move { post_as(app, &t, &id, &body).await }
    };
    let id = rid();
    let (status, etag, created) = post(token(Persona::Clinician), id.clone()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(etag.as_deref(), Some("W/\"1\""));
    let number = created["id"].as_str().unwrap().to_owned();

    let (status, _, refused) = post(token(Persona::SensitiveClinician), id.clone()).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(spine_code(&refused), "INVALID_VALUE");
    assert!(!refused.to_string().contains(&number));

    // The record changes; the creator's retry still gets version 1.
    let path = format!("/Patient/{number}");
    let (status, _, _) = patch_as(
        &app,
        &path,
        "W/\"1\"",
        &to_male(),
        &token(Persona::Clinician),
        &rid(),
    )
    .await;
    assert_eq!(status, 200);
    let (status, etag, again) = post(token(Persona::Clinician), id.clone()).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(etag.as_deref(), Some("W/\"1\""));
    assert_eq!(again, created);
    let actions: Vec<Option<String>> = app.audit_of(&id).into_iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        [
            Some("create".to_owned()),
            Some("create".to_owned()),
            Some("create-replay".to_owned())
        ]
    );
    // One patient of that name, however often it was sent.
    let (status, _, found) = send_as(
        &app,
        Method::GET,
        "/Patient?family=Replayson&birthdate=eq1991-03-04",
        &token(Persona::Clerk),
        &rid(),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(found["total"], 1);
}
