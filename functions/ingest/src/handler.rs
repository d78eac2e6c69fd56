//! The ingest function: queued CloudTrail records in, their cost events out to the score queue,
//! with the raw messages archived first where an archive is configured. The same function runs
//! in the local dispatcher (records the HTTP edge admitted, or the demo sample) and on Lambda
//! (EventBridge envelopes); [`Source`] says which a queue carries.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use dd0c_function::{step_span, trace, FunctionError, Handled, QueueFunction, Received};
use dd0c_ports::archive::Archive;
use dd0c_ports::domain::CostEvent;
use dd0c_ports::keys::{DedupKey, GroupKey};
use dd0c_ports::queue::{Delivery, OutgoingMessage, Queue, SendOutcome};
use dd0c_ports::store::TenantStore;
use dd0c_ports::PortError;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tracing::Instrument;

use crate::normalizers::Normalizers;
use crate::{Item, SkipReason};

/// A record queued for the ingest function with the tenant it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestMessage {
    /// The tenant the record belongs to (from the ingest token that admitted it).
    pub tenant: String,
    /// The CloudTrail record, verbatim.
    pub record: Box<RawValue>,
}

impl IngestMessage {
    /// The ingest-queue message of `record` for `tenant`: grouped by account, deduplicated by
    /// the record's event id.
    pub fn outgoing(
        tenant: &str,
        account_id: &str,
        event_id: &str,
        record: &str,
    ) -> Result<OutgoingMessage, serde_json::Error> {
        let message = IngestMessage {
            tenant: tenant.to_owned(),
            record: RawValue::from_string(record.to_owned())?,
        };
        Ok(OutgoingMessage {
            trace: None,
            group_key: GroupKey::new(tenant, account_id).to_string(),
            dedup_key: DedupKey::new(tenant, event_id).to_string(),
            body: serde_json::to_string(&message)?,
        })
    }
}

/// The score-queue message of a cost event: grouped by account, deduplicated by event id.
pub fn score_message(event: &CostEvent) -> Result<OutgoingMessage, serde_json::Error> {
    Ok(OutgoingMessage {
        trace: None,
        group_key: GroupKey::new(&event.tenant, &event.account_id).to_string(),
        dedup_key: DedupKey::new(&event.tenant, &event.event_id).to_string(),
        body: serde_json::to_string(event)?,
    })
}

/// Sends cost events to the score queue in a `queue` span, each carrying that span as its trace
/// parent, so the scorer's work on it continues the trace it was admitted in.
pub async fn send_for_scoring(
    score_queue: &dyn Queue,
    mut messages: Vec<OutgoingMessage>,
) -> Result<Vec<SendOutcome>, PortError> {
    let span = step_span!("queue", messages = messages.len() as u64);
    let parent = trace::parent_of(&span);
    for message in &mut messages {
        message.trace = parent;
    }
    score_queue.send_batch(messages).instrument(span).await
}

/// What ingesting one message did.
#[derive(Debug, Clone, PartialEq)]
pub enum Ingested {
    /// Cost events sent on to scoring.
    Priced(Vec<CostEvent>),
    /// A valid record that costs nothing.
    Skipped(SkipReason),
}

/// What an ingest queue carries.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub enum Source {
    /// [`IngestMessage`]s: records an edge admitted with their tenant, grouped by
    /// [`GroupKey`].
    Admitted,
    /// EventBridge events (`{"account", "detail": <CloudTrail record>, …}`) from the shared
    /// event bus every customer's rule forwards to: the tenant is the one watching the event's
    /// account ([`TenantStore::owner`]), so connecting an account needs no change to the bus.
    EventBridge(Arc<dyn TenantStore>),
}

/// The part of an EventBridge event ingest reads.
#[derive(Debug, Deserialize)]
struct Envelope<'a> {
    account: String,
    #[serde(borrow)]
    detail: &'a RawValue,
}

/// An ingest-queue message, decoded.
#[derive(Debug)]
pub enum Inbound {
    /// A record an edge admitted for a tenant; the delivery's group names its account.
    Admitted(IngestMessage),
    /// A CloudTrail record from the shared event bus, and the account that sent it.
    Event {
        /// The AWS account EventBridge says the event came from.
        account_id: String,
        /// The CloudTrail record, verbatim.
        record: Box<RawValue>,
    },
}

/// A record with the tenant and account it belongs to: an admitted message as received, an
/// event's record with the tenant found for it.
#[derive(Debug)]
struct Routed<'a> {
    account_id: String,
    message: Cow<'a, IngestMessage>,
}

/// The ingest function.
#[allow(missing_debug_implementations)]
pub struct Ingest {
    normalizers: Arc<Normalizers>,
    score_queue: Arc<dyn Queue>,
    source: Source,
    archive: Option<Arc<dyn Archive>>,
}

impl Ingest {
    /// Reads `source` messages and sends cost events to `score_queue`.
    pub fn new(normalizers: Arc<Normalizers>, score_queue: Arc<dyn Queue>, source: Source) -> Self {
        Ingest {
            normalizers,
            score_queue,
            source,
            archive: None,
        }
    }

    /// Keeps each batch's messages as received in `archive` before ingesting them.
    pub fn archiving(mut self, archive: Arc<dyn Archive>) -> Self {
        self.archive = Some(archive);
        self
    }

    /// Each message with its tenant and account. An event of an account no tenant watches (a
    /// customer who removed the account but kept its rule) is dropped with a warning: no
    /// redelivery would give it a tenant.
    async fn route<'a>(
        &self,
        batch: &'a [Received<'_, Inbound>],
    ) -> Result<Vec<Routed<'a>>, FunctionError> {
        let mut owners: BTreeMap<&str, Option<String>> = BTreeMap::new();
        let mut routed = Vec::with_capacity(batch.len());
        for received in batch {
            let (account_id, message) = match &received.message {
                Inbound::Admitted(message) => {
                    let group: GroupKey = received
                        .delivery
                        .group_key
                        .parse()
                        .map_err(|e| FunctionError::malformed(received.delivery, e))?;
                    (group.account_id, Cow::Borrowed(message))
                }
                Inbound::Event { account_id, record } => {
                    let Some(tenant) = self.owner(&mut owners, account_id).await? else {
                        tracing::warn!(
                            account_id,
                            message_id = received.delivery.message_id,
                            "dropping an event of an account no tenant watches"
                        );
                        continue;
                    };
                    let message = IngestMessage {
                        tenant,
                        record: record.clone(),
                    };
                    (account_id.clone(), Cow::Owned(message))
                }
            };
            routed.push(Routed {
                account_id,
                message,
            });
        }
        Ok(routed)
    }

    /// The tenant watching `account_id`, looked up once a batch.
    async fn owner<'a>(
        &self,
        known: &mut BTreeMap<&'a str, Option<String>>,
        account_id: &'a str,
    ) -> Result<Option<String>, FunctionError> {
        if let Some(owner) = known.get(account_id) {
            return Ok(owner.clone());
        }
        let Source::EventBridge(tenants) = &self.source else {
            return Ok(None);
        };
        let owner = tenants
            .owner(account_id)
            .await
            .map_err(FunctionError::port("finding the account's tenant"))?;
        known.insert(account_id, owner.clone());
        Ok(owner)
    }
}

#[async_trait]
impl QueueFunction for Ingest {
    type Message = Inbound;

    fn name(&self) -> &'static str {
        "ingest"
    }

    fn decode(&self, delivery: &Delivery) -> Result<Inbound, FunctionError> {
        match self.source {
            Source::Admitted => serde_json::from_str(&delivery.body)
                .map(Inbound::Admitted)
                .map_err(|e| {
                    FunctionError::malformed(delivery, format!("not an ingest message: {e}"))
                }),
            Source::EventBridge(_) => from_envelope(delivery),
        }
    }

    async fn handle_all(&self, batch: &[Received<'_, Inbound>]) -> Result<Handled, FunctionError> {
        let span = step_span!("ingest", records = batch.len() as u64, source = "queue");
        async {
            let routed = self.route(batch).await?;
            if let Some(archive) = &self.archive {
                archive_raw(archive.as_ref(), &routed).await?;
            }
            let messages: Vec<&IngestMessage> = routed.iter().map(|r| r.message.as_ref()).collect();
            ingest_messages(&self.normalizers, self.score_queue.as_ref(), &messages).await?;
            Ok(Handled::Done)
        }
        .instrument(span)
        .await
    }

    async fn handle(&self, message: &Received<'_, Inbound>) -> Result<Handled, FunctionError> {
        self.handle_all(std::slice::from_ref(message)).await
    }
}

/// Keeps the batch's records as received, one archive object per tenant and account
/// ([`crate::archive`]).
async fn archive_raw(archive: &dyn Archive, routed: &[Routed<'_>]) -> Result<(), FunctionError> {
    let now = Utc::now();
    let mut by_account: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    for r in routed {
        by_account
            .entry((&r.message.tenant, &r.account_id))
            .or_default()
            .push(r.message.record.get().to_owned());
    }
    for ((tenant, account_id), records) in by_account {
        crate::archive::put_raw(archive, tenant, account_id, now, &records)
            .await
            .map_err(FunctionError::port("archiving the raw events"))?;
    }
    Ok(())
}

/// The record of an EventBridge event and the account it came from.
fn from_envelope(delivery: &Delivery) -> Result<Inbound, FunctionError> {
    let envelope: Envelope = serde_json::from_str(&delivery.body).map_err(|e| {
        FunctionError::malformed(
            delivery,
            format!("not an EventBridge event with a detail: {e}"),
        )
    })?;
    Ok(Inbound::Event {
        account_id: envelope.account,
        record: envelope.detail.to_owned(),
    })
}

/// Why queued records could not be ingested.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A record is invalid (named by its position among the messages when there are several).
    #[error("{at}invalid record: field {field}: {reason}")]
    Invalid {
        /// `message N: ` or nothing.
        at: String,
        /// The field at fault.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A cost event could not be encoded for the score queue.
    #[error("encoding a cost event: {0}")]
    Encode(#[from] serde_json::Error),
    /// The normalizer answered for fewer records than it was given.
    #[error("message {0} was not priced")]
    Unpriced(usize),
    /// The recall store or the score queue failed.
    #[error("{what}: {source}")]
    Port {
        /// What was being done.
        what: &'static str,
        /// The port's error.
        source: dd0c_ports::PortError,
    },
}

impl From<IngestError> for FunctionError {
    fn from(error: IngestError) -> Self {
        match error {
            IngestError::Port { what, source } => FunctionError::Port { what, source },
            other => FunctionError::Invalid(other.to_string()),
        }
    }
}

/// Ingests queued records, all or nothing: every record normalizes and all their cost events go
/// to the score queue in one atomic batch, or nothing is sent and the error names the first
/// record that failed (by its position in `messages`). Each tenant's records are priced in one
/// call of its normalizer, in their order.
pub async fn ingest_messages(
    normalizers: &Normalizers,
    score_queue: &dyn Queue,
    messages: &[&IngestMessage],
) -> Result<Vec<Ingested>, IngestError> {
    let items = price_by_tenant(normalizers, messages).await?;
    let mut ingested = Vec::with_capacity(items.len());
    let mut outgoing = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let item = match item {
            Item::Cost(events) => Ingested::Priced(events),
            Item::Skipped(reason) => Ingested::Skipped(reason),
            Item::Rejected(rejection) => {
                return Err(IngestError::Invalid {
                    at: if messages.len() == 1 {
                        String::new()
                    } else {
                        format!("message {index}: ")
                    },
                    field: rejection.field.to_string(),
                    reason: rejection.reason.to_string(),
                })
            }
        };
        if let Ingested::Priced(events) = &item {
            for event in events {
                outgoing.push(score_message(event)?);
            }
        }
        ingested.push(item);
    }
    send_for_scoring(score_queue, outgoing)
        .await
        .map_err(|source| IngestError::Port {
            what: "sending to the score queue",
            source,
        })?;
    Ok(ingested)
}

/// Each message's record priced by its tenant's normalizer, one call per tenant, in the
/// messages' order.
async fn price_by_tenant(
    normalizers: &Normalizers,
    messages: &[&IngestMessage],
) -> Result<Vec<Item>, IngestError> {
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
            .map_err(|source| IngestError::Port {
                what: "pricing with what the tenant's records taught",
                source,
            })?;
        for (index, item) in indices.into_iter().zip(priced) {
            items[index] = Some(item);
        }
    }
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| item.ok_or(IngestError::Unpriced(index)))
        .collect()
}
