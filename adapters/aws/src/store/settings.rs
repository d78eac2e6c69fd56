//! Each tenant's settings.

use super::*;

/// The sort key of a tenant's webhook signing secret: an item apart from its settings, which
/// are replaced whole.
const WEBHOOK_SECRET: &str = "WEBHOOK_SECRET";

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

    async fn webhook_secret(&self, tenant: &str) -> PortResult<Option<SigningSecret>> {
        match self.get(tenant_pk(tenant), WEBHOOK_SECRET).await? {
            Some(item) => Ok(Some(from_doc::<String>(&item)?.parse()?)),
            None => Ok(None),
        }
    }

    async fn put_webhook_secret(&self, tenant: &str, secret: &SigningSecret) -> PortResult<()> {
        self.put_item(doc_item(
            tenant_pk(tenant),
            WEBHOOK_SECRET,
            &secret.to_string(),
        )?)
        .await
    }
}
