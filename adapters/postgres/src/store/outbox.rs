//! The outbox the notifier claims, delivers and marks.

use super::*;

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

    async fn enqueue(&self, message: &OutboxMessage) -> PortResult<()> {
        self.scoped(EVERY_TENANT, async |c| {
            sqlx::query(
                "INSERT INTO outbox (outbox_id, tenant_id, payload, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (outbox_id) DO NOTHING",
            )
            .bind(&message.outbox_id)
            .bind(&message.tenant)
            .bind(Json(message))
            .bind(message.created_at)
            .execute(c)
            .await
        })
        .await
        .map_err(|e| backend("adding to the outbox", e))?;
        Ok(())
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
