//! Cost events by time, for the cost series.

use super::*;

#[async_trait]
impl CostEventStore for PgStore {
    async fn cost_events(
        &self,
        tenant: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> PortResult<Vec<CostEvent>> {
        let rows: Vec<(Json<serde_json::Value>,)> = self.scoped(tenant, async |c| sqlx::query_as(
            "SELECT payload FROM cost_events WHERE tenant_id = $1 AND event_time >= $2 AND event_time < $3
             ORDER BY event_time, event_id LIMIT $4",
        )
        .bind(tenant)
        .bind(from)
        .bind(to)
        .bind(limit as i64)
        .fetch_all(c)
        .await).await
        .map_err(|e| backend("listing cost events", e))?;
        decode_all(rows, "cost event")
    }
}
