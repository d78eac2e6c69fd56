//! Tenants and their accounts (one tenant per AWS account).

use super::*;

#[async_trait]
impl TenantStore for PgStore {
    async fn add_tenant(&self, tenant: &Tenant) -> PortResult<()> {
        match sqlx::query("INSERT INTO tenants (name, created_at) VALUES ($1, $2)")
            .bind(&tenant.name)
            .bind(tenant.created_at)
            .execute(&self.pool)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_violation(&e, "23505") => Err(PortError::Conflict(format!(
                "tenant {} exists",
                tenant.name
            ))),
            Err(e) => Err(backend("adding a tenant", e)),
        }
    }

    async fn tenant(&self, name: &str) -> PortResult<Option<Tenant>> {
        let row: Option<(String, DateTime<Utc>)> =
            sqlx::query_as("SELECT name, created_at FROM tenants WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| backend("reading a tenant", e))?;
        Ok(row.map(|(name, created_at)| Tenant { name, created_at }))
    }

    async fn tenants(&self) -> PortResult<Vec<Tenant>> {
        let rows: Vec<(String, DateTime<Utc>)> =
            sqlx::query_as("SELECT name, created_at FROM tenants ORDER BY name")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| backend("listing tenants", e))?;
        Ok(rows
            .into_iter()
            .map(|(name, created_at)| Tenant { name, created_at })
            .collect())
    }

    async fn add_account(&self, account: &Account) -> PortResult<()> {
        match self.scoped(&account.tenant, async |c| sqlx::query("INSERT INTO accounts (tenant_id, account_id, name, created_at, role_arn, external_id, access_key_id, remediation_role_arn, remediation_access_key_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(&account.tenant)
            .bind(&account.account_id)
            .bind(&account.name)
            .bind(account.created_at)
            .bind(&account.role_arn)
            .bind(&account.external_id)
            .bind(&account.access_key_id)
            .bind(&account.remediation_role_arn)
            .bind(&account.remediation_access_key_id)
            .execute(c)
            .await).await
        {
            Ok(_) => Ok(()),
            Err(e) if is_violation(&e, "23505") => Err(PortError::Conflict(account_taken(account))),
            Err(e) => Err(backend("adding an account", e)),
        }
    }

    async fn account(&self, tenant: &str, account_id: &str) -> PortResult<Option<Account>> {
        let row: Option<AccountRow> = self.scoped(tenant, async |c| sqlx::query_as(
            "SELECT tenant_id, account_id, name, created_at, role_arn, external_id, access_key_id, remediation_role_arn, remediation_access_key_id FROM accounts WHERE tenant_id = $1 AND account_id = $2",
        )
        .bind(tenant)
        .bind(account_id)
        .fetch_optional(c)
        .await).await
        .map_err(|e| backend("reading an account", e))?;
        Ok(row.map(account_of))
    }

    async fn accounts(&self, tenant: &str) -> PortResult<Vec<Account>> {
        let rows: Vec<AccountRow> = self.scoped(tenant, async |c| sqlx::query_as(
            "SELECT tenant_id, account_id, name, created_at, role_arn, external_id, access_key_id, remediation_role_arn, remediation_access_key_id FROM accounts WHERE tenant_id = $1 ORDER BY account_id",
        )
        .bind(tenant)
        .fetch_all(c)
        .await).await
        .map_err(|e| backend("listing accounts", e))?;
        Ok(rows.into_iter().map(account_of).collect())
    }

    async fn owner(&self, account_id: &str) -> PortResult<Option<String>> {
        // Before the tenant is known, as an ingest-token lookup: every tenant's rows.
        self.scoped(EVERY_TENANT, async |c| {
            sqlx::query_scalar("SELECT tenant_id FROM accounts WHERE account_id = $1")
                .bind(account_id)
                .fetch_optional(c)
                .await
        })
        .await
        .map_err(|e| backend("finding an account's tenant", e))
    }

    async fn remove_account(&self, tenant: &str, account_id: &str) -> PortResult<()> {
        let removed = self
            .scoped(tenant, async |c| {
                sqlx::query("DELETE FROM accounts WHERE tenant_id = $1 AND account_id = $2")
                    .bind(tenant)
                    .bind(account_id)
                    .execute(c)
                    .await
            })
            .await
            .map_err(|e| backend("removing an account", e))?
            .rows_affected();
        if removed == 0 {
            return Err(no_account(tenant, account_id));
        }
        Ok(())
    }

    async fn put_account_secret(
        &self,
        tenant: &str,
        account_id: &str,
        key: KeyUse,
        sealed: &str,
    ) -> PortResult<()> {
        let sql = match key {
            KeyUse::Read => {
                "UPDATE accounts SET secret_sealed = $3 WHERE tenant_id = $1 AND account_id = $2"
            }
            KeyUse::Act => "UPDATE accounts SET remediation_secret_sealed = $3 WHERE tenant_id = $1 AND account_id = $2",
        };
        let updated = self
            .scoped(tenant, async |c| {
                sqlx::query(sql)
                    .bind(tenant)
                    .bind(account_id)
                    .bind(sealed)
                    .execute(c)
                    .await
            })
            .await
            .map_err(|e| backend("storing an account's secret", e))?
            .rows_affected();
        if updated == 0 {
            return Err(no_account(tenant, account_id));
        }
        Ok(())
    }

    async fn account_secret(
        &self,
        tenant: &str,
        account_id: &str,
        key: KeyUse,
    ) -> PortResult<Option<String>> {
        let sql = match key {
            KeyUse::Read => {
                "SELECT secret_sealed FROM accounts WHERE tenant_id = $1 AND account_id = $2"
            }
            KeyUse::Act => "SELECT remediation_secret_sealed FROM accounts WHERE tenant_id = $1 AND account_id = $2",
        };
        let row: Option<(Option<String>,)> = self
            .scoped(tenant, async |c| {
                sqlx::query_as(sql)
                    .bind(tenant)
                    .bind(account_id)
                    .fetch_optional(c)
                    .await
            })
            .await
            .map_err(|e| backend("reading an account's secret", e))?;
        Ok(row.and_then(|(sealed,)| sealed))
    }
}
