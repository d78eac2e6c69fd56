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
}
