//! The cloud around the Lambda binaries in tests and the bench: moto (DynamoDB, SQS, S3), the
//! Runtime API harness, and Lambda's SQS event source mapping in miniature.

#![allow(dead_code)]

pub mod stack;

use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use dd0c_adapters_aws::{create_table, DynamoStore, S3Archive, SqsQueue};
use dd0c_ports::conformance::unique;
use dd0c_ports::domain::{Account, Tenant};
use dd0c_ports::queue::{OutgoingMessage, Queue};
use dd0c_ports::store::TenantStore;
use dd0c_ports::PortError;
use dd0c_tests::lambda::{Function, Invocation, Outcome, RuntimeApi};
use serde_json::{json, Value};

/// How long a test waits for one invocation.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

pub fn endpoint() -> String {
    std::env::var("DD0C_TEST_AWS_ENDPOINT")
        .expect("DD0C_TEST_AWS_ENDPOINT: run the tests with scripts/test.sh, which starts moto")
}

pub async fn aws() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

/// A message's attributes as Lambda's SQS event carries them.
fn message_attributes(message: &aws_sdk_sqs::types::Message) -> Value {
    let attributes: serde_json::Map<String, Value> = message
        .message_attributes()
        .map(|a| {
            a.iter()
                .map(|(name, value)| {
                    let shaped = json!({
                        "stringValue": value.string_value(),
                        "dataType": value.data_type(),
                    });
                    (name.clone(), shaped)
                })
                .collect()
        })
        .unwrap_or_default();
    Value::Object(attributes)
}

/// One deployment's resources in moto, under fresh names.
pub struct Cloud {
    pub aws: aws_config::SdkConfig,
    pub table: String,
    pub ingest_queue: String,
    pub score_queue: String,
    pub notify_queue: String,
    pub actions_queue: String,
    pub bucket: String,
    pub max_receives: u32,
    /// Where the functions send their AWS requests: moto, or a recording proxy in front of it.
    pub functions_endpoint: String,
    sqs: aws_sdk_sqs::Client,
}

pub use dd0c_lambda::contract::INGEST_GROUP as BUS_GROUP;

impl Cloud {
    pub async fn new() -> Cloud {
        let aws = aws().await;
        let table = unique("dd0c").replace('-', "_");
        create_table(&aws_sdk_dynamodb::Client::new(&aws), &table)
            .await
            .expect("table");
        let max_receives = 3;
        let mut queues = Vec::new();
        for name in ["ingest", "score", "notify", "actions"] {
            queues.push(
                SqsQueue::create(&aws, &unique(name), max_receives + 2)
                    .await
                    .expect("queue"),
            );
        }
        let bucket = unique("raw");
        S3Archive::new(&aws, &bucket)
            .create_bucket()
            .await
            .expect("bucket");
        let actions_queue = queues.pop().expect("actions");
        let notify_queue = queues.pop().expect("notify");
        let score_queue = queues.pop().expect("score");
        let ingest_queue = queues.pop().expect("ingest");
        Cloud {
            sqs: aws_sdk_sqs::Client::new(&aws),
            aws,
            table,
            ingest_queue,
            score_queue,
            notify_queue,
            actions_queue,
            bucket,
            max_receives,
            functions_endpoint: endpoint(),
        }
    }

    /// The table, queues and archive a stack created (its outputs, named as infra-cdk names
    /// them); the functions' redelivery limit as the stack sets it.
    pub async fn of_stack(outputs: &std::collections::BTreeMap<String, String>) -> Cloud {
        let output = |key: &str| {
            outputs
                .get(key)
                .cloned()
                .unwrap_or_else(|| panic!("the stack has no output {key}: {outputs:?}"))
        };
        let aws = aws().await;
        Cloud {
            sqs: aws_sdk_sqs::Client::new(&aws),
            aws,
            table: output("TableName"),
            ingest_queue: output("IngestQueueUrl"),
            score_queue: output("ScoreQueueUrl"),
            notify_queue: output("NotifyQueueUrl"),
            actions_queue: output("ActionsQueueUrl"),
            bucket: output("ArchiveBucket"),
            max_receives: dd0c_lambda::env::DEFAULT_MAX_RECEIVES,
            functions_endpoint: endpoint(),
        }
    }

    /// The variables the CDK app sets.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.functions_endpoint.clone()),
            ("DD0C_TABLE_NAME", self.table.clone()),
            ("DD0C_SCORE_QUEUE_URL", self.score_queue.clone()),
            ("DD0C_NOTIFY_QUEUE_URL", self.notify_queue.clone()),
            ("DD0C_ACTIONS_QUEUE_URL", self.actions_queue.clone()),
            ("DD0C_ARCHIVE_BUCKET", self.bucket.clone()),
            ("DD0C_MAX_RECEIVES", self.max_receives.to_string()),
            // The Slack stand-in listens on loopback.
            ("DD0C_OUTBOUND_PRIVATE_HOSTS", "127.0.0.1".into()),
        ]
    }

    pub fn store(&self) -> DynamoStore {
        DynamoStore::new(&self.aws, &self.table)
    }

    pub fn queue(&self, url: &str) -> SqsQueue {
        SqsQueue::new(&self.aws, url)
    }

    /// Starts `binary` (a path from `env!("CARGO_BIN_EXE_…")`) against `api`.
    pub fn spawn(&self, binary: &str, api: &RuntimeApi) -> Function {
        self.spawn_with(binary, api, &[])
    }

    /// [`Cloud::spawn`] with `extra` variables set after (and over) the cloud's own.
    pub fn spawn_with(
        &self,
        binary: &str,
        api: &RuntimeApi,
        extra: &[(&'static str, String)],
    ) -> Function {
        let mut env = self.env();
        env.extend(extra.iter().cloned());
        Function::spawn(&PathBuf::from(binary), api, &env).expect("the Lambda binary starts")
    }

    /// Sends CloudTrail records of accounts `tenant` watches (connected here when they are not
    /// yet) to the ingest queue as the shared event bus's rule would: the envelope, in the
    /// rule's one message group, deduplicated by event id.
    pub async fn send_records(&self, tenant: &str, records: &[(String, String, String)]) {
        self.watch(
            tenant,
            records.iter().map(|(account, _, _)| account.as_str()),
        )
        .await;
        let messages: Vec<OutgoingMessage> = records
            .iter()
            .map(|(account, event_id, text)| OutgoingMessage {
                trace: None,
                group_key: BUS_GROUP.into(),
                dedup_key: event_id.clone(),
                body: envelope(account, text),
            })
            .collect();
        for chunk in messages.chunks(100) {
            self.queue(&self.ingest_queue)
                .send_batch(chunk.to_vec())
                .await
                .expect("sent");
        }
    }

    /// Connects `accounts` to `tenant` (creating the tenant), skipping those connected already.
    pub async fn watch(&self, tenant: &str, accounts: impl Iterator<Item = &str>) {
        let store = self.store();
        let created_at = chrono::Utc::now();
        match store
            .add_tenant(&Tenant {
                name: tenant.into(),
                created_at,
            })
            .await
        {
            Ok(()) | Err(PortError::Conflict(_)) => {}
            Err(e) => panic!("tenant {tenant}: {e}"),
        }
        let mut accounts: Vec<&str> = accounts.collect();
        accounts.sort();
        accounts.dedup();
        for account_id in accounts {
            if store.owner(account_id).await.expect("owner").is_some() {
                continue;
            }
            store
                .add_account(&Account::new(tenant, account_id, created_at))
                .await
                .expect("account");
        }
    }

    /// One poll of Lambda's event source mapping: up to 10 messages as an SQS event, the
    /// function's answer, then what Lambda does with it — delete the messages not reported as
    /// failed, and (to keep tests fast) make the failed ones visible again at once. `None`
    /// when the queue has nothing to deliver.
    pub async fn poll(&self, url: &str, api: &RuntimeApi) -> Option<(Value, Invocation)> {
        let messages = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            return None;
        }
        let arn = self.arn(url).await;
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: serde_json::Map<String, Value> = m
                    .attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "messageId": m.message_id(),
                    "receiptHandle": m.receipt_handle(),
                    "body": m.body(),
                    "attributes": attributes,
                    "messageAttributes": message_attributes(m),
                    "md5OfBody": m.md5_of_body(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": "us-east-1",
                })
            })
            .collect();
        let event = json!({ "Records": records });
        let invocation = api
            .invoke(event.clone(), INVOKE_TIMEOUT)
            .await
            .expect("invoked");
        let failed: Vec<String> = match &invocation.outcome {
            Outcome::Response(answer) => failures(answer),
            Outcome::Error(_) => messages
                .iter()
                .filter_map(|m| m.message_id.clone())
                .collect(),
            Outcome::Lost => return Some((event, invocation)),
        };
        for message in &messages {
            let receipt = message.receipt_handle().expect("receipt");
            if failed
                .iter()
                .any(|id| Some(id.as_str()) == message.message_id())
            {
                self.release_in_flight(url, &[receipt.to_owned()]).await;
            } else {
                // Already gone when the function dead-lettered it.
                let _ = self
                    .sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(receipt)
                    .send()
                    .await;
            }
        }
        Some((event, invocation))
    }

    /// Polls until the queue has nothing to deliver; returns every invocation.
    pub async fn drain(&self, url: &str, api: &RuntimeApi) -> Vec<(Value, Invocation)> {
        let mut invocations = Vec::new();
        while let Some(polled) = self.poll(url, api).await {
            invocations.push(polled);
            assert!(invocations.len() < 10_000, "the queue never drains");
        }
        invocations
    }

    /// Makes every in-flight message of a queue visible again (Lambda waits out the
    /// visibility timeout; tests need not).
    pub async fn release_in_flight(&self, url: &str, receipts: &[String]) {
        for receipt in receipts {
            self.sqs
                .change_message_visibility()
                .queue_url(url)
                .receipt_handle(receipt)
                .visibility_timeout(0)
                .send()
                .await
                .expect("visible again");
        }
    }

    async fn arn(&self, url: &str) -> String {
        self.sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("attributes")
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .expect("arn")
    }
}

/// The message ids a partial batch response reports.
pub fn failures(answer: &Value) -> Vec<String> {
    answer["batchItemFailures"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["itemIdentifier"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The message ids of an SQS event, in order.
pub fn message_ids(event: &Value) -> Vec<String> {
    event["Records"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|m| m["messageId"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The receipts of an SQS event.
pub fn receipts(event: &Value) -> Vec<String> {
    event["Records"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|m| m["receiptHandle"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A CloudTrail record (JSON text, kept verbatim) in the envelope EventBridge delivers.
pub fn envelope(account: &str, record: &str) -> String {
    let detail: Value = serde_json::from_str(record).unwrap_or(Value::Null);
    let service = detail["eventSource"]
        .as_str()
        .and_then(|s| s.split('.').next())
        .unwrap_or("unknown");
    let head = json!({
        "version": "0",
        "id": format!("ev-{}", detail["eventID"].as_str().unwrap_or("?")),
        "detail-type": "AWS API Call via CloudTrail",
        "source": format!("aws.{service}"),
        "account": account,
        "time": detail["eventTime"],
        "region": detail["awsRegion"],
        "resources": [],
    })
    .to_string();
    format!("{},\"detail\":{record}}}", head.trim_end_matches('}'))
}

/// A RunInstances record of `count` m5.xlarge in `account`, `minutes` after a fixed start.
/// What an EventBridge schedule sends a function (no `time`: now).
pub fn scheduled_event() -> Value {
    json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
}

pub fn launch(account: &str, event_id: &str, minutes: i64, count: u32) -> (String, String, String) {
    let time = (chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z").expect("time")
        + chrono::Duration::minutes(minutes))
    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let items: Vec<Value> = (0..count)
        .map(|i| json!({"instanceId": format!("i-{event_id}-{i}"), "instanceType": "m5.xlarge"}))
        .collect();
    let record = dd0c_tests::record(
        &dd0c_tests::assumed_role(account, "deployer", "ci"),
        account,
        "us-east-1",
        &time,
        "ec2.amazonaws.com",
        "RunInstances",
        json!({"instanceType": "m5.xlarge", "minCount": count, "maxCount": count}),
        json!({"instancesSet": {"items": items}}),
        event_id,
    );
    (account.to_owned(), event_id.to_owned(), record.to_string())
}
