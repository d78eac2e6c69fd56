//! [`SqsQueue`]: the queue port on an SQS FIFO queue and its FIFO dead-letter queue.
//!
//! SQS keeps each group in order and hides a group while a message of it is in flight, which is
//! the port's contract. What SQS does not keep is filled in here: a dead letter carries its error,
//! original message id and receive count as message attributes, and a receipt handle is
//! remembered with its delivery so [`Queue::dead_letter`] can move it and a stale one is refused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_sqs::error::BuildError;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, Message, MessageAttributeValue,
    MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};
use chrono::{DateTime, Utc};
use dd0c_ports::keys::TraceParent;
use dd0c_ports::queue::{DeadLetter, Delivery, OutgoingMessage, Queue, QueueDepth, SendOutcome};
use dd0c_ports::{PortError, PortResult};

use crate::events::batch_entries;
use crate::table::sdk;

/// SQS's limit on the entries of one batch call.
const SQS_BATCH: usize = 10;

/// How long a listing of the dead letters hides them (given back at once after).
const PEEK: i32 = 5;

/// SQS's longest visibility timeout: a receipt older than this is stale whatever happened.
const LONGEST_VISIBILITY: Duration = Duration::from_secs(12 * 3600);

const ERROR: &str = "dd0c-error";
const ORIGINAL_ID: &str = "dd0c-message-id";
const RECEIVES: &str = "dd0c-receive-count";
const FAILED_AT: &str = "dd0c-failed-at";

/// A FIFO queue (`…​.fifo`) and the dead-letter queue its RedrivePolicy names.
#[derive(Debug)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
    /// Looked up on first use, so building a queue costs no round trip (Lambda init).
    dead_letter_url: tokio::sync::OnceCell<String>,
    /// Receipts of this process's deliveries, so a receipt alone can dead-letter its message.
    received: Mutex<Received>,
}

#[derive(Debug, Default)]
struct Received {
    by_receipt: HashMap<String, (Delivery, Instant)>,
    /// Message id → its latest receipt.
    latest: HashMap<String, String>,
    /// Receipts whose message was delivered again since.
    superseded: HashMap<String, Instant>,
}

impl Received {
    /// Remembers a receive's deliveries, forgetting receipts too old to be valid any more.
    fn remember(&mut self, deliveries: &[Delivery]) {
        let now = Instant::now();
        let fresh = |at: &Instant| now.duration_since(*at) < LONGEST_VISIBILITY;
        self.by_receipt.retain(|_, (_, at)| fresh(at));
        self.superseded.retain(|_, at| fresh(at));
        let by_receipt = &self.by_receipt;
        self.latest
            .retain(|_, receipt| by_receipt.contains_key(receipt));
        for delivery in deliveries {
            if let Some(older) = self
                .latest
                .insert(delivery.message_id.clone(), delivery.receipt.clone())
            {
                self.by_receipt.remove(&older);
                self.superseded.insert(older, now);
            }
            self.by_receipt
                .insert(delivery.receipt.clone(), (delivery.clone(), now));
        }
    }

    /// Whether the message of `receipt` has been delivered again since (as far as this process saw).
    fn is_stale(&self, receipt: &str) -> bool {
        self.superseded.contains_key(receipt)
    }

    fn forget(&mut self, receipt: &str) {
        if let Some((delivery, _)) = self.by_receipt.remove(receipt) {
            self.latest.remove(&delivery.message_id);
        }
    }
}

fn lock(received: &Mutex<Received>) -> std::sync::MutexGuard<'_, Received> {
    received
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn string_attribute(value: impl Into<String>) -> PortResult<MessageAttributeValue> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| PortError::caused("building a message attribute", e))
}

/// An SQS MessageGroupId or MessageDeduplicationId: at most 128 printable ASCII characters.
fn check_id(what: &str, id: &str) -> PortResult<()> {
    if id.is_empty() || id.len() > 128 || !id.chars().all(|c| c.is_ascii_graphic()) {
        return Err(PortError::Invalid(format!(
            "{what} {id:?}: SQS takes 1 to 128 printable ASCII characters"
        )));
    }
    Ok(())
}

/// The URL of the queue with ARN `arn:aws:sqs:{region}:{owner}:{name}`.
async fn url_of(client: &aws_sdk_sqs::Client, arn: &str) -> PortResult<String> {
    let mut parts = arn.split(':').skip(4);
    let (Some(owner), Some(name)) = (parts.next(), parts.next()) else {
        return Err(PortError::Invalid(format!(
            "{arn:?} is not an SQS queue ARN"
        )));
    };
    client
        .get_queue_url()
        .queue_name(name)
        .queue_owner_aws_account_id(owner)
        .send()
        .await
        .map_err(|e| sdk("SQS GetQueueUrl", e))?
        .queue_url
        .ok_or_else(|| PortError::backend(format!("no URL for queue {arn}")))
}

/// A message SQS FIFO accepts: group and dedup keys within its limits.
fn check_message(message: &OutgoingMessage) -> PortResult<()> {
    check_id("group key", &message.group_key)?;
    check_id("dedup key", &message.dedup_key)
}

/// A message's trace parent as its message attributes, when it has one.
fn trace_attributes(
    trace: Option<TraceParent>,
) -> Result<Option<HashMap<String, MessageAttributeValue>>, BuildError> {
    let Some(trace) = trace else {
        return Ok(None);
    };
    let value = MessageAttributeValue::builder()
        .data_type("String")
        .string_value(trace.to_string())
        .build()?;
    Ok(Some(HashMap::from([(TraceParent::NAME.to_owned(), value)])))
}

/// The trace parent a received message carries, if any (one that does not read as one only
/// loses the link to its trace).
fn trace_of(message: &Message) -> Option<TraceParent> {
    message
        .message_attributes()?
        .get(TraceParent::NAME)?
        .string_value()?
        .parse()
        .ok()
}

fn delivery_of(message: Message) -> PortResult<Delivery> {
    let attribute =
        |name: MessageSystemAttributeName| message.attributes().and_then(|a| a.get(&name)).cloned();
    let missing = |what: &str| PortError::backend(format!("SQS message without {what}"));
    Ok(Delivery {
        trace: trace_of(&message),
        message_id: message
            .message_id
            .clone()
            .ok_or_else(|| missing("MessageId"))?,
        receipt: message
            .receipt_handle
            .clone()
            .ok_or_else(|| missing("ReceiptHandle"))?,
        group_key: attribute(MessageSystemAttributeName::MessageGroupId)
            .ok_or_else(|| missing("MessageGroupId"))?,
        body: message.body.clone().unwrap_or_default(),
        receive_count: attribute(MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| missing("ApproximateReceiveCount"))?,
    })
}

impl SqsQueue {
    /// The queue at `url`; its dead-letter queue is the one its RedrivePolicy names, looked
    /// up when first needed.
    pub fn new(config: &aws_config::SdkConfig, url: &str) -> Self {
        SqsQueue {
            client: aws_sdk_sqs::Client::new(config),
            url: url.to_owned(),
            dead_letter_url: tokio::sync::OnceCell::new(),
            received: Mutex::default(),
        }
    }

    /// The queue with ARN `arn` (as Lambda names an event's source).
    pub async fn from_arn(config: &aws_config::SdkConfig, arn: &str) -> PortResult<Self> {
        let url = url_of(&aws_sdk_sqs::Client::new(config), arn).await?;
        Ok(SqsQueue::new(config, &url))
    }

    async fn dead_letter_url(&self) -> PortResult<&str> {
        self.dead_letter_url
            .get_or_try_init(|| self.look_up_dead_letter_url())
            .await
            .map(String::as_str)
    }

    async fn look_up_dead_letter_url(&self) -> PortResult<String> {
        let url = &self.url;
        let attributes = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| sdk("SQS GetQueueAttributes", e))?;
        let policy = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
            .ok_or_else(|| {
                PortError::Invalid(format!(
                    "queue {url} has no RedrivePolicy: dd0c/cost needs its dead-letter queue"
                ))
            })?;
        let arn = serde_json::from_str::<serde_json::Value>(policy)
            .ok()
            .and_then(|p| p["deadLetterTargetArn"].as_str().map(str::to_owned))
            .ok_or_else(|| {
                PortError::Invalid(format!(
                    "queue {url}: RedrivePolicy {policy:?} names no deadLetterTargetArn"
                ))
            })?;
        url_of(&self.client, &arn).await
    }

    /// Creates the FIFO queue `{name}.fifo` and its dead-letter queue `{name}-dlq.fifo`, which
    /// SQS itself fills after `max_receives` deliveries (a backstop: consumers dead-letter
    /// with the error before that). Returns the queue's URL. For emulators and tests; the CDK
    /// app declares the same.
    pub async fn create(
        config: &aws_config::SdkConfig,
        name: &str,
        max_receives: u32,
    ) -> PortResult<String> {
        let client = aws_sdk_sqs::Client::new(config);
        let create = |name: String, redrive: Option<String>| {
            let client = client.clone();
            async move {
                let request = client
                    .create_queue()
                    .queue_name(name)
                    .attributes(QueueAttributeName::FifoQueue, "true");
                let request = match redrive {
                    Some(policy) => request.attributes(QueueAttributeName::RedrivePolicy, policy),
                    None => request,
                };
                request
                    .send()
                    .await
                    .map_err(|e| sdk("SQS CreateQueue", e))?
                    .queue_url
                    .ok_or_else(|| PortError::backend("CreateQueue returned no URL"))
            }
        };
        let dead_letter_url = create(format!("{name}-dlq.fifo"), None).await?;
        let arn = client
            .get_queue_attributes()
            .queue_url(&dead_letter_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| sdk("SQS GetQueueAttributes", e))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| PortError::backend("no QueueArn"))?;
        let policy = serde_json::json!({
            "deadLetterTargetArn": arn,
            "maxReceiveCount": max_receives,
        });
        create(format!("{name}.fifo"), Some(policy.to_string())).await
    }

    /// Moves `delivery` to the dead-letter queue with `error`, then deletes it here. For
    /// consumers handed deliveries by someone else (Lambda's event source mapping).
    pub async fn dead_letter_delivery(&self, delivery: &Delivery, error: &str) -> PortResult<()> {
        let attributes = HashMap::from([
            (ERROR.to_owned(), string_attribute(error)?),
            (
                ORIGINAL_ID.to_owned(),
                string_attribute(&delivery.message_id)?,
            ),
            (
                RECEIVES.to_owned(),
                string_attribute(delivery.receive_count.to_string())?,
            ),
            (
                FAILED_AT.to_owned(),
                string_attribute(Utc::now().to_rfc3339())?,
            ),
        ]);
        self.client
            .send_message()
            .queue_url(self.dead_letter_url().await?)
            .message_group_id(&delivery.group_key)
            .message_deduplication_id(&delivery.message_id)
            .message_body(&delivery.body)
            .set_message_attributes(Some(attributes))
            .send()
            .await
            .map_err(|e| sdk("SQS SendMessage (dead-letter queue)", e))?;
        self.delete(&delivery.receipt).await
    }

    async fn delete(&self, receipt: &str) -> PortResult<()> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| sdk("SQS DeleteMessage", e))?;
        lock(&self.received).forget(receipt);
        Ok(())
    }

    /// Receives up to `limit` messages of the queue at `url`, hidden for `visibility` seconds,
    /// with their system and message attributes: SQS calls of 10 until it has fewer to give.
    async fn receive_from(
        &self,
        url: &str,
        limit: usize,
        visibility: i32,
    ) -> PortResult<Vec<Message>> {
        let mut messages = Vec::new();
        while messages.len() < limit {
            let want = (limit - messages.len()).min(SQS_BATCH);
            let got = self
                .client
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(want as i32)
                .visibility_timeout(visibility)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .map_err(|e| sdk("SQS ReceiveMessage", e))?
                .messages
                .unwrap_or_default();
            let done = got.len() < want;
            messages.extend(got);
            if done {
                break;
            }
        }
        Ok(messages)
    }

    /// Receives up to `limit` dead letters, hidden for [`PEEK`] seconds; the caller gives back
    /// what it does not delete.
    async fn peek_dead_letters(&self, limit: usize) -> PortResult<Vec<Message>> {
        self.receive_from(self.dead_letter_url().await?, limit, PEEK)
            .await
    }

    /// Makes peeked dead letters visible again.
    async fn give_back(&self, messages: &[Message]) -> PortResult<()> {
        for chunk in messages.chunks(SQS_BATCH) {
            let entries = batch_entries(chunk, |id, m| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(id)
                    .set_receipt_handle(m.receipt_handle.clone())
                    .visibility_timeout(0)
                    .build()
            })?;
            self.client
                .change_message_visibility_batch()
                .queue_url(self.dead_letter_url().await?)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sdk("SQS ChangeMessageVisibilityBatch", e))?;
        }
        Ok(())
    }

    async fn counts(&self, url: &str) -> PortResult<(u64, u64)> {
        let attributes = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| sdk("SQS GetQueueAttributes", e))?
            .attributes
            .unwrap_or_default();
        let count = |name| {
            attributes
                .get(&name)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        Ok((
            count(QueueAttributeName::ApproximateNumberOfMessages),
            count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        ))
    }
}

fn dead_letter_of(message: &Message) -> DeadLetter {
    let attribute = |name: &str| {
        message
            .message_attributes()
            .and_then(|a| a.get(name))
            .and_then(|v| v.string_value())
            .unwrap_or_default()
            .to_owned()
    };
    DeadLetter {
        message_id: attribute(ORIGINAL_ID),
        group_key: message
            .attributes()
            .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
            .cloned()
            .unwrap_or_default(),
        body: message.body.clone().unwrap_or_default(),
        error: attribute(ERROR),
        receive_count: attribute(RECEIVES).parse().unwrap_or(0),
        failed_at: DateTime::parse_from_rfc3339(&attribute(FAILED_AT))
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, message: OutgoingMessage) -> PortResult<SendOutcome> {
        check_message(&message)?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_group_id(message.group_key)
            .message_deduplication_id(message.dedup_key)
            .message_body(message.body)
            .set_message_attributes(
                trace_attributes(message.trace)
                    .map_err(|e| PortError::caused("building a message attribute", e))?,
            )
            .send()
            .await
            .map_err(|e| sdk("SQS SendMessage", e))?;
        Ok(SendOutcome::Accepted)
    }

    async fn send_batch(&self, messages: Vec<OutgoingMessage>) -> PortResult<Vec<SendOutcome>> {
        for message in &messages {
            check_message(message)?;
        }
        for chunk in messages.chunks(SQS_BATCH) {
            let entries = batch_entries(chunk, |id, m| {
                SendMessageBatchRequestEntry::builder()
                    .id(id)
                    .message_group_id(&m.group_key)
                    .message_deduplication_id(&m.dedup_key)
                    .message_body(&m.body)
                    .set_message_attributes(trace_attributes(m.trace)?)
                    .build()
            })?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sdk("SQS SendMessageBatch", e))?;
            // Later entries stay unsent, so a retry with the same dedup keys keeps the order.
            if let Some(failed) = output.failed.first() {
                return Err(PortError::backend(format!(
                    "SQS SendMessageBatch: entry {} failed: {} {}",
                    failed.id,
                    failed.code,
                    failed.message.as_deref().unwrap_or_default()
                )));
            }
        }
        Ok(vec![SendOutcome::Accepted; messages.len()])
    }

    async fn receive(&self, max: usize, visibility: Duration) -> PortResult<Vec<Delivery>> {
        let seconds = visibility.as_secs_f64().ceil().clamp(0.0, 43_200.0) as i32;
        let messages = self.receive_from(&self.url, max, seconds).await?;
        let deliveries = messages
            .into_iter()
            .map(delivery_of)
            .collect::<PortResult<Vec<_>>>()?;
        lock(&self.received).remember(&deliveries);
        Ok(deliveries)
    }

    async fn ack(&self, receipt: &str) -> PortResult<()> {
        if lock(&self.received).is_stale(receipt) {
            return Err(PortError::Conflict(
                "stale receipt: the message was delivered again".into(),
            ));
        }
        self.delete(receipt).await
    }

    async fn ack_all(&self, receipts: &[String]) -> PortResult<usize> {
        let fresh: Vec<&String> = {
            let received = lock(&self.received);
            receipts.iter().filter(|r| !received.is_stale(r)).collect()
        };
        for chunk in fresh.chunks(SQS_BATCH) {
            crate::events::delete_batch(&self.client, &self.url, chunk).await?;
            let mut received = lock(&self.received);
            for receipt in chunk {
                received.forget(receipt);
            }
        }
        Ok(fresh.len())
    }

    async fn dead_letter(&self, receipt: &str, error: &str) -> PortResult<()> {
        let delivery = lock(&self.received)
            .by_receipt
            .get(receipt)
            .map(|(d, _)| d.clone())
            .ok_or_else(|| {
                PortError::Conflict(
                    "unknown or stale receipt: dead-letter from the process that received it"
                        .into(),
                )
            })?;
        self.dead_letter_delivery(&delivery, error).await
    }

    async fn dead_letters(&self, limit: usize) -> PortResult<Vec<DeadLetter>> {
        let peeked = self.peek_dead_letters(limit).await?;
        self.give_back(&peeked).await?;
        Ok(peeked.iter().map(dead_letter_of).collect())
    }

    async fn redrive(&self, message_id: &str) -> PortResult<()> {
        let peeked = self.peek_dead_letters(usize::MAX).await?;
        let (found, others): (Vec<&Message>, Vec<&Message>) = peeked
            .iter()
            .partition(|m| dead_letter_of(m).message_id == message_id);
        let others: Vec<Message> = others.into_iter().cloned().collect();
        self.give_back(&others).await?;
        let Some(message) = found.first() else {
            return Err(PortError::NotFound(format!("dead letter {message_id}")));
        };
        let dead = dead_letter_of(message);
        // A fresh dedup id: the original one may still be inside SQS's window.
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_group_id(&dead.group_key)
            .message_deduplication_id(format!(
                "{message_id}:redrive:{}",
                Utc::now().timestamp_millis()
            ))
            .message_body(&dead.body)
            .send()
            .await
            .map_err(|e| sdk("SQS SendMessage (redrive)", e))?;
        self.client
            .delete_message()
            .queue_url(self.dead_letter_url().await?)
            .set_receipt_handle(message.receipt_handle.clone())
            .send()
            .await
            .map_err(|e| sdk("SQS DeleteMessage (dead-letter queue)", e))?;
        Ok(())
    }

    async fn depth(&self) -> PortResult<QueueDepth> {
        let (visible, in_flight) = self.counts(&self.url).await?;
        let (dead_visible, dead_hidden) = self.counts(self.dead_letter_url().await?).await?;
        Ok(QueueDepth {
            visible,
            in_flight,
            dead: dead_visible + dead_hidden,
        })
    }
}
