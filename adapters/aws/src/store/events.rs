//! Cost events by time, for the cost series.

use super::*;

#[async_trait]
impl CostEventStore for DynamoStore {
    async fn cost_events(
        &self,
        tenant: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> PortResult<Vec<CostEvent>> {
        let range = Range {
            index: None,
            pk: tenant_pk(tenant),
            from: format!("EVENT#{}", time_key(from)),
            // Without an id this bound sorts before every event at `to`: exclusive.
            to: format!("EVENT#{}", time_key(to)),
            newest_first: false,
        };
        self.query_docs(&range, limit).await
    }
}
