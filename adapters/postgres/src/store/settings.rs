//! Each tenant's settings.

use super::*;

#[async_trait]
impl SettingsStore for PgStore {
    async fn settings(&self, tenant: &str) -> PortResult<Settings> {
        let row: Option<(Json<serde_json::Value>,)> = self
            .scoped(tenant, async |c| {
                sqlx::query_as("SELECT payload FROM settings WHERE tenant_id = $1")
                    .bind(tenant)
                    .fetch_optional(c)
                    .await
            })
            .await
            .map_err(|e| backend("reading settings", e))?;
        match row {
            Some((Json(v),)) => decode(v, "settings"),
            None => Ok(Settings::default()),
        }
    }

    async fn put_settings(&self, tenant: &str, settings: &Settings) -> PortResult<()> {
        let payload = encode(settings, "settings")?;
        self.scoped(tenant, async |c| {
            sqlx::query(
                "INSERT INTO settings (tenant_id, payload) VALUES ($1, $2)
             ON CONFLICT (tenant_id) DO UPDATE SET payload = EXCLUDED.payload, updated_at = now()",
            )
            .bind(tenant)
            .bind(Json(payload))
            .execute(c)
            .await
        })
        .await
        .map_err(|e| backend("saving settings", e))?;
        Ok(())
    }

    async fn webhook_secret(&self, tenant: &str) -> PortResult<Option<SigningSecret>> {
        let secret: Option<Option<String>> = self
            .scoped(tenant, async |c| {
                sqlx::query_scalar("SELECT webhook_secret FROM settings WHERE tenant_id = $1")
                    .bind(tenant)
                    .fetch_optional(c)
                    .await
            })
            .await
            .map_err(|e| backend("reading the webhook secret", e))?;
        secret.flatten().map(|s| s.parse()).transpose()
    }

    async fn put_webhook_secret(&self, tenant: &str, secret: &SigningSecret) -> PortResult<()> {
        let defaults = encode(&Settings::default(), "settings")?;
        self.scoped(tenant, async |c| {
            sqlx::query(
                "INSERT INTO settings (tenant_id, payload, webhook_secret) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id) DO UPDATE SET webhook_secret = EXCLUDED.webhook_secret",
            )
            .bind(tenant)
            .bind(Json(defaults))
            .bind(secret.to_string())
            .execute(c)
            .await
        })
        .await
        .map_err(|e| backend("saving the webhook secret", e))?;
        Ok(())
    }
}
