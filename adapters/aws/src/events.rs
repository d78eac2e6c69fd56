//! [`EventQueue`]: a customer's SQS queue that an EventBridge rule fills with "AWS API Call via
//! CloudTrail" events, read by `dd0c-agent` (feature `sqs`).

use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use dd0c_ports::{PortError, PortResult};

use crate::error::sdk;

/// The entries of one SQS batch call, identified by their position.
pub(crate) fn batch_entries<T, E, B: std::error::Error + Send + Sync + 'static>(
    items: &[T],
    entry: impl Fn(String, &T) -> Result<E, B>,
) -> PortResult<Vec<E>> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| entry(i.to_string(), item))
        .collect::<Result<_, _>>()
        .map_err(|e| PortError::caused("building an SQS batch entry", e))
}

/// Deletes up to ten received messages of the queue at `url` in one `DeleteMessageBatch`; an
/// entry SQS refuses is an error naming its code.
pub(crate) async fn delete_batch(
    client: &aws_sdk_sqs::Client,
    url: &str,
    receipts: &[impl AsRef<str>],
) -> PortResult<()> {
    let entries = batch_entries(receipts, |id, receipt| {
        DeleteMessageBatchRequestEntry::builder()
            .id(id)
            .receipt_handle(receipt.as_ref())
            .build()
    })?;
    let output = client
        .delete_message_batch()
        .queue_url(url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| sdk("SQS DeleteMessageBatch", e))?;
    match output.failed.first() {
        Some(f) => Err(PortError::backend(format!(
            "SQS DeleteMessageBatch: entry {} failed: {}: {}",
            f.id,
            f.code,
            f.message.as_deref().unwrap_or("no message")
        ))),
        None => Ok(()),
    }
}

/// One received message: its receipt handle and body.
#[derive(Debug, Clone)]
pub struct Received {
    /// What deletes it.
    pub receipt: String,
    /// The EventBridge event, JSON.
    pub body: String,
}

/// A standard or FIFO SQS queue of events.
#[derive(Debug, Clone)]
pub struct EventQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl EventQueue {
    /// The queue at `url`.
    pub fn new(config: &aws_config::SdkConfig, url: &str) -> Self {
        EventQueue {
            client: aws_sdk_sqs::Client::new(config),
            url: url.to_owned(),
        }
    }

    /// Creates a standard queue named `name` and returns its URL (tests).
    pub async fn create(config: &aws_config::SdkConfig, name: &str) -> PortResult<String> {
        let created = aws_sdk_sqs::Client::new(config)
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| sdk("SQS CreateQueue", e))?;
        created
            .queue_url
            .ok_or_else(|| PortError::backend("SQS CreateQueue answered no URL"))
    }

    /// Up to `max` (at most 10) messages, waiting up to `wait_seconds` for the first.
    pub async fn receive(&self, max: i32, wait_seconds: i32) -> PortResult<Vec<Received>> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait_seconds.clamp(0, 20))
            .send()
            .await
            .map_err(|e| sdk("SQS ReceiveMessage", e))?;
        Ok(output
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                Some(Received {
                    receipt: m.receipt_handle?,
                    body: m.body?,
                })
            })
            .collect())
    }

    /// Deletes received messages (at most 10).
    pub async fn delete(&self, receipts: &[String]) -> PortResult<()> {
        if receipts.is_empty() {
            return Ok(());
        }
        delete_batch(&self.client, &self.url, receipts).await
    }

    /// Sends one message (tests).
    pub async fn send(&self, body: &str) -> PortResult<()> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| sdk("SQS SendMessage", e))?;
        Ok(())
    }
}
