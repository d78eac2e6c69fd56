//! # dd0c-adapters-jwt
//!
//! The auth port on JWTs, one adapter per deployment mode:
//! - [`JwtAuth`] (self-hosted): HS256 tokens issued at local sign-in.
//! - [`CognitoAuth`] (cloud): RS256 tokens of a Cognito user pool, verified with the pool's
//!   JWKS (cached; an unknown `kid` triggers at most one refetch per interval, so key rotation
//!   is picked up without letting forged `kid`s hammer Cognito).

mod cognito;
mod local;

pub use cognito::{CognitoAuth, CognitoConfig, TokenUse};
pub use local::{weak_secret, JwtAuth, AUDIENCE, ISSUER, MIN_SECRET_BYTES, TTL_SECONDS};
