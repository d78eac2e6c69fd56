//! Claims of scheduled ticks: one replica per tick.

use super::*;

#[async_trait]
impl Schedule for DynamoStore {
    async fn claim_tick(&self, job: &str, tick: DateTime<Utc>, replica: &str) -> PortResult<bool> {
        let mut item = key(format!("TICK#{job}"), time_key(tick));
        item.insert("replica".into(), s(replica));
        item.insert(TTL_ATTRIBUTE.into(), n(epoch_seconds_after(TICK_RETENTION)));
        self.put_new(item).await
    }
}
