//! [`DynamoFlags`]: panic mode, remediation settings and breakers as DynamoDB items.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dd0c_ports::flags::{BreakerState, Flags};
use dd0c_ports::remediation::RemediationSettings;
use dd0c_ports::{PortError, PortResult};

use crate::table::{
    doc_item, from_doc, get_item, is_code, key, n, put_item, s, sdk, tenant_pk, time_key, Item,
    TTL_ATTRIBUTE,
};

/// Flags in the single table (`DD0C_TABLE_NAME`), keys `pk` and `sk` (strings).
#[derive(Debug, Clone)]
pub struct DynamoFlags {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoFlags {
    /// Flags in `table` through `config`'s DynamoDB.
    pub fn new(config: &aws_config::SdkConfig, table: &str) -> Self {
        DynamoFlags {
            client: aws_sdk_dynamodb::Client::new(config),
            table: table.to_owned(),
        }
    }

    async fn get(&self, pk: String, sk: &str) -> PortResult<Option<Item>> {
        get_item(&self.client, &self.table, pk, sk).await
    }
}

const PANIC: &str = "PANIC";
const STATE: &str = "STATE";
const REMEDIATION: &str = "REMEDIATION";

fn breaker_key(channel: &str) -> String {
    format!("BREAKER#{channel}")
}

#[async_trait]
impl Flags for DynamoFlags {
    async fn panic_mode(&self, tenant: &str) -> PortResult<bool> {
        Ok(self.get(tenant_pk(tenant), PANIC).await?.is_some())
    }

    async fn set_panic_mode(&self, tenant: &str, on: bool) -> PortResult<()> {
        let item = key(tenant_pk(tenant), PANIC);
        if on {
            put_item(&self.client, &self.table, item).await?;
        } else {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(item))
                .send()
                .await
                .map_err(|e| sdk("DynamoDB DeleteItem (panic mode)", e))?;
        }
        Ok(())
    }

    async fn remediation(&self, tenant: &str) -> PortResult<RemediationSettings> {
        self.get(tenant_pk(tenant), REMEDIATION)
            .await?
            .map_or(Ok(RemediationSettings::default()), |item| from_doc(&item))
    }

    async fn set_remediation(
        &self,
        tenant: &str,
        settings: &RemediationSettings,
    ) -> PortResult<()> {
        let item = doc_item(tenant_pk(tenant), REMEDIATION, settings)?;
        put_item(&self.client, &self.table, item).await
    }

    async fn take_action_slot(
        &self,
        tenant: &str,
        hour: DateTime<Utc>,
        most: u32,
    ) -> PortResult<bool> {
        let taken = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                tenant_pk(tenant),
                format!("SLOTS#{}", time_key(hour)),
            )))
            .update_expression("ADD taken :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(taken) OR taken < :most")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":most", n(most))
            .expression_attribute_values(":ttl", n((hour + chrono::Duration::hours(2)).timestamp()))
            .send()
            .await;
        match taken {
            Ok(_) => Ok(true),
            Err(e) if is_code(&e, "ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(sdk("DynamoDB UpdateItem (action slot)", e)),
        }
    }

    async fn breaker(&self, channel: &str) -> PortResult<Option<BreakerState>> {
        let Some(item) = self.get(breaker_key(channel), STATE).await? else {
            return Ok(None);
        };
        let json = item
            .get("state")
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| PortError::backend(format!("breaker {channel}: no state attribute")))?;
        serde_json::from_str(json).map(Some).map_err(|e| {
            PortError::caused(format!("breaker {channel}: stored state unreadable"), e)
        })
    }

    async fn put_breaker(&self, channel: &str, state: &BreakerState) -> PortResult<()> {
        let json =
            serde_json::to_string(state).map_err(|e| PortError::caused("encoding a breaker", e))?;
        let mut item = key(breaker_key(channel), STATE);
        item.insert("state".into(), s(json));
        put_item(&self.client, &self.table, item).await
    }
}
