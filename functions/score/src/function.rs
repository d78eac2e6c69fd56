//! The score function: cost events from the score queue, scored in one commit per receive where
//! it can, and one wake-up per raised anomaly for a notifier that waits on a queue (Lambda's);
//! the local notifier polls the outbox, which the commit already filled.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dd0c_function::tracing::{field, Span};
use dd0c_function::{step_span, trace, FunctionError, Handled, QueueFunction, Received};
use dd0c_ports::domain::{Anomaly, CostEvent};
use dd0c_ports::keys::DedupKey;
use dd0c_ports::ledger::{
    may_rest, Link, ResourceChange, ResourceKey, ResourceLedger, TenantChanges,
};
use dd0c_ports::queue::{Delivery, OutgoingMessage, Queue};
use dd0c_ports::store::{Consumed, OutboxStore, TenantLinks};
use dd0c_ports::PortError;

use crate::{lifecycle, log_raised, ScoreError, Scored, Scorer, Verdict};

/// The score function on the queue named `queue`.
#[allow(missing_debug_implementations)]
pub struct Score {
    scorer: Scorer,
    queue: String,
    wake: Option<Arc<dyn Queue>>,
    ledger: Option<Arc<dyn ResourceLedger>>,
    follow_ups: Option<Arc<dyn OutboxStore>>,
}

impl Score {
    /// Scores the cost events of the queue named `queue` (the name a store that archives
    /// consumed messages in its commit knows it by).
    pub fn new(scorer: Scorer, queue: &str) -> Self {
        Score {
            scorer,
            queue: queue.to_owned(),
            wake: None,
            ledger: None,
            follow_ups: None,
        }
    }

    /// Follows every event's resources in `ledger`: their creations, starts, resizes, stops
    /// and ends, and the anomaly that named them. An alerted anomaly that resolves itself
    /// leaves its follow-up in `outbox`.
    pub fn following(
        mut self,
        ledger: Arc<dyn ResourceLedger>,
        outbox: Arc<dyn OutboxStore>,
    ) -> Self {
        self.ledger = Some(ledger);
        self.follow_ups = Some(outbox);
        self
    }

    /// Sends a wake-up to `notify_queue` for each anomaly raised.
    pub fn waking(mut self, notify_queue: Arc<dyn Queue>) -> Self {
        self.wake = Some(notify_queue);
        self
    }

    /// Records the events' changes in the ledger, every tenant's at once, before they are
    /// scored: recording is idempotent, so a batch whose commit fails and comes back records
    /// nothing twice, and a committed batch has nothing left to lose. An anomaly whose resources
    /// have now all come to rest (ended, or stopped) resolves itself. Returns the keys of the
    /// touched resources that may have come to rest: only a link to one of them can settle an
    /// anomaly.
    async fn follow(&self, events: &[&CostEvent]) -> Result<HashSet<ResourceKey>, FunctionError> {
        let mut resting_keys = HashSet::new();
        let Some(ledger) = &self.ledger else {
            return Ok(resting_keys);
        };
        let mut by_tenant: Vec<(&str, Vec<ResourceChange>)> = Vec::new();
        for event in events {
            of_tenant(&mut by_tenant, &event.tenant).extend(ResourceChange::of_event(event));
        }
        let batch: Vec<TenantChanges> = by_tenant
            .into_iter()
            .map(|(tenant, changes)| TenantChanges {
                tenant: tenant.to_owned(),
                changes,
            })
            .collect();
        let touched = ledger
            .record_each(&batch)
            .await
            .map_err(FunctionError::port("recording resources in the ledger"))?;
        let now = Utc::now();
        for (TenantChanges { tenant, .. }, touched) in batch.iter().zip(touched) {
            let resting_records: Vec<_> = touched.iter().filter(|r| may_rest(r)).collect();
            resting_keys.extend(resting_records.iter().map(|r| r.key.clone()));
            let mut settling: Vec<&str> = resting_records
                .iter()
                .filter_map(|r| r.anomaly_id.as_deref())
                .collect();
            settling.sort_unstable();
            settling.dedup();
            for anomaly_id in settling {
                self.settle(ledger.as_ref(), tenant, anomaly_id, now)
                    .await
                    .map_err(FunctionError::port(
                        "resolving an anomaly whose resources came to rest",
                    ))?;
            }
        }
        Ok(resting_keys)
    }

    /// Resolves the anomaly if every resource it named has come to rest, logs it, and leaves its
    /// follow-up in the outbox if it was alerted, waking the notifier.
    async fn settle(
        &self,
        ledger: &dyn ResourceLedger,
        tenant: &str,
        anomaly_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let anomalies = self.scorer.anomaly_store();
        let Some(settled) = lifecycle::settle(ledger, anomalies, tenant, anomaly_id, now).await?
        else {
            return Ok(());
        };
        let resolution = &settled.resolution;
        tracing::info!(%tenant, %anomaly_id, actual_cost_usd = resolution.actual_cost_usd, avoided_usd = resolution.avoided_usd, "anomaly resolved: {}", resolution.note);
        if let (Some(outbox), Some(follow_up)) = (&self.follow_ups, settled.follow_up()) {
            outbox.enqueue(&follow_up).await?;
            self.wake([(tenant, follow_up.outbox_id.as_str())]).await;
        }
        Ok(())
    }

    /// Writes the links the scoring commit did not (`late`), then settles each anomaly in
    /// `settling` but those of a tenant whose links failed. A failure is logged, not retried:
    /// the anomaly stands, and only its following is lost.
    async fn linked(&self, late: Vec<TenantLinks>, mut settling: Vec<(String, String)>) {
        let Some(ledger) = &self.ledger else { return };
        for TenantLinks { tenant, links } in late {
            if let Err(error) = ledger.link(&tenant, &links).await {
                tracing::warn!(%error, %tenant, "could not follow the anomalies' resources");
                settling.retain(|(t, _)| *t != tenant);
            }
        }
        for (tenant, anomaly_id) in settling {
            if let Err(error) = self
                .settle(ledger.as_ref(), &tenant, &anomaly_id, Utc::now())
                .await
            {
                tracing::warn!(%error, %anomaly_id, "could not settle the anomaly");
            }
        }
    }

    /// Each tenant's links of its scored events, one per anomaly in the order first named: the
    /// resources its event touched, for a burst those created in its window before it, and
    /// those of later events that joined its window. Adds to `resting` the resources of a burst's
    /// window that have come to rest already.
    async fn links_of(
        &self,
        scored: &[(&CostEvent, &Verdict)],
        resting: &mut HashSet<ResourceKey>,
    ) -> Vec<TenantLinks> {
        let Some(ledger) = &self.ledger else {
            return Vec::new();
        };
        let mut by_tenant: Vec<(&str, Vec<Link>)> = Vec::new();
        for (event, verdict) in scored {
            let anomaly_id = match (&verdict.anomaly, &verdict.joined) {
                (Some(anomaly), _) => anomaly.anomaly_id.as_str(),
                (None, Some(joined)) => joined.as_str(),
                (None, None) => continue,
            };
            let mut keys: Vec<ResourceKey> = ResourceChange::of_event(event)
                .into_iter()
                .map(|c| c.key)
                .collect();
            if let (Some(anomaly), Some(since)) = (&verdict.anomaly, verdict.burst_since) {
                match lifecycle::burst_resources(ledger.as_ref(), anomaly, since).await {
                    Ok(window) => {
                        resting
                            .extend(window.iter().filter(|r| may_rest(r)).map(|r| r.key.clone()));
                        keys.extend(window.into_iter().map(|r| r.key));
                    }
                    Err(error) => {
                        tracing::warn!(%error, %anomaly_id, "could not find the burst's resources")
                    }
                }
            }
            let links = of_tenant(&mut by_tenant, &event.tenant);
            match links.iter_mut().find(|l| l.anomaly_id == anomaly_id) {
                Some(link) => link.keys.extend(keys),
                None => links.push(Link {
                    anomaly_id: anomaly_id.to_owned(),
                    keys,
                }),
            }
        }
        by_tenant
            .into_iter()
            .map(|(tenant, links)| TenantLinks {
                tenant: tenant.to_owned(),
                links,
            })
            .collect()
    }

    /// The delivery as consumed by a scoring commit, where the store archives it there.
    fn consumed(&self, delivery: &Delivery) -> Option<Consumed> {
        self.scorer.archives_consumed().then(|| Consumed {
            queue: self.queue.clone(),
            receipt: delivery.receipt.clone(),
        })
    }

    /// How a committed score leaves its message: removed in the commit where the store can.
    fn committed(&self) -> Handled {
        if self.scorer.archives_consumed() {
            Handled::Removed
        } else {
            Handled::Done
        }
    }

    /// Logs each raised anomaly and wakes the notifier for it. The outbox already holds them
    /// (same commit), so a failed wake-up only delays them to the notifier's next scheduled run.
    async fn raised(&self, raised: &[&Anomaly]) {
        raised.iter().copied().for_each(log_raised);
        self.wake(
            raised
                .iter()
                .map(|a| (a.tenant.as_str(), a.anomaly_id.as_str())),
        )
        .await;
    }

    /// Wakes the notifier for each `(tenant, outbox id)`.
    async fn wake<'a>(&self, messages: impl IntoIterator<Item = (&'a str, &'a str)>) {
        let Some(queue) = &self.wake else { return };
        let wake_ups: Vec<OutgoingMessage> = messages
            .into_iter()
            .map(|(tenant, id)| OutgoingMessage {
                trace: None,
                group_key: tenant.to_owned(),
                dedup_key: DedupKey::new(tenant, id).to_string(),
                body: serde_json::json!({"tenant": tenant, "outbox_id": id}).to_string(),
            })
            .collect();
        if wake_ups.is_empty() {
            return;
        }
        if let Err(error) = queue.send_batch(wake_ups).await {
            tracing::warn!(%error, "could not wake the notifier; its schedule will deliver the outbox");
        }
    }
}

/// A `score` span for each received event, continuing the trace its message was sent in.
fn score_spans(batch: &[Received<'_, CostEvent>]) -> Vec<Span> {
    batch
        .iter()
        .map(|r| {
            let event = &r.message;
            let span = step_span!(
                "score",
                tenant = %event.tenant,
                account_id = %event.account_id,
                event_id = %event.event_id,
                anomaly_id = field::Empty,
                severity = field::Empty,
            );
            trace::continue_from(&span, r.delivery.trace);
            span
        })
        .collect()
}

/// Names on each event's span the anomaly it raised, if any.
fn record_verdicts(spans: &[Span], verdicts: &[Verdict]) {
    for (span, verdict) in spans.iter().zip(verdicts) {
        if let Some(anomaly) = &verdict.anomaly {
            span.record("anomaly_id", anomaly.anomaly_id.as_str());
            span.record("severity", anomaly.severity.as_str());
        }
    }
}

/// The anomalies, each with its tenant, that `links` name a resting resource of (`resting`: those
/// of this receive and of its bursts' windows — a launch and its termination in one receive,
/// or an end that came first): they may settle once linked.
fn settling(links: &[TenantLinks], resting: &HashSet<ResourceKey>) -> Vec<(String, String)> {
    links
        .iter()
        .flat_map(|t| {
            t.links
                .iter()
                .filter(|l| l.keys.iter().any(|k| resting.contains(k)))
                .map(|l| (t.tenant.clone(), l.anomaly_id.clone()))
        })
        .collect()
}

/// The group of `tenant` in `groups` (a receive holds few tenants: a list, in order of first
/// appearance), added empty if it has none yet.
fn of_tenant<'g, 'a, T: Default>(groups: &'g mut Vec<(&'a str, T)>, tenant: &'a str) -> &'g mut T {
    let index = match groups.iter().position(|(t, _)| *t == tenant) {
        Some(index) => index,
        None => {
            groups.push((tenant, T::default()));
            groups.len() - 1
        }
    };
    &mut groups[index].1
}

impl From<ScoreError> for FunctionError {
    fn from(error: ScoreError) -> Self {
        match error {
            ScoreError::Store(source) => FunctionError::Port {
                what: "scoring",
                source,
            },
            other => FunctionError::Contended(other.to_string()),
        }
    }
}

#[async_trait]
impl QueueFunction for Score {
    type Message = CostEvent;

    fn name(&self) -> &'static str {
        "score"
    }

    fn decode(&self, delivery: &Delivery) -> Result<CostEvent, FunctionError> {
        serde_json::from_str(&delivery.body)
            .map_err(|e| FunctionError::malformed(delivery, format!("not a cost event: {e}")))
    }

    async fn handle_all(
        &self,
        batch: &[Received<'_, CostEvent>],
    ) -> Result<Handled, FunctionError> {
        let events: Vec<&CostEvent> = batch.iter().map(|r| &r.message).collect();
        let consumed: Vec<Option<Consumed>> =
            batch.iter().map(|r| self.consumed(r.delivery)).collect();
        let items: Vec<(&CostEvent, Option<&Consumed>)> = batch
            .iter()
            .zip(&consumed)
            .map(|(r, c)| (&r.message, c.as_ref()))
            .collect();
        let spans = score_spans(batch);
        // Recording reads nothing evaluating writes, and the other way round: both at once,
        // each on its own connection.
        let (mut resting, evaluated) = tokio::try_join!(self.follow(&events), async {
            Ok::<_, FunctionError>(self.scorer.evaluate_batch(&items).await?)
        })?;
        let evaluated = evaluated.traced(spans.iter().map(trace::parent_of));
        record_verdicts(&spans, evaluated.verdicts());
        let scored: Vec<(&CostEvent, &Verdict)> =
            events.iter().copied().zip(evaluated.verdicts()).collect();
        let links = self.links_of(&scored, &mut resting).await;
        let settling = settling(&links, &resting);
        let (evaluated, late) = if self.scorer.links_in_commit() {
            (evaluated.linking(links), Vec::new())
        } else {
            (evaluated, links)
        };
        let verdicts = self.scorer.commit_batch(evaluated).await?.ok_or_else(|| {
            FunctionError::NotWhole("the batch overlaps earlier or concurrent work".into())
        })?;
        self.linked(late, settling).await;
        let raised: Vec<&Anomaly> = verdicts.iter().filter_map(|v| v.anomaly.as_ref()).collect();
        self.raised(&raised).await;
        Ok(self.committed())
    }

    async fn handle(&self, received: &Received<'_, CostEvent>) -> Result<Handled, FunctionError> {
        let mut resting = self.follow(&[&received.message]).await?;
        let consumed = self.consumed(received.delivery);
        let spans = score_spans(std::slice::from_ref(received));
        match self
            .scorer
            .score_message(
                &received.message,
                consumed.as_ref(),
                spans.first().and_then(trace::parent_of),
            )
            .await?
        {
            Scored::New(verdict) => {
                record_verdicts(&spans, std::slice::from_ref(&verdict));
                let links = self
                    .links_of(&[(&received.message, &verdict)], &mut resting)
                    .await;
                let settling = settling(&links, &resting);
                self.linked(links, settling).await;
                let raised: Vec<&Anomaly> = verdict.anomaly.iter().collect();
                self.raised(&raised).await;
                Ok(self.committed())
            }
            Scored::Duplicate => Ok(Handled::Done),
        }
    }
}
