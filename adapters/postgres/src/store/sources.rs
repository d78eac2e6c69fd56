//! What the ingestion sources have done (`migrations/0008_sources.sql`): trails to poll,
//! checkpoints per folder, files read, agents' heartbeats and each account's ingest status.

use dd0c_ports::sources::{AgentBeat, IngestStatus, SourceKind, SourceStore, Trail, TrailObject};

use super::*;

/// Records the newest activity of an account's source: `last_seen` and `newest_event_time`
/// only ever move forward.
async fn touch(
    c: &mut PgConnection,
    (tenant, account_id): (&str, &str),
    source: SourceKind,
    at: DateTime<Utc>,
    newest: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO ingest_status (tenant_id, account_id, source, last_seen, newest_event_time) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id, account_id, source) DO UPDATE SET \
         last_seen = GREATEST(ingest_status.last_seen, EXCLUDED.last_seen), \
         newest_event_time = GREATEST(ingest_status.newest_event_time, EXCLUDED.newest_event_time)",
    )
    .bind(tenant)
    .bind(account_id)
    .bind(source.as_str())
    .bind(at)
    .bind(newest)
    .execute(c)
    .await?;
    Ok(())
}

#[async_trait]
impl SourceStore for PgStore {
    async fn put_trail(&self, trail: &Trail) -> PortResult<()> {
        self.scoped(&trail.tenant, async |c| {
            sqlx::query(
                "INSERT INTO trails (tenant_id, account_id, location) VALUES ($1, $2, $3) \
                 ON CONFLICT (tenant_id, account_id) DO UPDATE SET location = EXCLUDED.location",
            )
            .bind(&trail.tenant)
            .bind(&trail.account_id)
            .bind(trail.location.to_string())
            .execute(c)
            .await
        })
        .await
        .map_err(|e| backend("storing a trail", e))?;
        Ok(())
    }

    async fn remove_trail(&self, tenant: &str, account_id: &str) -> PortResult<bool> {
        let done = self
            .scoped(tenant, async |c| {
                sqlx::query("DELETE FROM trails WHERE tenant_id = $1 AND account_id = $2")
                    .bind(tenant)
                    .bind(account_id)
                    .execute(c)
                    .await
            })
            .await
            .map_err(|e| backend("removing a trail", e))?;
        Ok(done.rows_affected() > 0)
    }

    async fn trails(&self, tenant: Option<&str>) -> PortResult<Vec<Trail>> {
        let rows: Vec<(String, String, String)> = self
            .scoped(tenant.unwrap_or(EVERY_TENANT), async |c| {
                sqlx::query_as(
                    "SELECT tenant_id, account_id, location FROM trails \
                     WHERE $1::text IS NULL OR tenant_id = $1 ORDER BY tenant_id, account_id",
                )
                .bind(tenant)
                .fetch_all(c)
                .await
            })
            .await
            .map_err(|e| backend("listing trails", e))?;
        rows.into_iter()
            .map(|(tenant, account_id, location)| {
                Ok(Trail {
                    tenant,
                    account_id,
                    location: location.parse()?,
                })
            })
            .collect()
    }

    async fn checkpoint(
        &self,
        tenant: &str,
        account_id: &str,
        folder: &str,
    ) -> PortResult<Option<String>> {
        let row: Option<(String,)> = self
            .scoped(tenant, async |c| {
                sqlx::query_as(
                    "SELECT last_key FROM trail_checkpoints \
                     WHERE tenant_id = $1 AND account_id = $2 AND folder = $3",
                )
                .bind(tenant)
                .bind(account_id)
                .bind(folder)
                .fetch_optional(c)
                .await
            })
            .await
            .map_err(|e| backend("reading a trail checkpoint", e))?;
        Ok(row.map(|(key,)| key))
    }

    async fn already_read(
        &self,
        tenant: &str,
        account_id: &str,
        objects: &[TrailObject],
    ) -> PortResult<Vec<bool>> {
        let keys: Vec<&str> = objects.iter().map(|o| o.key.as_str()).collect();
        let etags: Vec<&str> = objects.iter().map(|o| o.etag.as_str()).collect();
        let read: Vec<(String, String)> = self
            .scoped(tenant, async |c| {
                sqlx::query_as(
                    "SELECT r.key, r.etag FROM trail_files_read r \
                     JOIN unnest($3::text[], $4::text[]) AS o(key, etag) \
                       ON r.key = o.key AND r.etag = o.etag \
                     WHERE r.tenant_id = $1 AND r.account_id = $2",
                )
                .bind(tenant)
                .bind(account_id)
                .bind(&keys)
                .bind(&etags)
                .fetch_all(c)
                .await
            })
            .await
            .map_err(|e| backend("looking up trail files read", e))?;
        let read: HashSet<(String, String)> = read.into_iter().collect();
        Ok(objects
            .iter()
            .map(|o| read.contains(&(o.key.clone(), o.etag.clone())))
            .collect())
    }

    async fn forget_reads_before(&self, before: DateTime<Utc>) -> PortResult<u64> {
        self.scoped(EVERY_TENANT, async |c| {
            sqlx::query("DELETE FROM trail_files_read WHERE read_at < $1")
                .bind(before)
                .execute(c)
                .await
        })
        .await
        .map(|done| done.rows_affected())
        .map_err(|e| backend("forgetting files read", e))
    }

    async fn mark_read(
        &self,
        tenant: &str,
        account_id: &str,
        folder: &str,
        object: &TrailObject,
        newest_event_time: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) -> PortResult<()> {
        self.scoped(tenant, async |c| {
            sqlx::query(
                "INSERT INTO trail_files_read (tenant_id, account_id, key, etag, read_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(tenant)
            .bind(account_id)
            .bind(&object.key)
            .bind(&object.etag)
            .bind(at)
            .execute(&mut *c)
            .await?;
            sqlx::query(
                "INSERT INTO trail_checkpoints (tenant_id, account_id, folder, last_key) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, account_id, folder) \
                 DO UPDATE SET last_key = GREATEST(trail_checkpoints.last_key, EXCLUDED.last_key)",
            )
            .bind(tenant)
            .bind(account_id)
            .bind(folder)
            .bind(&object.key)
            .execute(&mut *c)
            .await?;
            touch(
                c,
                (tenant, account_id),
                SourceKind::S3,
                at,
                newest_event_time,
            )
            .await
        })
        .await
        .map_err(|e| backend("recording a trail file read", e))
    }

    async fn heartbeat(&self, beat: &AgentBeat) -> PortResult<()> {
        let payload = encode(beat, "an agent heartbeat")?;
        self.scoped(&beat.tenant, async |c| {
            sqlx::query(
                "INSERT INTO agents (tenant_id, agent_id, account_id, payload) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, agent_id) \
                 DO UPDATE SET account_id = EXCLUDED.account_id, payload = EXCLUDED.payload",
            )
            .bind(&beat.tenant)
            .bind(&beat.agent_id)
            .bind(&beat.account_id)
            .bind(Json(&payload))
            .execute(&mut *c)
            .await?;
            touch(
                c,
                (&beat.tenant, &beat.account_id),
                SourceKind::Agent,
                beat.last_seen,
                beat.newest_event_time,
            )
            .await
        })
        .await
        .map_err(|e| backend("storing an agent heartbeat", e))
    }

    async fn agents(&self, tenant: &str) -> PortResult<Vec<AgentBeat>> {
        let rows: Vec<(Json<serde_json::Value>,)> = self
            .scoped(tenant, async |c| {
                sqlx::query_as(
                    "SELECT payload FROM agents WHERE tenant_id = $1 \
                     ORDER BY account_id, agent_id",
                )
                .bind(tenant)
                .fetch_all(c)
                .await
            })
            .await
            .map_err(|e| backend("listing agents", e))?;
        decode_all(rows, "an agent heartbeat")
    }

    async fn ingest_status(&self, tenant: Option<&str>) -> PortResult<Vec<IngestStatus>> {
        type Row = (String, String, String, DateTime<Utc>, Option<DateTime<Utc>>);
        let rows: Vec<Row> = self
            .scoped(tenant.unwrap_or(EVERY_TENANT), async |c| {
                sqlx::query_as(
                    "SELECT tenant_id, account_id, source, last_seen, newest_event_time \
                     FROM ingest_status WHERE $1::text IS NULL OR tenant_id = $1 \
                     ORDER BY tenant_id, account_id, source",
                )
                .bind(tenant)
                .fetch_all(c)
                .await
            })
            .await
            .map_err(|e| backend("listing ingest status", e))?;
        rows.into_iter()
            .map(|(tenant, account_id, source, last_seen, newest)| {
                Ok(IngestStatus {
                    tenant,
                    account_id,
                    source: source.parse()?,
                    last_seen,
                    newest_event_time: newest,
                })
            })
            .collect()
    }
}
