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
}
