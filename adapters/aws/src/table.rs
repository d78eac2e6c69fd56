//! The single DynamoDB table: its definition, and the item helpers every DynamoDB adapter shares.
//!
//! Keys are strings `pk` (partition) and `sk` (sort). Tenant data lives under
//! `pk = TENANT#{tenant}`, so an IAM policy with `dynamodb:LeadingKeys` = `TENANT#${tenant}` confines
//! a principal to one tenant. Only look-ups that happen before a tenant is known, and the
//! cross-tenant work queues of the system, have partitions of their own:
//!
//! | item | pk | sk | access pattern |
//! |---|---|---|---|
//! | tenant | `TENANT#{t}` | `TENANT` | get; all tenants through GSI1 `TENANTS` |
//! | account | `TENANT#{t}` | `ACCOUNT#{account}` | get; a tenant's accounts by prefix |
//! | role guard | `ROLE#{role_arn}` | `ROLE` | a role ARN belongs to one tenant (written with the account) |
//! | account owner | `AWSACCOUNT#{account}` | `OWNER` | an AWS account belongs to one tenant (written with the account) |
//! | learned fact | `TENANT#{t}` | `FACT#{account}/{kind}/{name}` | batch-get by key (`ports::recall`) |
//! | baseline | `TENANT#{t}` | `BASELINE#{account}#{kind}` | get/batch-get; a tenant's (or account's) by prefix |
//! | processed event | `TENANT#{t}` | `PROCESSED#{event_id}` | get (idempotency); TTL `expires_at` after 15 days (`PROCESSED_RETENTION`) |
//! | cost event | `TENANT#{t}` | `EVENT#{time}#{event_id}` | time range |
//! | anomaly | `TENANT#{t}` | `ANOMALY#{time}#{anomaly_id}` | newest first, from/to and cursor as key bounds |
//! | anomaly id | `TENANT#{t}` | `ANOMALYID#{anomaly_id}` | id → the anomaly's sort key |
//! | feedback | `TENANT#{t}` | `FEEDBACK#{anomaly_id}#{time}#{n}` | an anomaly's, oldest first |
//! | snooze | `TENANT#{t}` | `SNOOZE#{until}#{n}` | in force at t: `sk > SNOOZE#{t}` |
//! | settings | `TENANT#{t}` | `SETTINGS` | get |
//! | action | `TENANT#{t}` | `ACTION#{action_id}` | get; newest first through GSI1 `TENANT#{t}` / `ACTION#{requested}#{id}` |
//! | action step | `TENANT#{t}` | `ACTIONLOG#{action_id}#{seq}` | an action's log, in order |
//! | remediation settings | `TENANT#{t}` | `REMEDIATION` | get ([`crate::DynamoFlags`]) |
//! | action slots | `TENANT#{t}` | `SLOTS#{hour}` | conditional count ([`crate::DynamoFlags`]); TTL 2 hours |
//! | panic mode | `TENANT#{t}` | `PANIC` | get ([`crate::DynamoFlags`]) |
//! | outbox message | `OUTBOX#{id}` | `OUTBOX` | pending, oldest first, through GSI1 `OUTBOX` (sparse: gone once delivered) |
//! | ingest token | `TOKEN#{sha256}` | `TOKEN` | get (before the tenant is known) |
//! | user | `USER#{email}` | `USER` | get at sign-in (before the tenant is known) |
//! | schedule tick | `TICK#{job}` | `{tick}` | conditional put; TTL 7 days |
//! | breaker | `BREAKER#{channel}` | `STATE` | get ([`crate::DynamoFlags`]) |
//! | dedup record | `DEDUP#{queue}#{key}` | `DEDUP` | [`crate::SqsQueue`] send deduplication; TTL |
//!
//! Times in sort keys are RFC 3339 UTC with nanoseconds (fixed width, so they sort as strings).
//! GSI1 (`gsi1pk`, `gsi1sk`, all attributes projected) serves the two cross-partition lists, a
//! tenant's actions by time, and an anomaly's resources.
//! The CDK app declares the same table; [`create_table`] is the definition for emulators and tests.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use chrono::{DateTime, SecondsFormat, Utc};
use dd0c_ports::{PortError, PortResult};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// One DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// The table's partition and sort keys (strings).
pub const KEYS: (&str, &str) = ("pk", "sk");

/// The global secondary index of the cross-partition lists.
pub const GSI1: &str = "gsi1";

/// GSI1's partition and sort keys (strings), every attribute projected.
pub const GSI1_KEYS: (&str, &str) = ("gsi1pk", "gsi1sk");

/// The attribute DynamoDB's TTL reads (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// The table's shape as infra-cdk must declare it (its `contract.json`): keys, GSI1, TTL,
/// on-demand billing — what [`create_table`] creates.
pub fn table_shape() -> serde_json::Value {
    serde_json::json!({
        "partition_key": KEYS.0,
        "sort_key": KEYS.1,
        "indexes": [{
            "name": GSI1,
            "partition_key": GSI1_KEYS.0,
            "sort_key": GSI1_KEYS.1,
            "projection": "ALL",
        }],
        "ttl_attribute": TTL_ATTRIBUTE,
        "billing_mode": "PAY_PER_REQUEST",
    })
}

/// Creates the table (keys, GSI1, on-demand billing) and turns on its TTL.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) -> PortResult<()> {
    let key = |attribute: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(attribute)
            .key_type(kind)
            .build()
            .map_err(|e| PortError::caused("building the table's key schema", e))
    };
    let string = |attribute: &str| {
        AttributeDefinition::builder()
            .attribute_name(attribute)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| PortError::caused("building the table's attributes", e))
    };
    let gsi = GlobalSecondaryIndex::builder()
        .index_name(GSI1)
        .key_schema(key(GSI1_KEYS.0, KeyType::Hash)?)
        .key_schema(key(GSI1_KEYS.1, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| PortError::caused("building the table's index", e))?;
    client
        .create_table()
        .table_name(name)
        .key_schema(key(KEYS.0, KeyType::Hash)?)
        .key_schema(key(KEYS.1, KeyType::Range)?)
        .attribute_definitions(string(KEYS.0)?)
        .attribute_definitions(string(KEYS.1)?)
        .attribute_definitions(string(GSI1_KEYS.0)?)
        .attribute_definitions(string(GSI1_KEYS.1)?)
        .global_secondary_indexes(gsi)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| sdk("DynamoDB CreateTable", e))?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL_ATTRIBUTE)
                .build()
                .map_err(|e| PortError::caused("building the table's TTL", e))?,
        )
        .send()
        .await
        .map_err(|e| sdk("DynamoDB UpdateTimeToLive", e))?;
    Ok(())
}

pub(crate) use crate::error::{is_code, sdk};

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A fixed-width time for sort keys.
pub(crate) fn time_key(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

pub(crate) fn tenant_pk(tenant: &str) -> String {
    format!("TENANT#{tenant}")
}

/// The primary key of an item.
pub(crate) fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

/// An item: its key, and `value` as JSON in `doc`.
pub(crate) fn doc_item<T: Serialize>(
    pk: String,
    sk: impl Into<String>,
    value: &T,
) -> PortResult<Item> {
    let json =
        serde_json::to_string(value).map_err(|e| PortError::caused("encoding an item", e))?;
    let mut item = key(pk, sk);
    item.insert("doc".into(), s(json));
    Ok(item)
}

/// The JSON `doc` of an item.
pub(crate) fn from_doc<T: DeserializeOwned>(item: &Item) -> PortResult<T> {
    let json = string(item, "doc")?;
    serde_json::from_str(json).map_err(|e| {
        let (pk, sk) = (string(item, "pk"), string(item, "sk"));
        let at = format!("{}/{}", pk.unwrap_or("?"), sk.unwrap_or("?"));
        PortError::caused(format!("item {at}: stored doc unreadable"), e)
    })
}

/// The item under (`pk`, `sk`), read consistently.
pub(crate) async fn get_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: String,
    sk: &str,
) -> PortResult<Option<Item>> {
    let output = client
        .get_item()
        .table_name(table)
        .set_key(Some(key(pk, sk)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| sdk("DynamoDB GetItem", e))?;
    Ok(output.item)
}

/// Writes `item`, replacing any item under its key.
pub(crate) async fn put_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    item: Item,
) -> PortResult<()> {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .map_err(|e| sdk("DynamoDB PutItem", e))?;
    Ok(())
}

/// A string attribute.
pub(crate) fn string<'a>(item: &'a Item, name: &str) -> PortResult<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| PortError::backend(format!("item without string attribute {name:?}")))
}

/// A number attribute.
pub(crate) fn number(item: &Item, name: &str) -> PortResult<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| PortError::backend(format!("item without number attribute {name:?}")))
}
