//! Ingest tokens by hash, per account.

use super::*;

#[async_trait]
impl IngestTokens for MemoryStore {
    async fn add_token(&self, grant: &IngestGrant, token_sha256: &str) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        if !inner
            .accounts
            .contains_key(&(grant.tenant.clone(), grant.account_id.clone()))
        {
            return Err(PortError::NotFound(format!(
                "account {} in tenant {}",
                grant.account_id, grant.tenant
            )));
        }
        inner
            .tokens
            .insert(token_sha256.to_owned(), (grant.clone(), false));
        Ok(())
    }

    async fn grant(&self, token_sha256: &str) -> PortResult<Option<IngestGrant>> {
        let inner = lock(&self.inner);
        Ok(inner
            .tokens
            .get(token_sha256)
            .filter(|(_, revoked)| !revoked)
            .map(|(grant, _)| grant.clone()))
    }

    async fn revoke_token(&self, token_sha256: &str) -> PortResult<()> {
        match lock(&self.inner).tokens.get_mut(token_sha256) {
            Some((_, revoked)) => {
                *revoked = true;
                Ok(())
            }
            None => Err(PortError::NotFound("ingest token".into())),
        }
    }
}
