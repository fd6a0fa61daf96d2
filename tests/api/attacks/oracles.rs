//! Search as an oracle: no search may confirm what a retrieve withholds.
//! A very restricted (`V`) record never appears to a caller below
//! sensitive access, whatever is asked; a restricted (`R`) record's hidden
//! telecoms neither match nor move a score.

use crate::create::person;
use crate::helpers::{TestApp, patch_as, post_as, rid, send_as, spine_code, token};
use pds::auth::personas::Persona;
use pds::seed::sandbox;
use reqwest::Method;
use serde_json::{Value, json};

/// Vera Lockwood, the seeded `V` record: female, born 2010-10-22.
const VERA: &str = sandbox::VERY_RESTRICTED;

async fn search(app: &TestApp, query: &str, t: &str) -> (u16, Value) {
    let (status, _, body) = send_as(
        app,
        Method::GET,
        &format!("/Patient?{query}"),
        t,
        &rid(),
        &[],
        None,
    )
    .await;
    (status, body)
}

fn ids(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|x| x["resource"]["id"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn score_of(bundle: &Value, id: &str) -> Option<f64> {
    bundle["entry"]
        .as_array()?
        .iter()
        .find(|e| e["resource"]["id"] == id)
        .and_then(|e| e["search"]["score"].as_f64())
}

/// The answer without what differs between any two searches.
fn shape(mut body: Value) -> Value {
    if let Some(map) = body.as_object_mut() {
        map.remove("timestamp");
    }
    body
}

#[tokio::test]
async fn a_very_restricted_record_cannot_be_confirmed_by_any_search() {
    let app = TestApp::spawn().await;
    let right = [
        "family=Lockwood&birthdate=eq2010-10-22",
        "family=Lockwood&given=Vera&gender=female&birthdate=eq2010-10-22",
        "family=Lo*&birthdate=eq2010-10-22",
        "family=Lockw*&birthdate=ge2010-01-01&birthdate=le2010-12-31",
        "family=Lockwood&birthdate=eq2010-10-22&_history=true",
        "family=Lockwood&birthdate=eq2010-10-22&_exact-match=true",
        "family=Lockwood&given=Vera&birthdate=eq2010-10-22&_fuzzy-match=true",
        "family=Lokwood&given=Verra&birthdate=eq2010-10-22&_fuzzy-match=true",
        "given=Vera&gender=female&birthdate=eq2010-10-22&address-postalcode=LS1%206AE&_fuzzy-match=true",
        "family=Lockwood&birthdate=eq2010-10-22&email=vera.lockwood%40example.com&_history=true",
        "family=Lockwood&birthdate=eq2010-10-22&phone=01632960587&_history=true",
    ];
    let wrong = [
        "family=Lockwood&birthdate=eq2011-10-22",
        "family=Lockwood&given=Vera&gender=female&birthdate=eq2011-10-22",
        "family=Lo*&birthdate=eq2011-10-22",
        "family=Lockw*&birthdate=ge2011-01-01&birthdate=le2011-12-31",
        "family=Lockwood&birthdate=eq2011-10-22&_history=true",
        "family=Lockwood&birthdate=eq2011-10-22&_exact-match=true",
        "family=Lockwood&given=Vera&birthdate=eq2011-10-22&_fuzzy-match=true",
        "family=Lokwood&given=Verra&birthdate=eq2011-10-22&_fuzzy-match=true",
        "given=Vera&gender=female&birthdate=eq2011-10-22&address-postalcode=LS1%206AE&_fuzzy-match=true",
        "family=Lockwood&birthdate=eq2010-10-22&email=someone%40example.com&_history=true",
        "family=Lockwood&birthdate=eq2010-10-22&phone=07700900000&_history=true",
    ];
    for persona in [
        Persona::Clerk,
        Persona::Clinician,
        Persona::App,
        Persona::PrivilegedApp,
    ] {
        let t = token(persona);
        for (asked, control) in right.iter().zip(wrong) {
            let (status, hit) = search(&app, asked, &t).await;
            let (control_status, miss) = search(&app, control, &t).await;
            assert_eq!(status, 200, "{persona:?} {asked}: {hit}");
            assert!(!ids(&hit).contains(&VERA.to_owned()), "{persona:?} {asked}");
            // Right or wrong, the caller gets the same answer.
            assert_eq!(
                (status, shape(hit)),
                (control_status, shape(miss)),
                "{persona:?}: {asked} against {control}"
            );
        }
    }
    // Control: sensitive access finds her, and would tell right from wrong.
    let t = token(Persona::SensitiveClinician);
    let (_, hit) = search(&app, right[0], &t).await;
    assert_eq!(ids(&hit), [VERA]);
    let (_, fuzzy) = search(&app, right[7], &t).await;
    assert!(ids(&fuzzy).contains(&VERA.to_owned()));
    let (_, miss) = search(&app, wrong[0], &t).await;
    assert_eq!(miss["total"], 0);
}

#[tokio::test]
async fn a_restricted_records_hidden_telecoms_neither_match_nor_score() {
    let app = TestApp::spawn().await;
    let janet = format!("/Patient/{}", sandbox::JANET_SMYTHE_RESTRICTED);
    let sensitive = token(Persona::SensitiveClinician);
    let add = |telecom: Value| json!({"patches": [{"op": "add", "path": "/telecom/-", "value": telecom}]});
    let (status, _, body) = patch_as(
        &app,
        &janet,
        "W/\"2\"",
        &add(json!({"system": "phone", "value": "07700900125", "use": "mobile"})),
        &sensitive,
        &rid(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = patch_as(
        &app,
        &janet,
        "W/\"3\"",
        &add(json!({"system": "email", "value": "janet.now@example.com", "use": "work"})),
        &sensitive,
        &rid(),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let base = "family=Smythe&birthdate=eq2010-10-22";
    let asks = [
        ("phone=07700900125", "phone=07700900999"),
        (
            "email=janet.now%40example.com",
            "email=janet.then%40example.com",
        ),
        (
            "phone=01632960587&_history=true",
            "phone=01632960999&_history=true",
        ),
        (
            "email=janet.smythe%40example.com&_history=true",
            "email=janet.other%40example.com&_history=true",
        ),
    ];
    let number = sandbox::JANET_SMYTHE_RESTRICTED.to_owned();
    for persona in [Persona::Clerk, Persona::Clinician, Persona::App] {
        let t = token(persona);
        // Name and birth date are visible: she is found on those alone.
        let (_, plain) = search(&app, base, &t).await;
        assert!(ids(&plain).contains(&number), "{persona:?}: {plain}");
        for (right, wrong) in asks {
            let (_, hit) = search(&app, &format!("{base}&{right}"), &t).await;
            let (_, miss) = search(&app, &format!("{base}&{wrong}"), &t).await;
            assert!(!ids(&hit).contains(&number), "{persona:?} {right}: {hit}");
            assert_eq!(shape(hit), shape(miss), "{persona:?} {right}");
        }
        // Fuzzy: a phone or email asked must agree with one the patient
        // has or had, and hers are not seen, so the right one leaves her
        // out just as a wrong one does.
        let fuzzy = "family=Smythe&given=Janet&birthdate=eq2010-10-22&_fuzzy-match=true";
        for (right, wrong) in [
            ("phone=07700900125", "phone=07700900999"),
            (
                "email=janet.now%40example.com",
                "email=janet.x%40example.com",
            ),
        ] {
            let (_, hit) = search(&app, &format!("{fuzzy}&{right}"), &t).await;
            let (_, miss) = search(&app, &format!("{fuzzy}&{wrong}"), &t).await;
            assert!(score_of(&hit, &number).is_none(), "{persona:?}: {hit}");
            assert_eq!(shape(hit), shape(miss), "{persona:?} {right}");
        }
    }
    // Control: callers who may see her telecoms can match and score on them.
    for persona in [Persona::SensitiveClinician, Persona::PrivilegedApp] {
        let t = token(persona);
        for (right, wrong) in asks {
            let (_, hit) = search(&app, &format!("{base}&{right}"), &t).await;
            let (_, miss) = search(&app, &format!("{base}&{wrong}"), &t).await;
            assert_eq!(
                ids(&hit),
                vec![number.clone()],
                "{persona:?} {right}: {hit}"
            );
            assert_eq!(miss["total"], 0, "{persona:?} {wrong}");
        }
    }
    let fuzzy = "family=Smythe&given=Janet&birthdate=eq2010-10-22&_fuzzy-match=true";
    let (_, hit) = search(&app, &format!("{fuzzy}&phone=07700900125"), &sensitive).await;
    let (_, miss) = search(&app, &format!("{fuzzy}&phone=07700900999"), &sensitive).await;
    assert!(score_of(&hit, &number).is_some(), "{hit}");
    assert_eq!(score_of(&miss, &number), None, "{miss}");
}

#[tokio::test]
async fn an_application_cannot_count_very_restricted_records() {
    // Applications get one result; two matches would be TOO_MANY_MATCHES.
    // A `V` record next to a visible one must not turn one into two.
    let app = TestApp::spawn().await;
    let sensitive = token(Persona::SensitiveClinician);
    let twin = person("Lockwood", &["Vera"], "2010-10-22", "female", "EX1 1AA");
    let (status, _, body) = post_as(&app, &sensitive, &rid(), &twin).await;
    // The sensitive clinician sees Vera at LS1 6AE: a different address is
    // a different person to the matcher, so the twin is created.
    assert_eq!(status, 201, "{body}");
    let twin_number = body["id"].as_str().unwrap().to_owned();
    let (status, found) = search(
        &app,
        "family=Lockwood&birthdate=eq2010-10-22&_max-results=1",
        &token(Persona::App),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(found["resourceType"], "Bundle", "{found}");
    assert_eq!(ids(&found), [twin_number]);
    // Control: with sensitive access both are there, and one result is too few.
    let (_, both) = search(
        &app,
        "family=Lockwood&birthdate=eq2010-10-22&_max-results=1",
        &sensitive,
    )
    .await;
    assert_eq!(spine_code(&both), "TOO_MANY_MATCHES");
}

#[tokio::test]
async fn the_create_check_refuses_a_hidden_duplicate_without_saying_which_or_where() {
    let app = TestApp::spawn().await;
    let clinician = token(Persona::Clinician);
    let post = |body: Value, t: String| {
        let app = &app;
        async move { post_as(app, &t, &rid(), &body).await }
    };
    let mut answers = Vec::new();
    for postcode in ["LS1 6AE", "EX1 1AA", "ZZ99 3VZ"] {
        let vera = person("Lockwood", &["Vera"], "2010-10-22", "female", postcode);
        let (status, _, body) = post(vera, clinician.clone()).await;
        assert_eq!(status, 200, "{postcode}: {body}");
        assert_eq!(spine_code(&body), "MULTIPLE_MATCHES", "{body}");
        assert!(!body.to_string().contains(VERA), "{body}");
        answers.push(body);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    // Nothing was created.
    let (_, found) = search(
        &app,
        "family=Lockwood&birthdate=eq2010-10-22",
        &token(Persona::SensitiveClinician),
    )
    .await;
    assert_eq!(ids(&found), [VERA]);
    // Control: with sensitive access, the match is named.
    let vera = person("Lockwood", &["Vera"], "2010-10-22", "female", "LS1 6AE");
    let (status, _, body) = post(vera, token(Persona::SensitiveClinician)).await;
    assert_eq!(status, 200);
    assert_eq!(spine_code(&body), "SINGLE_MATCH");
    assert!(body.to_string().contains(VERA), "{body}");
}
