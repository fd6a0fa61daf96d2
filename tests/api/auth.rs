//! Tokens, access modes, role selection, levels and redaction.

use crate::helpers::{TestApp, patient_token, spine_code, token, token_with};
use pds::auth::dev::DevKeys;
use pds::auth::personas::{Overrides, Persona};
use pds::seed::sandbox;
use reqwest::Method;
use serde_json::{Value, json};

const ID: &str = "60E0B220-8136-4CA5-AE46-1D97EF59D068";

async fn call(app: &TestApp, authorization: Option<&str>, path: &str) -> (u16, Value) {
    let mut request = app.client.get(app.url(path)).header("X-Request-ID", ID);
    if let Some(a) = authorization {
        request = request.header("Authorization", a);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn assert_denied(status: u16, body: &Value, diagnostics: &str) {
    assert_eq!(status, 401, "{body}");
    assert_eq!(spine_code(body), "ACCESS_DENIED");
    assert_eq!(body["issue"][0]["code"], "forbidden");
    assert_eq!(
        body["issue"][0]["details"]["coding"][0]["display"],
        "Access Denied - Unauthorised"
    );
    assert_eq!(body["issue"][0]["diagnostics"], diagnostics);
}

#[tokio::test]
async fn each_malformed_authorization_header_gets_the_pds_diagnostics() {
    let app = TestApp::spawn().await;
    let path = "/Patient/9000000009";
    let (s, b) = call(&app, None, path).await;
    assert_denied(s, &b, "Missing Authorization header");
    let (s, b) = call(&app, Some(""), path).await;
    assert_denied(s, &b, "Empty Authorization header");
    let (s, b) = call(&app, Some("Bearer"), path).await;
    assert_denied(s, &b, "Missing access token");
    let (s, b) = call(&app, Some("Basic dXNlcjpwYXNz"), path).await;
    assert_denied(s, &b, "Invalid token type 'Basic', must be 'Bearer'");
    let (s, b) = call(&app, Some("Bearer not.a.jwt"), path).await;
    assert_denied(s, &b, "Invalid Access Token");
}

#[tokio::test]
async fn tokens_from_untrusted_keys_expired_or_for_another_audience_are_refused() {
    let app = TestApp::spawn().await;
    let path = "/Patient/9000000009";
    let claims = pds::auth::personas::claims(Persona::Clinician, &Overrides::default()).unwrap();

    let stranger_dir =
        crate::helpers::test_cluster_dir(&format!("keys-{}", uuid::Uuid::new_v4().simple()));
    let stranger = DevKeys::load_or_create(&stranger_dir).unwrap();
    let forged = stranger.mint(&claims).unwrap();
    let _ = std::fs::remove_dir_all(&stranger_dir);
    let (s, b) = call(&app, Some(&format!("Bearer {forged}")), path).await;
    assert_denied(s, &b, "Invalid Access Token");

    let keys = crate::helpers::dev_keys();
    let mut expired = claims.clone();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    let (s, b) = call(
        &app,
        Some(&format!("Bearer {}", keys.mint(&expired).unwrap())),
        path,
    )
    .await;
    assert_denied(s, &b, "Invalid Access Token");

    let mut elsewhere = claims.clone();
    elsewhere["aud"] = json!("https://another.example/api");
    let (s, b) = call(
        &app,
        Some(&format!("Bearer {}", keys.mint(&elsewhere).unwrap())),
        path,
    )
    .await;
    assert_denied(s, &b, "Invalid Access Token");

    let mut no_scope = claims.clone();
    no_scope["scope"] = json!("openid profile");
    let (s, b) = call(
        &app,
        Some(&format!("Bearer {}", keys.mint(&no_scope).unwrap())),
        path,
    )
    .await;
    assert_denied(s, &b, "Invalid Access Token");
}

#[tokio::test]
async fn authentication_errors_come_before_request_id_errors() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/Patient/9000000000"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn nhs_login_below_p9_is_forbidden() {
    let app = TestApp::spawn().await;
    let mut claims = pds::auth::personas::claims(
        Persona::Patient,
        &Overrides {
            nhs_number: Some(sandbox::JANE_SMITH.into()),
            ..Overrides::default()
        },
    )
    .unwrap();
    claims["scope"] = json!("urn:nhsd:apim:user-nhs-login:P5:personal-demographics-service");
    let t = crate::helpers::dev_keys().mint(&claims).unwrap();
    let (s, b) = call(&app, Some(&format!("Bearer {t}")), "/Patient/9000000009").await;
    assert_eq!(s, 403);
    assert_eq!(spine_code(&b), "ACCESS_DENIED");
    assert_eq!(
        b["issue"][0]["details"]["coding"][0]["display"],
        "Patient cannot perform this action"
    );
}

#[tokio::test]
async fn a_patient_reads_their_own_record_and_no_other() {
    let app = TestApp::spawn().await;
    let own = app
        .get_as("/Patient/9000000017", &patient_token("9000000017"))
        .await;
    assert_eq!(own.status(), 200);
    let other = app
        .get_as("/Patient/9000000009", &patient_token("9000000017"))
        .await;
    assert_eq!(other.status(), 403);
    let body: Value = other.json().await.unwrap();
    assert_eq!(spine_code(&body), "ACCESS_DENIED");
    assert!(
        body["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("Patient access restrictions")
    );
    // A restricted patient sees their own record in full.
    let me = app
        .get_as("/Patient/9000000025", &patient_token("9000000025"))
        .await;
    let body: Value = me.json().await.unwrap();
    assert!(body.get("address").is_some());
}

fn two_role_claims() -> Value {
    let mut c = pds::auth::personas::claims(Persona::Clerk, &Overrides::default()).unwrap();
    c["nhsid_nrbac_roles"] = json!([
        {"person_roleid": "111111111111", "org_code": "A81001", "role_code": "S8000:G8001:R8008", "activity_codes": []},
        {"person_roleid": "222222222222", "org_code": "A81002", "role_code": "S8000:G8001:R9999", "activity_codes": ["B0570"]}
    ]);
    c.as_object_mut().unwrap().remove("selected_roleid");
    c
}

#[tokio::test]
async fn the_session_urid_header_selects_the_role_and_only_that_role_decides() {
    let app = TestApp::spawn().await;
    let t = crate::helpers::dev_keys().mint(&two_role_claims()).unwrap();
    let with_urid = |urid: Option<&'static str>| {
        let mut r = app
            .client
            .get(app.url("/Patient/9000000009"))
            .bearer_auth(&t)
            .header("X-Request-ID", ID);
        if let Some(u) = urid {
            r = r.header("NHSD-Session-URID", u);
        }
        r.send()
    };
    assert_eq!(with_urid(Some("111111111111")).await.unwrap().status(), 200);
    // The pharmacy role has no demographics activity: forbidden, not the union.
    assert_eq!(with_urid(Some("222222222222")).await.unwrap().status(), 403);

    let bad = with_urid(Some("999")).await.unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(spine_code(&body), "INVALID_VALUE");
    assert!(
        body["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .starts_with("Invalid value - '999' in header 'NHSD-Session-URID'")
    );
    let none = with_urid(None).await.unwrap();
    assert_eq!(none.status(), 400);
    let body: Value = none.json().await.unwrap();
    assert!(
        body["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .starts_with("Invalid value - '' in header")
    );
}

#[tokio::test]
async fn a_role_without_a_demographics_activity_is_forbidden() {
    let app = TestApp::spawn().await;
    let t = token_with(
        Persona::Clinician,
        &Overrides {
            role_code: Some("S8000:G8000:R9999".into()),
            activities: Some(vec!["B0570".into()]),
            ..Overrides::default()
        },
    );
    let response = app.get_as("/Patient/9000000009", &t).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(spine_code(&body), "ACCESS_DENIED");
}

#[tokio::test]
async fn smart_scopes_narrow_but_never_widen() {
    let app = TestApp::spawn().await;
    let search_only = token_with(
        Persona::Clinician,
        &Overrides {
            scopes: vec!["user/Patient.s".into()],
            ..Overrides::default()
        },
    );
    assert_eq!(
        app.get_as("/Patient/9000000009", &search_only)
            .await
            .status(),
        403
    );
    let read = token_with(
        Persona::Clerk,
        &Overrides {
            scopes: vec!["user/Patient.cruds".into()],
            ..Overrides::default()
        },
    );
    assert_eq!(app.get_as("/Patient/9000000009", &read).await.status(), 200);
}

async fn keys_of(app: &TestApp, path: &str, t: &str) -> Vec<String> {
    let response = app.get_as(path, t).await;
    assert_eq!(response.status(), 200, "{path}");
    let body: Value = response.json().await.unwrap();
    body.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn restricted_records_are_redacted_by_level() {
    let app = TestApp::spawn().await;
    let r = format!("/Patient/{}", sandbox::JANET_SMYTHE_RESTRICTED);
    for persona in [Persona::Clerk, Persona::Clinician, Persona::App] {
        let keys = keys_of(&app, &r, &token(persona)).await;
        assert!(!keys.contains(&"address".to_string()), "{persona:?}");
        assert!(keys.contains(&"name".to_string()), "{persona:?}");
    }
    for persona in [
        Persona::SensitiveClinician,
        Persona::Admin,
        Persona::PrivilegedApp,
    ] {
        let keys = keys_of(&app, &r, &token(persona)).await;
        assert!(keys.contains(&"address".to_string()), "{persona:?}");
        assert!(
            keys.contains(&"generalPractitioner".to_string()),
            "{persona:?}"
        );
    }

    let v = format!("/Patient/{}", sandbox::VERY_RESTRICTED);
    for persona in [Persona::Clinician, Persona::PrivilegedApp] {
        let keys = keys_of(&app, &v, &token(persona)).await;
        for hidden in ["name", "birthDate", "address", "telecom"] {
            assert!(!keys.contains(&hidden.to_string()), "{persona:?} {hidden}");
        }
        assert!(keys.contains(&"gender".to_string()));
    }
    let keys = keys_of(&app, &v, &token(Persona::SensitiveClinician)).await;
    assert!(keys.contains(&"name".to_string()) && keys.contains(&"address".to_string()));
}

#[tokio::test]
async fn other_methods_still_need_a_token() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .request(Method::PUT, app.url("/Patient/9000000009"))
        .header("X-Request-ID", ID)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[derive(diesel::QueryableByName, Debug)]
struct TrailRow {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    request_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    access_mode: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    level: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    action: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    role_code: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    user_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    client_id: Option<String>,
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
async fn every_read_and_denial_is_audited_without_tokens() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn().await;
    let r = format!("/Patient/{}", sandbox::JANET_SMYTHE_RESTRICTED);
    let send = |t: Option<String>, id: &'static str| {
        let mut req = app.client.get(app.url(&r)).header("X-Request-ID", id);
        if let Some(t) = t {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let clerk = "11111111-1111-4111-8111-111111111111";
    let sensitive = "22222222-2222-4222-8222-222222222222";
    let anonymous = "33333333-3333-4333-8333-333333333333";
    let app_call = "44444444-4444-4444-8444-444444444444";
    assert_eq!(
        send(Some(token(Persona::Clerk)), clerk)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        send(Some(token(Persona::SensitiveClinician)), sensitive)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(send(None, anonymous).await.unwrap().status(), 401);
    assert_eq!(
        send(Some(token(Persona::App)), app_call)
            .await
            .unwrap()
            .status(),
        200
    );

    assert!(app.auditor.flush(std::time::Duration::from_secs(10)));
    let mut conn = app.database.as_ref().unwrap().connect();
    let rows: Vec<TrailRow> = diesel::sql_query(
        "SELECT request_id, access_mode, level, action, role_code, user_id, client_id, \
         nhs_number, status, redacted, sensitive_override FROM audit_trail ORDER BY at",
    )
    .load(&mut conn)
    .unwrap();
    let find = |id: &str| {
        rows.iter()
            .find(|r| r.request_id.as_deref() == Some(id))
            .expect(id)
    };
    let number = sandbox::JANET_SMYTHE_RESTRICTED.parse::<i64>().unwrap();

    let c = find(clerk);
    assert_eq!(c.access_mode.as_deref(), Some("healthcare-worker"));
    assert_eq!(c.level.as_deref(), Some("staff_view"));
    assert_eq!(c.action.as_deref(), Some("retrieve"));
    assert_eq!(c.role_code.as_deref(), Some("S8000:G8001:R8008"));
    assert_eq!(c.user_id.as_deref(), Some("555254240100"));
    assert_eq!(c.nhs_number, Some(number));
    assert_eq!(c.status, 200);
    assert!(c.redacted && !c.sensitive_override);

    let s = find(sensitive);
    assert_eq!(s.level.as_deref(), Some("sensitive_view"));
    assert!(!s.redacted && s.sensitive_override);

    let a = find(anonymous);
    assert_eq!(a.access_mode.as_deref(), Some("unauthenticated"));
    assert_eq!(a.status, 401);
    assert_eq!(a.nhs_number, Some(number));

    let p = find(app_call);
    assert_eq!(p.access_mode.as_deref(), Some("application-restricted"));
    assert_eq!(p.client_id.as_deref(), Some("dev-app"));
    assert!(p.user_id.is_none());
}
