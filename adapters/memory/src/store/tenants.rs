//! Tenants and their accounts (one tenant per AWS account).

use super::*;

#[async_trait]
impl TenantStore for MemoryStore {
    async fn add_tenant(&self, tenant: &Tenant) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        if inner.tenants.contains_key(&tenant.name) {
            return Err(PortError::Conflict(format!(
                "tenant {} exists",
                tenant.name
            )));
        }
        inner.tenants.insert(tenant.name.clone(), tenant.clone());
        Ok(())
    }

    async fn tenant(&self, name: &str) -> PortResult<Option<Tenant>> {
        Ok(lock(&self.inner).tenants.get(name).cloned())
    }

    async fn tenants(&self) -> PortResult<Vec<Tenant>> {
        Ok(lock(&self.inner).tenants.values().cloned().collect())
    }

    async fn add_account(&self, account: &Account) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        let key = (account.tenant.clone(), account.account_id.clone());
        let role_taken = account.role_arn.is_some()
            && inner
                .accounts
                .values()
                .any(|a| a.role_arn == account.role_arn);
        // An AWS account belongs to one tenant: its records price and teach only that tenant.
        let held = inner
            .accounts
            .keys()
            .any(|(_, id)| *id == account.account_id);
        if held || role_taken {
            return Err(PortError::Conflict(account_taken(account)));
        }
        inner.accounts.insert(key, account.clone());
        Ok(())
    }

    async fn account(&self, tenant: &str, account_id: &str) -> PortResult<Option<Account>> {
        Ok(lock(&self.inner)
            .accounts
            .get(&(tenant.to_owned(), account_id.to_owned()))
            .cloned())
    }

    async fn accounts(&self, tenant: &str) -> PortResult<Vec<Account>> {
        let inner = lock(&self.inner);
        Ok(inner
            .accounts
            .values()
            .filter(|a| a.tenant == tenant)
            .cloned()
            .collect())
    }

    async fn owner(&self, account_id: &str) -> PortResult<Option<String>> {
        Ok(lock(&self.inner)
            .accounts
            .keys()
            .find(|(_, id)| id == account_id)
            .map(|(tenant, _)| tenant.clone()))
    }

    async fn remove_account(&self, tenant: &str, account_id: &str) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        match inner
            .accounts
            .remove(&(tenant.to_owned(), account_id.to_owned()))
        {
            Some(_) => {
                inner
                    .account_secrets
                    .retain(|(t, a, _), _| !(t == tenant && a == account_id));
                // Its tokens go with it, as Postgres' foreign key cascades them.
                inner
                    .tokens
                    .retain(|_, (g, _)| !(g.tenant == tenant && g.account_id == account_id));
                Ok(())
            }
            None => Err(no_account(tenant, account_id)),
        }
    }

    async fn put_account_secret(
        &self,
        tenant: &str,
        account_id: &str,
        key: KeyUse,
        sealed: &str,
    ) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        if !inner
            .accounts
            .contains_key(&(tenant.to_owned(), account_id.to_owned()))
        {
            return Err(no_account(tenant, account_id));
        }
        inner.account_secrets.insert(
            (tenant.to_owned(), account_id.to_owned(), key),
            sealed.to_owned(),
        );
        Ok(())
    }

    async fn account_secret(
        &self,
        tenant: &str,
        account_id: &str,
        key: KeyUse,
    ) -> PortResult<Option<String>> {
        Ok(lock(&self.inner)
            .account_secrets
            .get(&(tenant.to_owned(), account_id.to_owned(), key))
            .cloned())
    }
}
