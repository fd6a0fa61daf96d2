//! Developer keys: a local ES256 signing key and tokens minted with it, so
//! the API can be tried and tested without an identity provider.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::jwks::{JwksSource, b64url};

pub const DEV_ISSUER: &str = "https://pds.localhost/dev-issuer";
pub const DEV_AUDIENCE: &str = "https://pds.localhost/FHIR/R4";
/// The key file inside the directory given to [`DevKeys::load_or_create`].
pub const KEY_FILE: &str = "dev-signing-key.pem";
/// Lifetime of a minted token unless the claims give `exp`.
pub const TOKEN_LIFETIME_SECS: u64 = 3600;

/// The developer signing key, its `kid` and its public JWKS.
pub struct DevKeys {
    kid: String,
    signing: EncodingKey,
    jwks_json: String,
}

impl std::fmt::Debug for DevKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevKeys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl DevKeys {
    /// Reads `<dir>/dev-signing-key.pem` (PKCS#8 P-256), or creates it
    /// (mode 0600, the directory too if needed) with a new random key. The
    /// `kid` is the start of the key's RFC 7638 thumbprint.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(KEY_FILE);
        let secret = match std::fs::read_to_string(&path) {
            Ok(pem) => p256::SecretKey::from_pkcs8_pem(&pem)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(|| format!("{} is not a PKCS#8 P-256 key", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(dir, &path)?,
            Err(e) => {
                return Err(e).with_context(|| format!("reading {}", path.display()));
            }
        };
        Self::from_secret(&secret)
    }

    fn from_secret(secret: &p256::SecretKey) -> anyhow::Result<Self> {
        let point = secret.public_key().to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            bail!("P-256 public key without coordinates");
        };
        let (x, y) = (b64url(x), b64url(y));
        // RFC 7638: the required members in lexicographic order, no spaces.
        let thumbprint_input = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = b64url(&Sha256::digest(thumbprint_input.as_bytes()))[..16].to_owned();
        let jwks_json = json!({"keys": [{
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "kid": kid, "alg": "ES256", "use": "sig",
        }]})
        .to_string();
        let der = secret
            .to_pkcs8_der()
            .map_err(|e| anyhow::anyhow!("encoding the dev key: {e}"))?;
        Ok(Self {
            kid,
            signing: EncodingKey::from_ec_der(der.as_bytes()),
            jwks_json,
        })
    }

    /// The public JWKS (no private member).
    pub fn jwks_json(&self) -> String {
        self.jwks_json.clone()
    }

    /// The public JWKS as a key source for [`super::verify::AuthConfig`].
    pub fn jwks_source(&self) -> JwksSource {
        JwksSource::Inline(self.jwks_json.clone())
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `claims` (a JSON object) with ES256, adding `iss` =
    /// [`DEV_ISSUER`], `aud` = [`DEV_AUDIENCE`], `iat`, `exp` (now + 1 h)
    /// and a random `jti` unless `claims` has them.
    pub fn mint(&self, claims: &Value) -> anyhow::Result<String> {
        let Value::Object(given) = claims else {
            bail!("token claims must be a JSON object");
        };
        let mut claims = given.clone();
        let now = jsonwebtoken::get_current_timestamp();
        claims.entry("iss").or_insert_with(|| DEV_ISSUER.into());
        claims.entry("aud").or_insert_with(|| DEV_AUDIENCE.into());
        claims.entry("iat").or_insert_with(|| now.into());
        claims
            .entry("exp")
            .or_insert_with(|| (now + TOKEN_LIFETIME_SECS).into());
        claims
            .entry("jti")
            .or_insert_with(|| uuid::Uuid::new_v4().to_string().into());
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.signing).context("signing the dev token")
    }
}

/// Writes a new random key to `path` with mode 0600. If another process
/// created it meanwhile, that one is read instead.
fn create(dir: &Path, path: &Path) -> anyhow::Result<p256::SecretKey> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let secret = p256::SecretKey::random(&mut rand_core::OsRng);
    let pem = secret
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("encoding the dev key: {e}"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(pem.as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
            tracing::info!(path = %path.display(), "created a developer signing key");
            Ok(secret)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            p256::SecretKey::from_pkcs8_pem(&pem)
                .map_err(|e| anyhow::anyhow!("{} is not a PKCS#8 P-256 key: {e}", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::verify::{AuthConfig, Verifier};

    fn temp_dir() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("pds-dev-keys-{}", uuid::Uuid::new_v4()))
    }

    #[test]
    fn creates_then_reloads_the_same_key() {
        let dir = temp_dir();
        let first = DevKeys::load_or_create(&dir).unwrap();
        let path = dir.join(KEY_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = DevKeys::load_or_create(&dir).unwrap();
        assert_eq!(first.kid(), second.kid());
        assert_eq!(first.kid().len(), 16);
        assert_eq!(first.jwks_json(), second.jwks_json());
        let jwks: Value = serde_json::from_str(&first.jwks_json()).unwrap();
        let key = &jwks["keys"][0];
        assert_eq!(key["kid"], first.kid());
        assert!(
            key.get("d").is_none(),
            "the JWKS must not hold the private key"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_garbage_key_file_is_an_error() {
        let dir = temp_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(KEY_FILE), "not a key").unwrap();
        assert!(DevKeys::load_or_create(&dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn minted_tokens_verify_with_the_public_jwks() {
        let dir = temp_dir();
        let keys = DevKeys::load_or_create(&dir).unwrap();
        let verifier = Verifier::new(AuthConfig {
            jwks: vec![keys.jwks_source()],
            issuers: vec![DEV_ISSUER.into()],
            audience: DEV_AUDIENCE.into(),
            hs256_secret: None,
            leeway_secs: 30,
        })
        .unwrap();
        let token = keys
            .mint(&json!({"sub": "656005750104", "scope": "x", "jti": "fixed"}))
            .unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some(keys.kid()));
        let claims = verifier
            .verify(Some(format!("Bearer {token}").as_bytes()))
            .await
            .unwrap();
        assert_eq!(claims["sub"], "656005750104");
        assert_eq!(claims["iss"], DEV_ISSUER);
        assert_eq!(claims["aud"], DEV_AUDIENCE);
        assert_eq!(claims["jti"], "fixed", "given claims are kept");
        let exp = claims["exp"].as_u64().unwrap();
        let iat = claims["iat"].as_u64().unwrap();
        assert_eq!(exp - iat, TOKEN_LIFETIME_SECS);
        assert!(keys.mint(&json!("not an object")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
