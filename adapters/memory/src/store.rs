use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dd0c_ports::auth::{IngestGrant, IngestTokens, User, Users};
use dd0c_ports::baseline::{Baseline, BaselineKey};
use dd0c_ports::domain::{
    Account, Anomaly, AnomalyStatus, CostEvent, Feedback, OutboxMessage, Settings, Snooze, Tenant,
};
use dd0c_ports::recall::{Fact, FactKey, RecallStore};
use dd0c_ports::store::{
    account_taken, anomaly_cursor, decode_cursor, AnomalyFilter, AnomalyStore, BaselineWrite,
    Claimed, CommitOutcome, CostEventStore, OutboxStore, Page, Schedule, ScoreBatch, ScoreStore,
    ScoredEvent, SettingsStore, TenantStore,
};
use dd0c_ports::{PortError, PortResult};

use crate::lock;

/// Orders anomalies and cost events within a tenant by time, then id.
type TimeKey = (String, DateTime<Utc>, String);

#[derive(Debug, Default)]
struct Inner {
    processed: HashMap<(String, String), DateTime<Utc>>,
    claimed_ticks: HashSet<(String, DateTime<Utc>)>,
    events: BTreeMap<TimeKey, CostEvent>,
    baselines: BTreeMap<BaselineKey, Baseline>,
    anomalies: BTreeMap<TimeKey, Anomaly>,
    anomaly_times: HashMap<(String, String), DateTime<Utc>>,
    feedback: HashMap<(String, String), Vec<Feedback>>,
    snoozes: Vec<Snooze>,
    tenants: BTreeMap<String, Tenant>,
    accounts: BTreeMap<(String, String), Account>,
    settings: HashMap<String, Settings>,
    outbox: BTreeMap<(DateTime<Utc>, String), OutboxMessage>,
    /// Per outbox id: until when it is claimed, and the channels that have it.
    outbox_claims: HashMap<String, (Option<std::time::Instant>, BTreeSet<String>)>,
    tokens: HashMap<String, (IngestGrant, bool)>,
    users: BTreeMap<String, User>,
    facts: HashMap<(String, FactKey), Fact>,
}

impl Inner {
    /// Writes every baseline at its expected version + 1, or nothing if any version differs.
    fn write_baselines(&mut self, writes: Vec<BaselineWrite>) -> bool {
        let versions_match = writes.iter().all(|write| {
            let stored = self
                .baselines
                .get(&write.baseline.key)
                .map_or(0, |b| b.version);
            stored == write.expected_version
        });
        if versions_match {
            for write in writes {
                let mut baseline = write.baseline;
                baseline.version = write.expected_version + 1;
                self.baselines.insert(baseline.key.clone(), baseline);
            }
        }
        versions_match
    }
}

/// Every store port in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl ScoreStore for MemoryStore {
    async fn baseline(&self, key: &BaselineKey) -> PortResult<Option<Baseline>> {
        Ok(lock(&self.inner).baselines.get(key).cloned())
    }

    async fn baselines(&self, tenant: &str, account_id: Option<&str>) -> PortResult<Vec<Baseline>> {
        let inner = lock(&self.inner);
        Ok(inner
            .baselines
            .values()
            .filter(|b| b.key.tenant == tenant && account_id.is_none_or(|a| b.key.account_id == a))
            .cloned()
            .collect())
    }

    async fn is_processed(&self, tenant: &str, event_id: &str) -> PortResult<bool> {
        Ok(lock(&self.inner)
            .processed
            .contains_key(&(tenant.to_owned(), event_id.to_owned())))
    }

    async fn commit_batch(&self, batch: ScoreBatch) -> PortResult<CommitOutcome> {
        let mut inner = lock(&self.inner);
        let mut keys = HashSet::new();
        let fresh = batch.events.iter().all(|scored| {
            let key = (scored.event.tenant.clone(), scored.event.event_id.clone());
            !inner.processed.contains_key(&key) && keys.insert(key)
        });
        if !fresh {
            return Ok(CommitOutcome::AlreadyProcessed);
        }
        let versions_match = batch.baselines.iter().all(|write| {
            let stored = inner
                .baselines
                .get(&write.baseline.key)
                .map_or(0, |b| b.version);
            stored == write.expected_version
        });
        if !versions_match {
            return Ok(CommitOutcome::VersionConflict);
        }
        for write in batch.baselines {
            let mut baseline = write.baseline;
            baseline.version = write.expected_version + 1;
            inner.baselines.insert(baseline.key.clone(), baseline);
        }
        for ScoredEvent {
            event,
            anomaly,
            outbox,
            consumed: _,
        } in batch.events
        {
            if let Some(anomaly) = anomaly {
                let id_key = (anomaly.tenant.clone(), anomaly.anomaly_id.clone());
                inner.anomaly_times.insert(id_key, anomaly.event_time);
                inner.anomalies.insert(
                    (
                        anomaly.tenant.clone(),
                        anomaly.event_time,
                        anomaly.anomaly_id.clone(),
                    ),
                    anomaly,
                );
            }
            if let Some(message) = outbox {
                inner
                    .outbox
                    .insert((message.created_at, message.outbox_id.clone()), message);
            }
            inner
                .processed
                .insert((event.tenant.clone(), event.event_id.clone()), Utc::now());
            inner.events.insert(
                (
                    event.tenant.clone(),
                    event.event_time,
                    event.event_id.clone(),
                ),
                event,
            );
        }
        Ok(CommitOutcome::Committed)
    }

    async fn forget_processed_before(&self, before: DateTime<Utc>) -> PortResult<u64> {
        let mut inner = lock(&self.inner);
        let count = inner.processed.len();
        inner.processed.retain(|_, at| *at >= before);
        Ok((count - inner.processed.len()) as u64)
    }

    async fn update_baselines(&self, writes: Vec<BaselineWrite>) -> PortResult<CommitOutcome> {
        match lock(&self.inner).write_baselines(writes) {
            true => Ok(CommitOutcome::Committed),
            false => Ok(CommitOutcome::VersionConflict),
        }
    }
}

#[async_trait]
impl AnomalyStore for MemoryStore {
    async fn anomaly(&self, tenant: &str, anomaly_id: &str) -> PortResult<Option<Anomaly>> {
        let inner = lock(&self.inner);
        let Some(time) = inner
            .anomaly_times
            .get(&(tenant.to_owned(), anomaly_id.to_owned()))
        else {
            return Ok(None);
        };
        Ok(inner
            .anomalies
            .get(&(tenant.to_owned(), *time, anomaly_id.to_owned()))
            .cloned())
    }

    async fn anomalies(
        &self,
        tenant: &str,
        filter: &AnomalyFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> PortResult<Page<Anomaly>> {
        let after = cursor.map(decode_cursor).transpose()?;
        let inner = lock(&self.inner);
        let lowest = (tenant.to_owned(), DateTime::<Utc>::MIN_UTC, String::new());
        let highest = match after {
            Some((time, id)) => std::ops::Bound::Excluded((tenant.to_owned(), time, id)),
            None => std::ops::Bound::Included((
                tenant.to_owned(),
                DateTime::<Utc>::MAX_UTC,
                String::new(),
            )),
        };
        let items: Vec<Anomaly> = inner
            .anomalies
            .range((std::ops::Bound::Included(lowest), highest))
            .rev()
            .map(|(_, a)| a)
            .filter(|a| filter.matches(a))
            .take(limit + 1)
            .cloned()
            .collect();
        Ok(Page::from_overfetch(items, limit, anomaly_cursor))
    }

    async fn record_feedback(
        &self,
        tenant: &str,
        feedback: &Feedback,
        status: AnomalyStatus,
    ) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        let id_key = (tenant.to_owned(), feedback.anomaly_id.clone());
        let Some(time) = inner.anomaly_times.get(&id_key).copied() else {
            return Err(PortError::NotFound(format!(
                "anomaly {}",
                feedback.anomaly_id
            )));
        };
        if let Some(anomaly) =
            inner
                .anomalies
                .get_mut(&(tenant.to_owned(), time, feedback.anomaly_id.clone()))
        {
            anomaly.status = status;
        }
        inner
            .feedback
            .entry(id_key)
            .or_default()
            .push(feedback.clone());
        Ok(())
    }

    async fn feedback(&self, tenant: &str, anomaly_id: &str) -> PortResult<Vec<Feedback>> {
        let inner = lock(&self.inner);
        Ok(inner
            .feedback
            .get(&(tenant.to_owned(), anomaly_id.to_owned()))
            .cloned()
            .unwrap_or_default())
    }

    async fn add_snooze(&self, snooze: &Snooze) -> PortResult<()> {
        lock(&self.inner).snoozes.push(snooze.clone());
        Ok(())
    }

    async fn active_snoozes(&self, tenant: &str, at: DateTime<Utc>) -> PortResult<Vec<Snooze>> {
        let inner = lock(&self.inner);
        Ok(inner
            .snoozes
            .iter()
            .filter(|s| s.tenant == tenant && s.until > at)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl CostEventStore for MemoryStore {
    async fn cost_events(
        &self,
        tenant: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> PortResult<Vec<CostEvent>> {
        let inner = lock(&self.inner);
        let range =
            (tenant.to_owned(), from, String::new())..(tenant.to_owned(), to, String::new());
        Ok(inner
            .events
            .range(range)
            .map(|(_, e)| e)
            .take(limit)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl TenantStore for MemoryStore {
    async fn add_tenant(&self, tenant: &Tenant) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        if inner.tenants.contains_key(&tenant.name) {
            return Err(PortError::Conflict(format!(
                "tenant {} exists",
                tenant.name
            )));
        }
        inner.tenants.insert(tenant.name.clone(), tenant.clone());
        Ok(())
    }

    async fn tenant(&self, name: &str) -> PortResult<Option<Tenant>> {
        Ok(lock(&self.inner).tenants.get(name).cloned())
    }

    async fn tenants(&self) -> PortResult<Vec<Tenant>> {
        Ok(lock(&self.inner).tenants.values().cloned().collect())
    }

    async fn add_account(&self, account: &Account) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        let key = (account.tenant.clone(), account.account_id.clone());
        let role_taken = account.role_arn.is_some()
            && inner
                .accounts
                .values()
                .any(|a| a.role_arn == account.role_arn);
        // An AWS account belongs to one tenant: its records price and teach only that tenant.
        let held = inner
            .accounts
            .keys()
            .any(|(_, id)| *id == account.account_id);
        if held || role_taken {
            return Err(PortError::Conflict(account_taken(account)));
        }
        inner.accounts.insert(key, account.clone());
        Ok(())
    }

    async fn account(&self, tenant: &str, account_id: &str) -> PortResult<Option<Account>> {
        Ok(lock(&self.inner)
            .accounts
            .get(&(tenant.to_owned(), account_id.to_owned()))
            .cloned())
    }

    async fn accounts(&self, tenant: &str) -> PortResult<Vec<Account>> {
        let inner = lock(&self.inner);
        Ok(inner
            .accounts
            .values()
            .filter(|a| a.tenant == tenant)
            .cloned()
            .collect())
    }

    async fn remove_account(&self, tenant: &str, account_id: &str) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        match inner
            .accounts
            .remove(&(tenant.to_owned(), account_id.to_owned()))
        {
            Some(_) => {
                // Its tokens go with it, as Postgres' foreign key cascades them.
                inner
                    .tokens
                    .retain(|_, (g, _)| !(g.tenant == tenant && g.account_id == account_id));
                Ok(())
            }
            None => Err(PortError::NotFound(format!(
                "account {account_id} in tenant {tenant}"
            ))),
        }
    }
}

#[async_trait]
impl SettingsStore for MemoryStore {
    async fn settings(&self, tenant: &str) -> PortResult<Settings> {
        Ok(lock(&self.inner)
            .settings
            .get(tenant)
            .cloned()
            .unwrap_or_default())
    }

    async fn put_settings(&self, tenant: &str, settings: &Settings) -> PortResult<()> {
        lock(&self.inner)
            .settings
            .insert(tenant.to_owned(), settings.clone());
        Ok(())
    }
}

#[async_trait]
impl OutboxStore for MemoryStore {
    async fn pending(&self, limit: usize) -> PortResult<Vec<OutboxMessage>> {
        Ok(lock(&self.inner)
            .outbox
            .values()
            .take(limit)
            .cloned()
            .collect())
    }

    async fn claim(&self, limit: usize, lease: std::time::Duration) -> PortResult<Vec<Claimed>> {
        let now = std::time::Instant::now();
        let inner = &mut *lock(&self.inner);
        let mut claimed = Vec::new();
        for message in inner.outbox.values() {
            if claimed.len() >= limit {
                break;
            }
            let (until, delivered) = inner
                .outbox_claims
                .entry(message.outbox_id.clone())
                .or_default();
            if until.is_some_and(|until| until > now) {
                continue;
            }
            *until = Some(now + lease);
            claimed.push(Claimed {
                message: message.clone(),
                delivered: delivered.clone(),
            });
        }
        Ok(claimed)
    }

    async fn mark_channel_delivered(&self, outbox_id: &str, channel: &str) -> PortResult<()> {
        lock(&self.inner)
            .outbox_claims
            .entry(outbox_id.to_owned())
            .or_default()
            .1
            .insert(channel.to_owned());
        Ok(())
    }

    async fn mark_delivered(&self, outbox_id: &str) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        inner.outbox.retain(|(_, id), _| id != outbox_id);
        inner.outbox_claims.remove(outbox_id);
        Ok(())
    }
}

#[async_trait]
impl Schedule for MemoryStore {
    async fn claim_tick(&self, job: &str, tick: DateTime<Utc>, _replica: &str) -> PortResult<bool> {
        Ok(lock(&self.inner)
            .claimed_ticks
            .insert((job.to_owned(), tick)))
    }
}

#[async_trait]
impl IngestTokens for MemoryStore {
    async fn add_token(&self, grant: &IngestGrant, token_sha256: &str) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        if !inner
            .accounts
            .contains_key(&(grant.tenant.clone(), grant.account_id.clone()))
        {
            return Err(PortError::NotFound(format!(
                "account {} in tenant {}",
                grant.account_id, grant.tenant
            )));
        }
        inner
            .tokens
            .insert(token_sha256.to_owned(), (grant.clone(), false));
        Ok(())
    }

    async fn grant(&self, token_sha256: &str) -> PortResult<Option<IngestGrant>> {
        let inner = lock(&self.inner);
        Ok(inner
            .tokens
            .get(token_sha256)
            .filter(|(_, revoked)| !revoked)
            .map(|(grant, _)| grant.clone()))
    }

    async fn revoke_token(&self, token_sha256: &str) -> PortResult<()> {
        match lock(&self.inner).tokens.get_mut(token_sha256) {
            Some((_, revoked)) => {
                *revoked = true;
                Ok(())
            }
            None => Err(PortError::NotFound("ingest token".into())),
        }
    }
}

#[async_trait]
impl Users for MemoryStore {
    async fn add_user(&self, user: &User) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        if !inner.tenants.contains_key(&user.tenant) {
            return Err(PortError::NotFound(format!("tenant {}", user.tenant)));
        }
        let email = user.email.to_lowercase();
        if inner.users.contains_key(&email) {
            return Err(PortError::Conflict(format!("user {email} exists")));
        }
        inner.users.insert(
            email.clone(),
            User {
                email,
                ..user.clone()
            },
        );
        Ok(())
    }

    async fn user(&self, email: &str) -> PortResult<Option<User>> {
        Ok(lock(&self.inner).users.get(&email.to_lowercase()).cloned())
    }

    async fn set_password_hash(&self, email: &str, password_hash: &str) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        let user = inner
            .users
            .get_mut(&email.to_lowercase())
            .ok_or_else(|| PortError::NotFound(format!("user {email}")))?;
        user.password_hash = password_hash.to_owned();
        Ok(())
    }
}

#[async_trait]
impl RecallStore for MemoryStore {
    async fn facts(&self, tenant: &str, keys: &[FactKey]) -> PortResult<Vec<Option<Fact>>> {
        let inner = lock(&self.inner);
        Ok(keys
            .iter()
            .map(|k| inner.facts.get(&(tenant.to_owned(), k.clone())).cloned())
            .collect())
    }

    async fn remember(&self, tenant: &str, facts: &[(FactKey, Fact)]) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        for (key, fact) in facts {
            inner
                .facts
                .insert((tenant.to_owned(), key.clone()), fact.clone());
        }
        Ok(())
    }
}
