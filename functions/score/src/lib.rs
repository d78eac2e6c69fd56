//! # dd0c-score
//!
//! The anomaly scorer: scores each priced cost event as it arrives against per-account
//! baselines, explains every decision, and learns from people's feedback.
//!
//! Map:
//! - [`evaluate`] — the pure policy: signals (Z-score, novelty, burst, cold start), dollar
//!   thresholds, severity, score, and the baselines after the event. Its module doc is the
//!   policy's documentation.
//! - [`Scorer`] — runs `evaluate` through the store ports exactly once per event: the
//!   processed-event record, both baselines, the anomaly and its outbox message commit together,
//!   and a version conflict (another scorer got there first) re-reads and retries.
//! - [`function`] — the score function of both runtimes: a receive scored in one commit where it
//!   can, a wake-up for a queue-driven notifier per anomaly raised.
//! - [`feedback`] — acknowledge, snooze, mark expected (teaches the baseline), resolve.
//! - [`lifecycle`] — an anomaly whose resources have all ended resolves itself.
//! - `explain` — the reason phrases and the sentence on every anomaly.

pub mod evaluate;
pub mod feedback;
pub mod function;
pub mod lifecycle;

mod explain;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use dd0c_ports::baseline::{Baseline, BaselineKey};
use dd0c_ports::domain::{
    printable, Anomaly, AnomalyStatus, CostEvent, OutboxMessage, Settings, Snooze,
};
use dd0c_ports::keys::TraceParent;
use dd0c_ports::store::{
    AnomalyStore, BaselineWrite, CommitOutcome, Consumed, ScoreBatch, ScoreStore, ScoredEvent,
    SettingsStore, TenantLinks,
};
use dd0c_ports::PortError;

pub use evaluate::{anomaly_id, evaluate, Evaluation};

/// How many times a scorer re-reads and recomputes after losing a version race before giving
/// up (the message is then retried by its queue).
pub const MAX_ATTEMPTS: u32 = 16;

/// Waits before retry `attempt` (1-based) of `key`'s work: exponential up to 64 ms, with a
/// jitter derived from the key so that racing writers spread out instead of colliding again.
async fn back_off(key: &str, attempt: u32) {
    let ceiling_us = 250u64 << attempt.min(8);
    let jitter = key.bytes().fold(
        u64::from(attempt).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3),
    );
    tokio::time::sleep(std::time::Duration::from_micros(jitter % ceiling_us)).await;
}

/// Why an event could not be scored.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// A store call failed.
    #[error("store: {0}")]
    Store(#[from] PortError),
    /// Other scorers kept winning the baseline race.
    #[error("baseline {0:?} kept changing under {MAX_ATTEMPTS} attempts")]
    Contended(BaselineKey),
}

/// What scoring one event came to: the anomaly it raised, and which anomaly its resources
/// follow when that is not only its own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    /// The anomaly it raised, if any.
    pub anomaly: Option<Anomaly>,
    /// For a burst it raised: when the burst's window opened. The actor's resources of the
    /// kind created since follow the anomaly too.
    pub burst_since: Option<DateTime<Utc>>,
    /// The burst anomaly whose window the event joined without raising another: its
    /// resources follow that anomaly.
    pub joined: Option<String>,
}

/// What scoring one event did.
#[derive(Debug, Clone, PartialEq)]
pub enum Scored {
    /// Committed; what it came to.
    New(Verdict),
    /// The event had been scored before: nothing changed.
    Duplicate,
}

/// Logs a raised anomaly with its explanation — the line an operator reads first, the same in
/// every runtime.
pub fn log_raised(anomaly: &Anomaly) {
    tracing::info!(
        severity = %anomaly.severity,
        anomaly = %printable(&anomaly.anomaly_id),
        tenant = %anomaly.tenant,
        "{}",
        printable(&anomaly.explanation)
    );
}

/// How long a scorer uses a tenant's settings before reading them again: settings changes take
/// effect within this time.
pub const SETTINGS_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// The snoozes of each tenant in a batch, read once per tenant: those in force at its
/// earliest event, of which each anomaly checks those still in force at its own.
#[derive(Default)]
struct Snoozes(HashMap<String, Vec<Snooze>>);

impl Snoozes {
    /// Whether a snooze in force at the anomaly's event time silences it.
    async fn silence(
        &mut self,
        store: &dyn AnomalyStore,
        events: &[(&CostEvent, Option<&Consumed>)],
        anomaly: &Anomaly,
    ) -> Result<bool, PortError> {
        let tenant = anomaly.tenant.as_str();
        if !self.0.contains_key(tenant) {
            let earliest = events
                .iter()
                .filter(|(e, _)| e.tenant == tenant)
                .map(|(e, _)| e.event_time)
                .min()
                .unwrap_or(anomaly.event_time);
            let found = store.active_snoozes(tenant, earliest).await?;
            self.0.insert(tenant.to_owned(), found);
        }
        Ok(self.0.get(tenant).is_some_and(|snoozes| {
            snoozes
                .iter()
                .any(|s| s.until > anomaly.event_time && s.scope.matches(anomaly))
        }))
    }
}

/// The stores a scorer needs.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Scorer {
    store: Arc<dyn ScoreStore>,
    anomalies: Arc<dyn AnomalyStore>,
    settings: Arc<dyn SettingsStore>,
    settings_cache: Arc<Mutex<HashMap<String, (Instant, Arc<Settings>)>>>,
}

/// The kind and account baselines in one read; empty ones where none was stored yet.
async fn read_pair(
    store: &dyn ScoreStore,
    kind: &BaselineKey,
    account: &BaselineKey,
) -> Result<(Baseline, Baseline), PortError> {
    let mut found = store
        .baselines_by_key(&[kind.clone(), account.clone()])
        .await?
        .into_iter();
    let kind = found
        .next()
        .flatten()
        .unwrap_or_else(|| Baseline::empty(kind.clone()));
    let account = found
        .next()
        .flatten()
        .unwrap_or_else(|| Baseline::empty(account.clone()));
    Ok((kind, account))
}

impl Scorer {
    /// A scorer over these stores.
    pub fn new(
        store: Arc<dyn ScoreStore>,
        anomalies: Arc<dyn AnomalyStore>,
        settings: Arc<dyn SettingsStore>,
    ) -> Self {
        Scorer {
            store,
            anomalies,
            settings,
            settings_cache: Arc::default(),
        }
    }

    /// The anomaly store it scores into.
    pub(crate) fn anomaly_store(&self) -> &dyn AnomalyStore {
        self.anomalies.as_ref()
    }

    /// The tenant's settings, read at most once per [`SETTINGS_TTL`].
    async fn settings_of(&self, tenant: &str) -> Result<Arc<Settings>, PortError> {
        let cached = {
            let cache = self
                .settings_cache
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            cache
                .get(tenant)
                .filter(|(at, _)| at.elapsed() < SETTINGS_TTL)
                .map(|(_, s)| s.clone())
        };
        if let Some(settings) = cached {
            return Ok(settings);
        }
        let settings = Arc::new(self.settings.settings(tenant).await?);
        let mut cache = self
            .settings_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        cache.insert(tenant.to_owned(), (Instant::now(), settings.clone()));
        Ok(settings)
    }

    /// Whether a committed score also consumed its queue message (see
    /// [`ScoreStore::archives_consumed`]).
    pub fn archives_consumed(&self) -> bool {
        self.store.archives_consumed()
    }

    /// Scores one cost event exactly once: a second call with the same event changes nothing
    /// and returns [`Scored::Duplicate`].
    pub async fn score(&self, event: &CostEvent) -> Result<Scored, ScoreError> {
        self.score_message(event, None, None).await
    }

    /// Scores a cost event that arrived as the queue message `consumed`, which the store
    /// archives in the same commit where it can; an alert it raises carries `trace`, the span
    /// it was scored in.
    pub async fn score_message(
        &self,
        event: &CostEvent,
        consumed: Option<&Consumed>,
        trace: Option<TraceParent>,
    ) -> Result<Scored, ScoreError> {
        // No is_processed pre-check: the commit detects a duplicate atomically, and duplicates
        // are rare enough that computing one evaluation in vain is cheaper than a round trip
        // on every event.
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                back_off(&event.event_id, attempt).await;
            }
            let evaluated = self.evaluate_batch(&[(event, consumed)]).await?;
            let (outcome, mut verdicts) = self.commit(evaluated.traced([trace])).await?;
            match outcome {
                CommitOutcome::Committed => {
                    return Ok(Scored::New(verdicts.pop().unwrap_or_default()))
                }
                CommitOutcome::AlreadyProcessed => return Ok(Scored::Duplicate),
                CommitOutcome::VersionConflict => continue,
            }
        }
        Err(ScoreError::Contended(BaselineKey::new(
            &event.tenant,
            &event.account_id,
            &event.resource_kind,
        )))
    }

    /// Scores several events in order — a consumer's whole receive — in one commit, exactly as
    /// scoring them one by one would. `Ok(None)` when the batch cannot commit as a whole (an
    /// event was scored before, or a baseline changed under it): nothing was written, and the
    /// caller scores the events one at a time, which settles duplicates and races.
    pub async fn score_batch(
        &self,
        events: &[(&CostEvent, Option<&Consumed>)],
    ) -> Result<Option<Vec<Verdict>>, ScoreError> {
        let evaluated = self.evaluate_batch(events).await?;
        self.commit_batch(evaluated).await
    }

    /// Commits what [`Scorer::evaluate_batch`] found, with any links it carries (see
    /// [`Scorer::links_in_commit`]): `Ok(None)` as [`Scorer::score_batch`].
    pub async fn commit_batch(
        &self,
        evaluated: Evaluated,
    ) -> Result<Option<Vec<Verdict>>, ScoreError> {
        let (outcome, verdicts) = self.commit(evaluated).await?;
        Ok((outcome == CommitOutcome::Committed).then_some(verdicts))
    }

    /// Commits `evaluated`: what the store did, and the verdicts.
    async fn commit(
        &self,
        evaluated: Evaluated,
    ) -> Result<(CommitOutcome, Vec<Verdict>), ScoreError> {
        let outcome = self.store.commit_batch(evaluated.batch).await?;
        Ok((outcome, evaluated.verdicts))
    }

    /// Whether links given to [`Evaluated::linking`] are written in the scoring commit (see
    /// [`ScoreStore::links_in_commit`]); they are ignored otherwise, and the caller links.
    pub fn links_in_commit(&self) -> bool {
        self.store.links_in_commit()
    }

    /// The first half of [`Scorer::score_batch`], which writes nothing: reads every baseline
    /// `events` touch in one round trip and evaluates the events in order (each against the
    /// baselines as the ones before it left them).
    pub async fn evaluate_batch(
        &self,
        events: &[(&CostEvent, Option<&Consumed>)],
    ) -> Result<Evaluated, ScoreError> {
        let mut keys: Vec<BaselineKey> = Vec::with_capacity(events.len() * 2);
        let mut seen: HashSet<BaselineKey> = HashSet::new();
        for (event, _) in events.iter().filter(|(e, _)| e.change.is_priced()) {
            for key in [
                BaselineKey::new(&event.tenant, &event.account_id, &event.resource_kind),
                BaselineKey::account(&event.tenant, &event.account_id),
            ] {
                if seen.insert(key.clone()) {
                    keys.push(key);
                }
            }
        }
        let stored = self.store.baselines_by_key(&keys).await?;
        // Each key's baseline as the events so far left it, and the version read from the store.
        let mut baselines: HashMap<BaselineKey, (Baseline, u64)> = keys
            .into_iter()
            .zip(stored)
            .map(|(key, found)| {
                let baseline = found.unwrap_or_else(|| Baseline::empty(key.clone()));
                let version = baseline.version;
                (key, (baseline, version))
            })
            .collect();
        let mut scored = Vec::with_capacity(events.len());
        let mut verdicts = Vec::with_capacity(events.len());
        let mut snoozes = Snoozes::default();
        for (event, consumed) in events {
            if !event.change.is_priced() {
                // A stop or an end begins no rate: nothing to score, and no baseline learns
                // from it. It is committed all the same, so it is settled exactly once.
                scored.push(ScoredEvent {
                    event: (*event).clone(),
                    anomaly: None,
                    outbox: None,
                    consumed: consumed.cloned(),
                });
                verdicts.push(Verdict::default());
                continue;
            }
            let settings = self.settings_of(&event.tenant).await?;
            let kind_key = BaselineKey::new(&event.tenant, &event.account_id, &event.resource_kind);
            let account_key = BaselineKey::account(&event.tenant, &event.account_id);
            let evaluation = {
                let (Some((kind, _)), Some((account, _))) =
                    (baselines.get(&kind_key), baselines.get(&account_key))
                else {
                    return Err(ScoreError::Store(PortError::backend(
                        "a baseline read returned fewer rows than keys",
                    )));
                };
                evaluate(
                    event,
                    kind,
                    account,
                    settings.thresholds_for(&event.account_id),
                )
            };
            for (key, next) in [
                (kind_key, evaluation.kind),
                (account_key, evaluation.account),
            ] {
                if let Some((baseline, _)) = baselines.get_mut(&key) {
                    *baseline = next;
                }
            }
            let mut anomaly = evaluation.anomaly;
            if let Some(a) = anomaly.as_mut() {
                if snoozes.silence(self.anomalies.as_ref(), events, a).await? {
                    a.status = AnomalyStatus::Snoozed;
                }
            }
            let outbox = anomaly
                .as_ref()
                .filter(|a| a.status == AnomalyStatus::Open)
                .map(|a| OutboxMessage {
                    trace: None,
                    outbox_id: a.anomaly_id.clone(),
                    tenant: a.tenant.clone(),
                    anomaly: a.clone(),
                    created_at: event.event_time,
                    resolution: None,
                });
            scored.push(ScoredEvent {
                event: (*event).clone(),
                anomaly: anomaly.clone(),
                outbox,
                consumed: consumed.cloned(),
            });
            verdicts.push(Verdict {
                anomaly,
                burst_since: evaluation.burst_since,
                joined: evaluation.joined,
            });
        }
        let batch = ScoreBatch {
            events: scored,
            baselines: baselines
                .into_values()
                .map(|(baseline, expected_version)| BaselineWrite {
                    baseline,
                    expected_version,
                })
                .collect(),
            links: Vec::new(),
        };
        Ok(Evaluated { batch, verdicts })
    }
}

/// A receive's events evaluated and not yet committed: each one's verdict, and what
/// [`Scorer::commit_batch`] writes.
#[derive(Debug)]
pub struct Evaluated {
    batch: ScoreBatch,
    verdicts: Vec<Verdict>,
}

impl Evaluated {
    /// Each event's verdict, in the events' order.
    pub fn verdicts(&self) -> &[Verdict] {
        &self.verdicts
    }

    /// Gives each event's alert (in the events' order) the trace it was scored in, for the
    /// notifier to continue.
    pub fn traced(mut self, traces: impl IntoIterator<Item = Option<TraceParent>>) -> Self {
        for (scored, trace) in self.batch.events.iter_mut().zip(traces) {
            if let Some(outbox) = scored.outbox.as_mut() {
                outbox.trace = trace;
            }
        }
        self
    }

    /// Commits `links` with the scores, where the store can (see [`Scorer::links_in_commit`]).
    pub fn linking(mut self, links: Vec<TenantLinks>) -> Self {
        self.batch.links = links;
        self
    }
}
