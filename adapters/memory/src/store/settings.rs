//! Each tenant's settings.

use super::*;

#[async_trait]
impl SettingsStore for MemoryStore {
    async fn settings(&self, tenant: &str) -> PortResult<Settings> {
        Ok(lock(&self.inner)
            .settings
            .get(tenant)
            .cloned()
            .unwrap_or_default())
    }

    async fn put_settings(&self, tenant: &str, settings: &Settings) -> PortResult<()> {
        lock(&self.inner)
            .settings
            .insert(tenant.to_owned(), settings.clone());
        Ok(())
    }

    async fn webhook_secret(&self, tenant: &str) -> PortResult<Option<SigningSecret>> {
        Ok(lock(&self.inner).webhook_secrets.get(tenant).cloned())
    }

    async fn put_webhook_secret(&self, tenant: &str, secret: &SigningSecret) -> PortResult<()> {
        lock(&self.inner)
            .webhook_secrets
            .insert(tenant.to_owned(), secret.clone());
        Ok(())
    }
}
