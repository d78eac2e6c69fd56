//! SQS batches: the event Lambda's event source mapping sends, and the partial batch response
//! (`ReportBatchItemFailures`) the function answers with.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use dd0c_adapters_aws::SqsQueue;
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
    /// The queue's ARN.
    #[serde(rename = "eventSourceARN")]
    pub event_source_arn: String,
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

/// A function on queue messages.
#[async_trait]
pub trait BatchHandler: Send + Sync {
    /// Handles a whole batch in one step (all or nothing); `Err` says why it could not, and the
    /// messages are then handled one by one, which isolates a failure.
    async fn handle_all(&self, deliveries: &[Delivery]) -> Result<(), String>;
    /// Handles one message.
    async fn handle(&self, delivery: &Delivery) -> Result<(), String>;
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

    async fn dead_letter(
        &self,
        record: &SqsRecord,
        delivery: &Delivery,
        error: &str,
    ) -> PortResult<()> {
        self.queue(&record.event_source_arn)
            .await?
            .dead_letter_delivery(delivery, error)
            .await
    }
}

/// A record as the queue port's delivery; a record without the FIFO attributes is refused with
/// the name of what it lacks.
fn delivery_of(record: &SqsRecord) -> Result<Delivery, String> {
    let attribute = |name: &str| {
        record.attributes.get(name).cloned().ok_or_else(|| {
            format!(
                "message {}: no {name} attribute (is the queue FIFO?)",
                record.message_id
            )
        })
    };
    Ok(Delivery {
        message_id: record.message_id.clone(),
        receipt: record.receipt_handle.clone(),
        group_key: attribute("MessageGroupId")?,
        body: record.body.clone(),
        receive_count: attribute("ApproximateReceiveCount")?.parse().map_err(|e| {
            format!(
                "message {}: ApproximateReceiveCount: {e}",
                record.message_id
            )
        })?,
    })
}

/// Handles one SQS batch: whole where the handler can, else in order. At the first message that
/// fails — and is not dead-lettered because this was its last allowed delivery — it stops and
/// reports that message and every one after it: on a FIFO queue a later message of the group
/// must not overtake it, and Lambda delivers the reported ones again, in order.
pub async fn handle_batch(
    event: &SqsEvent,
    handler: &dyn BatchHandler,
    sources: &SourceQueues,
    max_receives: u32,
) -> BatchResponse {
    let deliveries: Vec<Result<Delivery, String>> = event.records.iter().map(delivery_of).collect();
    if deliveries.len() > 1 {
        let whole: Option<Vec<Delivery>> = deliveries
            .iter()
            .map(|d| d.as_ref().ok().cloned())
            .collect();
        if let Some(whole) = whole {
            match handler.handle_all(&whole).await {
                Ok(()) => return BatchResponse::default(),
                Err(error) => {
                    tracing::debug!(%error, "batch not handled whole; one message at a time")
                }
            }
        }
    }
    for (index, (record, delivery)) in event.records.iter().zip(&deliveries).enumerate() {
        let (error, receives) = match delivery {
            Ok(delivery) => match handler.handle(delivery).await {
                Ok(()) => continue,
                Err(error) => (error, delivery.receive_count),
            },
            Err(error) => (error.clone(), u32::MAX),
        };
        if receives >= max_receives {
            if let Ok(delivery) = delivery {
                match sources.dead_letter(record, delivery, &error).await {
                    Ok(()) => {
                        tracing::error!(sqs_message = %record.message_id, receives, %error, "dead-lettered");
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(sqs_message = %record.message_id, error = %e, "dead-lettering failed; will retry")
                    }
                }
            }
        }
        tracing::warn!(sqs_message = %record.message_id, receives, %error, "failed; this message and the rest of the batch will be delivered again");
        return BatchResponse {
            batch_item_failures: event.records[index..]
                .iter()
                .map(|r| ItemFailure {
                    item_identifier: r.message_id.clone(),
                })
                .collect(),
        };
    }
    BatchResponse::default()
}

/// Runs `handler` as a Lambda function on SQS batches until the runtime stops it.
pub async fn run<H: BatchHandler + 'static>(
    settings: &crate::Settings,
    handler: H,
) -> Result<(), lambda_runtime::Error> {
    let sources = SourceQueues::new(&settings.aws);
    let (handler, sources, max_receives) = (&handler, &sources, settings.max_receives);
    // Boxed: the runtime's future nests deeply enough to reach rustc's layout query limit
    // inside a binary's `main`, depending on what else is linked.
    Box::pin(lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<SqsEvent>| async move {
            Ok::<_, lambda_runtime::Error>(
                handle_batch(&event.payload, handler, sources, max_receives).await,
            )
        },
    )))
    .await
}
