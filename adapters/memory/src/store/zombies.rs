//! The zombie hunter's findings, by tenant and finding id.

use dd0c_ports::zombie::{by_waste, Finding, FindingFilter, ZombieStore};

use super::*;

#[async_trait]
impl ZombieStore for MemoryStore {
    async fn finding(&self, tenant: &str, finding_id: &str) -> PortResult<Option<Finding>> {
        Ok(lock(&self.inner)
            .findings
            .get(&(tenant.to_owned(), finding_id.to_owned()))
            .cloned())
    }

    async fn findings(&self, tenant: &str, filter: &FindingFilter) -> PortResult<Vec<Finding>> {
        let mut found: Vec<Finding> = lock(&self.inner)
            .findings
            .values()
            .filter(|f| f.tenant == tenant && filter.matches(f))
            .cloned()
            .collect();
        found.sort_by(by_waste);
        Ok(found)
    }

    async fn put_findings(&self, findings: &[Finding]) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        for finding in findings {
            inner.findings.insert(
                (finding.tenant.clone(), finding.finding_id.clone()),
                finding.clone(),
            );
        }
        Ok(())
    }

    async fn remove_findings(&self, tenant: &str, finding_ids: &[String]) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        for id in finding_ids {
            inner.findings.remove(&(tenant.to_owned(), id.clone()));
        }
        Ok(())
    }
}
