//! The score store: baselines read by key and the scoring commit (processed record, baselines, anomaly, outbox, consumed message) in one transaction.

use super::*;

#[async_trait]
impl ScoreStore for MemoryStore {
    async fn baseline(&self, key: &BaselineKey) -> PortResult<Option<Baseline>> {
        Ok(lock(&self.inner).baselines.get(key).cloned())
    }

    async fn baselines(&self, tenant: &str, account_id: Option<&str>) -> PortResult<Vec<Baseline>> {
        let inner = lock(&self.inner);
        Ok(inner
            .baselines
            .values()
            .filter(|b| b.key.tenant == tenant && account_id.is_none_or(|a| b.key.account_id == a))
            .cloned()
            .collect())
    }

    async fn is_processed(&self, tenant: &str, event_id: &str) -> PortResult<bool> {
        Ok(lock(&self.inner)
            .processed
            .contains_key(&(tenant.to_owned(), event_id.to_owned())))
    }

    async fn commit_batch(&self, batch: ScoreBatch) -> PortResult<CommitOutcome> {
        let mut inner = lock(&self.inner);
        let mut keys = HashSet::new();
        let fresh = batch.events.iter().all(|scored| {
            let key = (scored.event.tenant.clone(), scored.event.event_id.clone());
            !inner.processed.contains_key(&key) && keys.insert(key)
        });
        if !fresh {
            return Ok(CommitOutcome::AlreadyProcessed);
        }
        let versions_match = batch.baselines.iter().all(|write| {
            let stored = inner
                .baselines
                .get(&write.baseline.key)
                .map_or(0, |b| b.version);
            stored == write.expected_version
        });
        if !versions_match {
            return Ok(CommitOutcome::VersionConflict);
        }
        for write in batch.baselines {
            let mut baseline = write.baseline;
            baseline.version = write.expected_version + 1;
            inner.baselines.insert(baseline.key.clone(), baseline);
        }
        for ScoredEvent {
            event,
            anomaly,
            outbox,
            consumed: _,
        } in batch.events
        {
            if let Some(anomaly) = anomaly {
                let id_key = (anomaly.tenant.clone(), anomaly.anomaly_id.clone());
                inner.anomaly_times.insert(id_key, anomaly.event_time);
                inner.anomalies.insert(
                    (
                        anomaly.tenant.clone(),
                        anomaly.event_time,
                        anomaly.anomaly_id.clone(),
                    ),
                    anomaly,
                );
            }
            if let Some(message) = outbox {
                inner
                    .outbox
                    .insert((message.created_at, message.outbox_id.clone()), message);
            }
            inner
                .processed
                .insert((event.tenant.clone(), event.event_id.clone()), Utc::now());
            inner.events.insert(
                (
                    event.tenant.clone(),
                    event.event_time,
                    event.event_id.clone(),
                ),
                event,
            );
        }
        Ok(CommitOutcome::Committed)
    }

    async fn forget_processed_before(&self, before: DateTime<Utc>) -> PortResult<u64> {
        let mut inner = lock(&self.inner);
        let count = inner.processed.len();
        inner.processed.retain(|_, at| *at >= before);
        Ok((count - inner.processed.len()) as u64)
    }

    async fn update_baselines(&self, writes: Vec<BaselineWrite>) -> PortResult<CommitOutcome> {
        match lock(&self.inner).write_baselines(writes) {
            true => Ok(CommitOutcome::Committed),
            false => Ok(CommitOutcome::VersionConflict),
        }
    }
}
