//! The zombie hunter's findings: `ZOMBIE#{finding_id}` items in the tenant's partition, filtered
//! and ordered by waste after the read (a tenant's findings are few enough to read whole).

use dd0c_ports::zombie::{by_waste, Finding, FindingFilter, ZombieStore};

use super::*;

fn finding_sk(finding_id: &str) -> String {
    format!("ZOMBIE#{finding_id}")
}

#[async_trait]
impl ZombieStore for DynamoStore {
    async fn finding(&self, tenant: &str, finding_id: &str) -> PortResult<Option<Finding>> {
        self.get(tenant_pk(tenant), &finding_sk(finding_id))
            .await?
            .map(|item| from_doc(&item))
            .transpose()
    }

    async fn findings(&self, tenant: &str, filter: &FindingFilter) -> PortResult<Vec<Finding>> {
        let mut found: Vec<Finding> = self
            .query(
                &Range::prefix(tenant_pk(tenant), &finding_sk("")),
                usize::MAX,
                |item| {
                    let finding: Finding = from_doc(item)?;
                    Ok(filter.matches(&finding).then_some(finding))
                },
            )
            .await?;
        found.sort_by(by_waste);
        Ok(found)
    }

    async fn put_findings(&self, findings: &[Finding]) -> PortResult<()> {
        let items = findings
            .iter()
            .map(|f| doc_item(tenant_pk(&f.tenant), finding_sk(&f.finding_id), f))
            .collect::<PortResult<Vec<_>>>()?;
        self.batch_put(items).await
    }

    async fn remove_findings(&self, tenant: &str, finding_ids: &[String]) -> PortResult<()> {
        for id in finding_ids {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(tenant_pk(tenant), finding_sk(id))))
                .send()
                .await
                .map_err(|e| sdk("DynamoDB DeleteItem", e))?;
        }
        Ok(())
    }
}
