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
    account_taken, anomaly_cursor, decode_cursor, no_account, AnomalyFilter, AnomalyStore,
    BaselineWrite, Claimed, CommitOutcome, CostEventStore, KeyUse, OutboxStore, Page, Schedule,
    ScoreBatch, ScoreStore, SettingsStore, TenantStore,
};
use dd0c_ports::webhook::SigningSecret;
use dd0c_ports::{PortError, PortResult};
use serde::de::DeserializeOwned;

use crate::table::{
    doc_item, from_doc, get_item, is_code, key, n, number, put_item, s, sdk, string, tenant_pk,
    time_key, Item, GSI1, TTL_ATTRIBUTE,
};

mod actions;
mod anomalies;
mod events;
mod ledger;
mod outbox;
mod recall;
mod schedule;
mod score;
mod settings;
mod tenants;
mod tokens;
mod users;
mod zombies;

/// How long processed-event records are kept, as in every mode (TTL deletes later, never
/// sooner).
pub use dd0c_ports::store::PROCESSED_RETENTION;

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
    /// How long after its end DynamoDB's TTL forgets a resource of the ledger.
    ledger_retention: Duration,
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

fn build<T, E: std::error::Error + Send + Sync + 'static>(built: Result<T, E>) -> PortResult<T> {
    built.map_err(|e| PortError::caused("building a DynamoDB request", e))
}

impl DynamoStore {
    /// The store on `table` through `config`'s DynamoDB.
    pub fn new(config: &aws_config::SdkConfig, table: &str) -> Self {
        DynamoStore {
            client: aws_sdk_dynamodb::Client::new(config),
            table: table.to_owned(),
            ledger_retention: Duration::ZERO,
        }
        .with_ledger_retention(dd0c_ports::ledger::DEFAULT_LEDGER_RETENTION_DAYS)
    }

    /// Forgets a resource of the ledger `days` after it ended (DynamoDB's TTL, as the
    /// self-hosted retention job prunes it).
    pub fn with_ledger_retention(mut self, days: u32) -> Self {
        self.ledger_retention = Duration::from_secs(u64::from(days) * 24 * 3600);
        self
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
            return Err(PortError::backend(format!(
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
