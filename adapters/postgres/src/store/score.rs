//! The score store: baselines read by key and the scoring commit (processed record, baselines, anomaly, outbox, consumed message) in one transaction.

use super::*;

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

    fn links_in_commit(&self) -> bool {
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
