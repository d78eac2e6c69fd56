//! Cost events by time, for the cost series.

use super::*;

#[async_trait]
impl CostEventStore for MemoryStore {
    async fn cost_events(
        &self,
        tenant: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> PortResult<Vec<CostEvent>> {
        let inner = lock(&self.inner);
        let range =
            (tenant.to_owned(), from, String::new())..(tenant.to_owned(), to, String::new());
        Ok(inner
            .events
            .range(range)
            .map(|(_, e)| e)
            .take(limit)
            .cloned()
            .collect())
    }
}
