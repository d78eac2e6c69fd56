//! Each tenant's settings.

use super::*;

#[async_trait]
impl SettingsStore for DynamoStore {
    async fn settings(&self, tenant: &str) -> PortResult<Settings> {
        Ok(match self.get(tenant_pk(tenant), "SETTINGS").await? {
            Some(item) => from_doc(&item)?,
            None => Settings::default(),
        })
    }

    async fn put_settings(&self, tenant: &str, settings: &Settings) -> PortResult<()> {
        self.put_item(doc_item(tenant_pk(tenant), "SETTINGS", settings)?)
            .await
    }
}
