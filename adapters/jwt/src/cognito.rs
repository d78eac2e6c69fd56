//! [`CognitoAuth`]: Cognito user-pool tokens. RS256 only, `kid` required and looked up in the
//! pool's JWKS; `iss` must be the pool; `exp` required; `token_use` must be the one the API
//! expects; an ID token's `aud`, or an access token's `client_id`, must be the app client —
//! checked explicitly, since the two token kinds carry it differently. The tenant comes from a
//! custom claim (`custom:tenant` by default); the role is admin when the user is in the pool's
//! `admin` group (`cognito:groups`) or `custom:role` says `admin`, else member.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use dd0c_ports::auth::{Auth, Principal, Role};
use dd0c_ports::{PortError, PortResult};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Which kind of Cognito token a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// ID tokens (`token_use: id`, `aud` = the app client).
    Id,
    /// Access tokens (`token_use: access`, `client_id` = the app client).
    Access,
}

impl TokenUse {
    fn as_str(self) -> &'static str {
        match self {
            TokenUse::Id => "id",
            TokenUse::Access => "access",
        }
    }
}

impl std::fmt::Display for TokenUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TokenUse {
    type Err = String;

    /// `id` or `access`, as the claim `token_use` spells them.
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "id" => Ok(TokenUse::Id),
            "access" => Ok(TokenUse::Access),
            other => Err(format!("{other:?} is not a token use: `access` or `id`")),
        }
    }
}

/// Where the pool is and what its tokens must say.
#[derive(Debug, Clone)]
pub struct CognitoConfig {
    /// The pool URL, `https://cognito-idp.{region}.amazonaws.com/{pool id}`: the tokens' `iss`.
    pub issuer: String,
    /// The JWKS URL; by default `{issuer}/.well-known/jwks.json`.
    pub jwks_url: Option<String>,
    /// The app client id.
    pub client_id: String,
    /// The token kind the API accepts.
    pub token_use: TokenUse,
    /// The claim holding the tenant.
    pub tenant_claim: String,
    /// The least time between two JWKS fetches caused by unknown `kid`s (5 minutes).
    pub refetch_interval: Duration,
}

impl CognitoConfig {
    /// A pool's defaults: access tokens, `custom:tenant`, refetch at most every 5 minutes.
    pub fn new(issuer: &str, client_id: &str) -> Self {
        CognitoConfig {
            issuer: issuer.trim_end_matches('/').to_owned(),
            jwks_url: None,
            client_id: client_id.to_owned(),
            token_use: TokenUse::Access,
            tenant_claim: "custom:tenant".into(),
            refetch_interval: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Debug, Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: String,
    n: Option<String>,
    e: Option<String>,
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
}

/// Verifies a Cognito pool's tokens.
#[allow(missing_debug_implementations)]
pub struct CognitoAuth {
    config: CognitoConfig,
    jwks_url: String,
    http: reqwest::Client,
    keys: Mutex<Keys>,
    validation: Validation,
}

fn unauthorized(why: impl Into<String>) -> PortError {
    PortError::Unauthorized(why.into())
}

impl CognitoAuth {
    /// A verifier for the pool in `config` (keys are fetched on first use).
    pub fn new(config: CognitoConfig) -> PortResult<CognitoAuth> {
        let jwks_url = config
            .jwks_url
            .clone()
            .unwrap_or_else(|| format!("{}/.well-known/jwks.json", config.issuer));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| PortError::caused("building the HTTP client", e))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[config.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.validate_nbf = true;
        // aud or client_id is checked below, by token kind.
        validation.validate_aud = false;
        validation.leeway = 30;
        Ok(CognitoAuth {
            config,
            jwks_url,
            http,
            keys: Mutex::new(Keys::default()),
            validation,
        })
    }

    fn cached(&self, kid: &str) -> Option<DecodingKey> {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_kid
            .get(kid)
            .cloned()
    }

    /// The key `kid`, refetching the JWKS when it is unknown and the last fetch is older than
    /// the refetch interval.
    async fn key(&self, kid: &str) -> PortResult<DecodingKey> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        let due = {
            let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            let due = keys
                .fetched_at
                .is_none_or(|at| at.elapsed() >= self.config.refetch_interval);
            if due {
                // Claimed now, so concurrent requests with unknown kids do not all fetch.
                keys.fetched_at = Some(Instant::now());
            }
            due
        };
        if due {
            let jwks: Jwks = self
                .http
                .get(&self.jwks_url)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| PortError::caused("fetching the pool's JWKS", e))?
                .json()
                .await
                .map_err(|e| PortError::caused("reading the pool's JWKS", e))?;
            let mut by_kid = HashMap::new();
            for jwk in jwks.keys {
                if let (Some(kid), "RSA", Some(n), Some(e)) =
                    (jwk.kid, jwk.kty.as_str(), jwk.n, jwk.e)
                {
                    if let Ok(key) = DecodingKey::from_rsa_components(&n, &e) {
                        by_kid.insert(kid, key);
                    }
                }
            }
            self.keys.lock().unwrap_or_else(|p| p.into_inner()).by_kid = by_kid;
        }
        self.cached(kid)
            .ok_or_else(|| unauthorized("invalid token: unknown signing key"))
    }
}

/// Whether `cognito:groups` (in ID and access tokens alike) names `admin`.
fn in_admin_group(claims: &Map<String, Value>) -> bool {
    claims
        .get("cognito:groups")
        .and_then(Value::as_array)
        .is_some_and(|groups| groups.iter().any(|g| g == "admin"))
}

fn string<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

#[async_trait]
impl Auth for CognitoAuth {
    async fn verify(&self, bearer: &str) -> PortResult<Principal> {
        let bearer = bearer.trim();
        let header = jsonwebtoken::decode_header(bearer)
            .map_err(|e| unauthorized(format!("invalid token: {e}")))?;
        if header.alg != Algorithm::RS256 {
            return Err(unauthorized("invalid token: not RS256"));
        }
        let kid = header
            .kid
            .ok_or_else(|| unauthorized("invalid token: no key id"))?;
        let key = self.key(&kid).await?;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(bearer, &key, &self.validation)
            .map_err(|e| unauthorized(format!("invalid token: {e}")))?
            .claims;
        let wanted = self.config.token_use;
        if string(&claims, "token_use") != Some(wanted.as_str()) {
            return Err(unauthorized(format!(
                "invalid token: this API takes {} tokens",
                wanted.as_str()
            )));
        }
        let client = match wanted {
            TokenUse::Id => string(&claims, "aud"),
            TokenUse::Access => string(&claims, "client_id"),
        };
        if client != Some(self.config.client_id.as_str()) {
            return Err(unauthorized("invalid token: issued to another app client"));
        }
        let tenant = string(&claims, &self.config.tenant_claim)
            .ok_or_else(|| unauthorized("invalid token: no tenant"))?;
        let subject = string(&claims, "sub").unwrap_or_default();
        Ok(Principal {
            subject: subject.to_owned(),
            email: string(&claims, "email").map(str::to_owned),
            tenant: tenant.to_owned(),
            role: if in_admin_group(&claims) || string(&claims, "custom:role") == Some("admin") {
                Role::Admin
            } else {
                Role::Member
            },
        })
    }
}
