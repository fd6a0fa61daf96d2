//! Values a PATCH replaced or removed, found again by `_history=true` and
//! fuzzy searches (never shown); and what a fuzzy search's email, phone and
//! postcode exclude.

use crate::create::person;
use crate::helpers::{TestApp, patch_as, post_as, rid, token};
use diesel::prelude::*;
use pds::auth::personas::Persona;
use serde_json::{Value, json};

const BORN: &str = "1977-03-14";

/// Aurelia Quenby of LS2 7UE, with a current phone and email, created
/// through the API: her number, ETag and record.
async fn aurelia(app: &TestApp) -> (String, String, Value) {
    let mut body = person("Quenby", &["Aurelia"], BORN, "female", "LS2 7UE");
    body["telecom"] = json!([
        {"system": "phone", "value": "01134960001", "use": "home"},
        {"system": "email", "value": "aurelia.quenby@example.com", "use": "home"}
    ]);
    let (status, etag, created) = post_as(app, &token(Persona::Clinician), &rid(), &body).await;
    assert_eq!(status, 201, "{created}");
    let number = created["id"].as_str().unwrap().to_owned();
    (number, etag.unwrap(), created)
}

/// Applies `patches` as a clinician; the new ETag and record.
async fn patched(app: &TestApp, number: &str, etag: &str, patches: Value) -> (String, Value) {
    let path = format!("/Patient/{number}");
    let body = json!({ "patches": patches });
    let (status, etag, record) =
        patch_as(app, &path, etag, &body, &token(Persona::Clinician), &rid()).await;
    assert_eq!(status, 200, "{record}");
    (etag.unwrap(), record)
}

/// The id of the first item of `list` (with `system`, for telecoms).
fn id_of(record: &Value, list: &str, system: Option<&str>) -> (usize, String) {
    let items = record[list].as_array().unwrap();
    let at = items
        .iter()
        .position(|i| system.is_none_or(|s| i["system"] == s))
        .unwrap();
    (at, items[at]["id"].as_str().unwrap().to_owned())
}

/// Replaces `field` of the first item of `list` (of `system`) with `value`.
fn replace(record: &Value, list: &str, system: Option<&str>, field: &str, value: Value) -> Value {
    let (at, id) = id_of(record, list, system);
    json!([
        {"op": "test", "path": format!("/{list}/{at}/id"), "value": id},
        {"op": "replace", "path": format!("/{list}/{at}/{field}"), "value": value}
    ])
}

/// The NHS numbers a clinician's search finds (`persona`'s if given).
async fn found_as(app: &TestApp, query: &str, persona: Persona) -> Vec<String> {
    let response = app
        .get_as(&format!("/Patient?{query}"), &token(persona))
        .await;
    assert_eq!(response.status(), 200, "{query}");
    let bundle: Value = response.json().await.unwrap();
    assert_eq!(bundle["resourceType"], "Bundle", "{query}: {bundle}");
    bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|x| x["resource"]["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn found(app: &TestApp, query: &str) -> Vec<String> {
    found_as(app, query, Persona::Clinician).await
}

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn number_from(app: &TestApp, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Number>(&mut app.connect())
        .expect(sql)
        .n
}

/// The stored size of the record's `details`, in bytes.
fn stored_bytes(app: &TestApp, number: &str) -> i64 {
    number_from(
        app,
        &format!(
            "SELECT octet_length(details)::bigint AS n FROM patients WHERE nhs_number = {number}"
        ),
    )
}

/// Every search in `queries` finds `number`; each with `history` removed
/// (`_history=true` dropped) finds nobody.
async fn history_only(app: &TestApp, number: &str, queries: &[&str]) {
    for query in queries {
        assert_eq!(found(app, query).await, [number], "{query}");
        if let Some(without) = query.strip_suffix("&_history=true") {
            assert!(found(app, without).await.is_empty(), "{without}");
        }
    }
}

/// The retrieve, and a search that finds the patient, show none of `gone`.
async fn shown_nowhere(app: &TestApp, number: &str, gone: &[&str]) {
    let record = app
        .get(&format!("/Patient/{number}"))
        .await
        .text()
        .await
        .unwrap();
    let search = app
        .get(&format!(
            "/Patient?family=Marlowe&birthdate={BORN}&_history=true"
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(search.contains(number), "{search}");
    for value in gone {
        assert!(!record.contains(value), "{value} in {record}");
        assert!(!search.contains(value), "{value} in {search}");
    }
}

#[tokio::test]
async fn each_replaced_value_finds_the_patient_by_history_and_fuzzy_search_only() {
    let app = TestApp::spawn().await;
    let (number, etag, _) = aurelia(&app).await;
    let fresh = stored_bytes(&app, &number);
    let q = |rest: &str| format!("birthdate={BORN}&{rest}");

    // An update that replaces nothing searchable keeps nothing.
    let gender = json!([{"op": "replace", "path": "/gender", "value": "male"}]);
    let (etag, _) = patched(&app, &number, &etag, gender).await;
    assert_eq!(stored_bytes(&app, &number), fresh, "a gender change");
    let gender = json!([{"op": "replace", "path": "/gender", "value": "female"}]);
    let (etag, _) = patched(&app, &number, &etag, gender).await;
    assert_eq!(stored_bytes(&app, &number), fresh);

    // Family name: Quenby → Marlowe.
    let patch = replace(
        &record_of(&app, &number).await,
        "name",
        None,
        "family",
        json!("Marlowe"),
    );
    let (etag, _) = patched(&app, &number, &etag, patch).await;
    let after_family = stored_bytes(&app, &number);
    history_only(
        &app,
        &number,
        &[
            &q("family=Quenby&_history=true"),
            &q("family=Quenby&given=Aurelia&_history=true"),
        ],
    )
    .await;
    assert_eq!(
        found(&app, &q("family=Quenby&given=Aurelia&_fuzzy-match=true")).await,
        [number.as_str()]
    );
    // Also over a wide date range, through the former-names index.
    let wide = "family=Quenby&birthdate=ge1900-01-01&_history=true";
    assert_eq!(found(&app, wide).await, [number.as_str()]);
    let rows = number_from(
        &app,
        &format!(
            "SELECT count(*) AS n FROM patient_former_names \
             WHERE nhs_number = {number} AND family_key = 'QUENBY'"
        ),
    );
    assert_eq!(rows, 1);

    // Given name: Aurelia → Beatrix.
    let patch = replace(
        &record_of(&app, &number).await,
        "name",
        None,
        "given",
        json!(["Beatrix"]),
    );
    let (etag, _) = patched(&app, &number, &etag, patch).await;
    history_only(
        &app,
        &number,
        &[&q("family=Marlowe&given=Aurelia&_history=true")],
    )
    .await;
    assert_eq!(
        found(&app, &q("family=Marlowe&given=Aurelia&_fuzzy-match=true")).await,
        [number.as_str()]
    );

    // Postcode: LS2 7UE → LS6 1AA.
    let patch = replace(
        &record_of(&app, &number).await,
        "address",
        None,
        "postalCode",
        json!("LS6 1AA"),
    );
    let (etag, _) = patched(&app, &number, &etag, patch).await;
    history_only(
        &app,
        &number,
        &[&q("family=Marlowe&address-postalcode=LS27UE&_history=true")],
    )
    .await;
    // Fuzzy on family, gender and postcode: the former postcode is what
    // makes it a match (a postcode never held is too little).
    let fuzzy = |postcode: &str| {
        q(&format!(
            "family=Marlowe&gender=female&address-postalcode={postcode}&_fuzzy-match=true"
        ))
    };
    assert_eq!(found(&app, &fuzzy("LS2%207UE")).await, [number.as_str()]);
    assert!(found(&app, &fuzzy("EX1%201AA")).await.is_empty());

    // Phone: 01134960001 → 01134960002.
    let patch = replace(
        &record_of(&app, &number).await,
        "telecom",
        Some("phone"),
        "value",
        json!("01134960002"),
    );
    let (etag, _) = patched(&app, &number, &etag, patch).await;
    history_only(
        &app,
        &number,
        &[&q("family=Marlowe&phone=01134960001&_history=true")],
    )
    .await;
    let fuzzy = |phone: &str| {
        q(&format!(
            "family=Marlowe&given=Beatrix&phone={phone}&_fuzzy-match=true"
        ))
    };
    assert_eq!(found(&app, &fuzzy("01134960001")).await, [number.as_str()]);
    assert_eq!(found(&app, &fuzzy("01134960002")).await, [number.as_str()]);
    assert!(found(&app, &fuzzy("07700900999")).await.is_empty());

    // Email: replaced, then the new one removed (not replaced).
    let patch = replace(
        &record_of(&app, &number).await,
        "telecom",
        Some("email"),
        "value",
        json!("b.marlowe@example.com"),
    );
    let (etag, _) = patched(&app, &number, &etag, patch).await;
    let (at, id) = id_of(&record_of(&app, &number).await, "telecom", Some("email"));
    let remove = json!([
        {"op": "test", "path": format!("/telecom/{at}/id"), "value": id},
        {"op": "remove", "path": format!("/telecom/{at}")}
    ]);
    let (_, record) = patched(&app, &number, &etag, remove).await;
    assert!(
        record["telecom"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["system"] != "email")
    );
    for email in ["aurelia.quenby%40example.com", "b.marlowe%40example.com"] {
        history_only(
            &app,
            &number,
            &[&q(&format!("family=Marlowe&email={email}&_history=true"))],
        )
        .await;
        let fuzzy = q(&format!(
            "family=Marlowe&given=Beatrix&email={email}&_fuzzy-match=true"
        ));
        assert_eq!(found(&app, &fuzzy).await, [number.as_str()], "{email}");
    }

    // Never shown: not by a retrieve, not in search results.
    shown_nowhere(
        &app,
        &number,
        &[
            "Quenby",
            "Aurelia",
            "LS2 7UE",
            "01134960001",
            "aurelia.quenby",
            "b.marlowe",
        ],
    )
    .await;

    // Compact: each value kept costs its own text and a few bytes more
    // (the text of the current values changed too, by a byte or two).
    let now = stored_bytes(&app, &number);
    eprintln!(
        "details bytes: created {fresh}, after the family change {after_family}, \
         after five replacements and a removal {now}"
    );
    let per_value = 12;
    let kept = |texts: &[&str]| {
        texts
            .iter()
            .map(|t| t.len() as i64 + per_value)
            .sum::<i64>()
    };
    // The first former value also brings the extra part's framing (its
    // options and list lengths: a few bytes).
    let framing = 6;
    assert!(
        after_family - fresh <= kept(&["Quenby Aurelia"]) + framing,
        "{fresh} → {after_family}"
    );
    let all = [
        "Quenby Aurelia",
        "Marlowe Aurelia",
        "LS2 7UE",
        "01134960001",
    ];
    let emails = ["aurelia.quenby@example.com", "b.marlowe@example.com"];
    assert!(now - fresh <= kept(&all) + kept(&emails), "{fresh} → {now}");
}

async fn record_of(app: &TestApp, number: &str) -> Value {
    app.get(&format!("/Patient/{number}"))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_restricted_records_former_values_are_matched_only_for_callers_who_see_it() {
    let app = TestApp::spawn().await;
    let (number, etag, record) = aurelia(&app).await;
    let patch = replace(&record, "name", None, "family", json!("Marlowe"));
    patched(&app, &number, &etag, patch).await;
    app.execute(&format!(
        "UPDATE patients SET security = 1 WHERE nhs_number = {number}"
    ));
    let queries = [
        format!("family=Quenby&birthdate={BORN}&_history=true"),
        format!("family=Quenby&given=Aurelia&birthdate={BORN}&_fuzzy-match=true"),
    ];
    for query in &queries {
        assert!(found(&app, query).await.is_empty(), "{query}");
        assert_eq!(
            found_as(&app, query, Persona::SensitiveClinician).await,
            [number.as_str()],
            "{query}"
        );
    }
    // The current name, which a retrieve shows them, still finds it.
    let current = format!("family=Marlowe&birthdate={BORN}&_history=true");
    assert_eq!(found(&app, &current).await, [number.as_str()]);
}

#[tokio::test]
async fn a_fuzzy_email_or_phone_the_patient_never_had_excludes_them() {
    let app = TestApp::spawn().await;
    let (number, etag, record) = aurelia(&app).await;
    let patch = replace(
        &record,
        "telecom",
        Some("email"),
        "value",
        json!("aq@example.com"),
    );
    patched(&app, &number, &etag, patch).await;
    let fuzzy = |extra: &str| {
        format!("family=Quenby&given=Aurelia&birthdate={BORN}&_fuzzy-match=true{extra}")
    };
    // Name and birth date agree.
    assert_eq!(found(&app, &fuzzy("")).await, [number.as_str()]);
    for excluded in [
        "&email=deb.trotter%40example.com",
        "&phone=0121111111",
        // Each one asked must agree, not just one of them.
        "&email=aq%40example.com&phone=0121111111",
    ] {
        assert!(found(&app, &fuzzy(excluded)).await.is_empty(), "{excluded}");
    }
    for included in [
        "&email=aq%40example.com",
        // The email the update replaced.
        "&email=Aurelia.Quenby%40example.com",
        "&phone=01134960001",
        // One typo (PDS tolerates them).
        "&phone=01134960010",
        "&email=aq%40exmaple.com",
    ] {
        assert_eq!(
            found(&app, &fuzzy(included)).await,
            [number.as_str()],
            "{included}"
        );
    }
}

#[tokio::test]
async fn pseudo_postcodes_never_count_as_a_postcode_match() {
    let app = TestApp::spawn().await;
    // No fixed abode.
    let body = person("Ormerod", &["Benedict"], "2017-05-20", "male", "ZZ99 3WZ");
    let (status, _, created) = post_as(&app, &token(Persona::Clinician), &rid(), &body).await;
    assert_eq!(status, 201, "{created}");
    let number = created["id"].as_str().unwrap().to_owned();
    let base = "family=Ormerod&given=Benedict&gender=male&birthdate=2017-05-20";
    assert_eq!(
        found(&app, &format!("{base}&_fuzzy-match=true")).await,
        [number.as_str()]
    );
    // Supplied in a fuzzy search: matches nobody (PDS answers none).
    for pseudo in ["ZZ99%203WZ", "ZZ997CZ"] {
        let query = format!("{base}&address-postalcode={pseudo}&_fuzzy-match=true");
        assert!(found(&app, &query).await.is_empty(), "{query}");
    }
    // Stored: family, gender and a postcode one character off is no match,
    // and neither is the pseudo postcode itself in a normal search.
    let near = "family=Ormerod&gender=male&birthdate=2017-05-20&address-postalcode=ZZ98%203WZ&_fuzzy-match=true";
    assert!(found(&app, near).await.is_empty());
    for history in ["", "&_history=true"] {
        let query =
            format!("family=Ormerod&birthdate=2017-05-20&address-postalcode=ZZ993WZ{history}");
        assert!(found(&app, &query).await.is_empty(), "{query}");
    }
}
