//! Claims of scheduled ticks: one replica per tick.

use super::*;

#[async_trait]
impl Schedule for MemoryStore {
    async fn claim_tick(&self, job: &str, tick: DateTime<Utc>, _replica: &str) -> PortResult<bool> {
        Ok(lock(&self.inner)
            .claimed_ticks
            .insert((job.to_owned(), tick)))
    }
}
