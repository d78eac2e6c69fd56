//! The SQS source: EventBridge "AWS API Call via CloudTrail" events in, their CloudTrail records
//! (the events' `detail`) filtered and spooled; a message is deleted only once its batch is on
//! disk, so a crash in between sends it again (the dispatcher deduplicates), never loses it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use dd0c_adapters_aws::EventQueue;
use tokio_util::sync::CancellationToken;

use crate::spool::Spool;
use crate::{event_time, Filter, Stats};

/// Reads the queue into the spool.
#[allow(missing_debug_implementations)]
pub struct SqsSource {
    /// The queue.
    pub queue: EventQueue,
    /// What is forwarded.
    pub filter: Filter,
    /// Where batches wait.
    pub spool: Arc<Spool>,
    /// Newest event time read.
    pub stats: Arc<Stats>,
    /// Wakes the forwarder.
    pub wake: Arc<tokio::sync::Notify>,
}

impl SqsSource {
    /// Receives, spools and deletes until `shutdown`; pauses while the spool is full.
    pub async fn run(self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let pause = match self.step().await {
                Ok(true) => Duration::ZERO,
                Ok(false) => Duration::from_secs(1),
                Err(e) => {
                    tracing::warn!(source = "sqs", error = %e, "retrying");
                    Duration::from_secs(2)
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One receive: whether it may go on at once (the spool has room).
    async fn step(&self) -> anyhow::Result<bool> {
        if !self.spool.has_room()? {
            return Ok(false);
        }
        let received = self.queue.receive(10, 1).await?;
        let mut records = Vec::new();
        for message in &received {
            match detail(&message.body) {
                Some(record) => {
                    if let Some(t) = event_time(&record) {
                        self.stats
                            .newest_ms
                            .fetch_max(t.timestamp_millis(), Ordering::Relaxed);
                    }
                    if self.filter.keeps(&record) {
                        records.push(record);
                    }
                }
                None => tracing::warn!(
                    source = "sqs",
                    "dropping a message that is not an EventBridge event with a detail"
                ),
            }
        }
        if !records.is_empty() {
            self.spool.push(&records)?;
            self.wake.notify_one();
        }
        let receipts: Vec<String> = received.into_iter().map(|m| m.receipt).collect();
        self.queue.delete(&receipts).await?;
        Ok(true)
    }
}

/// The CloudTrail record of an EventBridge event.
fn detail(body: &str) -> Option<String> {
    let event: serde_json::Value = serde_json::from_str(body).ok()?;
    let detail = event.get("detail")?;
    detail.is_object().then(|| detail.to_string())
}
