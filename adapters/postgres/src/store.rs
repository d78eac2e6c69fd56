use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dd0c_ports::auth::{IngestGrant, IngestTokens, Role, User, Users};
use dd0c_ports::baseline::{Baseline, BaselineKey};
use dd0c_ports::domain::{
    Account, Anomaly, AnomalyStatus, CostEvent, Feedback, OutboxMessage, Settings, Snooze, Tenant,
};
use dd0c_ports::recall::{Fact, FactKey, RecallStore};
use dd0c_ports::store::{
    account_taken, anomaly_cursor, decode_cursor, AnomalyFilter, AnomalyStore, BaselineWrite,
    Claimed, CommitOutcome, CostEventStore, OutboxStore, Page, Schedule, ScoreBatch, ScoreStore,
    SettingsStore, TenantStore,
};
use dd0c_ports::{PortError, PortResult};
use serde::de::DeserializeOwned;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row, Transaction};

use crate::error::{backend, payload};
use crate::queue::delete_delivered;

/// An `accounts` row: tenant, id, name, created, role, ExternalId.
type AccountRow = (
    String,
    String,
    Option<String>,
    DateTime<Utc>,
    Option<String>,
    Option<String>,
);

fn account_of(
    (tenant, account_id, name, created_at, role_arn, external_id): AccountRow,
) -> Account {
    Account {
        tenant,
        account_id,
        name,
        created_at,
        role_arn,
        external_id,
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
    async fn begin(&self, scope: &str) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT set_config('dd0c.tenant', $1, true)")
            .bind(scope)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
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

#[async_trait]
impl ScoreStore for PgStore {
    async fn baseline(&self, key: &BaselineKey) -> PortResult<Option<Baseline>> {
        let row: Option<(Json<serde_json::Value>,)> = self.scoped(&key.tenant, async |c| sqlx::query_as(
            "SELECT payload FROM baselines WHERE tenant_id = $1 AND account_id = $2 AND resource_kind = $3",
        )
        .bind(&key.tenant)
        .bind(&key.account_id)
        .bind(&key.resource_kind)
        .fetch_optional(c)
        .await).await
        .map_err(|e| backend("reading a baseline", e))?;
        row.map(|(Json(v),)| decode(v, "baseline")).transpose()
    }

    async fn baselines_by_key(&self, keys: &[BaselineKey]) -> PortResult<Vec<Option<Baseline>>> {
        let tenants: Vec<&str> = keys.iter().map(|k| k.tenant.as_str()).collect();
        let accounts: Vec<&str> = keys.iter().map(|k| k.account_id.as_str()).collect();
        let kinds: Vec<&str> = keys.iter().map(|k| k.resource_kind.as_str()).collect();
        let rows: Vec<(Option<Json<serde_json::Value>>,)> = self.scoped(&scope_of(keys.iter().map(|k| k.tenant.as_str())), async |c| sqlx::query_as(
            "SELECT b.payload FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k(t, a, r, i)
             LEFT JOIN baselines b ON b.tenant_id = k.t AND b.account_id = k.a AND b.resource_kind = k.r
             ORDER BY k.i",
        )
        .bind(tenants)
        .bind(accounts)
        .bind(kinds)
        .fetch_all(c)
        .await).await
        .map_err(|e| backend("reading baselines", e))?;
        rows.into_iter()
            .map(|(payload,)| payload.map(|Json(v)| decode(v, "baseline")).transpose())
            .collect()
    }

    fn archives_consumed(&self) -> bool {
        true
    }

    async fn baselines(&self, tenant: &str, account_id: Option<&str>) -> PortResult<Vec<Baseline>> {
        let rows: Vec<(Json<serde_json::Value>,)> = self.scoped(tenant, async |c| sqlx::query_as(
            "SELECT payload FROM baselines WHERE tenant_id = $1 AND ($2::text IS NULL OR account_id = $2)
             ORDER BY account_id, resource_kind",
        )
        .bind(tenant)
        .bind(account_id)
        .fetch_all(c)
        .await).await
        .map_err(|e| backend("listing baselines", e))?;
        decode_all(rows, "baseline")
    }

    async fn is_processed(&self, tenant: &str, event_id: &str) -> PortResult<bool> {
        self.scoped(tenant, async |c| {
            sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM processed_events WHERE tenant_id = $1 AND event_id = $2)",
        )
        .bind(tenant)
        .bind(event_id)
        .fetch_one(c)
        .await
        })
        .await
        .map_err(|e| backend("checking a processed event", e))
    }

    async fn commit_batch(&self, batch: ScoreBatch) -> PortResult<CommitOutcome> {
        match self.try_commit(&batch).await {
            Ok(outcome) => Ok(outcome),
            Err(e) if is_retryable_conflict(&e) => Ok(CommitOutcome::VersionConflict),
            Err(e) => Err(backend("committing a scored event", e)),
        }
    }

    async fn forget_processed_before(&self, before: DateTime<Utc>) -> PortResult<u64> {
        let forgotten = self
            .scoped(EVERY_TENANT, async |c| {
                sqlx::query("DELETE FROM processed_events WHERE processed_at < $1")
                    .bind(before)
                    .execute(c)
                    .await
            })
            .await
            .map_err(|e| backend("forgetting processed events", e))?
            .rows_affected();
        Ok(forgotten)
    }

    async fn update_baselines(&self, writes: Vec<BaselineWrite>) -> PortResult<CommitOutcome> {
        let scope = scope_of(writes.iter().map(|w| w.baseline.key.tenant.as_str()));
        let attempt = async {
            let mut tx = self.begin(&scope).await?;
            if Self::write_baselines(&mut tx, writes).await? {
                tx.commit().await?;
                Ok(CommitOutcome::Committed)
            } else {
                tx.rollback().await?;
                Ok(CommitOutcome::VersionConflict)
            }
        };
        match attempt.await {
            Ok(outcome) => Ok(outcome),
            Err(e) if is_retryable_conflict(&e) => Ok(CommitOutcome::VersionConflict),
            Err(e) => Err(backend("updating baselines", e)),
        }
    }
}

#[async_trait]
impl AnomalyStore for PgStore {
    async fn anomaly(&self, tenant: &str, anomaly_id: &str) -> PortResult<Option<Anomaly>> {
        let row = self
            .scoped(tenant, async |c| {
                sqlx::query(
            "SELECT payload, status FROM anomalies WHERE tenant_id = $1 AND anomaly_id = $2",
        )
        .bind(tenant)
        .bind(anomaly_id)
        .fetch_optional(c)
        .await
            })
            .await
            .map_err(|e| backend("reading an anomaly", e))?;
        match row {
            Some(row) => Ok(Some(Self::anomaly_row(&row)?)),
            None => Ok(None),
        }
    }

    async fn anomalies(
        &self,
        tenant: &str,
        filter: &AnomalyFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> PortResult<Page<Anomaly>> {
        let after = cursor.map(decode_cursor).transpose()?;
        let mut query = QueryBuilder::<Postgres>::new(
            "SELECT payload, status FROM anomalies WHERE tenant_id = ",
        );
        query.push_bind(tenant);
        if !filter.severities.is_empty() {
            let severities: Vec<&str> = filter.severities.iter().map(|s| s.as_str()).collect();
            query
                .push(" AND severity = ANY(")
                .push_bind(severities)
                .push(")");
        }
        if !filter.statuses.is_empty() {
            let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
            query
                .push(" AND status = ANY(")
                .push_bind(statuses)
                .push(")");
        }
        if let Some(account) = &filter.account_id {
            query.push(" AND account_id = ").push_bind(account);
        }
        if let Some(from) = filter.from {
            query.push(" AND event_time >= ").push_bind(from);
        }
        if let Some(to) = filter.to {
            query.push(" AND event_time < ").push_bind(to);
        }
        if let Some((time, id)) = after {
            query
                .push(" AND (event_time, anomaly_id) < (")
                .push_bind(time)
                .push(", ")
                .push_bind(id)
                .push(")");
        }
        query
            .push(" ORDER BY event_time DESC, anomaly_id DESC LIMIT ")
            .push_bind(limit as i64 + 1);
        let rows = self
            .scoped(tenant, async |c| query.build().fetch_all(c).await)
            .await
            .map_err(|e| backend("listing anomalies", e))?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            items.push(Self::anomaly_row(row)?);
        }
        Ok(Page::from_overfetch(items, limit, anomaly_cursor))
    }

    async fn record_feedback(
        &self,
        tenant: &str,
        feedback: &Feedback,
        status: AnomalyStatus,
    ) -> PortResult<()> {
        let attempt = async {
            let mut tx = self.begin(tenant).await?;
            let updated = sqlx::query(
                "UPDATE anomalies SET status = $3 WHERE tenant_id = $1 AND anomaly_id = $2",
            )
            .bind(tenant)
            .bind(&feedback.anomaly_id)
            .bind(status.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO feedback (tenant_id, anomaly_id, payload, at) VALUES ($1, $2, $3, $4)",
            )
            .bind(tenant)
            .bind(&feedback.anomaly_id)
            .bind(Json(feedback))
            .bind(feedback.at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        };
        match attempt.await {
            Ok(true) => Ok(()),
            Ok(false) => Err(PortError::NotFound(format!(
                "anomaly {}",
                feedback.anomaly_id
            ))),
            Err(e) => Err(backend("recording feedback", e)),
        }
    }

    async fn feedback(&self, tenant: &str, anomaly_id: &str) -> PortResult<Vec<Feedback>> {
        let rows: Vec<(Json<serde_json::Value>,)> = self
            .scoped(tenant, async |c| {
                sqlx::query_as(
            "SELECT payload FROM feedback WHERE tenant_id = $1 AND anomaly_id = $2 ORDER BY id",
        )
        .bind(tenant)
        .bind(anomaly_id)
        .fetch_all(c)
        .await
            })
            .await
            .map_err(|e| backend("listing feedback", e))?;
        decode_all(rows, "feedback")
    }

    async fn add_snooze(&self, snooze: &Snooze) -> PortResult<()> {
        self.scoped(&snooze.tenant, async |c| {
            sqlx::query(
                "INSERT INTO snoozes (tenant_id, scope, until, set_by) VALUES ($1, $2, $3, $4)",
            )
            .bind(&snooze.tenant)
            .bind(Json(&snooze.scope))
            .bind(snooze.until)
            .bind(&snooze.by)
            .execute(c)
            .await
        })
        .await
        .map_err(|e| backend("adding a snooze", e))?;
        Ok(())
    }

    async fn active_snoozes(&self, tenant: &str, at: DateTime<Utc>) -> PortResult<Vec<Snooze>> {
        let rows: Vec<(Json<serde_json::Value>, DateTime<Utc>, String)> =
            self.scoped(tenant, async |c| sqlx::query_as("SELECT scope, until, set_by FROM snoozes WHERE tenant_id = $1 AND until > $2 ORDER BY id")
                .bind(tenant)
                .bind(at)
                .fetch_all(c)
                .await).await
                .map_err(|e| backend("listing snoozes", e))?;
        rows.into_iter()
            .map(|(Json(scope), until, by)| {
                Ok(Snooze {
                    tenant: tenant.to_owned(),
                    scope: decode(scope, "snooze scope")?,
                    until,
                    by,
                })
            })
            .collect()
    }
}

#[async_trait]
impl CostEventStore for PgStore {
    async fn cost_events(
        &self,
        tenant: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> PortResult<Vec<CostEvent>> {
        let rows: Vec<(Json<serde_json::Value>,)> = self.scoped(tenant, async |c| sqlx::query_as(
            "SELECT payload FROM cost_events WHERE tenant_id = $1 AND event_time >= $2 AND event_time < $3
             ORDER BY event_time, event_id LIMIT $4",
        )
        .bind(tenant)
        .bind(from)
        .bind(to)
        .bind(limit as i64)
        .fetch_all(c)
        .await).await
        .map_err(|e| backend("listing cost events", e))?;
        decode_all(rows, "cost event")
    }
}

#[async_trait]
impl TenantStore for PgStore {
    async fn add_tenant(&self, tenant: &Tenant) -> PortResult<()> {
        match sqlx::query("INSERT INTO tenants (name, created_at) VALUES ($1, $2)")
            .bind(&tenant.name)
            .bind(tenant.created_at)
            .execute(&self.pool)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_violation(&e, "23505") => Err(PortError::Conflict(format!(
                "tenant {} exists",
                tenant.name
            ))),
            Err(e) => Err(backend("adding a tenant", e)),
        }
    }

    async fn tenant(&self, name: &str) -> PortResult<Option<Tenant>> {
        let row: Option<(String, DateTime<Utc>)> =
            sqlx::query_as("SELECT name, created_at FROM tenants WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| backend("reading a tenant", e))?;
        Ok(row.map(|(name, created_at)| Tenant { name, created_at }))
    }

    async fn tenants(&self) -> PortResult<Vec<Tenant>> {
        let rows: Vec<(String, DateTime<Utc>)> =
            sqlx::query_as("SELECT name, created_at FROM tenants ORDER BY name")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| backend("listing tenants", e))?;
        Ok(rows
            .into_iter()
            .map(|(name, created_at)| Tenant { name, created_at })
            .collect())
    }

    async fn add_account(&self, account: &Account) -> PortResult<()> {
        match self.scoped(&account.tenant, async |c| sqlx::query("INSERT INTO accounts (tenant_id, account_id, name, created_at, role_arn, external_id) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&account.tenant)
            .bind(&account.account_id)
            .bind(&account.name)
            .bind(account.created_at)
            .bind(&account.role_arn)
            .bind(&account.external_id)
            .execute(c)
            .await).await
        {
            Ok(_) => Ok(()),
            Err(e) if is_violation(&e, "23505") => Err(PortError::Conflict(account_taken(account))),
            Err(e) => Err(backend("adding an account", e)),
        }
    }

    async fn account(&self, tenant: &str, account_id: &str) -> PortResult<Option<Account>> {
        let row: Option<AccountRow> = self.scoped(tenant, async |c| sqlx::query_as(
            "SELECT tenant_id, account_id, name, created_at, role_arn, external_id FROM accounts WHERE tenant_id = $1 AND account_id = $2",
        )
        .bind(tenant)
        .bind(account_id)
        .fetch_optional(c)
        .await).await
        .map_err(|e| backend("reading an account", e))?;
        Ok(row.map(account_of))
    }

    async fn accounts(&self, tenant: &str) -> PortResult<Vec<Account>> {
        let rows: Vec<AccountRow> = self.scoped(tenant, async |c| sqlx::query_as(
            "SELECT tenant_id, account_id, name, created_at, role_arn, external_id FROM accounts WHERE tenant_id = $1 ORDER BY account_id",
        )
        .bind(tenant)
        .fetch_all(c)
        .await).await
        .map_err(|e| backend("listing accounts", e))?;
        Ok(rows.into_iter().map(account_of).collect())
    }

    async fn remove_account(&self, tenant: &str, account_id: &str) -> PortResult<()> {
        let removed = self
            .scoped(tenant, async |c| {
                sqlx::query("DELETE FROM accounts WHERE tenant_id = $1 AND account_id = $2")
                    .bind(tenant)
                    .bind(account_id)
                    .execute(c)
                    .await
            })
            .await
            .map_err(|e| backend("removing an account", e))?
            .rows_affected();
        if removed == 0 {
            return Err(PortError::NotFound(format!(
                "account {account_id} in tenant {tenant}"
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl SettingsStore for PgStore {
    async fn settings(&self, tenant: &str) -> PortResult<Settings> {
        let row: Option<(Json<serde_json::Value>,)> = self
            .scoped(tenant, async |c| {
                sqlx::query_as("SELECT payload FROM settings WHERE tenant_id = $1")
                    .bind(tenant)
                    .fetch_optional(c)
                    .await
            })
            .await
            .map_err(|e| backend("reading settings", e))?;
        match row {
            Some((Json(v),)) => decode(v, "settings"),
            None => Ok(Settings::default()),
        }
    }

    async fn put_settings(&self, tenant: &str, settings: &Settings) -> PortResult<()> {
        let payload = encode(settings, "settings")?;
        self.scoped(tenant, async |c| {
            sqlx::query(
                "INSERT INTO settings (tenant_id, payload) VALUES ($1, $2)
             ON CONFLICT (tenant_id) DO UPDATE SET payload = EXCLUDED.payload, updated_at = now()",
            )
            .bind(tenant)
            .bind(Json(payload))
            .execute(c)
            .await
        })
        .await
        .map_err(|e| backend("saving settings", e))?;
        Ok(())
    }
}

#[async_trait]
impl OutboxStore for PgStore {
    async fn pending(&self, limit: usize) -> PortResult<Vec<OutboxMessage>> {
        let rows: Vec<(Json<serde_json::Value>,)> = self.scoped(EVERY_TENANT, async |c| sqlx::query_as(
            "SELECT payload FROM outbox WHERE delivered_at IS NULL ORDER BY created_at, outbox_id LIMIT $1",
        )
        .bind(limit as i64)
        .fetch_all(c)
        .await).await
        .map_err(|e| backend("listing the outbox", e))?;
        decode_all(rows, "outbox message")
    }

    async fn claim(&self, limit: usize, lease: std::time::Duration) -> PortResult<Vec<Claimed>> {
        let rows: Vec<(Json<serde_json::Value>, Vec<String>)> = self.scoped(EVERY_TENANT, async |c| sqlx::query_as(
            "UPDATE outbox o SET claimed_until = clock_timestamp() + make_interval(secs => $2)
             FROM (SELECT outbox_id FROM outbox
                   WHERE delivered_at IS NULL AND (claimed_until IS NULL OR claimed_until <= clock_timestamp())
                   ORDER BY created_at, outbox_id LIMIT $1 FOR UPDATE SKIP LOCKED) free
             WHERE o.outbox_id = free.outbox_id
             RETURNING o.payload, o.channels_delivered",
        )
        .bind(limit as i64)
        .bind(lease.as_secs_f64())
        .fetch_all(c)
        .await).await
        .map_err(|e| backend("claiming outbox messages", e))?;
        let mut claimed = rows
            .into_iter()
            .map(|(Json(payload), delivered)| {
                Ok(Claimed {
                    message: decode::<OutboxMessage>(payload, "outbox message")?,
                    delivered: delivered.into_iter().collect(),
                })
            })
            .collect::<PortResult<Vec<_>>>()?;
        claimed.sort_by(|a, b| {
            (a.message.created_at, &a.message.outbox_id)
                .cmp(&(b.message.created_at, &b.message.outbox_id))
        });
        Ok(claimed)
    }

    async fn mark_channel_delivered(&self, outbox_id: &str, channel: &str) -> PortResult<()> {
        self.scoped(EVERY_TENANT, async |c| {
            sqlx::query(
                "UPDATE outbox SET channels_delivered = array_append(channels_delivered, $2)
             WHERE outbox_id = $1 AND NOT ($2 = ANY (channels_delivered))",
            )
            .bind(outbox_id)
            .bind(channel)
            .execute(c)
            .await
        })
        .await
        .map_err(|e| backend("recording a delivery", e))?;
        Ok(())
    }

    async fn mark_delivered(&self, outbox_id: &str) -> PortResult<()> {
        self.scoped(EVERY_TENANT, async |c| {
            sqlx::query(
            "UPDATE outbox SET delivered_at = now() WHERE outbox_id = $1 AND delivered_at IS NULL",
        )
        .bind(outbox_id)
        .execute(c)
        .await
        })
        .await
        .map_err(|e| backend("marking an outbox message delivered", e))?;
        Ok(())
    }
}

#[async_trait]
impl Schedule for PgStore {
    async fn claim_tick(&self, job: &str, tick: DateTime<Utc>, replica: &str) -> PortResult<bool> {
        // The job's advisory lock makes one replica the leader while it claims; the row makes
        // the claim stick, so a replica that ticks a moment later finds the tick taken.
        let attempt = async {
            let mut tx = self.pool.begin().await?;
            let leading: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
                .bind(crate::leader::lock_key(job))
                .fetch_one(&mut *tx)
                .await?;
            if !leading {
                tx.rollback().await?;
                return Ok(false);
            }
            let claimed = sqlx::query("INSERT INTO job_runs (job, tick, ran_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(job)
                .bind(tick)
                .bind(replica)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(claimed == 1)
        };
        attempt
            .await
            .map_err(|e| backend("claiming a scheduled tick", e))
    }
}

#[async_trait]
impl IngestTokens for PgStore {
    async fn add_token(&self, grant: &IngestGrant, token_sha256: &str) -> PortResult<()> {
        match self
            .scoped(&grant.tenant, async |c| {
                sqlx::query(
            "INSERT INTO ingest_tokens (token_sha256, tenant_id, account_id) VALUES ($1, $2, $3)",
        )
        .bind(token_sha256)
        .bind(&grant.tenant)
        .bind(&grant.account_id)
        .execute(c)
        .await
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_violation(&e, "23503") => Err(PortError::NotFound(format!(
                "account {} in tenant {}",
                grant.account_id, grant.tenant
            ))),
            Err(e) => Err(backend("adding an ingest token", e)),
        }
    }

    async fn grant(&self, token_sha256: &str) -> PortResult<Option<IngestGrant>> {
        let row: Option<(String, String)> = self.scoped(EVERY_TENANT, async |c| sqlx::query_as(
            "SELECT tenant_id, account_id FROM ingest_tokens WHERE token_sha256 = $1 AND revoked_at IS NULL",
        )
        .bind(token_sha256)
        .fetch_optional(c)
        .await).await
        .map_err(|e| backend("checking an ingest token", e))?;
        Ok(row.map(|(tenant, account_id)| IngestGrant { tenant, account_id }))
    }

    async fn revoke_token(&self, token_sha256: &str) -> PortResult<()> {
        let revoked = self.scoped(EVERY_TENANT, async |c| sqlx::query("UPDATE ingest_tokens SET revoked_at = now() WHERE token_sha256 = $1 AND revoked_at IS NULL")
            .bind(token_sha256)
            .execute(c)
            .await).await
            .map_err(|e| backend("revoking an ingest token", e))?
            .rows_affected();
        if revoked == 0 {
            return Err(PortError::NotFound("ingest token".into()));
        }
        Ok(())
    }
}

fn parse_role(text: &str) -> PortResult<Role> {
    decode(serde_json::Value::String(text.to_owned()), "user role")
}

#[async_trait]
impl Users for PgStore {
    async fn add_user(&self, user: &User) -> PortResult<()> {
        let role = encode(&user.role, "user role")?;
        let result = self.scoped(&user.tenant, async |c| sqlx::query(
            "INSERT INTO users (tenant_id, email, password_hash, role) VALUES ($1, lower($2), $3, $4)",
        )
        .bind(&user.tenant)
        .bind(&user.email)
        .bind(&user.password_hash)
        .bind(role.as_str().unwrap_or("member"))
        .execute(c)
        .await).await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_violation(&e, "23505") => Err(PortError::Conflict(format!(
                "user {} exists",
                user.email.to_lowercase()
            ))),
            Err(e) if is_violation(&e, "23503") => {
                Err(PortError::NotFound(format!("tenant {}", user.tenant)))
            }
            Err(e) => Err(backend("adding a user", e)),
        }
    }

    async fn user(&self, email: &str) -> PortResult<Option<User>> {
        let row: Option<(String, String, String, String)> = self
            .scoped(EVERY_TENANT, async |c| {
                sqlx::query_as(
            "SELECT tenant_id, email, role, password_hash FROM users WHERE email = lower($1)",
        )
        .bind(email)
        .fetch_optional(c)
        .await
            })
            .await
            .map_err(|e| backend("reading a user", e))?;
        row.map(|(tenant, email, role, password_hash)| {
            Ok(User {
                tenant,
                email,
                role: parse_role(&role)?,
                password_hash,
            })
        })
        .transpose()
    }

    async fn set_password_hash(&self, email: &str, password_hash: &str) -> PortResult<()> {
        let updated = self
            .scoped(EVERY_TENANT, async |c| {
                sqlx::query("UPDATE users SET password_hash = $2 WHERE email = lower($1)")
                    .bind(email)
                    .bind(password_hash)
                    .execute(c)
                    .await
            })
            .await
            .map_err(|e| backend("rehashing a password", e))?
            .rows_affected();
        if updated == 0 {
            return Err(PortError::NotFound(format!("user {email}")));
        }
        Ok(())
    }
}

#[async_trait]
impl RecallStore for PgStore {
    async fn facts(&self, tenant: &str, keys: &[FactKey]) -> PortResult<Vec<Option<Fact>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<String> = keys.iter().map(FactKey::to_string).collect();
        let rows: Vec<(String, Json<Fact>)> = self
            .scoped(tenant, async |c| {
                sqlx::query_as(
                    "SELECT fact_key, fact FROM learned_facts WHERE tenant_id = $1 AND fact_key = ANY($2)",
                )
                .bind(tenant)
                .bind(&wanted)
                .fetch_all(c)
                .await
            })
            .await
            .map_err(|e| backend("reading learned facts", e))?;
        let mut found: HashMap<String, Fact> = rows.into_iter().map(|(k, f)| (k, f.0)).collect();
        Ok(wanted.iter().map(|k| found.remove(k)).collect())
    }

    async fn remember(&self, tenant: &str, facts: &[(FactKey, Fact)]) -> PortResult<()> {
        // One row per key, the later write winning: ON CONFLICT may not touch a row twice.
        let mut latest: HashMap<String, &Fact> = HashMap::new();
        for (key, fact) in facts {
            latest.insert(key.to_string(), fact);
        }
        if latest.is_empty() {
            return Ok(());
        }
        let mut keys = Vec::with_capacity(latest.len());
        let mut values = Vec::with_capacity(latest.len());
        for (key, fact) in latest {
            keys.push(key);
            values.push(encode(fact, "a learned fact")?);
        }
        self.scoped(tenant, async |c| {
            sqlx::query(
                "INSERT INTO learned_facts (tenant_id, fact_key, fact) \
                 SELECT $1, k, f FROM unnest($2::text[], $3::jsonb[]) AS t(k, f) \
                 ON CONFLICT (tenant_id, fact_key) DO UPDATE SET fact = EXCLUDED.fact, learned_at = now()",
            )
            .bind(tenant)
            .bind(&keys)
            .bind(&values)
            .execute(c)
            .await
        })
        .await
        .map_err(|e| backend("storing learned facts", e))?;
        Ok(())
    }
}
