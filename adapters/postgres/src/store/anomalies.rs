//! Anomalies: the filtered, paged list, one by id, feedback and snoozes.

use super::*;

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
