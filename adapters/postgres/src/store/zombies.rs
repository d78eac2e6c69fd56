//! The zombie hunter's findings: one JSONB row per (tenant, finding id), with the columns its
//! listings filter and order on.

use dd0c_ports::zombie::{Finding, FindingFilter, ZombieStore};

use super::*;

#[async_trait]
impl ZombieStore for PgStore {
    async fn finding(&self, tenant: &str, finding_id: &str) -> PortResult<Option<Finding>> {
        let row: Option<(Json<serde_json::Value>,)> = self
            .scoped(tenant, async |c| {
                sqlx::query_as(
                    "SELECT payload FROM zombie_findings WHERE tenant_id = $1 AND finding_id = $2",
                )
                .bind(tenant)
                .bind(finding_id)
                .fetch_optional(c)
                .await
            })
            .await
            .map_err(|e| backend("reading a finding", e))?;
        row.map(|(Json(v),)| decode(v, "a finding")).transpose()
    }

    async fn findings(&self, tenant: &str, filter: &FindingFilter) -> PortResult<Vec<Finding>> {
        let kinds: Vec<&str> = filter.kinds.iter().map(|k| k.as_str()).collect();
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        let rows: Vec<(Json<serde_json::Value>,)> = self
            .scoped(tenant, async |c| {
                sqlx::query_as(
                    "SELECT payload FROM zombie_findings WHERE tenant_id = $1 \
                     AND ($2::text IS NULL OR account_id = $2) \
                     AND ($3::text IS NULL OR region = $3) \
                     AND (cardinality($4::text[]) = 0 OR kind = ANY($4)) \
                     AND (cardinality($5::text[]) = 0 OR status = ANY($5)) \
                     ORDER BY monthly_waste_usd DESC, finding_id",
                )
                .bind(tenant)
                .bind(&filter.account_id)
                .bind(&filter.region)
                .bind(&kinds)
                .bind(&statuses)
                .fetch_all(c)
                .await
            })
            .await
            .map_err(|e| backend("listing findings", e))?;
        decode_all(rows, "a finding")
    }

    async fn put_findings(&self, findings: &[Finding]) -> PortResult<()> {
        let mut by_tenant: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
        for finding in findings {
            by_tenant.entry(&finding.tenant).or_default().push(finding);
        }
        for (tenant, findings) in by_tenant {
            let mut ids = Vec::with_capacity(findings.len());
            let mut accounts = Vec::with_capacity(findings.len());
            let mut regions = Vec::with_capacity(findings.len());
            let mut kinds = Vec::with_capacity(findings.len());
            let mut statuses = Vec::with_capacity(findings.len());
            let mut wastes = Vec::with_capacity(findings.len());
            let mut payloads = Vec::with_capacity(findings.len());
            for f in findings {
                ids.push(f.finding_id.as_str());
                accounts.push(f.account_id.as_str());
                regions.push(f.region.as_str());
                kinds.push(f.kind.as_str());
                statuses.push(f.status.as_str());
                wastes.push(f.monthly_waste_usd);
                payloads.push(encode(f, "a finding")?);
            }
            self.scoped(tenant, async |c| {
                sqlx::query(
                    "INSERT INTO zombie_findings \
                     (tenant_id, finding_id, account_id, region, kind, status, monthly_waste_usd, payload) \
                     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::jsonb[]) \
                     ON CONFLICT (tenant_id, finding_id) DO UPDATE SET account_id = EXCLUDED.account_id, \
                     region = EXCLUDED.region, kind = EXCLUDED.kind, status = EXCLUDED.status, \
                     monthly_waste_usd = EXCLUDED.monthly_waste_usd, payload = EXCLUDED.payload, updated_at = now()",
                )
                .bind(tenant)
                .bind(&ids)
                .bind(&accounts)
                .bind(&regions)
                .bind(&kinds)
                .bind(&statuses)
                .bind(&wastes)
                .bind(&payloads)
                .execute(c)
                .await
            })
            .await
            .map_err(|e| backend("storing findings", e))?;
        }
        Ok(())
    }

    async fn remove_findings(&self, tenant: &str, finding_ids: &[String]) -> PortResult<()> {
        if finding_ids.is_empty() {
            return Ok(());
        }
        self.scoped(tenant, async |c| {
            sqlx::query("DELETE FROM zombie_findings WHERE tenant_id = $1 AND finding_id = ANY($2)")
                .bind(tenant)
                .bind(finding_ids)
                .execute(c)
                .await
        })
        .await
        .map_err(|e| backend("removing findings", e))?;
        Ok(())
    }
}
