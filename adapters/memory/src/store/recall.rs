//! What the normalizer learned, per tenant.

use super::*;

#[async_trait]
impl RecallStore for MemoryStore {
    async fn facts(&self, tenant: &str, keys: &[FactKey]) -> PortResult<Vec<Option<Fact>>> {
        let inner = lock(&self.inner);
        Ok(keys
            .iter()
            .map(|k| inner.facts.get(&(tenant.to_owned(), k.clone())).cloned())
            .collect())
    }

    async fn remember(&self, tenant: &str, facts: &[(FactKey, Fact)]) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        for (key, fact) in facts {
            inner
                .facts
                .insert((tenant.to_owned(), key.clone()), fact.clone());
        }
        Ok(())
    }
}
