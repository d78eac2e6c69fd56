//! Actions and their decision log, by tenant and action id.

use dd0c_ports::remediation::{
    action_cursor, ActionFilter, ActionId, ActionRecord, ActionStatus, ActionStore, Decision,
};

use super::*;

/// Each action with its log.
pub(super) type Actions = BTreeMap<(String, ActionId), (ActionRecord, Vec<Decision>)>;

fn key(tenant: &str, action_id: &ActionId) -> (String, ActionId) {
    (tenant.to_owned(), action_id.clone())
}

#[async_trait]
impl ActionStore for MemoryStore {
    async fn add_action(&self, action: &ActionRecord, first: &Decision) -> PortResult<()> {
        let mut inner = lock(&self.inner);
        let key = key(&action.tenant, &action.action_id);
        if inner.actions.contains_key(&key) {
            return Err(PortError::Conflict(format!(
                "action {} already exists",
                action.action_id
            )));
        }
        inner
            .actions
            .insert(key, (action.clone(), vec![first.clone()]));
        Ok(())
    }

    async fn action(&self, tenant: &str, action_id: &ActionId) -> PortResult<Option<ActionRecord>> {
        Ok(lock(&self.inner)
            .actions
            .get(&key(tenant, action_id))
            .map(|(action, _)| action.clone()))
    }

    async fn actions(
        &self,
        tenant: &str,
        filter: &ActionFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> PortResult<Page<ActionRecord>> {
        let after = cursor.map(decode_cursor).transpose()?;
        let mut found: Vec<ActionRecord> = lock(&self.inner)
            .actions
            .values()
            .map(|(action, _)| action)
            .filter(|a| a.tenant == tenant && filter.matches(a))
            .filter(|a| {
                after.as_ref().is_none_or(|(at, id)| {
                    (a.requested_at, a.action_id.as_str()) < (*at, id.as_str())
                })
            })
            .cloned()
            .collect();
        found.sort_by(|a, b| (b.requested_at, &b.action_id).cmp(&(a.requested_at, &a.action_id)));
        found.truncate(limit + 1);
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
        let mut inner = lock(&self.inner);
        let (action, log) = inner
            .actions
            .get_mut(&key(tenant, action_id))
            .ok_or_else(|| PortError::NotFound(format!("action {action_id}")))?;
        if !from.contains(&action.status) {
            return Ok(None);
        }
        action.apply(to, decision);
        log.push(decision.clone());
        Ok(Some(action.clone()))
    }

    async fn decisions(&self, tenant: &str, action_id: &ActionId) -> PortResult<Vec<Decision>> {
        Ok(lock(&self.inner)
            .actions
            .get(&key(tenant, action_id))
            .map(|(_, log)| log.clone())
            .unwrap_or_default())
    }

    async fn forget_actions_before(&self, before: DateTime<Utc>) -> PortResult<u64> {
        let mut inner = lock(&self.inner);
        let count = inner.actions.len();
        inner
            .actions
            .retain(|_, (a, _)| !(a.status.is_final() && a.requested_at < before));
        Ok((count - inner.actions.len()) as u64)
    }
}
