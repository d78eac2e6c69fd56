//! The resource ledger.

use dd0c_ports::ledger::{
    ended_at, keys_of, merge, page_of, Link, ResourceChange, ResourceFilter, ResourceKey,
    ResourceLedger, ResourceRecord,
};

use super::*;

#[async_trait]
impl ResourceLedger for MemoryStore {
    async fn record(
        &self,
        tenant: &str,
        changes: &[ResourceChange],
    ) -> PortResult<Vec<ResourceRecord>> {
        let mut inner = lock(&self.inner);
        let stored = keys_of(changes)
            .into_iter()
            .filter_map(|key| inner.resources.get(&(tenant.to_owned(), key)).cloned())
            .collect();
        let merged = merge(tenant, stored, changes);
        for (record, _) in &merged {
            inner
                .resources
                .insert((tenant.to_owned(), record.key.clone()), record.clone());
        }
        Ok(merged.into_iter().map(|(record, _)| record).collect())
    }

    async fn resources(
        &self,
        tenant: &str,
        keys: &[ResourceKey],
    ) -> PortResult<Vec<Option<ResourceRecord>>> {
        let inner = lock(&self.inner);
        Ok(keys
            .iter()
            .map(|key| {
                inner
                    .resources
                    .get(&(tenant.to_owned(), key.clone()))
                    .cloned()
            })
            .collect())
    }

    async fn of_anomaly(&self, tenant: &str, anomaly_id: &str) -> PortResult<Vec<ResourceRecord>> {
        let inner = lock(&self.inner);
        Ok(inner
            .resources
            .iter()
            .filter(|((t, _), r)| t == tenant && r.anomaly_id.as_deref() == Some(anomaly_id))
            .map(|(_, r)| r.clone())
            .collect())
    }

    async fn list(
        &self,
        tenant: &str,
        filter: &ResourceFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> PortResult<Page<ResourceRecord>> {
        let records: Vec<ResourceRecord> = lock(&self.inner)
            .resources
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, r)| r.clone())
            .collect();
        page_of(records, filter, cursor, limit)
    }

    async fn link(&self, tenant: &str, links: &[Link]) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        for (key, anomaly_id) in Link::first_per_key(links) {
            let record = inner
                .resources
                .entry((tenant.to_owned(), key.clone()))
                .or_insert_with(|| ResourceRecord::new(tenant, key.clone()));
            record
                .anomaly_id
                .get_or_insert_with(|| anomaly_id.to_owned());
        }
        Ok(())
    }

    async fn mark_unseen(
        &self,
        tenant: &str,
        keys: &[ResourceKey],
        at: DateTime<Utc>,
    ) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        for key in keys {
            if let Some(record) = inner.resources.get_mut(&(tenant.to_owned(), key.clone())) {
                record.unseen_at.get_or_insert(at);
            }
        }
        Ok(())
    }

    async fn prune_ended(&self, before: DateTime<Utc>) -> PortResult<u64> {
        let mut inner = lock(&self.inner);
        let count = inner.resources.len();
        inner
            .resources
            .retain(|_, record| ended_at(record).is_none_or(|at| at >= before));
        Ok((count - inner.resources.len()) as u64)
    }
}
