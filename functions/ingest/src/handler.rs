//! The ingest function: one queued CloudTrail record in, its cost events out to the score queue.
//! The same function serves the local dispatcher (pgmq) and Lambda (SQS).

use dd0c_ports::domain::CostEvent;
use dd0c_ports::queue::{OutgoingMessage, Queue};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::normalizers::Normalizers;
use crate::{Item, SkipReason};

/// A record admitted by the ingress, queued for the ingest function.
#[derive(Debug, Serialize, Deserialize)]
pub struct IngestMessage {
    /// The tenant the record belongs to (from the ingest token that admitted it).
    pub tenant: String,
    /// The CloudTrail record, verbatim.
    pub record: Box<RawValue>,
}

/// The group of an account's messages: every queue keeps one account's events in order.
pub fn group_key(tenant: &str, account_id: &str) -> String {
    format!("{tenant}#{account_id}")
}

/// The score-queue message of a cost event: grouped by account, deduplicated by event id.
pub fn score_message(event: &CostEvent) -> Result<OutgoingMessage, serde_json::Error> {
    Ok(OutgoingMessage {
        group_key: group_key(&event.tenant, &event.account_id),
        dedup_key: format!("{}#{}", event.tenant, event.event_id),
        body: serde_json::to_string(event)?,
    })
}

/// What ingesting one message did.
#[derive(Debug, Clone, PartialEq)]
pub enum Ingested {
    /// Cost events sent on to scoring.
    Priced(Vec<CostEvent>),
    /// A valid record that costs nothing.
    Skipped(SkipReason),
}

/// Normalizes one queued record with its tenant's normalizer and sends its cost events to the
/// score queue in one atomic batch. Errors (a malformed message, an invalid record, a queue
/// failure) leave the message for redelivery and, in the end, the dead letters.
pub async fn ingest_message(
    normalizers: &Normalizers,
    score_queue: &dyn Queue,
    body: &str,
) -> Result<Ingested, String> {
    let mut ingested = ingest_messages(normalizers, score_queue, &[body]).await?;
    ingested
        .pop()
        .ok_or_else(|| "ingesting produced no outcome".to_owned())
}

/// [`ingest_message`] for several queued records, all or nothing: every record normalizes and
/// all their cost events go to the score queue in one atomic batch, or nothing is sent and the
/// error names the first record that failed (by its position in `bodies`). Each tenant's records
/// are priced in one call of its normalizer, in their order.
pub async fn ingest_messages(
    normalizers: &Normalizers,
    score_queue: &dyn Queue,
    bodies: &[&str],
) -> Result<Vec<Ingested>, String> {
    let at = |index: usize, e: String| {
        if bodies.len() == 1 {
            e
        } else {
            format!("message {index}: {e}")
        }
    };
    let messages = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            serde_json::from_str::<IngestMessage>(body)
                .map_err(|e| at(i, format!("not an ingest message: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let items = price_by_tenant(normalizers, &messages).await?;
    let mut ingested = Vec::with_capacity(items.len());
    let mut outgoing = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let item = match item {
            Item::Cost(events) => Ingested::Priced(events),
            Item::Skipped(reason) => Ingested::Skipped(reason),
            Item::Rejected(rejection) => {
                return Err(at(
                    index,
                    format!(
                        "invalid record: field {}: {}",
                        rejection.field, rejection.reason
                    ),
                ))
            }
        };
        if let Ingested::Priced(events) = &item {
            for event in events {
                outgoing.push(score_message(event).map_err(|e| e.to_string())?);
            }
        }
        ingested.push(item);
    }
    score_queue
        .send_batch(outgoing)
        .await
        .map_err(|e| format!("sending to the score queue: {e}"))?;
    Ok(ingested)
}

/// Each message's record priced by its tenant's normalizer, one call per tenant, in the
/// messages' order.
async fn price_by_tenant(
    normalizers: &Normalizers,
    messages: &[IngestMessage],
) -> Result<Vec<Item>, String> {
    let mut tenants: Vec<(&str, Vec<usize>)> = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        match tenants.iter_mut().find(|(t, _)| *t == message.tenant) {
            Some((_, indices)) => indices.push(index),
            None => tenants.push((&message.tenant, vec![index])),
        }
    }
    let mut items: Vec<Option<Item>> = (0..messages.len()).map(|_| None).collect();
    for (tenant, indices) in tenants {
        let texts = indices
            .iter()
            .map(|&i| messages[i].record.get().to_owned())
            .collect();
        let priced = normalizers
            .normalize_records(tenant, texts)
            .await
            .map_err(|e| format!("pricing with what the tenant's records taught: {e}"))?;
        for (index, item) in indices.into_iter().zip(priced) {
            items[index] = Some(item);
        }
    }
    items
        .into_iter()
        .map(|item| item.ok_or_else(|| "a message was not priced".to_owned()))
        .collect()
}
