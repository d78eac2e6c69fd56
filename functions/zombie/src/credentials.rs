//! The way into a customer account: its role (assumed by the adapter, with its ExternalId), or
//! its access key — the secret stored sealed, opened here under `DD0C_SECRETS_KEY`.

use std::sync::Arc;

use dd0c_ports::domain::Account;
use dd0c_ports::secrets::SecretsKey;
use dd0c_ports::store::TenantStore;
use dd0c_ports::zombie::AccessKey;

use crate::ZombieError;

/// What a sealed secret is bound to: its tenant and account.
pub fn secret_owner(tenant: &str, account_id: &str) -> String {
    format!("{tenant}/{account_id}")
}

/// Opens accounts' sealed access keys.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Credentials {
    tenants: Arc<dyn TenantStore>,
    key: Option<SecretsKey>,
}

impl Credentials {
    /// Sealed secrets read from `tenants`, opened with `key` (none configured: an account with
    /// an access key cannot be read, and says so).
    pub fn new(tenants: Arc<dyn TenantStore>, key: Option<SecretsKey>) -> Self {
        Credentials { tenants, key }
    }

    /// The access key to read `account` with: none for an account with a role (or with
    /// neither, which the adapter refuses, naming it).
    pub async fn access_key(&self, account: &Account) -> Result<Option<AccessKey>, ZombieError> {
        let (None, Some(key_id)) = (&account.role_arn, &account.access_key_id) else {
            return Ok(None);
        };
        let sealed = self
            .tenants
            .account_secret(&account.tenant, &account.account_id)
            .await
            .map_err(ZombieError::port("reading the account's secret"))?
            .ok_or_else(|| ZombieError::NoSecret(account.account_id.clone()))?;
        let key = self.key.as_ref().ok_or(ZombieError::NoSecretsKey)?;
        let secret = key
            .open(&sealed, &secret_owner(&account.tenant, &account.account_id))
            .map_err(ZombieError::port("opening the account's secret"))?;
        Ok(Some(AccessKey {
            access_key_id: key_id.clone(),
            secret_access_key: secret,
        }))
    }
}
