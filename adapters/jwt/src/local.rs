//! [`JwtAuth`]: the auth port for self-hosted installs. It issues HS256 JWTs at sign-in and
//! verifies them on every request with `iss`, `aud`, `exp` and `nbf` all *required* (jsonwebtoken
//! checks `iss`, `aud` and `nbf` only when present unless told to require them), HS256 only (no
//! `none`, no algorithm switching), 30 s of clock leeway. The secret (`DD0C_JWT_SECRET`) must be
//! at least 32 bytes and not a well-known placeholder.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use dd0c_ports::auth::{Auth, Principal, Role, TokenIssuer};
use dd0c_ports::{PortError, PortResult};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The issuer of locally signed tokens.
pub const ISSUER: &str = "dd0c-cost";
/// Their audience: the dashboard API.
pub const AUDIENCE: &str = "dd0c-cost-api";
/// How long a token lives, in seconds.
pub const TTL_SECONDS: u64 = 3600;
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY_SECONDS: u64 = 30;
/// Shortest secret accepted, in bytes (HS256's key should be at least its output size).
pub const MIN_SECRET_BYTES: usize = 32;

/// Placeholders people leave in configuration files.
const KNOWN_DEFAULTS: [&str; 8] = [
    "changeme",
    "change-me",
    "secret",
    "dd0c",
    "password",
    "your-secret",
    "your-256-bit-secret",
    "supersecret",
];

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    exp: u64,
    nbf: u64,
    iat: u64,
    tenant: String,
    role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

/// Issues and verifies HS256 tokens.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct JwtAuth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Why a secret is refused, naming `DD0C_JWT_SECRET`; `None` if it is acceptable.
pub fn weak_secret(secret: &str) -> Option<String> {
    if secret.len() < MIN_SECRET_BYTES {
        return Some(format!(
            "DD0C_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (it has {}); e.g. `openssl rand -hex 32`",
            secret.len()
        ));
    }
    let lowered = secret.to_lowercase();
    let first = secret.chars().next();
    let repeated = secret.chars().all(|c| Some(c) == first);
    if repeated
        || KNOWN_DEFAULTS
            .iter()
            .any(|d| lowered.contains(d) && lowered.len() < d.len() + 16)
    {
        return Some("DD0C_JWT_SECRET is a well-known placeholder; use a random one (`openssl rand -hex 32`)".into());
    }
    None
}

impl JwtAuth {
    /// Tokens under `secret`; refused when [`weak_secret`] says so.
    pub fn new(secret: &str) -> PortResult<JwtAuth> {
        if let Some(why) = weak_secret(secret) {
            return Err(PortError::Invalid(why));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Ok(JwtAuth {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        })
    }
}

impl TokenIssuer for JwtAuth {
    fn issue(&self, principal: &Principal) -> PortResult<(String, u64)> {
        let issued = now();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: principal.subject.clone(),
            exp: issued + TTL_SECONDS,
            nbf: issued,
            iat: issued,
            tenant: principal.tenant.clone(),
            role: principal.role,
            email: principal.email.clone(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| PortError::caused("signing a token", e))?;
        Ok((token, TTL_SECONDS))
    }
}

#[async_trait]
impl Auth for JwtAuth {
    async fn verify(&self, bearer: &str) -> PortResult<Principal> {
        let data = jsonwebtoken::decode::<Claims>(bearer.trim(), &self.decoding, &self.validation)
            .map_err(|e| PortError::Unauthorized(format!("invalid token: {e}")))?;
        let claims = data.claims;
        if claims.tenant.is_empty() || claims.sub.is_empty() {
            return Err(PortError::Unauthorized(
                "invalid token: no tenant or subject".into(),
            ));
        }
        Ok(Principal {
            subject: claims.sub,
            email: claims.email,
            tenant: claims.tenant,
            role: claims.role,
        })
    }
}
