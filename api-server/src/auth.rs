//! Authentication: bearer JWTs verified against the JWKS of each trusted issuer (found through
//! OIDC discovery), RS256/ES256 only, `exp`/`nbf` with a small leeway; keys refreshed on an
//! unknown `kid` at a bounded rate. Also the live group check through the issuer's userinfo
//! endpoint, cached for a bounded time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::RwLock;

use crate::config::{Audience, OidcConfig};
use crate::problem::ApiError;

/// The most cached group lookups kept at once.
const GROUP_CACHE_LIMIT: usize = 10_000;

/// Why a token was refused (shown to the client as a 401 problem; holds no token material).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's algorithm is not accepted (RS256 and ES256 only)")]
    Algorithm,
    #[error("the token's issuer is not trusted")]
    Issuer,
    #[error("the signing key of the token is unknown")]
    UnknownKey,
    #[error("the token is invalid: {0}")]
    Invalid(String),
    #[error("failed to fetch the issuer's keys: {0}")]
    Discovery(String),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::Unauthorized(e.to_string())
    }
}

/// The claims the API reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

/// An authenticated caller.
#[derive(Clone)]
pub struct Principal {
    /// Which client the token was issued to.
    pub audience: Audience,
    pub issuer: String,
    pub subject: String,
    /// The e-mail address (the Member's `spec.email`), lower-cased.
    pub email: Option<String>,
    pub name: Option<String>,
    /// The groups the token carried when it was issued.
    pub token_groups: Vec<String>,
    token: String,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("audience", &self.audience)
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl Principal {
    /// Who this is, for the audit trail: the e-mail address, else the subject.
    pub fn display(&self) -> String {
        self.email.clone().unwrap_or_else(|| self.subject.clone())
    }
}

#[derive(Default)]
struct KeySet {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    userinfo: Option<String>,
    jwks_uri: Option<String>,
}

struct Issuer {
    audience: Audience,
    issuer: String,
    client_id: String,
    keys: RwLock<KeySet>,
    last_refresh: Mutex<Option<Instant>>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
}

/// Live group lookups by token hash: when looked up, and the groups (None: token refused).
type GroupCache = HashMap<[u8; 32], (Instant, Option<Vec<String>>)>;

/// Verifies tokens of every trusted issuer.
pub struct Verifier {
    issuers: Vec<Issuer>,
    http: reqwest::Client,
    leeway: Duration,
    min_refresh: Duration,
    groups_ttl: Duration,
    groups: Mutex<GroupCache>,
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The algorithm a JWK's key is for, or None when it is not RS256/ES256 material.
fn key_algorithm(params: &AlgorithmParameters) -> Option<Algorithm> {
    match params {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Some(Algorithm::ES256)
        }
        _ => None,
    }
}

/// Reads `iss` from the (not yet verified) payload, to pick the issuer's keys.
fn unverified_issuer(token: &str) -> Result<String, AuthError> {
    #[derive(Deserialize)]
    struct Iss {
        iss: String,
    }
    let payload = token.split('.').nth(1).ok_or(AuthError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| AuthError::Malformed)?;
    let iss: Iss = serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)?;
    Ok(iss.iss)
}

impl Verifier {
    pub fn new(config: &OidcConfig) -> Verifier {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Verifier {
            issuers: config
                .issuers()
                .into_iter()
                .map(|(audience, c)| Issuer {
                    audience,
                    issuer: c.issuer,
                    client_id: c.client_id,
                    keys: RwLock::new(KeySet::default()),
                    last_refresh: Mutex::new(None),
                })
                .collect(),
            http,
            leeway: config.leeway(),
            min_refresh: Duration::from_secs(config.jwks_min_refresh_seconds),
            groups_ttl: Duration::from_secs(config.groups_ttl_seconds),
            groups: Mutex::new(HashMap::new()),
        }
    }

    /// Fetches discovery and the JWKS of every issuer (readiness); returns how many answered.
    pub async fn warm_up(&self) -> usize {
        let mut ok = 0;
        for issuer in &self.issuers {
            if self.refresh(issuer, true).await.is_ok() {
                ok += 1;
            }
        }
        ok
    }

    /// Whether every issuer's keys are loaded.
    pub async fn ready(&self) -> bool {
        for issuer in &self.issuers {
            if issuer.keys.read().await.keys.is_empty() {
                return false;
            }
        }
        true
    }

    /// Refreshes an issuer's keys, at most once per `min_refresh` unless `force`.
    async fn refresh(&self, issuer: &Issuer, force: bool) -> Result<(), AuthError> {
        {
            let mut last = issuer
                .last_refresh
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if !force && last.is_some_and(|t| t.elapsed() < self.min_refresh) {
                return Ok(());
            }
            *last = Some(Instant::now());
        }
        let known = issuer.keys.read().await.jwks_uri.clone();
        let jwks_uri = match known {
            Some(uri) => uri,
            None => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.issuer.trim_end_matches('/')
                );
                let discovery: Discovery = self
                    .http
                    .get(&url)
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .map_err(|e| AuthError::Discovery(e.without_url().to_string()))?
                    .json()
                    .await
                    .map_err(|e| AuthError::Discovery(e.without_url().to_string()))?;
                if discovery.issuer != issuer.issuer {
                    return Err(AuthError::Discovery(format!(
                        "discovery names the issuer {:?}, configured {:?}",
                        discovery.issuer, issuer.issuer
                    )));
                }
                let mut keys = issuer.keys.write().await;
                keys.userinfo = discovery.userinfo_endpoint;
                keys.jwks_uri = Some(discovery.jwks_uri.clone());
                discovery.jwks_uri
            }
        };
        let set: JwkSet = self
            .http
            .get(&jwks_uri)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| AuthError::Discovery(e.without_url().to_string()))?
            .json()
            .await
            .map_err(|e| AuthError::Discovery(e.without_url().to_string()))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), Some(alg)) = (jwk.common.key_id.clone(), key_algorithm(&jwk.algorithm))
            else {
                continue;
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, (key, alg));
            }
        }
        tracing::debug!(issuer = %issuer.issuer, keys = keys.len(), "refreshed the JWKS");
        issuer.keys.write().await.keys = keys;
        Ok(())
    }

    /// Verifies a bearer token and returns who it is.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(AuthError::Algorithm);
        }
        let iss = unverified_issuer(token)?;
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.issuer == iss)
            .ok_or(AuthError::Issuer)?;
        let kid = header.kid.clone().ok_or(AuthError::UnknownKey)?;
        let mut found = issuer.keys.read().await.keys.get(&kid).cloned();
        if found.is_none() {
            self.refresh(issuer, false).await?;
            found = issuer.keys.read().await.keys.get(&kid).cloned();
        }
        let (key, alg) = found.ok_or(AuthError::UnknownKey)?;
        if alg != header.alg {
            return Err(AuthError::Algorithm);
        }
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[issuer.issuer.as_str()]);
        validation.set_audience(&[issuer.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = self.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        let claims = data.claims;
        Ok(Principal {
            audience: issuer.audience,
            issuer: claims.iss,
            subject: claims.sub,
            email: claims.email.map(|e| e.to_lowercase()),
            name: claims.name.or(claims.preferred_username),
            token_groups: claims.groups.unwrap_or_default(),
            token: token.to_owned(),
        })
    }

    /// The caller's groups as the issuer knows them now (its userinfo endpoint), cached for at
    /// most the configured TTL; `None` when the issuer no longer accepts the token.
    pub async fn live_groups(&self, principal: &Principal) -> Option<Vec<String>> {
        let key = hash(&principal.token);
        if let Some((at, groups)) = self
            .groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            && at.elapsed() < self.groups_ttl
        {
            return groups.clone();
        }
        let issuer = self.issuers.iter().find(|i| i.issuer == principal.issuer)?;
        let endpoint = issuer.keys.read().await.userinfo.clone()?;
        #[derive(Deserialize)]
        struct UserInfo {
            #[serde(default)]
            groups: Vec<String>,
        }
        let groups = match self
            .http
            .get(&endpoint)
            .bearer_auth(&principal.token)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => r.json::<UserInfo>().await.ok().map(|u| u.groups),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e.without_url(), "failed to check the caller's groups");
                return None;
            }
        };
        let mut cache = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= GROUP_CACHE_LIMIT {
            let ttl = self.groups_ttl;
            cache.retain(|_, (at, _)| at.elapsed() < ttl);
            if cache.len() >= GROUP_CACHE_LIMIT {
                cache.clear();
            }
        }
        cache.insert(key, (Instant::now(), groups.clone()));
        groups
    }
}

/// The bearer token of an `Authorization` header value.
pub fn bearer(value: Option<&str>) -> Result<&str, AuthError> {
    let value = value.ok_or(AuthError::Missing)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_needs_the_scheme_and_a_token() {
        assert_eq!(bearer(None), Err(AuthError::Missing));
        assert_eq!(bearer(Some("Basic abc")), Err(AuthError::Malformed));
        assert_eq!(bearer(Some("Bearer ")), Err(AuthError::Malformed));
        assert_eq!(bearer(Some("bearer a.b.c")), Ok("a.b.c"));
    }

    #[test]
    fn the_issuer_is_read_from_the_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://x/"}"#);
        assert_eq!(
            unverified_issuer(&format!("h.{payload}.s")),
            Ok("https://x/".to_string())
        );
        assert_eq!(unverified_issuer("nodots"), Err(AuthError::Malformed));
    }
}
