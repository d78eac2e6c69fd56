//! [`DynamoFlags`]: panic mode and breakers as DynamoDB items.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use dd0c_ports::flags::{BreakerState, Flags};
use dd0c_ports::{PortError, PortResult};

use crate::backend;

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

    async fn get(
        &self,
        pk: String,
        sk: &str,
    ) -> PortResult<Option<std::collections::HashMap<String, AttributeValue>>> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                backend(
                    "DynamoDB GetItem",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e),
                )
            })?;
        Ok(item.item)
    }
}

const PANIC: &str = "PANIC";
const STATE: &str = "STATE";

fn tenant_key(tenant: &str) -> String {
    format!("TENANT#{tenant}")
}

fn breaker_key(channel: &str) -> String {
    format!("BREAKER#{channel}")
}

#[async_trait]
impl Flags for DynamoFlags {
    async fn panic_mode(&self, tenant: &str) -> PortResult<bool> {
        Ok(self.get(tenant_key(tenant), PANIC).await?.is_some())
    }

    async fn set_panic_mode(&self, tenant: &str, on: bool) -> PortResult<()> {
        let (pk, sk) = (
            AttributeValue::S(tenant_key(tenant)),
            AttributeValue::S(PANIC.into()),
        );
        let context = |e| backend("DynamoDB panic mode", e);
        if on {
            self.client
                .put_item()
                .table_name(&self.table)
                .item("pk", pk)
                .item("sk", sk)
                .send()
                .await
                .map_err(|e| {
                    context(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
                })?;
        } else {
            self.client
                .delete_item()
                .table_name(&self.table)
                .key("pk", pk)
                .key("sk", sk)
                .send()
                .await
                .map_err(|e| {
                    context(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
                })?;
        }
        Ok(())
    }

    async fn breaker(&self, channel: &str) -> PortResult<Option<BreakerState>> {
        let Some(item) = self.get(breaker_key(channel), STATE).await? else {
            return Ok(None);
        };
        let json = item
            .get("state")
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| PortError::Backend(format!("breaker {channel}: no state attribute")))?;
        serde_json::from_str(json).map(Some).map_err(|e| {
            PortError::Backend(format!("breaker {channel}: stored state unreadable: {e}"))
        })
    }

    async fn put_breaker(&self, channel: &str, state: &BreakerState) -> PortResult<()> {
        let json = serde_json::to_string(state)
            .map_err(|e| PortError::Backend(format!("encoding a breaker: {e}")))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(breaker_key(channel)))
            .item("sk", AttributeValue::S(STATE.into()))
            .item("state", AttributeValue::S(json))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                backend(
                    "DynamoDB PutItem",
                    aws_sdk_dynamodb::error::DisplayErrorContext(e),
                )
            })
    }
}
