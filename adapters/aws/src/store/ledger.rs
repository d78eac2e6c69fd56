//! The resource ledger: a `RES#{account}/{region}/{id}` item per resource in the tenant's
//! partition, its record as `doc` under a `version` checked on every write (concurrent
//! recorders of one resource retry with what the other wrote, so neither change is lost).
//! The link to an anomaly lives in its own attributes, which also index the item in GSI1
//! under `LEDGER#{tenant}#{anomaly}`; `ended_at` (epoch milliseconds) is what retention scans,
//! and an ended resource carries the table's TTL attribute at its end plus the ledger's
//! retention, so DynamoDB forgets it without a scan (a resource created again loses it).
//! Lists read the tenant's records whole and filter after the read.

use dd0c_ports::ledger::{
    ended_at, keys_of, merge, page_of, Link, ResourceChange, ResourceFilter, ResourceKey,
    ResourceLedger, ResourceRecord,
};

use super::*;

/// Rounds of reading and writing back the records a concurrent recorder changed first.
const RECORD_ATTEMPTS: u32 = 8;

fn resource_sk(key: &ResourceKey) -> String {
    format!("RES#{key}")
}

fn anomaly_index_pk(tenant: &str, anomaly_id: &str) -> String {
    format!("LEDGER#{tenant}#{anomaly_id}")
}

/// A stored item's record and version; an item that only holds a link reads as an empty
/// record of version 0.
fn record_of(tenant: &str, key: &ResourceKey, item: &Item) -> PortResult<(ResourceRecord, i64)> {
    let mut record = if item.contains_key("doc") {
        from_doc::<ResourceRecord>(item)?
    } else {
        ResourceRecord::new(tenant, key.clone())
    };
    record.anomaly_id = item.get("anomaly_id").and_then(|v| v.as_s().ok()).cloned();
    record.unseen_at = item
        .get("unseen_at")
        .and_then(|v| v.as_n().ok())
        .and_then(|ms| ms.parse::<i64>().ok())
        .and_then(DateTime::from_timestamp_millis);
    let version = match item.get("version") {
        Some(_) => number(item, "version")?,
        None => 0,
    };
    Ok((record, version))
}

fn key_of(item: &Item) -> PortResult<ResourceKey> {
    let sk = string(item, "sk")?;
    sk.strip_prefix("RES#")
        .unwrap_or(sk)
        .parse()
        .map_err(|e: PortError| PortError::backend(format!("item {sk}: {e}")))
}

impl DynamoStore {
    /// When DynamoDB's TTL forgets a resource that ended at `at` (epoch seconds).
    fn expires_after(&self, at: DateTime<Utc>) -> i64 {
        at.timestamp()
            .saturating_add(i64::try_from(self.ledger_retention.as_secs()).unwrap_or(i64::MAX))
    }

    /// The stored records of `keys` (absent ones left out), with their versions.
    async fn ledger_items(
        &self,
        tenant: &str,
        keys: &[ResourceKey],
    ) -> PortResult<Vec<(ResourceRecord, i64)>> {
        let wanted: Vec<Item> = keys
            .iter()
            .map(|k| key(tenant_pk(tenant), resource_sk(k)))
            .collect();
        let mut found = Vec::new();
        for item in self.batch_get(wanted).await? {
            let key = key_of(&item)?;
            found.push(record_of(tenant, &key, &item)?);
        }
        Ok(found)
    }

    /// Writes `record` if its item is still at `version`: `false` when another writer was first.
    async fn write_record(&self, record: &ResourceRecord, version: i64) -> PortResult<bool> {
        let doc = serde_json::to_string(record)
            .map_err(|e| PortError::caused("encoding a ledger record", e))?;
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                tenant_pk(&record.tenant),
                resource_sk(&record.key),
            )))
            .expression_attribute_values(":doc", s(doc))
            .expression_attribute_values(":next", n(version + 1))
            .expression_attribute_values(":kind", s(record.resource_kind()));
        let update = if version == 0 {
            update.condition_expression("attribute_not_exists(version)")
        } else {
            update
                .condition_expression("version = :version")
                .expression_attribute_values(":version", n(version))
        };
        let update = match ended_at(record) {
            Some(at) => update
                .update_expression(format!(
                    "SET doc = :doc, version = :next, resource_kind = :kind, \
                     ended_at = if_not_exists(unseen_at, :ended), \
                     {TTL_ATTRIBUTE} = if_not_exists({TTL_ATTRIBUTE}, :expires)"
                ))
                .expression_attribute_values(":ended", n(at.timestamp_millis()))
                .expression_attribute_values(":expires", n(self.expires_after(at))),
            None => update.update_expression(format!(
                "SET doc = :doc, version = :next, resource_kind = :kind \
                 REMOVE ended_at, {TTL_ATTRIBUTE}"
            )),
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_code(&e, "ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(sdk("DynamoDB UpdateItem", e)),
        }
    }

    /// Every record of `tenant` (its items whole: lists filter and page after the read).
    async fn all_records(&self, tenant: &str) -> PortResult<Vec<ResourceRecord>> {
        self.query(
            &Range::prefix(tenant_pk(tenant), "RES#"),
            usize::MAX,
            |item| {
                let key = key_of(item)?;
                record_of(tenant, &key, item).map(|(record, _)| Some(record))
            },
        )
        .await
    }
}

#[async_trait]
impl ResourceLedger for DynamoStore {
    async fn record(
        &self,
        tenant: &str,
        changes: &[ResourceChange],
    ) -> PortResult<Vec<ResourceRecord>> {
        let order = keys_of(changes);
        let mut pending = order.clone();
        let mut done: HashMap<ResourceKey, ResourceRecord> = HashMap::new();
        for _ in 0..RECORD_ATTEMPTS {
            if pending.is_empty() {
                break;
            }
            let stored = self.ledger_items(tenant, &pending).await?;
            let versions: HashMap<ResourceKey, i64> =
                stored.iter().map(|(r, v)| (r.key.clone(), *v)).collect();
            let ours: Vec<ResourceChange> = changes
                .iter()
                .filter(|c| pending.contains(&c.key))
                .cloned()
                .collect();
            let merged = merge(tenant, stored.into_iter().map(|(r, _)| r).collect(), &ours);
            let mut lost = Vec::new();
            for (record, changed) in merged {
                let version = versions.get(&record.key).copied().unwrap_or(0);
                if !changed || self.write_record(&record, version).await? {
                    done.insert(record.key.clone(), record);
                } else {
                    lost.push(record.key);
                }
            }
            pending = lost;
        }
        if !pending.is_empty() {
            return Err(PortError::backend(format!(
                "{} ledger records kept changing under this write",
                pending.len()
            )));
        }
        Ok(order.iter().filter_map(|key| done.remove(key)).collect())
    }

    async fn resources(
        &self,
        tenant: &str,
        keys: &[ResourceKey],
    ) -> PortResult<Vec<Option<ResourceRecord>>> {
        let mut distinct = keys.to_vec();
        distinct.sort();
        distinct.dedup();
        let found: HashMap<ResourceKey, ResourceRecord> = self
            .ledger_items(tenant, &distinct)
            .await?
            .into_iter()
            .map(|(record, _)| (record.key.clone(), record))
            .collect();
        Ok(keys.iter().map(|key| found.get(key).cloned()).collect())
    }

    async fn of_anomaly(&self, tenant: &str, anomaly_id: &str) -> PortResult<Vec<ResourceRecord>> {
        let range = Range {
            index: Some(GSI1),
            pk: anomaly_index_pk(tenant, anomaly_id),
            from: String::new(),
            to: String::new(),
            newest_first: false,
        };
        let keys: Vec<ResourceKey> = self
            .query(&range, usize::MAX, |item| key_of(item).map(Some))
            .await?;
        // The index is eventually consistent: read the records themselves.
        Ok(self
            .ledger_items(tenant, &keys)
            .await?
            .into_iter()
            .map(|(record, _)| record)
            .filter(|record| record.anomaly_id.as_deref() == Some(anomaly_id))
            .collect())
    }

    async fn list(
        &self,
        tenant: &str,
        filter: &ResourceFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> PortResult<Page<ResourceRecord>> {
        page_of(self.all_records(tenant).await?, filter, cursor, limit)
    }

    async fn link(&self, tenant: &str, links: &[Link]) -> PortResult<()> {
        for (resource, anomaly_id) in Link::first_per_key(links) {
            let linked = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(tenant_pk(tenant), resource_sk(resource))))
                .update_expression("SET anomaly_id = :a, gsi1pk = :g, gsi1sk = :sk")
                .condition_expression("attribute_not_exists(anomaly_id)")
                .expression_attribute_values(":a", s(anomaly_id))
                .expression_attribute_values(":g", s(anomaly_index_pk(tenant, anomaly_id)))
                .expression_attribute_values(":sk", s(resource_sk(resource)))
                .send()
                .await;
            match linked {
                Ok(_) => {}
                Err(e) if is_code(&e, "ConditionalCheckFailedException") => {}
                Err(e) => return Err(sdk("DynamoDB UpdateItem", e)),
            }
        }
        Ok(())
    }

    async fn mark_unseen(
        &self,
        tenant: &str,
        keys: &[ResourceKey],
        at: DateTime<Utc>,
    ) -> PortResult<()> {
        for resource in keys {
            let marked = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(tenant_pk(tenant), resource_sk(resource))))
                .update_expression(format!(
                    "SET unseen_at = if_not_exists(unseen_at, :at), \
                     ended_at = if_not_exists(ended_at, :at), \
                     {TTL_ATTRIBUTE} = if_not_exists({TTL_ATTRIBUTE}, :expires)"
                ))
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":at", n(at.timestamp_millis()))
                .expression_attribute_values(":expires", n(self.expires_after(at)))
                .send()
                .await;
            match marked {
                Ok(_) => {}
                Err(e) if is_code(&e, "ConditionalCheckFailedException") => {}
                Err(e) => return Err(sdk("DynamoDB UpdateItem", e)),
            }
        }
        Ok(())
    }

    async fn prune_ended(&self, before: DateTime<Utc>) -> PortResult<u64> {
        let mut pruned = 0;
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(sk, :res) AND ended_at < :before")
                .expression_attribute_values(":res", s("RES#"))
                .expression_attribute_values(":before", n(before.timestamp_millis()))
                .projection_expression("pk, sk")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk("DynamoDB Scan", e))?;
            for item in page.items.unwrap_or_default() {
                let deleted = self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(item))
                    // Only what is still ended before the cut-off (not re-created meanwhile).
                    .condition_expression("ended_at < :before")
                    .expression_attribute_values(":before", n(before.timestamp_millis()))
                    .send()
                    .await;
                match deleted {
                    Ok(_) => pruned += 1,
                    Err(e) if is_code(&e, "ConditionalCheckFailedException") => {}
                    Err(e) => return Err(sdk("DynamoDB DeleteItem", e)),
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(pruned);
            }
        }
    }
}
