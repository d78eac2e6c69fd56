//! What the normalizer learned, per tenant.

use super::*;

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
