//! Ingest tokens by hash, per account.

use super::*;

#[async_trait]
impl IngestTokens for PgStore {
    async fn add_token(&self, grant: &IngestGrant, token_sha256: &str) -> PortResult<()> {
        match self
            .scoped(&grant.tenant, async |c| {
                sqlx::query(
            "INSERT INTO ingest_tokens (token_sha256, tenant_id, account_id) VALUES ($1, $2, $3)",
        )
        .bind(token_sha256)
        .bind(&grant.tenant)
        .bind(&grant.account_id)
        .execute(c)
        .await
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_violation(&e, "23503") => Err(PortError::NotFound(format!(
                "account {} in tenant {}",
                grant.account_id, grant.tenant
            ))),
            Err(e) => Err(backend("adding an ingest token", e)),
        }
    }

    async fn grant(&self, token_sha256: &str) -> PortResult<Option<IngestGrant>> {
        let row: Option<(String, String)> = self.scoped(EVERY_TENANT, async |c| sqlx::query_as(
            "SELECT tenant_id, account_id FROM ingest_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL",
        )
        .bind(token_sha256)
        .fetch_optional(c)
        .await).await
        .map_err(|e| backend("checking an ingest token", e))?;
        Ok(row.map(|(tenant, account_id)| IngestGrant { tenant, account_id }))
    }

    async fn revoke_token(&self, token_sha256: &str) -> PortResult<()> {
        let revoked = self.scoped(EVERY_TENANT, async |c| sqlx::query("UPDATE ingest_tokens SET revoked_at = now() WHERE token_sha256 = $1 AND revoked_at IS NULL")
            .bind(token_sha256)
            .execute(c)
            .await).await
            .map_err(|e| backend("revoking an ingest token", e))?
            .rows_affected();
        if revoked == 0 {
            return Err(PortError::NotFound("ingest token".into()));
        }
        Ok(())
    }
}
