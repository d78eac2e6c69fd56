use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use dd0c_ports::keys::TraceParent;
use dd0c_ports::queue::{
    DeadLetter, Delivery, OutgoingMessage, Queue, QueueDepth, SendOutcome, DEDUP_WINDOW,
};
use dd0c_ports::{PortError, PortResult};

use crate::lock;

#[derive(Debug)]
struct Stored {
    id: String,
    group_key: String,
    body: String,
    trace: Option<TraceParent>,
    receive_count: u32,
    /// `Some` while a delivery is outstanding: its receipt and when it becomes visible again.
    in_flight: Option<(String, Instant)>,
}

#[derive(Debug, Default)]
struct Inner {
    next_seq: u64,
    /// Messages in send order.
    messages: BTreeMap<u64, Stored>,
    sent_dedup_keys: HashMap<String, Instant>,
    dead: Vec<DeadLetter>,
}

impl Inner {
    fn enqueue(&mut self, id: String, group_key: String, body: String, trace: Option<TraceParent>) {
        self.next_seq += 1;
        let stored = Stored {
            id,
            group_key,
            body,
            trace,
            receive_count: 0,
            in_flight: None,
        };
        self.messages.insert(self.next_seq, stored);
    }

    fn send(&mut self, message: OutgoingMessage) -> SendOutcome {
        let now = Instant::now();
        self.sent_dedup_keys
            .retain(|_, sent| now.duration_since(*sent) < DEDUP_WINDOW);
        if self.sent_dedup_keys.contains_key(&message.dedup_key) {
            return SendOutcome::Duplicate;
        }
        self.sent_dedup_keys.insert(message.dedup_key.clone(), now);
        let id = format!("m{}", self.next_seq + 1);
        self.enqueue(id, message.group_key, message.body, message.trace);
        SendOutcome::Enqueued
    }

    fn find_receipt(&self, receipt: &str) -> PortResult<u64> {
        let now = Instant::now();
        self.messages
            .iter()
            .find(|(_, m)| matches!(&m.in_flight, Some((r, until)) if r == receipt && *until > now))
            .map(|(seq, _)| *seq)
            .ok_or_else(|| PortError::Conflict(format!("receipt {receipt} is stale or unknown")))
    }
}

/// A FIFO-by-group queue in memory, with SQS FIFO's visibility, dedup and dead-letter semantics.
#[derive(Debug, Default)]
pub struct MemoryQueue {
    inner: Mutex<Inner>,
}

impl MemoryQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Queue for MemoryQueue {
    async fn send(&self, message: OutgoingMessage) -> PortResult<SendOutcome> {
        Ok(lock(&self.inner).send(message))
    }

    async fn send_batch(&self, messages: Vec<OutgoingMessage>) -> PortResult<Vec<SendOutcome>> {
        let mut inner = lock(&self.inner);
        Ok(messages.into_iter().map(|m| inner.send(m)).collect())
    }

    async fn receive(&self, max: usize, visibility: Duration) -> PortResult<Vec<Delivery>> {
        let mut inner = lock(&self.inner);
        let now = Instant::now();
        // A group whose earliest pending message is in flight is blocked behind it.
        let mut blocked = HashSet::new();
        let mut out = Vec::new();
        for message in inner.messages.values_mut() {
            if out.len() >= max {
                break;
            }
            if blocked.contains(&message.group_key) {
                continue;
            }
            if matches!(message.in_flight, Some((_, until)) if until > now) {
                blocked.insert(message.group_key.clone());
                continue;
            }
            message.receive_count += 1;
            let receipt = format!("{}:{}", message.id, message.receive_count);
            message.in_flight = Some((receipt.clone(), now + visibility));
            out.push(Delivery {
                trace: message.trace,
                message_id: message.id.clone(),
                receipt,
                group_key: message.group_key.clone(),
                body: message.body.clone(),
                receive_count: message.receive_count,
            });
        }
        Ok(out)
    }

    async fn ack(&self, receipt: &str) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        let seq = inner.find_receipt(receipt)?;
        inner.messages.remove(&seq);
        Ok(())
    }

    async fn dead_letter(&self, receipt: &str, error: &str) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        let seq = inner.find_receipt(receipt)?;
        if let Some(message) = inner.messages.remove(&seq) {
            inner.dead.push(DeadLetter {
                message_id: message.id,
                group_key: message.group_key,
                body: message.body,
                error: error.to_owned(),
                receive_count: message.receive_count,
                failed_at: Utc::now(),
            });
        }
        Ok(())
    }

    async fn dead_letters(&self, limit: usize) -> PortResult<Vec<DeadLetter>> {
        Ok(lock(&self.inner).dead.iter().take(limit).cloned().collect())
    }

    async fn redrive(&self, message_id: &str) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        let position = inner
            .dead
            .iter()
            .position(|d| d.message_id == message_id)
            .ok_or_else(|| PortError::NotFound(format!("dead letter {message_id}")))?;
        let dead = inner.dead.remove(position);
        inner.enqueue(dead.message_id, dead.group_key, dead.body, None);
        Ok(())
    }

    async fn depth(&self) -> PortResult<QueueDepth> {
        let inner = lock(&self.inner);
        let now = Instant::now();
        let in_flight = inner
            .messages
            .values()
            .filter(|m| matches!(m.in_flight, Some((_, until)) if until > now))
            .count() as u64;
        Ok(QueueDepth {
            visible: inner.messages.len() as u64 - in_flight,
            in_flight,
            dead: inner.dead.len() as u64,
        })
    }
}
