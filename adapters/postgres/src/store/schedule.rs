//! Claims of scheduled ticks: one replica per tick.

use super::*;

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
