//! Bearer token verification: the `Authorization` header to verified claims.
//!
//! Accepted algorithms are RS256, RS512, PS256 and ES256 with keys from the
//! trusted key sets, and HS256 only when a shared secret is configured. The
//! token's `alg` must fit the key's type and the JWK's `alg`; `exp`, `iss`
//! and `aud` are required, `nbf` is checked when present. Successful
//! verifications are cached by a hash of the token until the token's `exp`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use super::jwks::JwksSource;
use super::jwks::{KeyStore, TrustedKey};

/// Claims of a verified token.
pub type Claims = Arc<Map<String, Value>>;

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// How many verified tokens are cached.
pub const CACHE_CAPACITY: u64 = 100_000;
/// Minimum HS256 secret length (RFC 7518 §3.2: a key as long as the hash).
pub const MIN_HS256_SECRET_BYTES: usize = 32;

#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// Trusted key sets.
    pub jwks: Vec<JwksSource>,
    /// Accepted `iss` values (non-empty).
    pub issuers: Vec<String>,
    /// Required `aud` (a string, or an array containing it).
    pub audience: String,
    /// HS256 is accepted only when this is set.
    pub hs256_secret: Option<String>,
    /// Clock leeway for `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
}

impl AuthConfig {
    pub const DEFAULT_LEEWAY_SECS: u64 = 30;
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuthError {
    #[error("Missing Authorization header")]
    MissingHeader,
    #[error("Empty Authorization header")]
    EmptyHeader,
    #[error("Missing access token")]
    MissingToken,
    #[error("Invalid token type '{0}', must be 'Bearer'")]
    InvalidTokenType(String),
    /// The string is the internal reason, for logs only.
    #[error("Invalid Access Token ({0})")]
    InvalidToken(String),
}

impl AuthError {
    /// The `OperationOutcome` diagnostics for this error, as PDS words it.
    pub fn diagnostics(&self) -> String {
        match self {
            Self::InvalidToken(_) => "Invalid Access Token".to_owned(),
            other => other.to_string(),
        }
    }
}

fn invalid(reason: impl Into<String>) -> AuthError {
    AuthError::InvalidToken(reason.into())
}

/// Longest piece of a token header quoted in a refusal's (logged) reason.
const MAX_SHOWN_CHARS: usize = 64;

/// A header value the caller chose, as a refusal's reason quotes it for the
/// log: control characters escaped, cut at [`MAX_SHOWN_CHARS`].
fn shown(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_SHOWN_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().nth(MAX_SHOWN_CHARS).is_some() {
        out.push_str("...");
    }
    out
}

/// Verifies bearer tokens; cheap to clone.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.inner.keys)
            .field("hs256", &self.inner.hs256.is_some())
            .finish_non_exhaustive()
    }
}

struct Inner {
    keys: KeyStore,
    hs256: Option<DecodingKey>,
    /// One validation per accepted algorithm.
    validations: Vec<(Algorithm, Validation)>,
    cache: moka::sync::Cache<[u8; 32], CachedToken>,
}

#[derive(Clone)]
struct CachedToken {
    claims: Claims,
    /// The token's `exp`, in seconds since the epoch.
    exp: u64,
}

/// Cache entries live until the token's `exp`, never beyond.
struct UntilExp;

impl moka::Expiry<[u8; 32], CachedToken> for UntilExp {
    fn expire_after_create(
        &self,
        _key: &[u8; 32],
        value: &CachedToken,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(until(value.exp))
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Time left before `exp` (zero when past). An `exp` beyond what the clock
/// can represent (from 2^63 seconds on) is as good as never: the cache
/// saturates, where `UNIX_EPOCH + exp` would panic the worker.
fn until(exp: u64) -> Duration {
    match UNIX_EPOCH.checked_add(Duration::from_secs(exp)) {
        Some(exp) => exp.duration_since(SystemTime::now()).unwrap_or_default(),
        None => Duration::MAX,
    }
}

impl Verifier {
    /// Loads file and inline key sets now (an unreadable or invalid one is
    /// an error); URL sets are fetched on first use.
    pub fn new(config: AuthConfig) -> anyhow::Result<Self> {
        if config.issuers.is_empty() || config.issuers.iter().any(String::is_empty) {
            bail!("at least one token issuer must be configured, none empty");
        }
        if config.audience.is_empty() {
            bail!("the token audience must be configured");
        }
        let hs256 = match &config.hs256_secret {
            None => None,
            Some(secret) if secret.len() < MIN_HS256_SECRET_BYTES => {
                bail!("the HS256 secret must be at least {MIN_HS256_SECRET_BYTES} bytes")
            }
            Some(secret) => Some(DecodingKey::from_secret(secret.as_bytes())),
        };
        let keys = KeyStore::new(&config.jwks).context("loading trusted keys")?;
        if !keys.has_sources() && hs256.is_none() {
            bail!("no trusted key set and no HS256 secret: no token could be verified");
        }
        let mut algorithms = vec![
            Algorithm::RS256,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::ES256,
        ];
        if hs256.is_some() {
            algorithms.push(Algorithm::HS256);
        }
        let validations = algorithms
            .into_iter()
            .map(|alg| {
                let mut v = Validation::new(alg);
                v.leeway = config.leeway_secs;
                v.validate_exp = true;
                v.validate_nbf = true;
                v.validate_aud = true;
                v.set_required_spec_claims(&["exp", "iss", "aud"]);
                v.set_issuer(&config.issuers);
                v.set_audience(&[&config.audience]);
                (alg, v)
            })
            .collect();
        let cache = moka::sync::Cache::builder()
            .max_capacity(CACHE_CAPACITY)
            .expire_after(UntilExp)
            .build();
        Ok(Self {
            inner: Arc::new(Inner {
                keys,
                hs256,
                validations,
                cache,
            }),
        })
    }

    /// Verifies the raw `Authorization` header value, if present, and
    /// returns the token's claims.
    pub async fn verify(&self, authorization: Option<&[u8]>) -> Result<Claims, AuthError> {
        let token = bearer_token(authorization)?;
        let digest: [u8; 32] = Sha256::digest(token).into();
        if let Some(hit) = self.inner.cache.get(&digest) {
            if now_secs() <= hit.exp {
                return Ok(hit.claims);
            }
            self.inner.cache.invalidate(&digest);
        }
        let (claims, exp) = self.verify_uncached(token).await?;
        if exp > now_secs() {
            self.inner.cache.insert(
                digest,
                CachedToken {
                    claims: claims.clone(),
                    exp,
                },
            );
        }
        Ok(claims)
    }

    /// How many fetches each URL key source has attempted (for tests and
    /// diagnostics).
    pub async fn jwks_fetch_counts(&self) -> Vec<u64> {
        self.inner.keys.fetch_counts().await
    }

    async fn verify_uncached(&self, token: &[u8]) -> Result<(Claims, u64), AuthError> {
        let started = Instant::now();
        let header = parse_header(token)?;
        if header.alg == Algorithm::HS256 && self.inner.hs256.is_none() {
            return Err(invalid("HS256 token, but no HS256 secret is configured"));
        }
        let validation = self
            .inner
            .validations
            .iter()
            .find(|(alg, _)| *alg == header.alg)
            .map(|(_, v)| v)
            .ok_or_else(|| invalid(format!("algorithm {:?} not accepted", header.alg)))?;

        let trusted;
        let key: &DecodingKey = if header.alg == Algorithm::HS256 {
            self.inner
                .hs256
                .as_ref()
                .ok_or_else(|| invalid("no HS256 secret"))?
        } else {
            trusted = self
                .find_key(header.alg, header.kid.as_deref(), started)
                .await?;
            &trusted.key
        };

        let data = jsonwebtoken::decode::<Map<String, Value>>(token, key, validation)
            .map_err(|e| invalid(format!("{:?}", e.kind())))?;
        if !matches!(data.claims.get("iss"), Some(Value::String(_))) {
            return Err(invalid("iss is not a string"));
        }
        let exp = match data.claims.get("exp") {
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().map(|f| f as u64))
                .unwrap_or(0),
            _ => return Err(invalid("exp is not a number")),
        };
        Ok((Arc::new(data.claims), exp))
    }

    async fn find_key(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
        started: Instant,
    ) -> Result<Arc<TrustedKey>, AuthError> {
        let keys = &self.inner.keys;
        keys.ensure_loaded().await;
        match kid {
            Some(kid) => {
                let mut candidates = keys.with_kid(kid);
                if candidates.is_empty() {
                    keys.refresh_for_unknown_kid(started).await;
                    candidates = keys.with_kid(kid);
                }
                if candidates.is_empty() {
                    return Err(invalid(format!("unknown kid '{}'", shown(kid))));
                }
                let mut reasons = Vec::new();
                for key in candidates {
                    match key.check(alg) {
                        Ok(()) => return Ok(key),
                        Err(reason) => reasons.push(reason),
                    }
                }
                Err(invalid(reasons.join("; ")))
            }
            None => {
                let mut matching = keys
                    .all_keys()
                    .into_iter()
                    .filter(|key| key.check(alg).is_ok());
                match (matching.next(), matching.next()) {
                    (Some(key), None) => Ok(key),
                    (None, _) => Err(invalid(format!("no kid, and no key for {alg:?}"))),
                    (Some(_), Some(_)) => {
                        Err(invalid(format!("no kid, and several keys for {alg:?}")))
                    }
                }
            }
        }
    }
}

/// Schemes longer than this are not named in "Invalid token type" (the
/// registered ones are at most 16 bytes: `AWS4-HMAC-SHA256`).
pub const MAX_SCHEME_BYTES: usize = 32;

/// An RFC 9110 `tchar`, of which an authentication scheme is made.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The token from an `Authorization: Bearer <token>` header value.
fn bearer_token(authorization: Option<&[u8]>) -> Result<&[u8], AuthError> {
    let raw = authorization.ok_or(AuthError::MissingHeader)?;
    let value = raw.trim_ascii();
    if value.is_empty() {
        return Err(AuthError::EmptyHeader);
    }
    let (scheme, rest) = match value.iter().position(|b| matches!(b, b' ' | b'\t')) {
        Some(at) => (&value[..at], value[at..].trim_ascii()),
        None => (value, &[][..]),
    };
    if !scheme.eq_ignore_ascii_case(b"Bearer") {
        // Only a plausible scheme is named back (and logged): not a token
        // sent without "Bearer ", nor anything else the caller chose.
        if scheme.len() > MAX_SCHEME_BYTES || !scheme.iter().all(|&b| is_tchar(b)) {
            return Err(invalid("not an authentication scheme"));
        }
        return Err(AuthError::InvalidTokenType(
            String::from_utf8_lossy(scheme).into_owned(),
        ));
    }
    if rest.is_empty() {
        return Err(AuthError::MissingToken);
    }
    if rest.len() > MAX_TOKEN_BYTES {
        return Err(invalid("token too long"));
    }
    Ok(rest)
}

struct Header {
    alg: Algorithm,
    kid: Option<String>,
}

/// Checks the token's shape and reads its header, before any key lookup.
fn parse_header(token: &[u8]) -> Result<Header, AuthError> {
    let mut parts = token.split(|&b| b == b'.');
    let (Some(header), Some(_payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("not three dot-separated parts"));
    };
    if !token
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(invalid("characters outside base64url"));
    }
    let json =
        super::jwks::b64url_decode(header).map_err(|_| invalid("header is not base64url"))?;
    let header: Map<String, Value> =
        serde_json::from_slice(&json).map_err(|_| invalid("header is not a JSON object"))?;
    if header.contains_key("crit") {
        return Err(invalid("header has 'crit'"));
    }
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => Algorithm::RS256,
        Some("RS512") => Algorithm::RS512,
        Some("PS256") => Algorithm::PS256,
        Some("ES256") => Algorithm::ES256,
        Some("HS256") => Algorithm::HS256,
        Some(other) => {
            return Err(invalid(format!(
                "algorithm '{}' not accepted",
                shown(other)
            )));
        }
        None => return Err(invalid("header has no alg")),
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(invalid("kid is not a string")),
    };
    Ok(Header { alg, kid })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::dev::DevKeys;
    use crate::auth::jwks::b64url;
    use jsonwebtoken::EncodingKey;
    use serde_json::json;
    use std::io::{BufRead, BufReader, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};

    const RSA_KEY: &[u8] = include_bytes!("../../tests/fixtures/auth/rsa-test-key.pem");
    const RSA_PUB: &[u8] = include_bytes!("../../tests/fixtures/auth/rsa-test-pub.pem");
    const RSA_JWKS: &str = include_str!("../../tests/fixtures/auth/rsa-test-jwks.json");
    const RSA_KID: &str = "rsa-test-1";
    const ISS: &str = "https://issuer.test/realm";
    const AUD: &str = "https://pds.test/FHIR/R4";
    const SECRET: &str = "0123456789abcdef0123456789abcdef-test-secret";

    fn rsa_n() -> String {
        let doc: Value = serde_json::from_str(RSA_JWKS).unwrap();
        doc["keys"][0]["n"].as_str().unwrap().to_owned()
    }

    /// A JWKS holding the test RSA key under each `(kid, extra members)`.
    fn rsa_jwks(keys: &[(&str, Value)]) -> String {
        let keys: Vec<Value> = keys
            .iter()
            .map(|(kid, extra)| {
                let mut jwk = json!({"kty": "RSA", "kid": kid, "n": rsa_n(), "e": "AQAB"});
                for (k, v) in extra.as_object().unwrap() {
                    jwk[k] = v.clone();
                }
                jwk
            })
            .collect();
        json!({ "keys": keys }).to_string()
    }

    fn dev_keys() -> DevKeys {
        let dir = std::env::temp_dir().join(format!("pds-verify-{}", uuid::Uuid::new_v4()));
        let keys = DevKeys::load_or_create(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        keys
    }

    fn config(jwks: Vec<JwksSource>) -> AuthConfig {
        AuthConfig {
            jwks,
            issuers: vec!["https://other.test".into(), ISS.into()],
            audience: AUD.into(),
            hs256_secret: None,
            leeway_secs: AuthConfig::DEFAULT_LEEWAY_SECS,
        }
    }

    /// Trusts the test RSA key (as `rsa-test-1`) and the dev EC key.
    fn verifier_with(dev: &DevKeys) -> Verifier {
        Verifier::new(config(vec![
            JwksSource::File(
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/fixtures/auth/rsa-test-jwks.json"
                )
                .into(),
            ),
            dev.jwks_source(),
        ]))
        .unwrap()
    }

    fn claims() -> Value {
        json!({"iss": ISS, "aud": AUD, "sub": "656005750104", "exp": now_secs() + 600})
    }

    fn with(mut claims: Value, key: &str, value: Value) -> Value {
        claims[key] = value;
        claims
    }

    fn without(mut claims: Value, key: &str) -> Value {
        claims.as_object_mut().unwrap().remove(key);
        claims
    }

    fn rsa() -> EncodingKey {
        EncodingKey::from_rsa_pem(RSA_KEY).unwrap()
    }

    fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
        let mut header = jsonwebtoken::Header::new(alg);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }

    fn rs256(claims: &Value) -> String {
        sign(Algorithm::RS256, Some(RSA_KID), claims, &rsa())
    }

    /// A token from raw header and payload JSON and a raw signature.
    fn raw_token(header: &Value, payload: &Value, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(payload.to_string().as_bytes()),
            b64url(signature)
        )
    }

    async fn check(verifier: &Verifier, token: &str) -> Result<Claims, AuthError> {
        verifier
            .verify(Some(format!("Bearer {token}").as_bytes()))
            .await
    }

    /// Checks that `token` is refused as invalid, for the reason given
    /// (a part of the internal reason, so that a test cannot pass by
    /// failing for another reason).
    async fn assert_invalid(verifier: &Verifier, token: &str, reason: &str) {
        match check(verifier, token).await {
            Err(AuthError::InvalidToken(got)) => {
                assert!(got.contains(reason), "expected '{reason}', got '{got}'");
            }
            other => panic!("expected InvalidToken({reason}), got {other:?}"),
        }
    }

    #[tokio::test]
    async fn es256_dev_token_verifies_and_returns_its_claims() {
        let dev = dev_keys();
        let verifier = verifier_with(&dev);
        let token = dev
            .mint(&json!({"iss": ISS, "aud": AUD, "sub": "656005750104",
                "nhsid_nrbac_roles": [{"person_roleid": "555254240100"}]}))
            .unwrap();
        let claims = check(&verifier, &token).await.unwrap();
        assert_eq!(claims["sub"], "656005750104");
        assert_eq!(
            claims["nhsid_nrbac_roles"][0]["person_roleid"],
            "555254240100"
        );
        assert!(claims.contains_key("jti"));
    }

    #[tokio::test]
    async fn rsa_tokens_verify_with_rs256_rs512_and_ps256() {
        let verifier = verifier_with(&dev_keys());
        for alg in [Algorithm::RS256, Algorithm::RS512, Algorithm::PS256] {
            let token = sign(alg, Some(RSA_KID), &claims(), &rsa());
            let claims = check(&verifier, &token)
                .await
                .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            assert_eq!(claims["iss"], ISS);
        }
        // An audience array that contains ours.
        let token = rs256(&with(claims(), "aud", json!(["someone-else", AUD])));
        check(&verifier, &token).await.unwrap();
        // The scheme is case-insensitive, and surrounding spaces do not matter.
        let header = format!("  bearer   {}  ", rs256(&claims()));
        verifier.verify(Some(header.as_bytes())).await.unwrap();
    }

    #[tokio::test]
    async fn header_errors_have_the_pds_diagnostics() {
        let verifier = verifier_with(&dev_keys());
        let cases: [(Option<&[u8]>, AuthError, &str); 7] = [
            (
                None,
                AuthError::MissingHeader,
                "Missing Authorization header",
            ),
            (
                Some(b""),
                AuthError::EmptyHeader,
                "Empty Authorization header",
            ),
            (
                Some(b"   "),
                AuthError::EmptyHeader,
                "Empty Authorization header",
            ),
            (
                Some(b"Bearer"),
                AuthError::MissingToken,
                "Missing access token",
            ),
            (
                Some(b"Bearer   "),
                AuthError::MissingToken,
                "Missing access token",
            ),
            (
                Some(b"Basic xyz"),
                AuthError::InvalidTokenType("Basic".into()),
                "Invalid token type 'Basic', must be 'Bearer'",
            ),
            (
                Some(b"Token"),
                AuthError::InvalidTokenType("Token".into()),
                "Invalid token type 'Token', must be 'Bearer'",
            ),
        ];
        for (header, error, diagnostics) in cases {
            let got = verifier.verify(header).await.unwrap_err();
            assert_eq!(got, error);
            assert_eq!(got.diagnostics(), diagnostics);
        }
        // A token without "Bearer ", a long or odd "scheme": not echoed.
        let token = rs256(&claims());
        let long = "A".repeat(MAX_SCHEME_BYTES + 1);
        for header in [token.as_str(), &long, "<script>alert(1)</script> x", "Bé x"] {
            let got = verifier.verify(Some(header.as_bytes())).await.unwrap_err();
            assert_eq!(
                got,
                AuthError::InvalidToken("not an authentication scheme".into()),
                "{header}"
            );
            assert_eq!(got.diagnostics(), "Invalid Access Token");
        }
        let longest = "A".repeat(MAX_SCHEME_BYTES);
        let got = verifier.verify(Some(longest.as_bytes())).await.unwrap_err();
        assert_eq!(got, AuthError::InvalidTokenType(longest));
    }

    #[tokio::test]
    async fn malformed_tokens_are_invalid() {
        let verifier = verifier_with(&dev_keys());
        let good = rs256(&claims());
        let (header, rest) = good.split_once('.').unwrap();
        let (payload, signature) = rest.split_once('.').unwrap();
        let too_long = "a".repeat(MAX_TOKEN_BYTES + 1);
        // Correctly signed, but the payload is not JSON.
        let not_json = b64url(b"not json");
        let signed = jsonwebtoken::crypto::sign(
            format!("{header}.{not_json}").as_bytes(),
            &rsa(),
            Algorithm::RS256,
        )
        .unwrap();
        const PARTS: &str = "not three dot-separated parts";
        const CHARS: &str = "characters outside base64url";
        let cases = [
            ("garbage".to_owned(), PARTS),
            ("g1112R_ccQ1Ebbb4gtHBP1aaaNM".to_owned(), PARTS),
            ("a.b".to_owned(), PARTS),
            (format!("{good}.extra"), PARTS),
            (format!("{header}.{payload}"), PARTS),
            (format!("!!!.{payload}.{signature}"), CHARS),
            (format!("{header}.{payload}.%%%"), CHARS),
            (format!("{good} trailing"), CHARS),
            (format!("{header}=.{payload}.{signature}"), CHARS),
            (format!("a{header}.{payload}.{signature}"), "header is not"),
            (
                format!("{not_json}.{payload}.{signature}"),
                "header is not a JSON object",
            ),
            (
                format!("{header}.{not_json}.{signature}"),
                "InvalidSignature",
            ),
            (format!("{header}.{not_json}.{signed}"), "Json"),
            (too_long, "token too long"),
        ];
        for (token, reason) in cases {
            assert_invalid(&verifier, &token, reason).await;
        }
    }

    #[tokio::test]
    async fn alg_none_and_foreign_algorithms_are_rejected() {
        let verifier = verifier_with(&dev_keys());
        for alg in [
            "none", "None", "NONE", "RS384", "ES384", "PS512", "EdDSA", "HS512",
        ] {
            let token = raw_token(
                &json!({"alg": alg, "typ": "JWT", "kid": RSA_KID}),
                &claims(),
                b"",
            );
            assert_invalid(
                &verifier,
                &token,
                &format!("algorithm '{alg}' not accepted"),
            )
            .await;
        }
        let token = raw_token(&json!({"typ": "JWT"}), &claims(), b"");
        assert_invalid(&verifier, &token, "header has no alg").await;
        // A critical header extension we do not understand.
        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.kid = Some(RSA_KID.into());
        header.crit = Some(vec!["exp".into()]);
        let token = jsonwebtoken::encode(&header, &claims(), &rsa()).unwrap();
        assert_invalid(&verifier, &token, "header has 'crit'").await;
    }

    #[tokio::test]
    async fn hs256_needs_a_configured_secret() {
        let verifier = verifier_with(&dev_keys());
        let token = sign(
            Algorithm::HS256,
            None,
            &claims(),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        );
        assert_invalid(&verifier, &token, "no HS256 secret").await;

        let mut config = config(vec![]);
        config.hs256_secret = Some(SECRET.into());
        let verifier = Verifier::new(config).unwrap();
        let claims = check(&verifier, &token).await.unwrap();
        assert_eq!(claims["sub"], "656005750104");
        let wrong = sign(
            Algorithm::HS256,
            None,
            &self::claims(),
            &EncodingKey::from_secret(b"another secret of thirty-two bytes!!"),
        );
        assert_invalid(&verifier, &wrong, "InvalidSignature").await;

        let mut short = self::config(vec![]);
        short.hs256_secret = Some("short".into());
        assert!(Verifier::new(short).is_err());
    }

    #[tokio::test]
    async fn algorithm_confusion_is_rejected() {
        let dev = dev_keys();
        let verifier = verifier_with(&dev);
        // HS256 keyed with the RSA public key's PEM bytes, naming the RSA kid.
        let confused = EncodingKey::from_secret(RSA_PUB);
        let token = sign(Algorithm::HS256, Some(RSA_KID), &claims(), &confused);
        assert_invalid(&verifier, &token, "no HS256 secret").await;
        // ...also when HS256 is enabled with a (different) secret.
        let mut config = config(vec![JwksSource::Inline(RSA_JWKS.into())]);
        config.hs256_secret = Some(SECRET.into());
        let with_secret = Verifier::new(config).unwrap();
        assert_invalid(&with_secret, &token, "InvalidSignature").await;
        // An EC signature naming an RSA key, and the other way round.
        let token = sign(Algorithm::ES256, Some(RSA_KID), &claims(), &ec_key());
        assert_invalid(
            &verifier,
            &token,
            "alg ES256 does not fit key 'rsa-test-1' of type Rsa",
        )
        .await;
        let token = sign(Algorithm::RS256, Some(dev.kid()), &claims(), &rsa());
        assert_invalid(&verifier, &token, "of type EcP256").await;
        // A JWK that pins its algorithm.
        let pinned = Verifier::new(config_rsa(&[(RSA_KID, json!({"alg": "RS512"}))])).unwrap();
        assert_invalid(
            &pinned,
            &rs256(&claims()),
            "differs from key 'rsa-test-1' alg RS512",
        )
        .await;
        check(
            &pinned,
            &sign(Algorithm::RS512, Some(RSA_KID), &claims(), &rsa()),
        )
        .await
        .unwrap();
    }

    fn config_rsa(keys: &[(&str, Value)]) -> AuthConfig {
        config(vec![JwksSource::Inline(rsa_jwks(keys))])
    }

    /// A fresh P-256 signing key and its public JWK (without `kid`).
    fn ec_pair() -> (EncodingKey, Value) {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let secret = p256::SecretKey::random(&mut rand_core::OsRng);
        let der = p256::pkcs8::EncodePrivateKey::to_pkcs8_der(&secret).unwrap();
        let point = secret.public_key().to_encoded_point(false);
        let jwk = json!({"kty": "EC", "crv": "P-256",
            "x": b64url(point.x().unwrap()), "y": b64url(point.y().unwrap())});
        (EncodingKey::from_ec_der(der.as_bytes()), jwk)
    }

    /// A fresh P-256 signing key, not trusted by anyone.
    fn ec_key() -> EncodingKey {
        ec_pair().0
    }

    #[tokio::test]
    async fn unknown_kid_is_rejected() {
        let dev = dev_keys();
        let verifier = verifier_with(&dev);
        let token = sign(Algorithm::RS256, Some("no-such-kid"), &claims(), &rsa());
        assert_invalid(&verifier, &token, "unknown kid 'no-such-kid'").await;
        // The right kid but a key we do not trust.
        let token = sign(Algorithm::ES256, Some(dev.kid()), &claims(), &ec_key());
        assert_invalid(&verifier, &token, "InvalidSignature").await;
    }

    #[tokio::test]
    async fn hostile_kids_and_algs_are_quoted_escaped_and_short() {
        let verifier = verifier_with(&dev_keys());
        let long = "k".repeat(10 * 1024);
        for (kid, quoted) in [
            ("line\nInjected: yes", "line\\nInjected: yes".to_owned()),
            ("\u{1b}[2J", "\\u{1b}[2J".to_owned()),
            (long.as_str(), format!("{}...", "k".repeat(MAX_SHOWN_CHARS))),
        ] {
            let token = sign(Algorithm::RS256, Some(kid), &claims(), &rsa());
            assert_invalid(&verifier, &token, &format!("unknown kid '{quoted}'")).await;
        }
        let token = raw_token(&json!({"alg": "none\r\n"}), &claims(), b"");
        assert_invalid(&verifier, &token, "algorithm 'none\\r\\n' not accepted").await;
    }

    #[tokio::test]
    async fn time_claims_are_checked_with_leeway() {
        let verifier = verifier_with(&dev_keys());
        let now = now_secs();
        let expired = rs256(&with(claims(), "exp", json!(now - 120)));
        assert_invalid(&verifier, &expired, "ExpiredSignature").await;
        let in_leeway = rs256(&with(claims(), "exp", json!(now - 5)));
        check(&verifier, &in_leeway).await.unwrap();
        let future = rs256(&with(claims(), "nbf", json!(now + 120)));
        assert_invalid(&verifier, &future, "ImmatureSignature").await;
        let nbf_in_leeway = rs256(&with(claims(), "nbf", json!(now + 5)));
        check(&verifier, &nbf_in_leeway).await.unwrap();
        let no_exp = rs256(&without(claims(), "exp"));
        assert_invalid(&verifier, &no_exp, "MissingRequiredClaim(\"exp\")").await;
        let text_exp = rs256(&with(claims(), "exp", json!("tomorrow")));
        assert_invalid(&verifier, &text_exp, "MissingRequiredClaim(\"exp\")").await;
    }

    #[tokio::test]
    async fn audience_and_issuer_are_checked() {
        let verifier = verifier_with(&dev_keys());
        let cases = [
            (
                with(claims(), "aud", json!("https://elsewhere.test")),
                "InvalidAudience",
            ),
            (with(claims(), "aud", json!(["a", "b"])), "InvalidAudience"),
            (without(claims(), "aud"), "MissingRequiredClaim(\"aud\")"),
            (
                with(claims(), "iss", json!("https://evil.test")),
                "InvalidIssuer",
            ),
            (without(claims(), "iss"), "MissingRequiredClaim(\"iss\")"),
            (with(claims(), "iss", json!([ISS])), "iss is not a string"),
        ];
        for (claims, what) in cases {
            assert_invalid(&verifier, &rs256(&claims), what).await;
        }
    }

    #[tokio::test]
    async fn tampered_payload_is_rejected() {
        let verifier = verifier_with(&dev_keys());
        let token = rs256(&claims());
        let parts: Vec<&str> = token.split('.').collect();
        let forged = b64url(
            with(claims(), "sub", json!("someone-else"))
                .to_string()
                .as_bytes(),
        );
        let tampered = format!("{}.{forged}.{}", parts[0], parts[2]);
        assert_invalid(&verifier, &tampered, "InvalidSignature").await;
        let mut signature = crate::auth::jwks::b64url_decode(parts[2]).unwrap();
        signature[10] ^= 1;
        let tampered = format!("{}.{}.{}", parts[0], parts[1], b64url(&signature));
        assert_invalid(&verifier, &tampered, "InvalidSignature").await;
    }

    #[tokio::test]
    async fn tokens_without_kid_need_exactly_one_matching_key() {
        let dev = dev_keys();
        let verifier = verifier_with(&dev);
        // One RSA key and one EC key are trusted: each algorithm finds one.
        let token = sign(Algorithm::RS256, None, &claims(), &rsa());
        check(&verifier, &token).await.unwrap();
        // An EC key without a kid, found by algorithm alone.
        let (ec, jwk) = ec_pair();
        let jwks = json!({"keys": [jwk]}).to_string();
        let both = Verifier::new(config(vec![
            JwksSource::Inline(RSA_JWKS.into()),
            JwksSource::Inline(jwks),
        ]))
        .unwrap();
        check(&both, &sign(Algorithm::ES256, None, &claims(), &ec))
            .await
            .unwrap();
        // A kid-less token from a key we do not trust fails on the signature.
        let untrusted = sign(Algorithm::ES256, None, &claims(), &ec_key());
        assert_invalid(&verifier, &untrusted, "InvalidSignature").await;
        // Two RSA keys: ambiguous.
        let two = Verifier::new(config_rsa(&[("a", json!({})), ("b", json!({}))])).unwrap();
        let token = sign(Algorithm::RS256, None, &claims(), &rsa());
        assert_invalid(&two, &token, "no kid, and several keys for RS256").await;
        // Two RSA keys, but only one allows RS512.
        let pinned = Verifier::new(config_rsa(&[
            ("a", json!({"alg": "RS256"})),
            ("b", json!({"alg": "RS512"})),
        ]))
        .unwrap();
        let token = sign(Algorithm::RS512, None, &claims(), &rsa());
        check(&pinned, &token).await.unwrap();
    }

    #[tokio::test]
    async fn keys_not_for_signatures_are_rejected() {
        let verifier = Verifier::new(config_rsa(&[
            ("enc", json!({"use": "enc"})),
            ("sig", json!({"use": "sig"})),
        ]))
        .unwrap();
        assert_invalid(
            &verifier,
            &sign(Algorithm::RS256, Some("enc"), &claims(), &rsa()),
            "has use 'enc', not 'sig'",
        )
        .await;
        check(
            &verifier,
            &sign(Algorithm::RS256, Some("sig"), &claims(), &rsa()),
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_cached_token_still_fails_once_expired() {
        let mut config = config(vec![JwksSource::Inline(RSA_JWKS.into())]);
        config.leeway_secs = 0;
        let verifier = Verifier::new(config).unwrap();
        let exp = now_secs() + 2;
        let token = rs256(&with(claims(), "exp", json!(exp)));
        check(&verifier, &token).await.unwrap();
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        assert!(
            verifier.inner.cache.contains_key(&digest),
            "verified tokens are cached"
        );
        check(&verifier, &token).await.unwrap();
        while now_secs() <= exp {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_invalid(&verifier, &token, "ExpiredSignature").await;
        assert!(!verifier.inner.cache.contains_key(&digest));
    }

    #[tokio::test]
    async fn an_exp_beyond_the_clock_neither_panics_nor_expires() {
        assert_eq!(until(u64::MAX), Duration::MAX);
        assert_eq!(until(0), Duration::ZERO);
        let verifier = verifier_with(&dev_keys());
        for exp in [json!(1u64 << 63), json!(u64::MAX), json!(1e19)] {
            let token = rs256(&with(claims(), "exp", exp.clone()));
            check(&verifier, &token).await.unwrap();
            // Again, from the cache.
            check(&verifier, &token)
                .await
                .unwrap_or_else(|e| panic!("{exp}: {e}"));
        }
    }

    /// Serves a JWKS over HTTP on 127.0.0.1, counting requests: the first
    /// response holds `k1`, later ones `k1` and `k2` (a key rotation).
    fn serve_jwks() -> (String, Arc<AtomicUsize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        let first = rsa_jwks(&[("k1", json!({}))]);
        let later = rsa_jwks(&[("k1", json!({})), ("k2", json!({}))]);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let body = if n == 0 { &first } else { &later };
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        (url, count)
    }

    #[tokio::test]
    async fn url_sources_are_fetched_lazily_and_refreshed_at_most_once_a_minute() {
        let (url, requests) = serve_jwks();
        let verifier = Verifier::new(config(vec![JwksSource::Url(url)])).unwrap();
        assert_eq!(
            requests.load(Ordering::SeqCst),
            0,
            "not fetched before first use"
        );

        let k1 = sign(Algorithm::RS256, Some("k1"), &claims(), &rsa());
        check(&verifier, &k1).await.unwrap();
        assert_eq!(requests.load(Ordering::SeqCst), 1);

        // k2 is unknown: one refresh finds it.
        let k2 = sign(Algorithm::RS256, Some("k2"), &claims(), &rsa());
        check(&verifier, &k2).await.unwrap();
        assert_eq!(requests.load(Ordering::SeqCst), 2);

        // Further unknown kids within the minute do not fetch again.
        for kid in ["k3", "k4", "k5"] {
            let token = sign(Algorithm::RS256, Some(kid), &claims(), &rsa());
            assert_invalid(&verifier, &token, &format!("unknown kid '{kid}'")).await;
        }
        assert_eq!(requests.load(Ordering::SeqCst), 2);
        assert_eq!(verifier.jwks_fetch_counts().await, vec![2]);
        // Known keys keep working.
        let again = sign(Algorithm::RS512, Some("k1"), &claims(), &rsa());
        check(&verifier, &again).await.unwrap();
        assert_eq!(requests.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_unreachable_url_source_rejects_tokens_without_failing_start() {
        // A port with nothing listening: bind, note it, close.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let verifier =
            Verifier::new(config(vec![JwksSource::Url(format!("http://{addr}/jwks"))])).unwrap();
        let token = sign(Algorithm::RS256, Some("k1"), &claims(), &rsa());
        assert_invalid(&verifier, &token, "unknown kid 'k1'").await;
    }

    #[test]
    fn configuration_is_checked() {
        let mut no_issuer = config(vec![JwksSource::Inline(RSA_JWKS.into())]);
        no_issuer.issuers.clear();
        assert!(Verifier::new(no_issuer).is_err());
        let mut no_audience = config(vec![JwksSource::Inline(RSA_JWKS.into())]);
        no_audience.audience.clear();
        assert!(Verifier::new(no_audience).is_err());
        assert!(Verifier::new(config(vec![])).is_err(), "no keys at all");
    }
}
