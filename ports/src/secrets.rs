//! Customer secrets at rest: sealed with XChaCha20-Poly1305 under the install's
//! `DD0C_SECRETS_KEY`, each bound to what it belongs to (the sealed secret of one account does
//! not open as another's).
//!
//! A sealed secret reads `v1:` then hex of a random 24-byte nonce and the ciphertext with its tag.

use std::fmt;
use std::str::FromStr;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::domain::Account;
use crate::store::{KeyUse, TenantStore};
use crate::text::hex;
use crate::zombie::AccessKey;
use crate::{PortError, PortResult};

const VERSION: &str = "v1:";
const NONCE_BYTES: usize = 24;

/// The key secrets are sealed under: 32 bytes.
#[derive(Clone)]
pub struct SecretsKey([u8; 32]);

impl fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretsKey(<redacted>)")
    }
}

impl FromStr for SecretsKey {
    type Err = PortError;

    /// 64 hex characters, as `openssl rand -hex 32` prints them.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = from_hex(text.trim())
            .filter(|b| b.len() == 32)
            .ok_or_else(|| {
                PortError::Invalid(
                    "DD0C_SECRETS_KEY is not 32 bytes in hex (64 characters; make one with \
                     `openssl rand -hex 32`)"
                        .to_owned(),
                )
            })?;
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes);
        Ok(SecretsKey(key))
    }
}

impl SecretsKey {
    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }

    /// Seals `secret` for `owner` (what it belongs to, e.g. `tenant/account`).
    pub fn seal(&self, secret: &str, owner: &str) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: owner.as_bytes(),
                },
            )
            // Encryption fails only for messages longer than the cipher's 256 GiB limit.
            .unwrap_or_default();
        format!("{VERSION}{}{}", hex(&nonce), hex(&sealed))
    }

    /// Opens what [`SecretsKey::seal`] sealed for `owner`; `Invalid` under another key, for
    /// another owner, or when tampered with.
    pub fn open(&self, sealed: &str, owner: &str) -> Result<String, PortError> {
        let refused = || {
            PortError::Invalid(format!(
                "the stored secret of {owner} does not open under DD0C_SECRETS_KEY (another key, \
                 or altered); add the credentials again"
            ))
        };
        let bytes = sealed
            .strip_prefix(VERSION)
            .and_then(from_hex)
            .filter(|b| b.len() > NONCE_BYTES)
            .ok_or_else(refused)?;
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let plain = self
            .cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| refused())?;
        String::from_utf8(plain).map_err(|_| refused())
    }
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn a_sealed_secret_opens_for_its_owner_only() {
        let key: SecretsKey = KEY.parse().expect("a valid key");
        let sealed = key.seal("wJalrXUtnFEMI/K7MDENG", "acme/123456789012");
        assert!(!sealed.contains("wJalr"), "sealed text hides the secret");
        assert_eq!(
            key.open(&sealed, "acme/123456789012").expect("opens"),
            "wJalrXUtnFEMI/K7MDENG"
        );
        assert!(key.open(&sealed, "other/123456789012").is_err());
        let other: SecretsKey = KEY.replace("00", "ff").parse().expect("a valid key");
        assert!(other.open(&sealed, "acme/123456789012").is_err());
        assert_ne!(
            sealed,
            key.seal("wJalrXUtnFEMI/K7MDENG", "acme/123456789012")
        );
    }

    #[test]
    fn a_key_must_be_32_hex_bytes() {
        let error = "abc".parse::<SecretsKey>().expect_err("too short");
        assert!(error.to_string().contains("openssl rand -hex 32"));
        assert!(KEY.replace('0', "g").parse::<SecretsKey>().is_err());
    }
}

/// What a sealed secret is bound to: its tenant, account and use, so that neither another
/// account's secret nor the account's other key's can be put in its place. (A reading key's
/// owner has no suffix: secrets sealed before acting keys existed still open.)
pub fn secret_owner(tenant: &str, account_id: &str, key: KeyUse) -> String {
    match key {
        KeyUse::Read => format!("{tenant}/{account_id}"),
        KeyUse::Act => format!("{tenant}/{account_id}#act"),
    }
}

/// The way into a customer account for whatever reads or acts on it (the zombie hunter, the
/// trail poller, remediation): its role (assumed by the adapter, with its ExternalId), or its
/// access key — the secret stored sealed, opened here under `DD0C_SECRETS_KEY`.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Credentials {
    tenants: std::sync::Arc<dyn TenantStore>,
    key: Option<SecretsKey>,
}

impl Credentials {
    /// Sealed secrets read from `tenants`, opened with `key` (none configured: an account with
    /// an access key cannot be read, and says so).
    pub fn new(tenants: std::sync::Arc<dyn TenantStore>, key: Option<SecretsKey>) -> Self {
        Credentials { tenants, key }
    }

    /// The access key to read `account` with: none for an account with a role (or with
    /// neither, which the adapter refuses, naming it). `Invalid` when the secret is missing or
    /// cannot be opened.
    pub async fn access_key(&self, account: &Account) -> PortResult<Option<AccessKey>> {
        match (&account.role_arn, &account.access_key_id) {
            (None, Some(key_id)) => self.opened(account, key_id, KeyUse::Read).await.map(Some),
            _ => Ok(None),
        }
    }

    /// The access key to act on `account`'s resources with: none for an account with a
    /// remediation role (or with neither). `Invalid` as [`Credentials::access_key`].
    pub async fn remediation_key(&self, account: &Account) -> PortResult<Option<AccessKey>> {
        match (
            &account.remediation_role_arn,
            &account.remediation_access_key_id,
        ) {
            (None, Some(key_id)) => self.opened(account, key_id, KeyUse::Act).await.map(Some),
            _ => Ok(None),
        }
    }

    /// Key `key_id` of `account` for `key`, its secret opened.
    async fn opened(&self, account: &Account, key_id: &str, key: KeyUse) -> PortResult<AccessKey> {
        let sealed = self
            .tenants
            .account_secret(&account.tenant, &account.account_id, key)
            .await?
            .ok_or_else(|| {
                PortError::Invalid(format!(
                    "account {} has an access key id ({key}) but no stored secret key; add the \
                     account again",
                    account.account_id
                ))
            })?;
        let opener = self.key.as_ref().ok_or_else(|| {
            PortError::Invalid(
                "DD0C_SECRETS_KEY is not set: the account's secret key cannot be opened".into(),
            )
        })?;
        let owner = secret_owner(&account.tenant, &account.account_id, key);
        Ok(AccessKey {
            access_key_id: key_id.to_owned(),
            secret_access_key: opener.open(&sealed, &owner)?,
        })
    }
}
