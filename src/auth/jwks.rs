//! Trusted key sets (RFC 7517 JWKS) and the places they come from.
//!
//! A [`KeySet`] holds the usable signature keys of one JWKS document by
//! `kid`. A [`KeyStore`] holds every configured source: file and inline sets
//! are loaded once at start; URL sets are fetched on first use, and fetched
//! again when a token names a `kid` that no set knows, at most once per
//! [`MIN_REFRESH_INTERVAL`] per source. A failed fetch keeps the old keys.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

/// Where a trusted key set comes from.
#[derive(Clone, Debug)]
pub enum JwksSource {
    /// A JWKS JSON file, read at start.
    File(PathBuf),
    /// An `http://` or `https://` URL, fetched on first use and refreshed
    /// when an unknown `kid` is seen.
    Url(String),
    /// JWKS JSON given directly.
    Inline(String),
}

/// A URL source is fetched again for an unknown `kid` at most this often.
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// A URL source whose first fetch failed is tried again after this long.
pub const RETRY_AFTER_FAILED_LOAD: Duration = Duration::from_secs(5);
/// Time allowed for one JWKS fetch, connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A JWKS document larger than this is refused.
pub const MAX_JWKS_BYTES: usize = 1 << 20;
/// RSA keys shorter than this are refused.
pub const MIN_RSA_BITS: usize = 2048;
/// RSA keys longer than this are refused (the `rsa` crate's limit).
pub const MAX_RSA_BITS: usize = 4096;

/// base64url, with or without padding (RFC 7515 says without; some
/// publishers pad anyway).
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The kind of a trusted public key, which decides the algorithms it can verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// RSA: RS256, RS512 and PS256.
    Rsa,
    /// EC on P-256: ES256.
    EcP256,
}

impl KeyType {
    pub fn allows(self, alg: Algorithm) -> bool {
        match self {
            Self::Rsa => matches!(alg, Algorithm::RS256 | Algorithm::RS512 | Algorithm::PS256),
            Self::EcP256 => alg == Algorithm::ES256,
        }
    }
}

/// One public key from a JWKS, ready for jsonwebtoken.
pub struct TrustedKey {
    pub kid: Option<String>,
    pub key_type: KeyType,
    /// The JWK's `alg`, when it names one: then only that algorithm is accepted.
    pub alg: Option<Algorithm>,
    /// The JWK's `use`; only `sig` (or absent) may verify tokens.
    pub key_use: Option<String>,
    /// The JWK's `key_ops`; when present it must contain `verify`.
    pub key_ops: Option<Vec<String>>,
    pub key: DecodingKey,
}

impl std::fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedKey")
            .field("kid", &self.kid)
            .field("key_type", &self.key_type)
            .field("alg", &self.alg)
            .field("key_use", &self.key_use)
            .finish_non_exhaustive()
    }
}

impl TrustedKey {
    /// Whether this key may verify a token signed with `alg`; the reason if not.
    pub fn check(&self, alg: Algorithm) -> Result<(), String> {
        let kid = self.kid.as_deref().unwrap_or("<none>");
        if let Some(key_use) = &self.key_use
            && key_use != "sig"
        {
            return Err(format!("key '{kid}' has use '{key_use}', not 'sig'"));
        }
        if let Some(ops) = &self.key_ops
            && !ops.iter().any(|op| op == "verify")
        {
            return Err(format!("key '{kid}' key_ops do not include 'verify'"));
        }
        if !self.key_type.allows(alg) {
            return Err(format!(
                "token alg {alg:?} does not fit key '{kid}' of type {:?}",
                self.key_type
            ));
        }
        if let Some(key_alg) = self.alg
            && key_alg != alg
        {
            return Err(format!(
                "token alg {alg:?} differs from key '{kid}' alg {key_alg:?}"
            ));
        }
        Ok(())
    }
}

/// The usable signature keys of one JWKS document.
#[derive(Debug, Default)]
pub struct KeySet {
    by_kid: HashMap<String, Vec<Arc<TrustedKey>>>,
    without_kid: Vec<Arc<TrustedKey>>,
}

impl KeySet {
    /// Parses a JWKS (`{"keys": [...]}`). Keys of other types (`oct`, `OKP`,
    /// other curves), for other algorithms, shorter than 2048 bits (RSA) or
    /// malformed are skipped with a warning; a set left with no usable key
    /// is an error.
    pub fn parse(json: &str) -> anyhow::Result<Self> {
        let doc: Value = serde_json::from_str(json).context("JWKS is not valid JSON")?;
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| anyhow!("JWKS must be an object with a 'keys' array"))?;
        let mut set = Self::default();
        for (index, jwk) in keys.iter().enumerate() {
            match parse_jwk(jwk) {
                Ok(key) => set.insert(key),
                Err(reason) => {
                    tracing::warn!(index, kid = ?jwk.get("kid"), %reason, "JWKS key skipped")
                }
            }
        }
        if set.is_empty() {
            bail!("JWKS has no usable signature key (RSA, or EC P-256)");
        }
        Ok(set)
    }

    fn insert(&mut self, key: TrustedKey) {
        let key = Arc::new(key);
        match &key.kid {
            Some(kid) => self.by_kid.entry(kid.clone()).or_default().push(key),
            None => self.without_kid.push(key),
        }
    }

    pub fn len(&self) -> usize {
        self.by_kid.values().map(Vec::len).sum::<usize>() + self.without_kid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys with this `kid` (usually one).
    pub fn with_kid(&self, kid: &str) -> &[Arc<TrustedKey>] {
        self.by_kid.get(kid).map(Vec::as_slice).unwrap_or_default()
    }

    /// Every key, with or without a `kid`.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<TrustedKey>> {
        self.by_kid.values().flatten().chain(&self.without_kid)
    }
}

fn member<'a>(jwk: &'a Value, name: &str) -> Result<Option<&'a str>, String> {
    match jwk.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("'{name}' is not a string")),
    }
}

fn required_b64(jwk: &Value, name: &str) -> Result<Vec<u8>, String> {
    let text = member(jwk, name)?.ok_or_else(|| format!("'{name}' is missing"))?;
    B64URL
        .decode(text)
        .map_err(|e| format!("'{name}' is not base64url: {e}"))
}

fn parse_jwk(jwk: &Value) -> Result<TrustedKey, String> {
    if !jwk.is_object() {
        return Err("not a JSON object".into());
    }
    let kid = member(jwk, "kid")?.map(str::to_owned);
    let key_use = member(jwk, "use")?.map(str::to_owned);
    let key_ops = match jwk.get("key_ops") {
        None | Some(Value::Null) => None,
        Some(Value::Array(ops)) => Some(
            ops.iter()
                .map(|op| op.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or("'key_ops' holds a non-string")?,
        ),
        Some(_) => return Err("'key_ops' is not an array".into()),
    };
    let alg = match member(jwk, "alg")? {
        None => None,
        Some("RS256") => Some(Algorithm::RS256),
        Some("RS512") => Some(Algorithm::RS512),
        Some("PS256") => Some(Algorithm::PS256),
        Some("ES256") => Some(Algorithm::ES256),
        Some(other) => return Err(format!("unsupported alg '{other}'")),
    };
    let kty = member(jwk, "kty")?.ok_or("'kty' is missing")?;
    let (key_type, key) = match kty {
        "RSA" => {
            let n = required_b64(jwk, "n")?;
            let e = required_b64(jwk, "e")?;
            let n = strip_leading_zeros(&n);
            let e = strip_leading_zeros(&e);
            let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
            if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
                return Err(format!(
                    "RSA key of {bits} bits (from {MIN_RSA_BITS} to {MAX_RSA_BITS})"
                ));
            }
            if e.is_empty() || e.len() > 8 {
                return Err("RSA exponent out of range".into());
            }
            (KeyType::Rsa, DecodingKey::from_rsa_raw_components(n, e))
        }
        "EC" => {
            match member(jwk, "crv")? {
                Some("P-256") => {}
                Some(other) => return Err(format!("unsupported curve '{other}'")),
                None => return Err("'crv' is missing".into()),
            }
            let x = required_b64(jwk, "x")?;
            let y = required_b64(jwk, "y")?;
            if x.len() != 32 || y.len() != 32 {
                return Err("P-256 coordinates must be 32 bytes".into());
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            p256::PublicKey::from_sec1_bytes(&point)
                .map_err(|_| "the point is not on P-256".to_string())?;
            (KeyType::EcP256, DecodingKey::from_ec_der(&point))
        }
        other => return Err(format!("unsupported key type '{other}'")),
    };
    if let Some(alg) = alg
        && !key_type.allows(alg)
    {
        return Err(format!("alg {alg:?} does not fit key type {kty}"));
    }
    Ok(TrustedKey {
        kid,
        key_type,
        alg,
        key_use,
        key_ops,
        key,
    })
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// One URL source: its current keys and when it was fetched.
struct RemoteSet {
    url: String,
    keys: RwLock<Arc<KeySet>>,
    /// Set after the first successful fetch, so that requests need not
    /// take the fetch lock once keys are there.
    loaded: AtomicBool,
    fetch: tokio::sync::Mutex<FetchState>,
}

#[derive(Default)]
struct FetchState {
    /// When the last fetch (of any kind) was attempted.
    last_attempt: Option<Instant>,
    /// When the last fetch succeeded.
    last_success: Option<Instant>,
    /// When the last unknown-`kid` refresh was attempted.
    last_refresh: Option<Instant>,
    /// Fetches attempted, for tests and logs.
    fetches: u64,
}

/// Every trusted key set.
pub struct KeyStore {
    fixed: Vec<KeySet>,
    remote: Vec<RemoteSet>,
    client: Option<reqwest::Client>,
    min_refresh: Duration,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("fixed", &self.fixed.len())
            .field(
                "remote",
                &self.remote.iter().map(|r| &r.url).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl KeyStore {
    /// Loads file and inline sets now (an unreadable or invalid one is an
    /// error); URL sets are only recorded, to be fetched on first use.
    pub fn new(sources: &[JwksSource]) -> anyhow::Result<Self> {
        let mut fixed = Vec::new();
        let mut remote = Vec::new();
        for source in sources {
            match source {
                JwksSource::File(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading JWKS file {}", path.display()))?;
                    let set = KeySet::parse(&text)
                        .with_context(|| format!("JWKS file {}", path.display()))?;
                    tracing::info!(path = %path.display(), keys = set.len(), "JWKS loaded");
                    fixed.push(set);
                }
                JwksSource::Inline(text) => {
                    fixed.push(KeySet::parse(text).context("inline JWKS")?);
                }
                JwksSource::Url(url) => {
                    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
                    if !matches!(scheme.as_deref(), Some("https" | "http")) {
                        bail!("JWKS URL must be http:// or https://: {url}");
                    }
                    remote.push(RemoteSet {
                        url: url.clone(),
                        keys: RwLock::new(Arc::new(KeySet::default())),
                        loaded: AtomicBool::new(false),
                        fetch: tokio::sync::Mutex::new(FetchState::default()),
                    });
                }
            }
        }
        let client = if remote.is_empty() {
            None
        } else {
            Some(
                reqwest::Client::builder()
                    .timeout(FETCH_TIMEOUT)
                    .connect_timeout(FETCH_TIMEOUT)
                    .redirect(reqwest::redirect::Policy::limited(3))
                    .build()
                    .context("building the JWKS HTTP client")?,
            )
        };
        Ok(Self {
            fixed,
            remote,
            client,
            min_refresh: MIN_REFRESH_INTERVAL,
        })
    }

    /// Whether any key source is configured.
    pub fn has_sources(&self) -> bool {
        !self.fixed.is_empty() || !self.remote.is_empty()
    }

    /// The current keys of each URL set, in order.
    fn remote_sets(&self) -> Vec<Arc<KeySet>> {
        self.remote
            .iter()
            .map(|r| {
                r.keys
                    .read()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .clone()
            })
            .collect()
    }

    /// The keys named `kid`, from every set, fixed ones first.
    pub fn with_kid(&self, kid: &str) -> Vec<Arc<TrustedKey>> {
        let mut out: Vec<Arc<TrustedKey>> = self
            .fixed
            .iter()
            .flat_map(|set| set.with_kid(kid).iter().cloned())
            .collect();
        for set in self.remote_sets() {
            out.extend(set.with_kid(kid).iter().cloned());
        }
        out
    }

    /// Every key, from every set.
    pub fn all_keys(&self) -> Vec<Arc<TrustedKey>> {
        let mut out: Vec<Arc<TrustedKey>> = self
            .fixed
            .iter()
            .flat_map(|set| set.iter().cloned())
            .collect();
        for set in self.remote_sets() {
            out.extend(set.iter().cloned());
        }
        out
    }

    /// Fetches each URL set that has never been loaded (a failed first
    /// fetch is retried after [`RETRY_AFTER_FAILED_LOAD`]).
    pub async fn ensure_loaded(&self) {
        for remote in &self.remote {
            if remote.loaded.load(Ordering::Acquire) {
                continue;
            }
            let mut state = remote.fetch.lock().await;
            if state.last_success.is_some()
                || state
                    .last_attempt
                    .is_some_and(|t| t.elapsed() < RETRY_AFTER_FAILED_LOAD)
            {
                continue;
            }
            self.fetch(remote, &mut state).await;
        }
    }

    /// Fetches the URL sets again because a token named an unknown `kid`.
    /// A set already fetched since `since` (the start of the request, so
    /// by this request or a concurrent one) is not fetched again, and each
    /// set is refreshed at most once per [`MIN_REFRESH_INTERVAL`].
    pub async fn refresh_for_unknown_kid(&self, since: Instant) {
        for remote in &self.remote {
            let mut state = remote.fetch.lock().await;
            if state.last_success.is_some_and(|t| t >= since) {
                continue;
            }
            if let Some(last) = state.last_refresh
                && last.elapsed() < self.min_refresh
            {
                tracing::debug!(url = %remote.url, "JWKS refresh skipped: rate limited");
                continue;
            }
            state.last_refresh = Some(Instant::now());
            self.fetch(remote, &mut state).await;
        }
    }

    /// How many fetches each URL source has attempted, in order.
    pub async fn fetch_counts(&self) -> Vec<u64> {
        let mut out = Vec::with_capacity(self.remote.len());
        for remote in &self.remote {
            out.push(remote.fetch.lock().await.fetches);
        }
        out
    }

    async fn fetch(&self, remote: &RemoteSet, state: &mut FetchState) {
        state.last_attempt = Some(Instant::now());
        state.fetches += 1;
        let Some(client) = &self.client else { return };
        match fetch_jwks(client, &remote.url).await {
            Ok(set) => {
                tracing::info!(url = %remote.url, keys = set.len(), "JWKS fetched");
                *remote
                    .keys
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(set);
                state.last_success = Some(Instant::now());
                remote.loaded.store(true, Ordering::Release);
            }
            Err(error) => {
                tracing::warn!(url = %remote.url, error = format!("{error:#}"), "JWKS fetch failed; keeping the previous keys");
            }
        }
    }
}

async fn fetch_jwks(client: &reqwest::Client, url: &str) -> anyhow::Result<KeySet> {
    let mut response = client
        .get(url)
        .header(
            reqwest::header::ACCEPT,
            "application/json, application/jwk-set+json",
        )
        .send()
        .await
        .context("request failed")?;
    let status = response.status();
    if !status.is_success() {
        bail!("HTTP status {status}");
    }
    if response
        .content_length()
        .is_some_and(|len| len > MAX_JWKS_BYTES as u64)
    {
        bail!("JWKS larger than {MAX_JWKS_BYTES} bytes");
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.context("reading the body")? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            bail!("JWKS larger than {MAX_JWKS_BYTES} bytes");
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(body).context("JWKS is not UTF-8")?;
    KeySet::parse(&text)
}

/// Decodes base64url, padded or not.
pub fn b64url_decode(text: impl AsRef<[u8]>) -> Result<Vec<u8>, base64::DecodeError> {
    B64URL.decode(text)
}

/// Encodes bytes as unpadded base64url (JWK members, `kid`s).
pub fn b64url(bytes: &[u8]) -> String {
    general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_JWKS: &str = include_str!("../../tests/fixtures/auth/rsa-test-jwks.json");

    fn rsa_n() -> String {
        let doc: Value = serde_json::from_str(RSA_JWKS).unwrap();
        doc["keys"][0]["n"].as_str().unwrap().to_owned()
    }

    #[test]
    fn parses_rsa_and_ec_keys_by_kid() {
        let ec = p256::SecretKey::random(&mut rand_core::OsRng).public_key();
        let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&ec, false);
        let jwks = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "r1", "n": rsa_n(), "e": "AQAB", "alg": "RS512"},
            {"kty": "EC", "crv": "P-256", "kid": "e1", "use": "sig",
             "x": b64url(point.x().unwrap()), "y": b64url(point.y().unwrap())},
            {"kty": "oct", "kid": "h1", "k": "c2VjcmV0"},
            {"kty": "EC", "crv": "P-384", "kid": "e2", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "short", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "r3", "n": rsa_n(), "e": "AQAB", "alg": "RS384"},
        ]});
        let set = KeySet::parse(&jwks.to_string()).unwrap();
        assert_eq!(set.len(), 2);
        let r1 = &set.with_kid("r1")[0];
        assert_eq!(r1.key_type, KeyType::Rsa);
        assert!(r1.check(Algorithm::RS512).is_ok());
        assert!(
            r1.check(Algorithm::RS256).is_err(),
            "JWK alg pins the algorithm"
        );
        assert!(r1.check(Algorithm::ES256).is_err());
        let e1 = &set.with_kid("e1")[0];
        assert!(e1.check(Algorithm::ES256).is_ok());
        assert!(e1.check(Algorithm::RS256).is_err());
        assert!(
            set.with_kid("h1").is_empty(),
            "symmetric keys are never trusted"
        );
    }

    #[test]
    fn rejects_bad_documents() {
        assert!(KeySet::parse("not json").is_err());
        assert!(KeySet::parse("{}").is_err());
        assert!(KeySet::parse(r#"{"keys": []}"#).is_err());
        assert!(KeySet::parse(r#"{"keys": [{"kty": "oct", "k": "AA"}]}"#).is_err());
        // A point off the curve.
        let off = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256",
            "x": b64url(&[1; 32]), "y": b64url(&[2; 32])}]});
        assert!(KeySet::parse(&off.to_string()).is_err());
    }

    #[test]
    fn encryption_keys_do_not_verify() {
        let jwks = serde_json::json!({"keys": [
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": rsa_n(), "e": "AQAB"},
            {"kty": "RSA", "kid": "ops", "key_ops": ["encrypt"], "n": rsa_n(), "e": "AQAB"},
        ]});
        let set = KeySet::parse(&jwks.to_string()).unwrap();
        assert!(set.with_kid("enc")[0].check(Algorithm::RS256).is_err());
        assert!(set.with_kid("ops")[0].check(Algorithm::RS256).is_err());
    }

    #[test]
    fn file_sources_load_at_start() {
        let path = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/auth/rsa-test-jwks.json"
        ));
        let store = KeyStore::new(&[JwksSource::File(path)]).unwrap();
        assert_eq!(store.with_kid("rsa-test-1").len(), 1);
        assert!(KeyStore::new(&[JwksSource::File("/nonexistent/jwks.json".into())]).is_err());
        assert!(KeyStore::new(&[JwksSource::Inline("{}".into())]).is_err());
        assert!(KeyStore::new(&[JwksSource::Url("ftp://example.com/jwks".into())]).is_err());
    }
}
