//! The queue port: FIFO per message group, at-least-once delivery, visibility timeouts and a
//! dead-letter queue — the semantics of SQS FIFO, which pgmq and the memory queue reproduce.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::keys::TraceParent;
use crate::PortResult;

/// How long a deduplication key suppresses a second send (SQS FIFO's fixed window).
pub const DEDUP_WINDOW: Duration = Duration::from_secs(5 * 60);

/// What separates a group key's owner from the rest: a group `tenant#account` is the
/// tenant's ([`crate::keys::GroupKey`]).
pub const OWNER_SEPARATOR: char = '#';

/// The owner of the messages of group `group_key`: what comes before its first
/// [`OWNER_SEPARATOR`], or the whole key. Owners take turns at receives, so one tenant's
/// backlog does not hold another's messages behind it.
pub fn owner(group_key: &str) -> &str {
    group_key
        .split_once(OWNER_SEPARATOR)
        .map_or(group_key, |(owner, _)| owner)
}

/// A message to enqueue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    /// Messages with the same group key are delivered in send order, one group member in flight
    /// at a time (`tenant#account` in dd0c/cost); the groups of different owners
    /// ([`owner`]) take turns.
    pub group_key: String,
    /// A second send with this key within [`DEDUP_WINDOW`] is accepted but not enqueued.
    pub dedup_key: String,
    /// The payload (JSON text in dd0c/cost).
    pub body: String,
    /// Where in a trace the message was made, when one is being traced: the receiver's work
    /// continues it. Kept beside the body (pgmq headers, SQS message attributes).
    pub trace: Option<TraceParent>,
}

/// What [`Queue::send`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// Enqueued.
    Enqueued,
    /// Dropped as a duplicate of a message sent within the window.
    Duplicate,
    /// Handed to a queue that drops duplicates within the window itself without saying which
    /// (SQS FIFO): enqueued, or dropped as a duplicate.
    Accepted,
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Stable id of the message across deliveries.
    pub message_id: String,
    /// Opaque handle for [`Queue::ack`] and [`Queue::dead_letter`], valid for this delivery only.
    pub receipt: String,
    /// The message group.
    pub group_key: String,
    /// The payload.
    pub body: String,
    /// How many times the message has been delivered, this delivery included (1 on the first).
    pub receive_count: u32,
    /// The trace the message was sent in, if any.
    pub trace: Option<TraceParent>,
}

/// A message moved to the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The original message id.
    pub message_id: String,
    /// The message group.
    pub group_key: String,
    /// The payload, unchanged.
    pub body: String,
    /// The error of the last failed attempt.
    pub error: String,
    /// How many times it was delivered.
    pub receive_count: u32,
    /// When it was dead-lettered.
    pub failed_at: DateTime<Utc>,
}

/// Counts for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Waiting to be received.
    pub visible: u64,
    /// Received and not yet acknowledged.
    pub in_flight: u64,
    /// In the dead-letter queue.
    pub dead: u64,
}

/// One work queue and its dead-letter queue.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Enqueues a message unless its dedup key was sent within [`DEDUP_WINDOW`].
    async fn send(&self, message: OutgoingMessage) -> PortResult<SendOutcome>;

    /// Sends several messages: all are accepted (each enqueued or a duplicate, in order) or, on
    /// error, none is enqueued — or, where the backend has no atomic batch (SQS), those already
    /// enqueued are dropped as duplicates when the caller retries with the same dedup keys.
    async fn send_batch(&self, messages: Vec<OutgoingMessage>) -> PortResult<Vec<SendOutcome>>;

    /// Receives up to `max` visible messages and hides them for `visibility` (adapters may round
    /// it up to whole seconds); a message not acknowledged by then becomes visible again with its
    /// receive count increased. A group's messages come in send order, several per receive when
    /// available, and never while an earlier message of the group is still in flight from an
    /// earlier receive: consumers process each group's messages in the order given and stop at
    /// a group's first failure.
    async fn receive(&self, max: usize, visibility: Duration) -> PortResult<Vec<Delivery>>;

    /// Deletes a received message for good. A stale receipt (the visibility timeout expired and
    /// the message was received again) is `Conflict`.
    async fn ack(&self, receipt: &str) -> PortResult<()>;

    /// Deletes several received messages for good and returns how many it deleted; stale
    /// receipts are skipped (their messages were received again, and that delivery answers for
    /// them). Adapters that can delete in one round trip should.
    async fn ack_all(&self, receipts: &[String]) -> PortResult<usize> {
        let mut acknowledged = 0;
        for receipt in receipts {
            match self.ack(receipt).await {
                Ok(()) => acknowledged += 1,
                Err(crate::PortError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(acknowledged)
    }

    /// Moves a received message to the dead-letter queue with the error that made it fail.
    async fn dead_letter(&self, receipt: &str, error: &str) -> PortResult<()>;

    /// Dead letters, oldest first, at most `limit`.
    async fn dead_letters(&self, limit: usize) -> PortResult<Vec<DeadLetter>>;

    /// Moves a dead letter back onto the queue with a fresh receive count. `NotFound` if no
    /// dead letter has this id.
    async fn redrive(&self, message_id: &str) -> PortResult<()>;

    /// Current counts.
    async fn depth(&self) -> PortResult<QueueDepth>;

    /// Forgets deduplication keys sent more than [`DEDUP_WINDOW`] ago (a retention step) and
    /// returns how many; adapters whose keys expire by themselves answer 0.
    async fn forget_expired_dedup_keys(&self) -> PortResult<u64> {
        Ok(0)
    }
}
