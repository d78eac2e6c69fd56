//! SQS batches: the event Lambda's event source mapping sends, and the partial batch response
//! (`ReportBatchItemFailures`) the function answers with.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use dd0c_adapters_aws::SqsQueue;
use dd0c_function::{Batches, Settle};
use dd0c_ports::keys::TraceParent;
use dd0c_ports::queue::Delivery;
use dd0c_ports::PortResult;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

/// An SQS event: the records of one batch, in queue order.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SqsEvent {
    /// The messages.
    #[serde(rename = "Records")]
    pub records: Vec<SqsRecord>,
}

/// One message of an [`SqsEvent`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsRecord {
    /// The SQS message id: the item identifier of a failure.
    pub message_id: String,
    /// This delivery's receipt handle.
    pub receipt_handle: String,
    /// The payload.
    pub body: String,
    /// System attributes: `MessageGroupId`, `ApproximateReceiveCount`, …
    #[serde(default)]
    pub attributes: HashMap<String, String>,
    /// Message attributes: the sender's `traceparent`, when it was traced.
    #[serde(default)]
    pub message_attributes: HashMap<String, MessageAttribute>,
    /// The queue's ARN.
    #[serde(rename = "eventSourceARN")]
    pub event_source_arn: String,
}

/// A message attribute as Lambda's SQS event carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageAttribute {
    /// The value of a `String` attribute.
    #[serde(default)]
    pub string_value: Option<String>,
}

/// The partial batch response: the messages to deliver again; every other one is deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    /// The failed messages.
    pub batch_item_failures: Vec<ItemFailure>,
}

/// One failed message.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFailure {
    /// Its SQS message id (never empty: an empty one would fail the whole batch).
    pub item_identifier: String,
}

/// The queues events come from, by ARN, for dead-lettering (looked up once each).
#[derive(Debug)]
pub struct SourceQueues {
    aws: aws_config::SdkConfig,
    known: Mutex<HashMap<String, Arc<SqsQueue>>>,
}

impl SourceQueues {
    /// None known yet.
    pub fn new(aws: &aws_config::SdkConfig) -> Self {
        SourceQueues {
            aws: aws.clone(),
            known: Mutex::default(),
        }
    }

    async fn queue(&self, arn: &str) -> PortResult<Arc<SqsQueue>> {
        let mut known = self.known.lock().await;
        if let Some(queue) = known.get(arn) {
            return Ok(queue.clone());
        }
        let queue = Arc::new(SqsQueue::from_arn(&self.aws, arn).await?);
        known.insert(arn.to_owned(), queue.clone());
        Ok(queue)
    }
}

/// Settling in Lambda: the event source mapping deletes what the response does not report, so
/// only dead-lettering is done here.
struct FromSqs<'a> {
    sources: &'a SourceQueues,
    /// Each delivery's queue ARN, by message id.
    arns: HashMap<&'a str, &'a str>,
}

#[async_trait]
impl Settle for FromSqs<'_> {
    async fn done(&self, _deliveries: &[&Delivery]) {}

    async fn dead_letter(&self, delivery: &Delivery, error: &str) -> bool {
        let Some(arn) = self.arns.get(delivery.message_id.as_str()) else {
            return false;
        };
        let moved = match self.sources.queue(arn).await {
            Ok(queue) => queue.dead_letter_delivery(delivery, error).await,
            Err(e) => Err(e),
        };
        match moved {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(sqs_message = %delivery.message_id, error = %e, "dead-lettering failed; will retry");
                false
            }
        }
    }
}

/// A record that is not a FIFO delivery.
#[derive(Debug, thiserror::Error)]
#[error("message {message_id}: {what} (is the queue FIFO?)")]
pub struct NotFifo {
    /// The record's message id.
    pub message_id: String,
    /// What it lacks.
    pub what: String,
}

/// A record as the queue port's delivery; a record without the FIFO attributes is refused with
/// the name of what it lacks.
fn delivery_of(record: &SqsRecord) -> Result<Delivery, NotFifo> {
    let not_fifo = |what: String| NotFifo {
        message_id: record.message_id.clone(),
        what,
    };
    let attribute = |name: &str| {
        (record.attributes.get(name).cloned())
            .ok_or_else(|| not_fifo(format!("no {name} attribute")))
    };
    let receive_count = attribute("ApproximateReceiveCount")?;
    Ok(Delivery {
        // A traceparent that does not read as one only loses the link to its trace.
        trace: record
            .message_attributes
            .get(TraceParent::NAME)
            .and_then(|a| a.string_value.as_deref()?.parse().ok()),
        message_id: record.message_id.clone(),
        receipt: record.receipt_handle.clone(),
        group_key: attribute("MessageGroupId")?,
        body: record.body.clone(),
        receive_count: receive_count
            .parse()
            .map_err(|e| not_fifo(format!("ApproximateReceiveCount {receive_count:?}: {e}")))?,
    })
}

/// Handles one SQS batch by the batch policy of [`dd0c_function`] and reports the messages to
/// deliver again: those that failed (and were not dead-lettered on their last allowed delivery)
/// and those held behind a failure in their group. A record that is not a FIFO delivery is
/// reported too, with the error logged.
pub async fn handle_batch(
    event: &SqsEvent,
    function: &dyn Batches,
    sources: &SourceQueues,
    max_receives: u32,
) -> BatchResponse {
    let mut failed = Vec::new();
    let mut deliveries = Vec::with_capacity(event.records.len());
    for record in &event.records {
        match delivery_of(record) {
            Ok(delivery) => deliveries.push(delivery),
            Err(error) => {
                tracing::warn!(sqs_message = %record.message_id, %error, "not a FIFO delivery; it will be delivered again");
                failed.push(record.message_id.clone());
            }
        }
    }
    let settle = FromSqs {
        sources,
        arns: event
            .records
            .iter()
            .map(|r| (r.message_id.as_str(), r.event_source_arn.as_str()))
            .collect(),
    };
    let outcomes = function.run(&deliveries, max_receives, &settle).await;
    for (delivery, outcome) in deliveries.iter().zip(outcomes) {
        if outcome.redeliver() {
            failed.push(delivery.message_id.clone());
        }
    }
    BatchResponse {
        batch_item_failures: failed
            .into_iter()
            .map(|item_identifier| ItemFailure { item_identifier })
            .collect(),
    }
}

/// Runs `function` as a Lambda function on SQS batches until the runtime stops it.
pub async fn run<F: Batches + 'static>(
    settings: &crate::Settings,
    function: F,
) -> Result<(), lambda_runtime::Error> {
    let sources = SourceQueues::new(&settings.aws);
    let (function, sources, max_receives) = (&function, &sources, settings.max_receives);
    // Boxed: the runtime's future nests deeply enough to reach rustc's layout query limit
    // inside a binary's `main`, depending on what else is linked.
    Box::pin(lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<SqsEvent>| async move {
            let response = handle_batch(&event.payload, function, sources, max_receives).await;
            settings.flush_traces().await;
            Ok::<_, lambda_runtime::Error>(response)
        },
    )))
    .await
}
