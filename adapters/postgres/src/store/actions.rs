//! Actions and their decision log: one `actions` row per action (JSONB, with the columns its
//! listings filter and order on) and one `action_log` row per step, numbered in order. A step
//! and its status move are one statement, taken only from the status the step expects.

use dd0c_ports::remediation::{
    action_cursor, ActionFilter, ActionId, ActionRecord, ActionStatus, ActionStore, Decision,
};

use super::*;

#[async_trait]
impl ActionStore for PgStore {
    async fn add_action(&self, action: &ActionRecord, first: &Decision) -> PortResult<()> {
        let payload = encode(action, "an action")?;
        let step = encode(first, "a decision")?;
        let added = self
            .scoped(&action.tenant, async |c| {
                sqlx::query(
                    "WITH added AS (INSERT INTO actions \
                     (tenant_id, action_id, account_id, status, requested_at, payload) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING tenant_id, action_id) \
                     INSERT INTO action_log (tenant_id, action_id, seq, payload) \
                     SELECT tenant_id, action_id, 0, $7 FROM added",
                )
                .bind(&action.tenant)
                .bind(action.action_id.as_str())
                .bind(&action.account_id)
                .bind(action.status.as_str())
                .bind(action.requested_at)
                .bind(Json(payload))
                .bind(Json(step))
                .execute(c)
                .await
            })
            .await;
        match added {
            Err(e) if is_violation(&e, "23505") => Err(PortError::Conflict(format!(
                "action {} already exists",
                action.action_id
            ))),
            other => other.map(drop).map_err(|e| backend("adding an action", e)),
        }
    }

    async fn action(&self, tenant: &str, action_id: &ActionId) -> PortResult<Option<ActionRecord>> {
        let row: Option<(Json<serde_json::Value>,)> = self
            .scoped(tenant, async |c| {
                sqlx::query_as(
                    "SELECT payload FROM actions WHERE tenant_id = $1 AND action_id = $2",
                )
                .bind(tenant)
                .bind(action_id.as_str())
                .fetch_optional(c)
                .await
            })
            .await
            .map_err(|e| backend("reading an action", e))?;
        row.map(|(Json(v),)| decode(v, "an action")).transpose()
    }

    async fn actions(
        &self,
        tenant: &str,
        filter: &ActionFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> PortResult<Page<ActionRecord>> {
        let after = cursor.map(decode_cursor).transpose()?;
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        let (after_time, after_id) = after.unzip();
        let rows: Vec<(Json<serde_json::Value>,)> = self
            .scoped(tenant, async |c| {
                sqlx::query_as(
                    "SELECT payload FROM actions WHERE tenant_id = $1 \
                     AND (cardinality($2::text[]) = 0 OR status = ANY($2)) \
                     AND ($3::text IS NULL OR account_id = $3) \
                     AND ($4::timestamptz IS NULL OR (requested_at, action_id) < ($4, $5)) \
                     ORDER BY requested_at DESC, action_id DESC LIMIT $6",
                )
                .bind(tenant)
                .bind(&statuses)
                .bind(&filter.account_id)
                .bind(after_time)
                .bind(after_id)
                .bind(limit as i64 + 1)
                .fetch_all(c)
                .await
            })
            .await
            .map_err(|e| backend("listing actions", e))?;
        let found: Vec<ActionRecord> = decode_all(rows, "an action")?;
        Ok(Page::from_overfetch(found, limit, action_cursor))
    }

    async fn decide(
        &self,
        tenant: &str,
        action_id: &ActionId,
        from: &[ActionStatus],
        to: ActionStatus,
        decision: &Decision,
    ) -> PortResult<Option<ActionRecord>> {
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let step = encode(decision, "a decision")?;
        let mut moved = serde_json::json!({
            "status": to.as_str(),
            "updated_at": encode(&decision.at, "a time")?,
        });
        if let Some(way_back) = &decision.way_back {
            moved["way_back"] = encode(way_back, "a way back")?;
        }
        let (exists, row): (bool, Option<Json<serde_json::Value>>) = self
            .scoped(tenant, async |c| {
                // The row lock of the UPDATE orders concurrent steps; the second finds the
                // status moved and writes nothing.
                sqlx::query_as(
                    "WITH moved AS (UPDATE actions SET status = $4, payload = payload || $5 \
                     WHERE tenant_id = $1 AND action_id = $2 AND status = ANY($3) \
                     RETURNING tenant_id, action_id, payload), \
                     logged AS (INSERT INTO action_log (tenant_id, action_id, seq, payload) \
                     SELECT m.tenant_id, m.action_id, \
                     (SELECT count(*) FROM action_log l WHERE l.tenant_id = $1 AND l.action_id = $2), $6 \
                     FROM moved m) \
                     SELECT EXISTS (SELECT 1 FROM actions WHERE tenant_id = $1 AND action_id = $2), \
                     (SELECT payload FROM moved)",
                )
                .bind(tenant)
                .bind(action_id.as_str())
                .bind(&from)
                .bind(to.as_str())
                .bind(Json(moved))
                .bind(Json(step))
                .fetch_one(c)
                .await
            })
            .await
            .map_err(|e| backend("deciding on an action", e))?;
        if !exists {
            return Err(PortError::NotFound(format!("action {action_id}")));
        }
        row.map(|Json(v)| decode(v, "an action")).transpose()
    }

    async fn decisions(&self, tenant: &str, action_id: &ActionId) -> PortResult<Vec<Decision>> {
        let rows: Vec<(Json<serde_json::Value>,)> = self
            .scoped(tenant, async |c| {
                sqlx::query_as(
                    "SELECT payload FROM action_log WHERE tenant_id = $1 AND action_id = $2 \
                     ORDER BY seq",
                )
                .bind(tenant)
                .bind(action_id.as_str())
                .fetch_all(c)
                .await
            })
            .await
            .map_err(|e| backend("reading an action's log", e))?;
        decode_all(rows, "a decision")
    }

    async fn forget_actions_before(&self, before: DateTime<Utc>) -> PortResult<u64> {
        let finals: Vec<&str> = ActionStatus::ALL
            .iter()
            .filter(|s| s.is_final())
            .map(|s| s.as_str())
            .collect();
        let forgotten = self
            .scoped(EVERY_TENANT, async |c| {
                sqlx::query("DELETE FROM actions WHERE requested_at < $1 AND status = ANY($2)")
                    .bind(before)
                    .bind(&finals)
                    .execute(c)
                    .await
            })
            .await
            .map_err(|e| backend("forgetting actions", e))?;
        Ok(forgotten.rows_affected())
    }
}
