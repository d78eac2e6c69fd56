//! Persistence ports, split by capability so each handler asks for only what it uses.
//!
//! Every method takes the tenant (directly or inside a key): adapters must never return another
//! tenant's data, whatever else the caller passes.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::IngestTokens;
use crate::baseline::{Baseline, BaselineKey};
use crate::domain::{
    Account, Anomaly, AnomalyStatus, CostEvent, Feedback, OutboxMessage, Settings, Severity,
    Snooze, Tenant,
};
use crate::webhook::SigningSecret;
use crate::PortResult;

/// How long a processed event's record (what makes a redelivered event score once) and a trail
/// file read are kept: longer than EventBridge retries (24 h) and dead-letter redrives
/// (14 days). Both modes keep them this long: the retention job self-hosted, DynamoDB's TTL in
/// the cloud.
pub const PROCESSED_RETENTION: std::time::Duration = std::time::Duration::from_secs(15 * 24 * 3600);

/// A baseline to write, with the version the writer read. `expected_version` 0 means "create:
/// there must be no stored baseline under this key yet".
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineWrite {
    /// The new state; its `version` field is ignored, the store writes `expected_version + 1`.
    pub baseline: Baseline,
    /// The version read before computing `baseline`.
    pub expected_version: u64,
}

/// The queue message a commit consumes. A store that shares a transaction with its queue
/// (Postgres with pgmq) archives the message in the same commit; other stores ignore it and the
/// consumer acknowledges after the commit — where a second acknowledgement of an already
/// archived message answers `Conflict`, which the consumer takes as done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    /// The queue's name.
    pub queue: String,
    /// The delivery's receipt.
    pub receipt: String,
}

/// Everything scoring one cost event changes, committed as one atomic step
/// (one Postgres transaction, one DynamoDB TransactWriteItems).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreCommit {
    /// The scored event; its `event_id` is the idempotency key (with its tenant).
    pub event: CostEvent,
    /// Baselines to write, each under its version check.
    pub baselines: Vec<BaselineWrite>,
    /// The anomaly raised, if any.
    pub anomaly: Option<Anomaly>,
    /// The notification to send, if any.
    pub outbox: Option<OutboxMessage>,
    /// The queue message being processed, if the event came from one.
    pub consumed: Option<Consumed>,
}

/// One event's share of a [`ScoreBatch`].
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredEvent {
    /// The scored event; its `event_id` is the idempotency key (with its tenant).
    pub event: CostEvent,
    /// The anomaly raised, if any.
    pub anomaly: Option<Anomaly>,
    /// The notification to send, if any.
    pub outbox: Option<OutboxMessage>,
    /// The queue message being processed, if the event came from one.
    pub consumed: Option<Consumed>,
}

/// Everything scoring several events in a row changes, committed as one atomic step: each
/// event's records, and each baseline they touched once — its state after the last of them,
/// under the version read before the first.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreBatch {
    /// The events, in the order they were scored.
    pub events: Vec<ScoredEvent>,
    /// Baselines to write, each under its version check; at most one write per key.
    pub baselines: Vec<BaselineWrite>,
    /// Each tenant's links of anomalies to resources, written in the commit (as
    /// [`crate::ledger::ResourceLedger::link`] writes them) by a store whose
    /// [`ScoreStore::links_in_commit`] says so; ignored by the others.
    pub links: Vec<TenantLinks>,
}

/// One tenant's links in a [`ScoreBatch`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantLinks {
    /// The tenant.
    pub tenant: String,
    /// Its links, the first to name a resource keeping it.
    pub links: Vec<crate::ledger::Link>,
}

impl From<ScoreCommit> for ScoreBatch {
    fn from(commit: ScoreCommit) -> Self {
        ScoreBatch {
            events: vec![ScoredEvent {
                event: commit.event,
                anomaly: commit.anomaly,
                outbox: commit.outbox,
                consumed: commit.consumed,
            }],
            baselines: commit.baselines,
            links: Vec::new(),
        }
    }
}

/// What [`ScoreStore::commit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Everything was written.
    Committed,
    /// The event had already been processed: nothing was written.
    AlreadyProcessed,
    /// A baseline's version did not match: nothing was written; re-read and recompute.
    VersionConflict,
}

/// The scorer's store: baselines read, and the exactly-once commit.
#[async_trait]
pub trait ScoreStore: Send + Sync {
    /// The stored baseline, or `None` if none was ever committed under this key.
    async fn baseline(&self, key: &BaselineKey) -> PortResult<Option<Baseline>>;

    /// The stored baselines under `keys`, in the same order (`None` where none was committed).
    /// Adapters that can answer in one round trip should.
    async fn baselines_by_key(&self, keys: &[BaselineKey]) -> PortResult<Vec<Option<Baseline>>> {
        let mut found = Vec::with_capacity(keys.len());
        for key in keys {
            found.push(self.baseline(key).await?);
        }
        Ok(found)
    }

    /// Whether [`ScoreStore::commit`] archives the `consumed` queue message in its own
    /// transaction, so the consumer need not acknowledge it again.
    fn archives_consumed(&self) -> bool {
        false
    }

    /// Whether [`ScoreStore::commit_batch`] writes the batch's `links` in its own transaction,
    /// into the ledger of the same store (so a committed score never lacks its links); the
    /// caller links after the commit otherwise.
    fn links_in_commit(&self) -> bool {
        false
    }

    /// All baselines of a tenant (optionally one account), ordered by key.
    async fn baselines(&self, tenant: &str, account_id: Option<&str>) -> PortResult<Vec<Baseline>>;

    /// Whether this event id was already committed for this tenant.
    async fn is_processed(&self, tenant: &str, event_id: &str) -> PortResult<bool>;

    /// Atomically: if the event is already processed, write nothing and return
    /// `AlreadyProcessed`; else if any baseline's stored version differs from its
    /// `expected_version`, write nothing and return `VersionConflict`; else record the event as
    /// processed, store the cost event, every baseline at `expected_version + 1`, the anomaly and
    /// the outbox message, and return `Committed`. Processed-event records are kept at least 15
    /// days.
    async fn commit(&self, commit: ScoreCommit) -> PortResult<CommitOutcome> {
        self.commit_batch(commit.into()).await
    }

    /// [`ScoreStore::commit`] for several events at once, all or nothing: `AlreadyProcessed`
    /// when any event was processed before (or appears twice in the batch), `VersionConflict`
    /// when any baseline's version differs, and then nothing is written.
    async fn commit_batch(&self, batch: ScoreBatch) -> PortResult<CommitOutcome>;

    /// Forgets processed-event records committed before `before` (retention; callers keep at
    /// least [`PROCESSED_RETENTION`]). Returns how many were forgotten.
    async fn forget_processed_before(&self, before: DateTime<Utc>) -> PortResult<u64>;

    /// Atomically writes baselines outside a scoring step (feedback teaching the baseline):
    /// all at `expected_version + 1`, or none and `VersionConflict` if any version differs.
    async fn update_baselines(&self, writes: Vec<BaselineWrite>) -> PortResult<CommitOutcome>;
}

/// A filter for listing anomalies. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnomalyFilter {
    /// Only these severities (empty: all).
    pub severities: Vec<Severity>,
    /// Only these statuses (empty: all).
    pub statuses: Vec<AnomalyStatus>,
    /// Only this account.
    pub account_id: Option<String>,
    /// Event time at or after.
    pub from: Option<DateTime<Utc>>,
    /// Event time before.
    pub to: Option<DateTime<Utc>>,
}

impl AnomalyFilter {
    /// Whether an anomaly passes the filter.
    pub fn matches(&self, a: &Anomaly) -> bool {
        (self.severities.is_empty() || self.severities.contains(&a.severity))
            && (self.statuses.is_empty() || self.statuses.contains(&a.status))
            && self
                .account_id
                .as_ref()
                .is_none_or(|id| *id == a.account_id)
            && self.from.is_none_or(|from| a.event_time >= from)
            && self.to.is_none_or(|to| a.event_time < to)
    }
}

/// The cursor after `anomaly` in a listing of anomalies (by event time, then id): opaque to
/// callers, shared by the adapters.
pub fn anomaly_cursor(anomaly: &Anomaly) -> String {
    crate::keys::Cursor {
        at: anomaly.event_time,
        id: anomaly.anomaly_id.clone(),
    }
    .to_string()
}

/// Reads a cursor of [`anomaly_cursor`] (or of an action listing) as (time, id); a malformed
/// one is `Invalid`.
pub fn decode_cursor(cursor: &str) -> PortResult<(DateTime<Utc>, String)> {
    let cursor: crate::keys::Cursor = cursor.parse()?;
    Ok((cursor.at, cursor.id))
}

/// One page of a list, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass back to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from `items` fetched with one more than `limit`: the extra item only says that
    /// another page follows, whose cursor is that of the last item kept.
    pub fn from_overfetch(
        mut items: Vec<T>,
        limit: usize,
        cursor_of: impl Fn(&T) -> String,
    ) -> Self {
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(cursor_of)
        } else {
            None
        };
        Page { items, next_cursor }
    }
}

/// Anomalies and the feedback on them.
#[async_trait]
pub trait AnomalyStore: Send + Sync {
    /// One anomaly of this tenant.
    async fn anomaly(&self, tenant: &str, anomaly_id: &str) -> PortResult<Option<Anomaly>>;

    /// Anomalies of this tenant matching `filter`, newest event first, at most `limit`,
    /// continuing after `cursor` (an opaque string from a previous page).
    async fn anomalies(
        &self,
        tenant: &str,
        filter: &AnomalyFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> PortResult<Page<Anomaly>>;

    /// Records `feedback` and sets the anomaly's status to `status`. `NotFound` when the
    /// anomaly does not exist for this tenant.
    async fn record_feedback(
        &self,
        tenant: &str,
        feedback: &Feedback,
        status: AnomalyStatus,
    ) -> PortResult<()>;

    /// Every feedback recorded on an anomaly, oldest first.
    async fn feedback(&self, tenant: &str, anomaly_id: &str) -> PortResult<Vec<Feedback>>;

    /// Stores a snooze.
    async fn add_snooze(&self, snooze: &Snooze) -> PortResult<()>;

    /// Snoozes of this tenant still in force at `at` (`until` > `at`).
    async fn active_snoozes(&self, tenant: &str, at: DateTime<Utc>) -> PortResult<Vec<Snooze>>;
}

/// Cost events, as committed by the scorer.
#[async_trait]
pub trait CostEventStore: Send + Sync {
    /// This tenant's cost events with `from <= event_time < to`, oldest first, at most `limit`.
    async fn cost_events(
        &self,
        tenant: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> PortResult<Vec<CostEvent>>;
}

/// The [`crate::PortError::Conflict`] text of an account that cannot be added: its AWS account
/// id (or its role) is already connected, to this tenant or another. It names no tenant, so a
/// refused claim learns nothing about who holds the account.
pub fn account_taken(account: &Account) -> String {
    format!(
        "AWS account {} (or its role) is already connected to a tenant; an AWS account belongs \
         to one tenant, and an operator settles a disputed claim",
        account.account_id
    )
}

/// The [`crate::PortError::NotFound`] of an account the tenant does not have.
pub fn no_account(tenant: &str, account_id: &str) -> crate::PortError {
    crate::PortError::NotFound(format!("account {account_id} in tenant {tenant}"))
}

/// Tenants and their AWS accounts.
#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Creates a tenant; `Conflict` if the name is taken.
    async fn add_tenant(&self, tenant: &Tenant) -> PortResult<()>;
    /// A tenant by name.
    async fn tenant(&self, name: &str) -> PortResult<Option<Tenant>>;
    /// Every tenant, by name.
    async fn tenants(&self) -> PortResult<Vec<Tenant>>;
    /// Adds an account to its tenant; `Conflict` ([`account_taken`]) if any tenant already has
    /// this AWS account id, or its `role_arn`.
    async fn add_account(&self, account: &Account) -> PortResult<()>;
    /// One account of a tenant.
    async fn account(&self, tenant: &str, account_id: &str) -> PortResult<Option<Account>>;
    /// A tenant's accounts, by id.
    async fn accounts(&self, tenant: &str) -> PortResult<Vec<Account>>;
    /// The tenant watching this AWS account, if any: how a record arriving on the cloud's
    /// shared event bus, which names only its account, finds its tenant.
    async fn owner(&self, account_id: &str) -> PortResult<Option<String>>;
    /// Removes an account (and its sealed secret); `NotFound` if the tenant does not have it.
    async fn remove_account(&self, tenant: &str, account_id: &str) -> PortResult<()>;
    /// Stores the sealed secret of an account's access key for `key` ([`crate::secrets`]);
    /// `NotFound` if the tenant does not have the account. Never returned by any listing.
    async fn put_account_secret(
        &self,
        tenant: &str,
        account_id: &str,
        key: KeyUse,
        sealed: &str,
    ) -> PortResult<()>;
    /// The sealed secret of the account's access key for `key`, if one was stored.
    async fn account_secret(
        &self,
        tenant: &str,
        account_id: &str,
        key: KeyUse,
    ) -> PortResult<Option<String>>;
}

wire_enum! {
    /// What an account's access key is for: each has its own secret, sealed apart.
    KeyUse {
        /// Reading the account (the zombie hunter, the trail poller).
        Read = "read",
        /// Acting on its resources (remediation).
        Act = "act",
    }
}

/// Tenant settings.
#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// The tenant's settings, or the defaults when none were saved.
    async fn settings(&self, tenant: &str) -> PortResult<Settings>;
    /// Replaces the tenant's settings; its webhook signing secret stays.
    async fn put_settings(&self, tenant: &str, settings: &Settings) -> PortResult<()>;
    /// The tenant's webhook signing secret, if one was made.
    async fn webhook_secret(&self, tenant: &str) -> PortResult<Option<SigningSecret>>;
    /// Replaces the tenant's webhook signing secret; its settings stay.
    async fn put_webhook_secret(&self, tenant: &str, secret: &SigningSecret) -> PortResult<()>;
}

/// The notification outbox written by [`ScoreStore::commit`].
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Up to `limit` undelivered messages of any tenant, oldest first.
    async fn pending(&self, limit: usize) -> PortResult<Vec<OutboxMessage>>;
    /// Claims up to `limit` undelivered messages, oldest first, that nobody holds a claim on,
    /// for `lease`: until it lapses other claimers skip them, so replicas do not notify twice,
    /// and a message left undelivered (held, or its channel down) is claimable again after it.
    async fn claim(&self, limit: usize, lease: std::time::Duration) -> PortResult<Vec<Claimed>>;
    /// Records that `channel` (`slack`, `email`) has the message, so a retry skips it there.
    async fn mark_channel_delivered(&self, outbox_id: &str, channel: &str) -> PortResult<()>;
    /// Marks a message delivered; delivering twice is not an error.
    async fn mark_delivered(&self, outbox_id: &str) -> PortResult<()>;
    /// Adds `message` outside a scoring commit (a follow-up); one of its id still pending is
    /// left as it is.
    async fn enqueue(&self, message: &OutboxMessage) -> PortResult<()>;
}

/// A claimed outbox message and the channels that already have it.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    /// The message.
    pub message: OutboxMessage,
    /// Channels it was delivered to by earlier claims.
    pub delivered: std::collections::BTreeSet<String>,
}

/// Scheduled jobs: which replica runs a job's tick.
#[async_trait]
pub trait Schedule: Send + Sync {
    /// Claims `tick` of `job` for `replica`: `true` for exactly one caller per (job, tick),
    /// however many replicas ask, `false` for the others.
    async fn claim_tick(&self, job: &str, tick: DateTime<Utc>, replica: &str) -> PortResult<bool>;
}

/// Every store port of one backend — usually one object behind every handle.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Stores {
    /// Baselines and the atomic scoring commit.
    pub score: Arc<dyn ScoreStore>,
    /// Anomalies, feedback, snoozes.
    pub anomalies: Arc<dyn AnomalyStore>,
    /// Cost events.
    pub events: Arc<dyn CostEventStore>,
    /// Tenants and accounts.
    pub tenants: Arc<dyn TenantStore>,
    /// Settings.
    pub settings: Arc<dyn SettingsStore>,
    /// The notification outbox.
    pub outbox: Arc<dyn OutboxStore>,
    /// Ingest tokens.
    pub tokens: Arc<dyn IngestTokens>,
    /// Scheduled-job claims.
    pub schedule: Arc<dyn Schedule>,
    /// Dashboard users.
    pub users: Arc<dyn crate::auth::Users>,
    /// What the normalizer learned, per tenant.
    pub recall: Arc<dyn crate::recall::RecallStore>,
    /// The zombie hunter's findings.
    pub zombies: Arc<dyn crate::zombie::ZombieStore>,
    /// Every priced resource, followed to its end.
    pub ledger: Arc<dyn crate::ledger::ResourceLedger>,
    /// Actions on customers' resources and their decision log.
    pub actions: Arc<dyn crate::remediation::ActionStore>,
}

impl Stores {
    /// Every handle served by one store that implements them all.
    pub fn of<S>(store: Arc<S>) -> Stores
    where
        S: ScoreStore
            + AnomalyStore
            + CostEventStore
            + TenantStore
            + SettingsStore
            + OutboxStore
            + IngestTokens
            + Schedule
            + crate::auth::Users
            + crate::recall::RecallStore
            + crate::zombie::ZombieStore
            + crate::ledger::ResourceLedger
            + crate::remediation::ActionStore
            + 'static,
    {
        Stores {
            score: store.clone(),
            anomalies: store.clone(),
            events: store.clone(),
            tenants: store.clone(),
            settings: store.clone(),
            outbox: store.clone(),
            tokens: store.clone(),
            users: store.clone(),
            recall: store.clone(),
            zombies: store.clone(),
            ledger: store.clone(),
            actions: store.clone(),
            schedule: store,
        }
    }
}
