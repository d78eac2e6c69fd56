//! What the normalizer learned, per tenant.

use super::*;

#[async_trait]
impl RecallStore for DynamoStore {
    async fn facts(&self, tenant: &str, keys: &[FactKey]) -> PortResult<Vec<Option<Fact>>> {
        let unique: BTreeSet<&FactKey> = keys.iter().collect();
        let items = self
            .batch_get(
                unique
                    .into_iter()
                    .map(|k| key(tenant_pk(tenant), fact_sk(k)))
                    .collect(),
            )
            .await?;
        let mut found: HashMap<String, Fact> = HashMap::new();
        for item in items {
            found.insert(string(&item, "sk")?.to_owned(), from_doc(&item)?);
        }
        Ok(keys
            .iter()
            .map(|k| found.get(&fact_sk(k)).cloned())
            .collect())
    }

    async fn remember(&self, tenant: &str, facts: &[(FactKey, Fact)]) -> PortResult<()> {
        // One request per key, the later write winning: a batch may not name a key twice.
        let mut latest: HashMap<String, &Fact> = HashMap::new();
        for (key, fact) in facts {
            latest.insert(fact_sk(key), fact);
        }
        let items = latest
            .into_iter()
            .map(|(sk, fact)| doc_item(tenant_pk(tenant), sk, fact))
            .collect::<PortResult<Vec<_>>>()?;
        self.batch_put(items).await
    }
}
