//! [`DynamoStore`]: every store port on the single table (key design in [`crate::table`]).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, PutRequest, ReturnValue,
    TransactWriteItem, WriteRequest,
};
use chrono::{DateTime, Utc};
use dd0c_ports::auth::{IngestGrant, IngestTokens, Role, User, Users};
use dd0c_ports::baseline::{Baseline, BaselineKey};
use dd0c_ports::domain::{
    Account, Anomaly, AnomalyStatus, CostEvent, Feedback, OutboxMessage, Settings, Snooze, Tenant,
};
use dd0c_ports::recall::{Fact, FactKey, RecallStore};
use dd0c_ports::store::{
    account_taken, anomaly_cursor, decode_cursor, AnomalyFilter, AnomalyStore, BaselineWrite,
    Claimed, CommitOutcome, CostEventStore, OutboxStore, Page, Schedule, ScoreBatch, ScoreStore,
    SettingsStore, TenantStore,
};
use dd0c_ports::{PortError, PortResult};
use serde::de::DeserializeOwned;

use crate::table::{
    doc_item, from_doc, get_item, is_code, key, n, number, put_item, s, sdk, string, tenant_pk,
    time_key, Item, GSI1, TTL_ATTRIBUTE,
};

/// How long processed-event records are kept: EventBridge retries for 24 hours and a DLQ redrive
/// can come 14 days later; one day more for clock skew and TTL's own lag.
pub const PROCESSED_RETENTION: Duration = Duration::from_secs(16 * 24 * 3600);

/// How long a schedule tick's claim is kept (only the current tick is ever asked about).
const TICK_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// DynamoDB's limit on the items of one TransactWriteItems.
const MAX_TRANSACTION_ITEMS: usize = 100;

const OUTBOX_INDEX_PK: &str = "OUTBOX";
const TENANTS_INDEX_PK: &str = "TENANTS";

/// Every store port on one DynamoDB table (`DD0C_TABLE_NAME`).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// A range of sort keys within one partition (of the table or of GSI1).
#[derive(Debug)]
struct Range {
    index: Option<&'static str>,
    pk: String,
    /// Inclusive bounds.
    from: String,
    to: String,
    newest_first: bool,
}

impl Range {
    fn prefix(pk: String, prefix: &str) -> Range {
        // U+FFFF sorts after every character a key of ours contains.
        Range {
            index: None,
            pk,
            from: prefix.to_owned(),
            to: format!("{prefix}\u{ffff}"),
            newest_first: false,
        }
    }
}

/// What each item of a scoring transaction is, to read a cancellation's reasons.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Processed,
    Baseline,
    Record,
}

fn epoch_seconds_after(retention: Duration) -> i64 {
    Utc::now().timestamp() + retention.as_secs() as i64
}

fn baseline_sk(key: &BaselineKey) -> String {
    format!("BASELINE#{}#{}", key.account_id, key.resource_kind)
}

fn anomaly_sk(time: DateTime<Utc>, anomaly_id: &str) -> String {
    format!("ANOMALY#{}#{anomaly_id}", time_key(time))
}

fn anomaly_id_sk(anomaly_id: &str) -> String {
    format!("ANOMALYID#{anomaly_id}")
}

fn outbox_pk(outbox_id: &str) -> String {
    format!("OUTBOX#{outbox_id}")
}

fn user_pk(email: &str) -> String {
    format!("USER#{}", email.to_lowercase())
}

fn token_pk(token_sha256: &str) -> String {
    format!("TOKEN#{token_sha256}")
}

fn role_pk(role_arn: &str) -> String {
    format!("ROLE#{role_arn}")
}

/// The partition of the item that says which tenant an AWS account belongs to.
fn account_owner_pk(account_id: &str) -> String {
    format!("AWSACCOUNT#{account_id}")
}

fn fact_sk(key: &FactKey) -> String {
    format!("FACT#{key}")
}

/// A sort-key suffix that keeps two items of the same instant apart.
fn distinct() -> String {
    format!("{:016x}", rand::random::<u64>())
}

fn build<T, E: std::fmt::Display>(built: Result<T, E>) -> PortResult<T> {
    built.map_err(|e| PortError::Backend(format!("building a DynamoDB request: {e}")))
}

impl DynamoStore {
    /// The store on `table` through `config`'s DynamoDB.
    pub fn new(config: &aws_config::SdkConfig, table: &str) -> Self {
        DynamoStore {
            client: aws_sdk_dynamodb::Client::new(config),
            table: table.to_owned(),
        }
    }

    /// The items under `keys` (distinct, in any number), read consistently in calls of 100,
    /// retrying what DynamoDB leaves unprocessed; missing items are simply absent.
    async fn batch_get(&self, keys: Vec<Item>) -> PortResult<Vec<Item>> {
        let mut items = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut wanted = build(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build(),
            )?;
            loop {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, wanted)
                    .send()
                    .await
                    .map_err(|e| sdk("DynamoDB BatchGetItem", e))?;
                items.extend(
                    output
                        .responses
                        .and_then(|mut r| r.remove(&self.table))
                        .unwrap_or_default(),
                );
                match output
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                {
                    Some(rest) if !rest.keys.is_empty() => wanted = rest,
                    _ => break,
                }
            }
        }
        Ok(items)
    }

    /// Writes `items` (distinct keys, in any number) in calls of 25, retrying what DynamoDB
    /// leaves unprocessed.
    async fn batch_put(&self, items: Vec<Item>) -> PortResult<()> {
        for chunk in items.chunks(25) {
            let mut requests = chunk
                .iter()
                .map(|item| {
                    build(PutRequest::builder().set_item(Some(item.clone())).build())
                        .map(|put| WriteRequest::builder().put_request(put).build())
                })
                .collect::<PortResult<Vec<_>>>()?;
            while !requests.is_empty() {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| sdk("DynamoDB BatchWriteItem", e))?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
            }
        }
        Ok(())
    }

    fn put(&self, item: Item) -> PortResult<Put> {
        build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .build(),
        )
    }

    /// A put that only creates.
    fn create(&self, item: Item) -> PortResult<Put> {
        build(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )
    }

    fn exists(&self, pk: String, sk: &str) -> PortResult<ConditionCheck> {
        build(
            ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(key(pk, sk)))
                .condition_expression("attribute_exists(pk)")
                .build(),
        )
    }

    async fn get(&self, pk: String, sk: &str) -> PortResult<Option<Item>> {
        get_item(&self.client, &self.table, pk, sk).await
    }

    async fn put_item(&self, item: Item) -> PortResult<()> {
        put_item(&self.client, &self.table, item).await
    }

    /// Puts `item` unless its key exists: `false` when it did.
    async fn put_new(&self, item: Item) -> PortResult<bool> {
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_code(&e, "ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(sdk("DynamoDB PutItem", e)),
        }
    }

    /// What `read` makes of the items of `range`, in order, skipping those it answers `None`
    /// for, until `limit` are kept.
    async fn query<T>(
        &self,
        range: &Range,
        limit: usize,
        mut read: impl FnMut(&Item) -> PortResult<Option<T>>,
    ) -> PortResult<Vec<T>> {
        let (pk_name, sk_name) = match range.index {
            Some(_) => ("gsi1pk", "gsi1sk"),
            None => ("pk", "sk"),
        };
        let mut kept = Vec::new();
        let mut start = None;
        while kept.len() < limit {
            let query = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(range.index.map(str::to_owned))
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_values(":pk", s(&range.pk));
            // A key value is never empty: an empty lower bound means the whole partition.
            let query = if range.from.is_empty() {
                query.key_condition_expression("#pk = :pk")
            } else {
                query
                    .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                    .expression_attribute_names("#sk", sk_name)
                    .expression_attribute_values(":from", s(&range.from))
                    .expression_attribute_values(":to", s(&range.to))
            };
            let output = query
                .scan_index_forward(!range.newest_first)
                .set_consistent_read(range.index.is_none().then_some(true))
                .limit((limit - kept.len()).clamp(1, 500) as i32)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk("DynamoDB Query", e))?;
            for item in output.items.unwrap_or_default() {
                if kept.len() < limit {
                    kept.extend(read(&item)?);
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(kept)
    }

    /// The `doc`s of every item of `range` (at most `limit`), in order.
    async fn query_docs<T: DeserializeOwned>(
        &self,
        range: &Range,
        limit: usize,
    ) -> PortResult<Vec<T>> {
        self.query(range, limit, |item| from_doc(item).map(Some))
            .await
    }

    /// Runs a transaction: `Ok(None)` when it committed, `Ok(Some(failed))` with the indices of
    /// the items whose condition failed when it was cancelled for conditions.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> PortResult<Option<Vec<usize>>> {
        if items.len() > MAX_TRANSACTION_ITEMS {
            return Err(PortError::Backend(format!(
                "{} writes do not fit one DynamoDB transaction (at most {MAX_TRANSACTION_ITEMS})",
                items.len()
            )));
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(None),
            Err(error) => match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    let reasons = cancelled.cancellation_reasons();
                    let failed: Vec<usize> = reasons
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                        .map(|(i, _)| i)
                        .collect();
                    if failed.is_empty() {
                        Err(sdk("DynamoDB TransactWriteItems", error))
                    } else {
                        Ok(Some(failed))
                    }
                }
                _ => Err(sdk("DynamoDB TransactWriteItems", error)),
            },
        }
    }

    fn baseline_put(&self, write: BaselineWrite) -> PortResult<TransactWriteItem> {
        let mut baseline = write.baseline;
        baseline.version = write.expected_version + 1;
        let mut item = doc_item(
            tenant_pk(&baseline.key.tenant),
            baseline_sk(&baseline.key),
            &baseline,
        )?;
        item.insert("version".into(), n(baseline.version));
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = if write.expected_version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :expected")
                .expression_attribute_values(":expected", n(write.expected_version))
        };
        Ok(TransactWriteItem::builder()
            .put(build(put.build())?)
            .build())
    }

    fn put_item_in_transaction(&self, item: Item) -> PortResult<TransactWriteItem> {
        Ok(TransactWriteItem::builder().put(self.put(item)?).build())
    }

    async fn anomaly_sort_key(&self, tenant: &str, anomaly_id: &str) -> PortResult<Option<String>> {
        match self
            .get(tenant_pk(tenant), &anomaly_id_sk(anomaly_id))
            .await?
        {
            Some(pointer) => Ok(Some(string(&pointer, "anomaly_sk")?.to_owned())),
            None => Ok(None),
        }
    }
}

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
                let mut item = doc_item(outbox_pk(&message.outbox_id), "OUTBOX", message)?;
                item.insert("gsi1pk".into(), s(OUTBOX_INDEX_PK));
                item.insert(
                    "gsi1sk".into(),
                    s(format!(
                        "{}#{}",
                        time_key(message.created_at),
                        message.outbox_id
                    )),
                );
                records.push(item);
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

#[async_trait]
impl AnomalyStore for DynamoStore {
    async fn anomaly(&self, tenant: &str, anomaly_id: &str) -> PortResult<Option<Anomaly>> {
        let Some(sort_key) = self.anomaly_sort_key(tenant, anomaly_id).await? else {
            return Ok(None);
        };
        self.get(tenant_pk(tenant), &sort_key)
            .await?
            .map(|item| from_doc(&item))
            .transpose()
    }

    async fn anomalies(
        &self,
        tenant: &str,
        filter: &AnomalyFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> PortResult<Page<Anomaly>> {
        // A `to` bound with no id sorts before every anomaly of that instant (exclusive); a
        // cursor's own item is skipped below (BETWEEN is inclusive).
        let mut to = match filter.to {
            Some(to) => format!("ANOMALY#{}", time_key(to)),
            None => "ANOMALY#\u{ffff}".to_owned(),
        };
        let after = match cursor {
            Some(cursor) => {
                let (time, id) = decode_cursor(cursor)?;
                Some(anomaly_sk(time, &id))
            }
            None => None,
        };
        if let Some(after) = &after {
            to = to.min(after.clone());
        }
        let range = Range {
            index: None,
            pk: tenant_pk(tenant),
            from: match filter.from {
                Some(from) => format!("ANOMALY#{}", time_key(from)),
                None => "ANOMALY#".to_owned(),
            },
            to,
            newest_first: true,
        };
        let items = self
            .query(&range, limit + 1, |item| {
                if after.as_deref() == Some(string(item, "sk")?) {
                    return Ok(None);
                }
                let anomaly: Anomaly = from_doc(item)?;
                Ok(filter.matches(&anomaly).then_some(anomaly))
            })
            .await?;
        Ok(Page::from_overfetch(items, limit, anomaly_cursor))
    }

    async fn record_feedback(
        &self,
        tenant: &str,
        feedback: &Feedback,
        status: AnomalyStatus,
    ) -> PortResult<()> {
        let missing = || PortError::NotFound(format!("anomaly {}", feedback.anomaly_id));
        let sort_key = self
            .anomaly_sort_key(tenant, &feedback.anomaly_id)
            .await?
            .ok_or_else(missing)?;
        let mut anomaly: Anomaly = from_doc(
            &self
                .get(tenant_pk(tenant), &sort_key)
                .await?
                .ok_or_else(missing)?,
        )?;
        anomaly.status = status;
        let recorded = doc_item(
            tenant_pk(tenant),
            format!(
                "FEEDBACK#{}#{}#{}",
                feedback.anomaly_id,
                time_key(feedback.at),
                distinct()
            ),
            feedback,
        )?;
        let items = vec![
            TransactWriteItem::builder()
                .put(build(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(doc_item(tenant_pk(tenant), sort_key, &anomaly)?))
                        .condition_expression("attribute_exists(pk)")
                        .build(),
                )?)
                .build(),
            self.put_item_in_transaction(recorded)?,
        ];
        match self.transact(items).await? {
            None => Ok(()),
            Some(_) => Err(missing()),
        }
    }

    async fn feedback(&self, tenant: &str, anomaly_id: &str) -> PortResult<Vec<Feedback>> {
        let range = Range::prefix(tenant_pk(tenant), &format!("FEEDBACK#{anomaly_id}#"));
        self.query_docs(&range, usize::MAX).await
    }

    async fn add_snooze(&self, snooze: &Snooze) -> PortResult<()> {
        self.put_item(doc_item(
            tenant_pk(&snooze.tenant),
            format!("SNOOZE#{}#{}", time_key(snooze.until), distinct()),
            snooze,
        )?)
        .await
    }

    async fn active_snoozes(&self, tenant: &str, at: DateTime<Utc>) -> PortResult<Vec<Snooze>> {
        let range = Range {
            from: format!("SNOOZE#{}#\u{ffff}", time_key(at)),
            ..Range::prefix(tenant_pk(tenant), "SNOOZE#")
        };
        self.query_docs(&range, usize::MAX).await
    }
}

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

#[async_trait]
impl TenantStore for DynamoStore {
    async fn add_tenant(&self, tenant: &Tenant) -> PortResult<()> {
        let mut item = doc_item(tenant_pk(&tenant.name), "TENANT", tenant)?;
        item.insert("gsi1pk".into(), s(TENANTS_INDEX_PK));
        item.insert("gsi1sk".into(), s(&tenant.name));
        match self.put_new(item).await? {
            true => Ok(()),
            false => Err(PortError::Conflict(format!(
                "tenant {} exists",
                tenant.name
            ))),
        }
    }

    async fn tenant(&self, name: &str) -> PortResult<Option<Tenant>> {
        self.get(tenant_pk(name), "TENANT")
            .await?
            .map(|item| from_doc(&item))
            .transpose()
    }

    async fn tenants(&self) -> PortResult<Vec<Tenant>> {
        let range = Range {
            index: Some(GSI1),
            ..Range::prefix(TENANTS_INDEX_PK.to_owned(), "")
        };
        self.query_docs(&range, usize::MAX).await
    }

    async fn add_account(&self, account: &Account) -> PortResult<()> {
        let mut items = vec![TransactWriteItem::builder()
            .put(self.create(doc_item(
                tenant_pk(&account.tenant),
                format!("ACCOUNT#{}", account.account_id),
                account,
            )?)?)
            .build()];
        let mut owner = key(account_owner_pk(&account.account_id), "OWNER");
        owner.insert("tenant".into(), s(&account.tenant));
        items.push(
            TransactWriteItem::builder()
                .put(self.create(owner)?)
                .build(),
        );
        if let Some(role_arn) = &account.role_arn {
            let mut guard = key(role_pk(role_arn), "ROLE");
            guard.insert("tenant".into(), s(&account.tenant));
            items.push(
                TransactWriteItem::builder()
                    .put(self.create(guard)?)
                    .build(),
            );
        }
        match self.transact(items).await? {
            None => Ok(()),
            Some(_) => Err(PortError::Conflict(account_taken(account))),
        }
    }

    async fn account(&self, tenant: &str, account_id: &str) -> PortResult<Option<Account>> {
        self.get(tenant_pk(tenant), &format!("ACCOUNT#{account_id}"))
            .await?
            .map(|item| from_doc(&item))
            .transpose()
    }

    async fn accounts(&self, tenant: &str) -> PortResult<Vec<Account>> {
        self.query_docs(&Range::prefix(tenant_pk(tenant), "ACCOUNT#"), usize::MAX)
            .await
    }

    async fn remove_account(&self, tenant: &str, account_id: &str) -> PortResult<()> {
        let missing = || PortError::NotFound(format!("account {account_id} in tenant {tenant}"));
        let account = self
            .account(tenant, account_id)
            .await?
            .ok_or_else(missing)?;
        let delete = |pk: String, sk: String| {
            build(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(pk, sk)))
                    .condition_expression("attribute_exists(pk)")
                    .build(),
            )
            .map(|d| TransactWriteItem::builder().delete(d).build())
        };
        let mut items = vec![
            delete(tenant_pk(tenant), format!("ACCOUNT#{account_id}"))?,
            delete(account_owner_pk(account_id), "OWNER".into())?,
        ];
        if let Some(role_arn) = &account.role_arn {
            items.push(delete(role_pk(role_arn), "ROLE".into())?);
        }
        match self.transact(items).await? {
            None => Ok(()),
            Some(_) => Err(missing()),
        }
    }
}

#[async_trait]
impl SettingsStore for DynamoStore {
    async fn settings(&self, tenant: &str) -> PortResult<Settings> {
        Ok(match self.get(tenant_pk(tenant), "SETTINGS").await? {
            Some(item) => from_doc(&item)?,
            None => Settings::default(),
        })
    }

    async fn put_settings(&self, tenant: &str, settings: &Settings) -> PortResult<()> {
        self.put_item(doc_item(tenant_pk(tenant), "SETTINGS", settings)?)
            .await
    }
}

#[async_trait]
impl OutboxStore for DynamoStore {
    async fn pending(&self, limit: usize) -> PortResult<Vec<OutboxMessage>> {
        let range = Range {
            index: Some(GSI1),
            ..Range::prefix(OUTBOX_INDEX_PK.to_owned(), "")
        };
        self.query_docs(&range, limit).await
    }

    async fn claim(&self, limit: usize, lease: Duration) -> PortResult<Vec<Claimed>> {
        let now = Utc::now().timestamp_millis();
        let until = now + lease.as_millis() as i64;
        let range = Range {
            index: Some(GSI1),
            ..Range::prefix(OUTBOX_INDEX_PK.to_owned(), "")
        };
        let free = |item: &Item| {
            let lapsed = number(item, "claimed_until").map_or(true, |t| t <= now);
            lapsed
                .then(|| string(item, "pk").map(str::to_owned))
                .transpose()
        };
        let candidates = self.query(&range, limit, free).await?;
        let mut claimed = Vec::new();
        for pk in candidates {
            let updated = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(pk, "OUTBOX")))
                .update_expression("SET claimed_until = :until")
                .condition_expression(
                    "attribute_exists(pk) AND (attribute_not_exists(claimed_until) OR claimed_until <= :now)",
                )
                .expression_attribute_values(":until", n(until))
                .expression_attribute_values(":now", n(now))
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match updated {
                Ok(output) => {
                    let item = output.attributes.unwrap_or_default();
                    let delivered = match item.get("channels") {
                        Some(AttributeValue::Ss(channels)) => channels.iter().cloned().collect(),
                        _ => BTreeSet::new(),
                    };
                    claimed.push(Claimed {
                        message: from_doc(&item)?,
                        delivered,
                    });
                }
                // Another notifier claimed it, or it was delivered, since the index was read.
                Err(e) if is_code(&e, "ConditionalCheckFailedException") => {}
                Err(e) => return Err(sdk("DynamoDB UpdateItem", e)),
            }
        }
        Ok(claimed)
    }

    async fn mark_channel_delivered(&self, outbox_id: &str, channel: &str) -> PortResult<()> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(outbox_pk(outbox_id), "OUTBOX")))
            .update_expression("ADD channels :channel")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":channel", AttributeValue::Ss(vec![channel.to_owned()]))
            .send()
            .await;
        match updated {
            // Delivered meanwhile: the channel's record no longer matters.
            Err(e) if is_code(&e, "ConditionalCheckFailedException") => Ok(()),
            Err(e) => Err(sdk("DynamoDB UpdateItem", e)),
            Ok(_) => Ok(()),
        }
    }

    async fn mark_delivered(&self, outbox_id: &str) -> PortResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(outbox_pk(outbox_id), "OUTBOX")))
            .send()
            .await
            .map_err(|e| sdk("DynamoDB DeleteItem", e))?;
        Ok(())
    }
}

#[async_trait]
impl Schedule for DynamoStore {
    async fn claim_tick(&self, job: &str, tick: DateTime<Utc>, replica: &str) -> PortResult<bool> {
        let mut item = key(format!("TICK#{job}"), time_key(tick));
        item.insert("replica".into(), s(replica));
        item.insert(TTL_ATTRIBUTE.into(), n(epoch_seconds_after(TICK_RETENTION)));
        self.put_new(item).await
    }
}

#[async_trait]
impl IngestTokens for DynamoStore {
    async fn add_token(&self, grant: &IngestGrant, token_sha256: &str) -> PortResult<()> {
        let mut token = doc_item(token_pk(token_sha256), "TOKEN", grant)?;
        token.insert("revoked".into(), AttributeValue::Bool(false));
        let items = vec![
            TransactWriteItem::builder()
                .condition_check(self.exists(
                    tenant_pk(&grant.tenant),
                    &format!("ACCOUNT#{}", grant.account_id),
                )?)
                .build(),
            self.put_item_in_transaction(token)?,
        ];
        match self.transact(items).await? {
            None => Ok(()),
            Some(_) => Err(PortError::NotFound(format!(
                "account {} in tenant {}",
                grant.account_id, grant.tenant
            ))),
        }
    }

    async fn grant(&self, token_sha256: &str) -> PortResult<Option<IngestGrant>> {
        let Some(item) = self.get(token_pk(token_sha256), "TOKEN").await? else {
            return Ok(None);
        };
        if matches!(item.get("revoked"), Some(AttributeValue::Bool(true))) {
            return Ok(None);
        }
        // Tokens are keyed by hash alone, so removing an account cannot find them: a token
        // admits only while its account is still its tenant's.
        let grant: IngestGrant = from_doc(&item)?;
        let held = self.account(&grant.tenant, &grant.account_id).await?;
        Ok(held.map(|_| grant))
    }

    async fn revoke_token(&self, token_sha256: &str) -> PortResult<()> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(token_pk(token_sha256), "TOKEN")))
            .update_expression("SET revoked = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, "ConditionalCheckFailedException") => {
                Err(PortError::NotFound("ingest token".into()))
            }
            Err(e) => Err(sdk("DynamoDB UpdateItem", e)),
        }
    }
}

#[async_trait]
impl Users for DynamoStore {
    async fn add_user(&self, user: &User) -> PortResult<()> {
        let email = user.email.to_lowercase();
        let mut item = key(user_pk(&email), "USER");
        item.insert("tenant".into(), s(&user.tenant));
        item.insert("email".into(), s(&email));
        item.insert(
            "role".into(),
            s(match user.role {
                Role::Admin => "admin",
                Role::Member => "member",
            }),
        );
        item.insert("password_hash".into(), s(&user.password_hash));
        let items = vec![
            TransactWriteItem::builder()
                .condition_check(self.exists(tenant_pk(&user.tenant), "TENANT")?)
                .build(),
            TransactWriteItem::builder().put(self.create(item)?).build(),
        ];
        match self.transact(items).await?.as_deref() {
            None => Ok(()),
            Some([0, ..]) => Err(PortError::NotFound(format!("tenant {}", user.tenant))),
            Some(_) => Err(PortError::Conflict(format!("user {email} exists"))),
        }
    }

    async fn user(&self, email: &str) -> PortResult<Option<User>> {
        let Some(item) = self.get(user_pk(email), "USER").await? else {
            return Ok(None);
        };
        let role = match string(&item, "role")? {
            "admin" => Role::Admin,
            "member" => Role::Member,
            other => {
                return Err(PortError::Backend(format!(
                    "user {email}: unknown role {other:?}"
                )))
            }
        };
        Ok(Some(User {
            tenant: string(&item, "tenant")?.to_owned(),
            email: string(&item, "email")?.to_owned(),
            role,
            password_hash: string(&item, "password_hash")?.to_owned(),
        }))
    }

    async fn set_password_hash(&self, email: &str, password_hash: &str) -> PortResult<()> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(user_pk(email), "USER")))
            .update_expression("SET password_hash = :hash")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":hash", s(password_hash))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, "ConditionalCheckFailedException") => {
                Err(PortError::NotFound(format!("user {email}")))
            }
            Err(e) => Err(sdk("DynamoDB UpdateItem", e)),
        }
    }
}

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
