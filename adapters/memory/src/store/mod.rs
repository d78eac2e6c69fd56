//! [`MemoryStore`]: every store port in this process's memory, one file per capability.

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
    account_taken, anomaly_cursor, decode_cursor, no_account, AnomalyFilter, AnomalyStore,
    BaselineWrite, Claimed, CommitOutcome, CostEventStore, KeyUse, OutboxStore, Page, Schedule,
    ScoreBatch, ScoreStore, ScoredEvent, SettingsStore, TenantStore,
};
use dd0c_ports::webhook::SigningSecret;
use dd0c_ports::{PortError, PortResult};

use crate::lock;

mod actions;
mod anomalies;
mod events;
mod ledger;
mod outbox;
mod recall;
mod schedule;
mod score;
mod settings;
mod tenants;
mod tokens;
mod users;
mod zombies;

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
    account_secrets: HashMap<(String, String, KeyUse), String>,
    settings: HashMap<String, Settings>,
    webhook_secrets: HashMap<String, SigningSecret>,
    outbox: BTreeMap<(DateTime<Utc>, String), OutboxMessage>,
    /// Per outbox id: until when it is claimed, and the channels that have it.
    outbox_claims: HashMap<String, (Option<std::time::Instant>, BTreeSet<String>)>,
    tokens: HashMap<String, (IngestGrant, bool)>,
    users: BTreeMap<String, User>,
    facts: HashMap<(String, FactKey), Fact>,
    findings: BTreeMap<(String, String), dd0c_ports::zombie::Finding>,
    resources:
        BTreeMap<(String, dd0c_ports::ledger::ResourceKey), dd0c_ports::ledger::ResourceRecord>,
    actions: actions::Actions,
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
