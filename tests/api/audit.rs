//! The audit trail: who asked, whatever happened after the token verified;
//! every answer's row committed before the answer leaves.

use crate::helpers::{
    AuditRow, TestApp, patch_as, patient_token, post_as, rid, send_as, token, token_with,
};
use pds::auth::personas::{Overrides, Persona};
use pds::seed::sandbox;
use reqwest::Method;
use serde_json::json;

const CLINICIAN_USER: &str = "555254240101";
const CLINICIAN_ROLE: &str = "555254242106";

fn only(rows: Vec<AuditRow>, request_id: &str) -> AuditRow {
    assert_eq!(rows.len(), 1, "one row for {request_id}: {rows:?}");
    rows.into_iter().next().unwrap()
}

#[tokio::test]
async fn a_verified_token_is_named_even_when_the_request_is_refused_later() {
    let app = TestApp::spawn().await;
    let path = format!("/Patient/{}", sandbox::JANE_SMITH);
    let clinician = token(Persona::Clinician);

    // No X-Request-ID, and a malformed one: the row is found by its
    // correlation id instead.
    for (value, expected) in [(None, 400), (Some("not-a-uuid"), 400)] {
        let correlation = rid();
        let mut r = app
            .client
            .get(app.url(&path))
            .bearer_auth(&clinician)
            .header("X-Correlation-ID", &correlation);
        if let Some(v) = value {
            r = r.header("X-Request-ID", v);
        }
        assert_eq!(r.send().await.unwrap().status(), expected);
        let rows: Vec<AuditRow> = {
            use diesel::prelude::*;
            diesel::sql_query(
                "SELECT request_id, access_mode, level, action, user_id, role_id, client_id, \
                 nhs_number, other_nhs_numbers, status, redacted, sensitive_override \
                 FROM audit_trail WHERE correlation_id = $1",
            )
            .bind::<diesel::sql_types::Text, _>(&correlation)
            .load(&mut app.connect())
            .unwrap()
        };
        let row = only(rows, &correlation);
        assert_eq!(row.request_id.as_deref(), value);
        assert_eq!(row.access_mode.as_deref(), Some("healthcare-worker"));
        assert_eq!(row.user_id.as_deref(), Some(CLINICIAN_USER));
        assert_eq!(row.role_id.as_deref(), Some(CLINICIAN_ROLE));
        assert_eq!(row.status, 400);
    }

    // An NHSD-Session-URID naming no role of the user: the user, no role.
    let id = rid();
    let (status, _, _) = send_as(
        &app,
        Method::GET,
        &path,
        &clinician,
        &id,
        &[("NHSD-Session-URID", "999")],
        None,
    )
    .await;
    assert_eq!(status, 400);
    let row = only(app.audit_of(&id), &id);
    assert_eq!(row.user_id.as_deref(), Some(CLINICIAN_USER));
    assert_eq!(row.role_id, None);
    assert_eq!(row.access_mode.as_deref(), Some("healthcare-worker"));

    // A role with no demographics activity: user and role.
    let none = token_with(
        Persona::Clinician,
        &Overrides {
            role_code: Some("S0:G0:R9999".into()),
            activities: Some(vec!["B0570".into()]),
            ..Overrides::default()
        },
    );
    let id = rid();
    let (status, _, _) = send_as(&app, Method::GET, &path, &none, &id, &[], None).await;
    assert_eq!(status, 403);
    let row = only(app.audit_of(&id), &id);
    assert_eq!(row.user_id.as_deref(), Some(CLINICIAN_USER));
    assert_eq!(row.role_id.as_deref(), Some(CLINICIAN_ROLE));
    assert_eq!(row.level, None);

    // A token with no scope of this API: named, as an unknown scope.
    let foreign = crate::helpers::dev_keys()
        .mint(&json!({"sub": "someone-else", "client_id": "other-app", "scope": "openid"}))
        .unwrap();
    let id = rid();
    let (status, _, _) = send_as(&app, Method::GET, &path, &foreign, &id, &[], None).await;
    assert_eq!(status, 401);
    let row = only(app.audit_of(&id), &id);
    assert_eq!(row.access_mode.as_deref(), Some("unknown-scope"));
    assert_eq!(row.user_id.as_deref(), Some("someone-else"));
    assert_eq!(row.client_id.as_deref(), Some("other-app"));

    // No token at all: nobody is named.
    let id = rid();
    let r = app
        .client
        .get(app.url(&path))
        .header("X-Request-ID", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let row = only(app.audit_of(&id), &id);
    assert_eq!(row.access_mode.as_deref(), Some("unauthenticated"));
    assert_eq!(row.user_id, None);
}

#[tokio::test]
async fn a_superseded_number_is_audited_under_both_numbers() {
    let app = TestApp::spawn().await;
    let id = rid();
    let (status, _, body) = send_as(
        &app,
        Method::GET,
        &format!("/Patient/{}", sandbox::SUPERSEDED),
        &token(Persona::Clerk),
        &id,
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], sandbox::JANE_SMITH);
    let row = only(app.audit_of(&id), &id);
    assert_eq!(row.nhs_number, Some(sandbox::SUPERSEDED.parse().unwrap()));
    assert_eq!(
        row.other_nhs_numbers,
        Some(vec![sandbox::JANE_SMITH.parse().unwrap()])
    );
}

#[tokio::test]
async fn a_restricted_record_shown_in_full_is_flagged_on_every_path() {
    let app = TestApp::spawn().await;
    let sensitive = token(Persona::SensitiveClinician);
    let janet = format!("/Patient/{}", sandbox::JANET_SMYTHE_RESTRICTED);
    let flags = |id: &str| {
        let row = only(app.audit_of(id), id);
        (row.status, row.redacted, row.sensitive_override)
    };

    let id = rid();
    let (status, etag, _) = send_as(&app, Method::GET, &janet, &sensitive, &id, &[], None).await;
    assert_eq!(status, 200);
    assert_eq!(flags(&id), (200, false, true), "retrieve");

    // The PATCH answer shows the whole restricted record: flagged.
    let id = rid();
    let patch = json!({"patches": [{"op": "replace", "path": "/gender", "value": "male"}]});
    let (status, _, body) = patch_as(
        &app,
        &janet,
        etag.as_deref().unwrap(),
        &patch,
        &sensitive,
        &id,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["address"].is_array(), "shown in full: {body}");
    assert_eq!(flags(&id), (200, false, true), "update");

    for path in [format!("{janet}/_history"), format!("{janet}/_history/3")] {
        let id = rid();
        let (status, _, _) = send_as(&app, Method::GET, &path, &sensitive, &id, &[], None).await;
        assert_eq!(status, 200);
        assert_eq!(flags(&id), (200, false, true), "{path}");
    }

    // A create whose record became restricted since: its replay shows it
    // in full to the sensitive clinician, flagged.
    let id = rid();
    let person = crate::create::person("Newlabel", &["Rita"], "1990-02-03", "female", "LS1 6AE");
    let (status, _, body) = post_as(&app, &sensitive, &id, &person).await;
    assert_eq!(status, 201, "{body}");
    let number = body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        flags(&id),
        (201, false, false),
        "a new record is unrestricted"
    );
    app.execute(&format!(
        "UPDATE patients SET security = 1 WHERE nhs_number = {number}"
    ));
    let (status, _, again) = post_as(&app, &sensitive, &id, &person).await;
    assert_eq!(status, 201);
    assert_eq!(again["id"], number.as_str());
    let rows = app.audit_of(&id);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1].action.as_deref(), Some("create-replay"));
    assert!(!rows[1].redacted && rows[1].sensitive_override);
}

#[tokio::test]
async fn every_answer_has_its_audit_row_when_it_arrives() {
    let app = TestApp::spawn().await;
    let clerk = token(Persona::Clerk);
    let jane = format!("/Patient/{}", sandbox::JANE_SMITH);
    let requests: Vec<(Method, String, String, u16)> = vec![
        (Method::GET, jane.clone(), clerk.clone(), 200),
        (
            Method::GET,
            "/Patient/9111231130".into(),
            clerk.clone(),
            404,
        ),
        (
            Method::GET,
            "/Patient/9000000000".into(),
            clerk.clone(),
            400,
        ),
        (
            Method::GET,
            "/Patient?family=Smith&birthdate=eq2010-10-22".into(),
            clerk.clone(),
            200,
        ),
        (
            Method::GET,
            "/Patient?family=Smith".into(),
            clerk.clone(),
            400,
        ),
        (Method::GET, format!("{jane}/_history"), clerk.clone(), 200),
        (
            Method::GET,
            format!("{jane}/_history/2"),
            clerk.clone(),
            200,
        ),
        (
            Method::GET,
            format!("{jane}/_history/9"),
            clerk.clone(),
            404,
        ),
        (
            Method::GET,
            format!("{jane}/RelatedPerson"),
            clerk.clone(),
            200,
        ),
        (Method::GET, jane.clone(), "not-a-token".into(), 401),
        (
            Method::GET,
            format!("/Patient/{}", sandbox::JAYNE_SMYTH),
            patient_token(sandbox::JANE_SMITH),
            403,
        ),
        (Method::DELETE, jane.clone(), clerk.clone(), 400),
    ];
    for (method, path, t, expected) in requests {
        // Checked straight after each answer, with no flush: the row must
        // already be committed.
        let id = rid();
        let (status, _, body) = send_as(&app, method.clone(), &path, &t, &id, &[], None).await;
        assert_eq!(status, expected, "{method} {path}: {body}");
        let rows = app.audit_of(&id);
        assert_eq!(rows.len(), 1, "{method} {path}: {rows:?}");
        assert_eq!(rows[0].status as u16, status, "{method} {path}");
    }
}
