//! The score store: baselines read by key and the scoring commit (processed record, baselines, anomaly, outbox, consumed message) in one transaction.

use super::*;

#[async_trait]
impl ScoreStore for DynamoStore {
    async fn baseline(&self, key: &BaselineKey) -> PortResult<Option<Baseline>> {
        self.get(tenant_pk(&key.tenant), &baseline_sk(key))
            .await?
            .map(|item| from_doc(&item))
            .transpose()
    }

    async fn baselines_by_key(&self, keys: &[BaselineKey]) -> PortResult<Vec<Option<Baseline>>> {
        let unique: BTreeSet<&BaselineKey> = keys.iter().collect();
        let items = self
            .batch_get(
                unique
                    .into_iter()
                    .map(|k| key(tenant_pk(&k.tenant), baseline_sk(k)))
                    .collect(),
            )
            .await?;
        let mut found: HashMap<BaselineKey, Baseline> = HashMap::new();
        for item in items {
            let baseline: Baseline = from_doc(&item)?;
            found.insert(baseline.key.clone(), baseline);
        }
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    async fn baselines(&self, tenant: &str, account_id: Option<&str>) -> PortResult<Vec<Baseline>> {
        let prefix = match account_id {
            Some(account) => format!("BASELINE#{account}#"),
            None => "BASELINE#".to_owned(),
        };
        self.query_docs(&Range::prefix(tenant_pk(tenant), &prefix), usize::MAX)
            .await
    }

    async fn is_processed(&self, tenant: &str, event_id: &str) -> PortResult<bool> {
        Ok(self
            .get(tenant_pk(tenant), &format!("PROCESSED#{event_id}"))
            .await?
            .is_some())
    }

    async fn commit_batch(&self, batch: ScoreBatch) -> PortResult<CommitOutcome> {
        let mut ids = HashSet::new();
        if !batch
            .events
            .iter()
            .all(|scored| ids.insert((&scored.event.tenant, &scored.event.event_id)))
        {
            return Ok(CommitOutcome::AlreadyProcessed);
        }
        let now = Utc::now();
        let mut parts = Vec::new();
        let mut items = Vec::new();
        for scored in &batch.events {
            let event = &scored.event;
            let mut processed = key(
                tenant_pk(&event.tenant),
                format!("PROCESSED#{}", event.event_id),
            );
            processed.insert("committed_at".into(), n(now.timestamp_millis()));
            processed.insert(
                TTL_ATTRIBUTE.into(),
                n(epoch_seconds_after(PROCESSED_RETENTION)),
            );
            parts.push(Part::Processed);
            items.push(
                TransactWriteItem::builder()
                    .put(self.create(processed)?)
                    .build(),
            );
        }
        for write in batch.baselines {
            parts.push(Part::Baseline);
            items.push(self.baseline_put(write)?);
        }
        for scored in &batch.events {
            let event = &scored.event;
            let mut records = vec![doc_item(
                tenant_pk(&event.tenant),
                format!("EVENT#{}#{}", time_key(event.event_time), event.event_id),
                event,
            )?];
            if let Some(anomaly) = &scored.anomaly {
                let sort_key = anomaly_sk(anomaly.event_time, &anomaly.anomaly_id);
                let mut pointer = key(
                    tenant_pk(&anomaly.tenant),
                    anomaly_id_sk(&anomaly.anomaly_id),
                );
                pointer.insert("anomaly_sk".into(), s(&sort_key));
                records.push(doc_item(tenant_pk(&anomaly.tenant), sort_key, anomaly)?);
                records.push(pointer);
            }
            if let Some(message) = &scored.outbox {
                records.push(super::outbox::outbox_item(message)?);
            }
            for record in records {
                parts.push(Part::Record);
                items.push(self.put_item_in_transaction(record)?);
            }
        }
        match self.transact(items).await? {
            None => Ok(CommitOutcome::Committed),
            Some(failed) if failed.iter().any(|&i| parts[i] == Part::Processed) => {
                Ok(CommitOutcome::AlreadyProcessed)
            }
            Some(_) => Ok(CommitOutcome::VersionConflict),
        }
    }

    /// DynamoDB's TTL forgets processed records by itself after [`PROCESSED_RETENTION`]; this
    /// sweep (a table scan) serves operators and the port's contract, not the cloud's schedule.
    async fn forget_processed_before(&self, before: DateTime<Utc>) -> PortResult<u64> {
        let mut forgotten = 0;
        let mut start = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(sk, :processed) AND committed_at < :before")
                .expression_attribute_values(":processed", s("PROCESSED#"))
                .expression_attribute_values(":before", n(before.timestamp_millis()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk("DynamoDB Scan", e))?;
            for item in output.items.unwrap_or_default() {
                let (pk, sk) = (string(&item, "pk")?, string(&item, "sk")?);
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key(pk.to_owned(), sk)))
                    .send()
                    .await
                    .map_err(|e| sdk("DynamoDB DeleteItem", e))?;
                forgotten += 1;
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(forgotten);
            }
        }
    }

    async fn update_baselines(&self, writes: Vec<BaselineWrite>) -> PortResult<CommitOutcome> {
        let items = writes
            .into_iter()
            .map(|write| self.baseline_put(write))
            .collect::<PortResult<Vec<_>>>()?;
        match self.transact(items).await? {
            None => Ok(CommitOutcome::Committed),
            Some(_) => Ok(CommitOutcome::VersionConflict),
        }
    }
}
