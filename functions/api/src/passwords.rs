//! Password hashing: argon2id at OWASP's minimum (19 MiB, t = 2, p = 1) as PHC strings; hashes
//! weaker than that are upgraded at the next successful sign-in.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory cost in KiB.
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Iterations.
pub const ITERATIONS: u32 = 2;
/// Parallelism.
pub const PARALLELISM: u32 = 1;

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The policy's parameters are out of argon2's range.
    #[error("argon2 parameters: {0}")]
    Policy(argon2::Error),
    /// Hashing failed.
    #[error("hashing: {0}")]
    Hash(argon2::password_hash::Error),
}

fn policy() -> Result<Argon2<'static>, HashError> {
    let params =
        Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).map_err(HashError::Policy)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The PHC string of `password` under the current policy, with a fresh salt.
pub fn hash(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    policy()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(HashError::Hash)
}

/// The outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// Wrong password (or an unreadable hash).
    Wrong,
    /// Right, and the hash meets the policy.
    Right,
    /// Right, but the hash is weaker than the policy: store a new one.
    RightButWeak,
}

/// Checks `password` against the PHC string `stored` (any argon2 variant and parameters).
pub fn check(stored: &str, password: &str) -> Checked {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Checked::Wrong;
    };
    if Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Checked::Wrong;
    }
    let param = |name: &str| parsed.params.get_decimal(name).unwrap_or(0);
    let strong = parsed.algorithm.as_str() == "argon2id"
        && param("m") >= MEMORY_KIB
        && param("t") >= ITERATIONS
        && param("p") >= PARALLELISM;
    if strong {
        Checked::Right
    } else {
        Checked::RightButWeak
    }
}

/// Spends the time of one real check, for sign-ins with an unknown e-mail: a wrong address must
/// cost what a wrong password costs, or response times tell which addresses have accounts.
pub fn check_nobody(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("dd0c-no-such-user").unwrap_or_default());
    let _ = check(dummy, password);
}
