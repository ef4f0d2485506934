//! OpenID Connect bearer tokens (`serve --oidc-issuer URL --oidc-audience
//! AUD`): a JWT signed by one of the issuer's keys, for this audience, not
//! expired, makes its caller a user named by its `name` claim (else `sub`)
//! with the write role.
//!
//! The issuer's keys come from its discovery document
//! (`{issuer}/.well-known/openid-configuration` → `jwks_uri`), are cached
//! for [`KEYS_TTL`] and fetched again early when a token names a key id the
//! cache does not have (the issuer rotated its keys) — at most once per
//! [`REFETCH_AFTER`], so a stream of bogus key ids cannot make the server
//! hammer the issuer. Only asymmetric algorithms are accepted (RSA, ECDSA,
//! EdDSA): a shared-secret (`HS*`) token or key is refused.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

/// How long fetched keys are used before they are fetched again.
pub const KEYS_TTL: Duration = Duration::from_secs(600);

/// The least time between two fetches caused by unknown key ids.
pub const REFETCH_AFTER: Duration = Duration::from_secs(30);

/// Which issuer and audience to accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// The issuer URL (the JWT's `iss`), `https://`, or `http://` on loopback.
    pub issuer: Url,
    /// The audience this server is (the JWT's `aud` must name it).
    pub audience: String,
    /// The least time between two fetches caused by unknown key ids
    /// ([`REFETCH_AFTER`] by default; tests of key rotation lower it).
    pub min_refetch: Duration,
}

impl OidcConfig {
    /// Accept tokens of `issuer` for `audience`.
    pub fn new(issuer: Url, audience: impl Into<String>) -> Self {
        Self {
            issuer,
            audience: audience.into(),
            min_refetch: REFETCH_AFTER,
        }
    }
}

/// Why a bearer JWT was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// The token is not a well-formed JWT, or uses an algorithm refused here.
    #[error("not an acceptable JWT: {0}")]
    Malformed(String),
    /// No key of the issuer has the token's key id.
    #[error("the token was signed with a key the issuer does not publish (kid {0:?})")]
    UnknownKey(Option<String>),
    /// The signature, expiry, issuer or audience is wrong.
    #[error("the token is not valid here: {0}")]
    Invalid(String),
    /// The issuer's keys could not be fetched.
    #[error("cannot fetch the keys of the OIDC issuer {issuer}: {reason}")]
    Issuer {
        /// The issuer.
        issuer: String,
        /// What went wrong.
        reason: String,
    },
}

/// Who a valid token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcUser {
    /// The `sub` claim.
    pub subject: String,
    /// The `name` claim, else the subject.
    pub name: String,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
}

struct Keys {
    set: JwkSet,
    fetched: Instant,
}

/// Validates bearer JWTs against one issuer.
pub struct Oidc {
    config: OidcConfig,
    http: reqwest::Client,
    keys: Mutex<Option<Keys>>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The asymmetric algorithms accepted.
const ACCEPTED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

impl Oidc {
    /// A validator for `config`; refuses an issuer that is neither
    /// `https://` nor `http://` on loopback.
    pub fn new(config: OidcConfig) -> Result<Self, OidcError> {
        let issuer_error = |reason: String| OidcError::Issuer {
            issuer: config.issuer.to_string(),
            reason,
        };
        let loopback = config
            .issuer
            .host()
            .is_some_and(|h| crate::host::is_loopback_host(&h.to_string()));
        if config.issuer.scheme() != "https" && !(config.issuer.scheme() == "http" && loopback) {
            return Err(issuer_error("the issuer must be an https:// URL".into()));
        }
        let tls = crate::tls::Trust::System
            .client_config(&[b"h2", b"http/1.1"])
            .map_err(|e| issuer_error(e.to_string()))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| issuer_error(e.to_string()))?;
        Ok(Self {
            config,
            http,
            keys: Mutex::new(None),
        })
    }

    /// The user a valid `token` names.
    pub async fn validate(&self, token: &str) -> Result<OidcUser, OidcError> {
        let header = decode_header(token).map_err(|e| OidcError::Malformed(e.to_string()))?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(OidcError::Malformed(format!(
                "algorithm {:?} is not accepted (only RSA, ECDSA and EdDSA signatures)",
                header.alg
            )));
        }
        let jwk = self.key(header.kid.as_deref()).await?;
        if matches!(
            jwk.algorithm,
            jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
        ) {
            return Err(OidcError::UnknownKey(header.kid));
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| OidcError::Invalid(e.to_string()))?;
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[&self.config.audience]);
        validation.set_issuer(&[issuer_claim(&self.config.issuer)]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        let data = decode::<Claims>(token, &key, &validation)
            .map_err(|e| OidcError::Invalid(e.to_string()))?;
        let Claims { sub, name } = data.claims;
        Ok(OidcUser {
            name: name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| sub.clone()),
            subject: sub,
        })
    }

    /// The issuer's key with id `kid` (the only key, when the token names none).
    async fn key(&self, kid: Option<&str>) -> Result<Jwk, OidcError> {
        let mut keys = self.keys.lock().await;
        let stale = keys.as_ref().is_none_or(|k| k.fetched.elapsed() > KEYS_TTL);
        if !stale {
            if let Some(jwk) = keys.as_ref().and_then(|k| find(&k.set, kid)) {
                return Ok(jwk);
            }
        }
        let may_refetch = keys
            .as_ref()
            .is_none_or(|k| stale || k.fetched.elapsed() >= self.config.min_refetch);
        if may_refetch {
            match self.fetch().await {
                Ok(set) => {
                    *keys = Some(Keys {
                        set,
                        fetched: Instant::now(),
                    })
                }
                // Keep using the old keys while the issuer is unreachable.
                Err(e) if keys.is_some() => {
                    tracing::warn!(error = %e, "keeping the OIDC issuer's cached keys")
                }
                Err(e) => return Err(e),
            }
        }
        keys.as_ref()
            .and_then(|k| find(&k.set, kid))
            .ok_or_else(|| OidcError::UnknownKey(kid.map(str::to_owned)))
    }

    async fn fetch(&self) -> Result<JwkSet, OidcError> {
        let issuer_error = |reason: String| OidcError::Issuer {
            issuer: self.config.issuer.to_string(),
            reason,
        };
        let base = self.config.issuer.as_str().trim_end_matches('/');
        let discovery: Discovery = self
            .get_json(&format!("{base}/.well-known/openid-configuration"))
            .await
            .map_err(issuer_error)?;
        let set: JwkSet = self
            .get_json(&discovery.jwks_uri)
            .await
            .map_err(issuer_error)?;
        tracing::info!(issuer = %self.config.issuer, keys = set.keys.len(), "fetched the OIDC issuer's keys");
        Ok(set)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url}: {}", crate::client::describe_error(&e)))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        response
            .json()
            .await
            .map_err(|e| format!("{url}: not the expected JSON: {e}"))
    }
}

/// The `iss` value of an issuer URL (as given, without a trailing slash
/// unless it has a path).
fn issuer_claim(issuer: &Url) -> String {
    let s = issuer.as_str();
    if issuer.path() == "/" {
        s.trim_end_matches('/').to_owned()
    } else {
        s.to_owned()
    }
}

fn find(set: &JwkSet, kid: Option<&str>) -> Option<Jwk> {
    match kid {
        Some(kid) => set.find(kid).cloned(),
        None if set.keys.len() == 1 => set.keys.first().cloned(),
        None => None,
    }
}
