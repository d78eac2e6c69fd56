//! [`PgStore`]: every store port on Postgres — payloads as JSONB, row-level security by tenant,
//! the scoring commit in one transaction — one file per capability.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dd0c_ports::auth::{IngestGrant, IngestTokens, Role, User, Users};
use dd0c_ports::baseline::{Baseline, BaselineKey};
use dd0c_ports::domain::{
    Account, Anomaly, AnomalyStatus, CostEvent, Feedback, OutboxMessage, Settings, Snooze, Tenant,
};
use dd0c_ports::recall::{Fact, FactKey, RecallStore};
use dd0c_ports::store::{
    account_taken, anomaly_cursor, decode_cursor, no_account, AnomalyFilter, AnomalyStore,
    BaselineWrite, Claimed, CommitOutcome, CostEventStore, KeyUse, OutboxStore, Page, Schedule,
    ScoreBatch, ScoreStore, SettingsStore, TenantStore,
};
use dd0c_ports::webhook::SigningSecret;
use dd0c_ports::{PortError, PortResult};
use serde::de::DeserializeOwned;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row, Transaction};

use crate::error::{backend, payload};
use crate::queue::delete_delivered;

mod actions;
mod anomalies;
mod events;
mod ledger;
mod outbox;
mod recall;
mod schedule;
mod score;
mod settings;
mod sources;
mod tenants;
mod tokens;
mod users;
mod zombies;

/// An `accounts` row: tenant, id, name, created, role, ExternalId, access key id.
type AccountRow = (
    String,
    String,
    Option<String>,
    DateTime<Utc>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn account_of(
    (
        tenant,
        account_id,
        name,
        created_at,
        role_arn,
        external_id,
        access_key_id,
        remediation_role_arn,
        remediation_access_key_id,
    ): AccountRow,
) -> Account {
    Account {
        tenant,
        account_id,
        name,
        created_at,
        role_arn,
        external_id,
        access_key_id,
        remediation_role_arn,
        remediation_access_key_id,
    }
}

/// The row-level-security scope of the system's own work: every tenant (retention, the outbox,
/// sign-in and ingest-token lookups, which find their tenant from what they look up).
const EVERY_TENANT: &str = "*";

/// The scope of work on several tenants' rows: their names, comma-separated (tenant names never
/// contain commas).
fn scope_of<'a>(tenants: impl Iterator<Item = &'a str>) -> String {
    let mut names: Vec<&str> = tenants.collect();
    names.sort_unstable();
    names.dedup();
    names.join(",")
}

/// The columns of a batch of baseline writes, bound as arrays.
#[derive(Default)]
struct BaselineColumns {
    tenants: Vec<String>,
    accounts: Vec<String>,
    kinds: Vec<String>,
    expected: Vec<i64>,
    n: Vec<i64>,
    mean: Vec<f64>,
    m2: Vec<f64>,
    payloads: Vec<Json<serde_json::Value>>,
}

/// Every store port on Postgres.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

fn decode<T: DeserializeOwned>(value: serde_json::Value, what: &str) -> PortResult<T> {
    serde_json::from_value(value).map_err(|e| payload(what, e))
}

/// Decodes rows of a single JSONB payload column.
fn decode_all<T: DeserializeOwned>(
    rows: Vec<(Json<serde_json::Value>,)>,
    what: &str,
) -> PortResult<Vec<T>> {
    rows.into_iter().map(|(Json(v),)| decode(v, what)).collect()
}

fn encode<T: serde::Serialize>(value: &T, what: &str) -> PortResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| payload(what, e))
}

fn is_violation(error: &sqlx::Error, code: &str) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some(code))
}

/// Deadlocks and serialization failures abort a transaction that a retry can complete.
fn is_retryable_conflict(error: &sqlx::Error) -> bool {
    is_violation(error, "40P01") || is_violation(error, "40001")
}

/// `text` as an escape-string literal (`E'…'`), which reads the same whatever the server's
/// `standard_conforming_strings`: backslashes and quotes escaped. `None` for a NUL, which no
/// Postgres text can hold.
fn quote_literal(text: &str) -> Option<String> {
    let mut quoted = String::with_capacity(text.len() + 3);
    quoted.push_str("E'");
    for c in text.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '\'' => quoted.push_str("''"),
            '\0' => return None,
            other => quoted.push(other),
        }
    }
    quoted.push('\'');
    Some(quoted)
}

fn parse_status(text: &str) -> PortResult<AnomalyStatus> {
    decode(serde_json::Value::String(text.to_owned()), "anomaly status")
}

impl PgStore {
    /// Stores on `pool` (migrated with [`crate::migrate`]).
    pub fn new(pool: PgPool) -> Self {
        PgStore { pool }
    }

    /// A transaction whose statements see the rows of `scope`'s tenants only (row-level
    /// security, `migrations/0005_row_security.sql`): one tenant, several comma-separated, or
    /// [`EVERY_TENANT`] for the system's own work.
    /// The scope is set by the statement that begins the transaction, in the same round trip.
    async fn begin(&self, scope: &str) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let scope = quote_literal(scope)
            .ok_or_else(|| sqlx::Error::Protocol("a tenant scope holds a NUL".into()))?;
        self.pool
            .begin_with(format!(
                "BEGIN; SELECT set_config('dd0c.tenant', {scope}, true)"
            ))
            .await
    }

    /// Runs `work` in a transaction scoped to `scope` (see [`PgStore::begin`]) and commits it.
    async fn scoped<T>(
        &self,
        scope: &str,
        work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, sqlx::Error>,
    ) -> Result<T, sqlx::Error> {
        let mut tx = self.begin(scope).await?;
        let value = work(&mut tx).await?;
        tx.commit().await?;
        Ok(value)
    }

    /// Writes baselines under their version checks in one statement; `false` (and nothing
    /// usable in `tx`) if any version differed.
    async fn write_baselines(
        tx: &mut Transaction<'_, Postgres>,
        mut writes: Vec<BaselineWrite>,
    ) -> Result<bool, sqlx::Error> {
        if writes.is_empty() {
            return Ok(true);
        }
        // One lock order for every writer, so two commits touching the same baselines wait for
        // each other instead of deadlocking.
        writes.sort_by(|a, b| a.baseline.key.cmp(&b.baseline.key));
        let wanted = writes.len() as i64;
        let mut columns = BaselineColumns::default();
        for write in writes {
            let mut baseline = write.baseline;
            baseline.version = write.expected_version + 1;
            let payload =
                serde_json::to_value(&baseline).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            columns.tenants.push(baseline.key.tenant);
            columns.accounts.push(baseline.key.account_id);
            columns.kinds.push(baseline.key.resource_kind);
            columns
                .expected
                .push(i64::try_from(write.expected_version).unwrap_or(i64::MAX));
            columns
                .n
                .push(i64::try_from(baseline.stats.n).unwrap_or(i64::MAX));
            columns.mean.push(baseline.stats.mean);
            columns.m2.push(baseline.stats.m2);
            columns.payloads.push(Json(payload));
        }
        let written: i64 = sqlx::query_scalar(
            "WITH w AS (
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[],
                                      $6::float8[], $7::float8[], $8::jsonb[])
                     AS w(tenant_id, account_id, resource_kind, expected, n, mean, m2, payload)
             ), created AS (
                 INSERT INTO baselines (tenant_id, account_id, resource_kind, version, n, mean, m2, payload)
                 SELECT tenant_id, account_id, resource_kind, 1, n, mean, m2, payload FROM w WHERE expected = 0
                 ON CONFLICT DO NOTHING RETURNING 1
             ), updated AS (
                 UPDATE baselines b SET version = w.expected + 1, n = w.n, mean = w.mean, m2 = w.m2,
                                        payload = w.payload, updated_at = now()
                 FROM w
                 WHERE w.expected > 0 AND b.tenant_id = w.tenant_id AND b.account_id = w.account_id
                   AND b.resource_kind = w.resource_kind AND b.version = w.expected
                 RETURNING 1
             )
             SELECT (SELECT count(*) FROM created) + (SELECT count(*) FROM updated)",
        )
        .bind(columns.tenants)
        .bind(columns.accounts)
        .bind(columns.kinds)
        .bind(columns.expected)
        .bind(columns.n)
        .bind(columns.mean)
        .bind(columns.m2)
        .bind(columns.payloads)
        .fetch_one(&mut **tx)
        .await?;
        Ok(written == wanted)
    }

    async fn try_commit(&self, batch: &ScoreBatch) -> Result<CommitOutcome, sqlx::Error> {
        let mut tx = self
            .begin(&scope_of(
                batch.events.iter().map(|s| s.event.tenant.as_str()),
            ))
            .await?;
        let events: Vec<&CostEvent> = batch.events.iter().map(|s| &s.event).collect();
        let tenants: Vec<&str> = events.iter().map(|e| e.tenant.as_str()).collect();
        let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
        // A repeated id inside the batch conflicts with its own first row and is skipped too.
        let fresh = sqlx::query(
            "INSERT INTO processed_events (tenant_id, event_id) SELECT * FROM unnest($1::text[], $2::text[])
             ON CONFLICT DO NOTHING",
        )
        .bind(&tenants)
        .bind(&ids)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if fresh != events.len() as u64 {
            tx.rollback().await?;
            return Ok(CommitOutcome::AlreadyProcessed);
        }
        if !Self::write_baselines(&mut tx, batch.baselines.clone()).await? {
            tx.rollback().await?;
            return Ok(CommitOutcome::VersionConflict);
        }
        let accounts: Vec<&str> = events.iter().map(|e| e.account_id.as_str()).collect();
        let times: Vec<DateTime<Utc>> = events.iter().map(|e| e.event_time).collect();
        let severities: Vec<Option<&str>> = batch
            .events
            .iter()
            .map(|s| s.anomaly.as_ref().map(|a| a.severity.as_str()))
            .collect();
        let payloads: Vec<Json<&CostEvent>> = events.iter().map(|e| Json(*e)).collect();
        sqlx::query(
            "INSERT INTO cost_events (tenant_id, event_id, account_id, event_time, severity, payload)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::jsonb[])",
        )
        .bind(&tenants)
        .bind(&ids)
        .bind(accounts)
        .bind(times)
        .bind(severities)
        .bind(payloads)
        .execute(&mut *tx)
        .await?;
        for a in batch.events.iter().filter_map(|s| s.anomaly.as_ref()) {
            sqlx::query(
                "INSERT INTO anomalies (tenant_id, anomaly_id, event_id, account_id, event_time, severity, status, payload)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&a.tenant)
            .bind(&a.anomaly_id)
            .bind(&a.event_id)
            .bind(&a.account_id)
            .bind(a.event_time)
            .bind(a.severity.as_str())
            .bind(a.status.as_str())
            .bind(Json(a))
            .execute(&mut *tx)
            .await?;
        }
        for m in batch.events.iter().filter_map(|s| s.outbox.as_ref()) {
            sqlx::query("INSERT INTO outbox (outbox_id, tenant_id, payload, created_at) VALUES ($1, $2, $3, $4)")
                .bind(&m.outbox_id)
                .bind(&m.tenant)
                .bind(Json(m))
                .bind(m.created_at)
                .execute(&mut *tx)
                .await?;
        }
        let mut consumed: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for c in batch.events.iter().filter_map(|s| s.consumed.as_ref()) {
            consumed
                .entry(c.queue.as_str())
                .or_default()
                .push(c.receipt.clone());
        }
        for (queue, receipts) in consumed {
            // Stale receipts (redelivered elsewhere) delete nothing; those deliveries will find
            // their events processed and acknowledge them.
            delete_delivered(&mut *tx, queue, &receipts).await?;
        }
        for tenant in &batch.links {
            Self::insert_links(&mut tx, &tenant.tenant, &tenant.links).await?;
        }
        tx.commit().await?;
        Ok(CommitOutcome::Committed)
    }

    fn anomaly_row(row: &sqlx::postgres::PgRow) -> PortResult<Anomaly> {
        let Json(value): Json<serde_json::Value> = row
            .try_get("payload")
            .map_err(|e| backend("reading an anomaly", e))?;
        let status: String = row
            .try_get("status")
            .map_err(|e| backend("reading an anomaly", e))?;
        let mut anomaly: Anomaly = decode(value, "anomaly")?;
        anomaly.status = parse_status(&status)?;
        Ok(anomaly)
    }
}
