//! The auth port: turn a bearer token into a principal bound to exactly one tenant.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::PortResult;

/// What a principal may do within its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Everything, settings and accounts included.
    Admin,
    /// Read, and act on anomalies.
    Member,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Principal {
    /// Stable subject id (user id, token id).
    pub subject: String,
    /// The user's e-mail, when the principal is a person.
    pub email: Option<String>,
    /// The one tenant this principal may see.
    pub tenant: String,
    /// Its role there.
    pub role: Role,
}

/// A person who signs in to the dashboard; one e-mail belongs to one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The tenant.
    pub tenant: String,
    /// The sign-in e-mail, stored lowercase.
    pub email: String,
    /// Its role there.
    pub role: Role,
    /// The password hash as a PHC string (argon2id).
    pub password_hash: String,
}

/// Dashboard users (local sign-in; Cognito keeps its own).
#[async_trait]
pub trait Users: Send + Sync {
    /// Adds a user: `Conflict` if the e-mail is taken (in any tenant), `NotFound` if the
    /// tenant does not exist.
    async fn add_user(&self, user: &User) -> PortResult<()>;
    /// The user with this e-mail (case-insensitive), or `None`.
    async fn user(&self, email: &str) -> PortResult<Option<User>>;
    /// Replaces a user's password hash (rehashing at a stronger policy); `NotFound` if unknown.
    async fn set_password_hash(&self, email: &str, password_hash: &str) -> PortResult<()>;
}

/// Issues bearer tokens for a signed-in principal (the local sign-in; Cognito issues its own).
pub trait TokenIssuer: Send + Sync {
    /// A token for `principal` and its lifetime in seconds.
    fn issue(&self, principal: &Principal) -> PortResult<(String, u64)>;
}

/// Verifies bearer tokens.
#[async_trait]
pub trait Auth: Send + Sync {
    /// The principal of a valid token. Every failure — malformed, forged, expired, not yet
    /// valid, wrong issuer or audience, unknown key — is `Unauthorized`, never a panic.
    async fn verify(&self, bearer: &str) -> PortResult<Principal>;
}

/// How an ingest token is stored and looked up: the lowercase hex SHA-256 of the token.
pub fn token_sha256(token: &str) -> String {
    use sha2::Digest;
    crate::text::hex(&sha2::Sha256::digest(token.as_bytes()))
}

/// The account an ingest token admits records for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestGrant {
    /// The tenant.
    pub tenant: String,
    /// The one AWS account whose records the token admits.
    pub account_id: String,
}

/// Per-account ingest tokens, stored as SHA-256 hashes (the token is shown once, at creation).
#[async_trait]
pub trait IngestTokens: Send + Sync {
    /// Records a token hash for an account; `NotFound` if the tenant has no such account.
    async fn add_token(&self, grant: &IngestGrant, token_sha256: &str) -> PortResult<()>;
    /// The grant of an unrevoked token hash whose account its tenant still has, or `None`: once
    /// an account is removed from a tenant, its tokens admit nothing.
    async fn grant(&self, token_sha256: &str) -> PortResult<Option<IngestGrant>>;
    /// Revokes a token hash; `NotFound` if unknown.
    async fn revoke_token(&self, token_sha256: &str) -> PortResult<()>;
}
