//! Actions and their decision log in the tenant's partition: the action at `ACTION#{id}` (its
//! status and the next step's number beside the doc), listed newest first through GSI1
//! (`TENANT#{t}`, `ACTION#{requested}#{id}`), and each step at `ACTIONLOG#{id}#{seq}`. A step
//! is one transaction: the action moved on condition that its step count is still the one read
//! (so of two racing steps one wins, the other reads again), and the step created.

use dd0c_ports::remediation::{
    action_cursor, ActionFilter, ActionId, ActionRecord, ActionStatus, ActionStore, Decision,
};

use super::*;

fn action_sk(action_id: &ActionId) -> String {
    format!("ACTION#{action_id}")
}

fn listed_sk(requested_at: DateTime<Utc>, action_id: &str) -> String {
    format!("ACTION#{}#{action_id}", time_key(requested_at))
}

fn log_prefix(action_id: &ActionId) -> String {
    format!("ACTIONLOG#{action_id}#")
}

fn log_sk(action_id: &ActionId, seq: i64) -> String {
    format!("{}{seq:06}", log_prefix(action_id))
}

/// How often a step is retried after losing a race to another step of the same action.
const DECIDE_ATTEMPTS: usize = 5;

impl DynamoStore {
    /// The action's item: its doc, status, step count, listing keys and request time.
    fn action_item(&self, action: &ActionRecord, steps: i64) -> PortResult<Item> {
        let mut item = doc_item(
            tenant_pk(&action.tenant),
            action_sk(&action.action_id),
            action,
        )?;
        item.insert("status".into(), s(action.status.as_str()));
        item.insert("steps".into(), n(steps));
        item.insert(
            "requested".into(),
            n(action.requested_at.timestamp_millis()),
        );
        item.insert("gsi1pk".into(), s(tenant_pk(&action.tenant)));
        item.insert(
            "gsi1sk".into(),
            s(listed_sk(action.requested_at, action.action_id.as_str())),
        );
        Ok(item)
    }

    /// The action and its step count, read consistently.
    async fn action_and_steps(
        &self,
        tenant: &str,
        action_id: &ActionId,
    ) -> PortResult<Option<(ActionRecord, i64)>> {
        let Some(item) = self.get(tenant_pk(tenant), &action_sk(action_id)).await? else {
            return Ok(None);
        };
        Ok(Some((from_doc(&item)?, number(&item, "steps")?)))
    }

    async fn delete_keys(&self, keys: Vec<Item>) -> PortResult<()> {
        for key in keys {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .send()
                .await
                .map_err(|e| sdk("DynamoDB DeleteItem", e))?;
        }
        Ok(())
    }
}

#[async_trait]
impl ActionStore for DynamoStore {
    async fn add_action(&self, action: &ActionRecord, first: &Decision) -> PortResult<()> {
        let item = self.action_item(action, 1)?;
        let step = doc_item(
            tenant_pk(&action.tenant),
            log_sk(&action.action_id, 0),
            first,
        )?;
        let writes = vec![
            TransactWriteItem::builder().put(self.create(item)?).build(),
            TransactWriteItem::builder().put(self.create(step)?).build(),
        ];
        match self.transact(writes).await? {
            None => Ok(()),
            Some(_) => Err(PortError::Conflict(format!(
                "action {} already exists",
                action.action_id
            ))),
        }
    }

    async fn action(&self, tenant: &str, action_id: &ActionId) -> PortResult<Option<ActionRecord>> {
        Ok(self
            .action_and_steps(tenant, action_id)
            .await?
            .map(|(action, _)| action))
    }

    async fn actions(
        &self,
        tenant: &str,
        filter: &ActionFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> PortResult<Page<ActionRecord>> {
        let after = cursor
            .map(decode_cursor)
            .transpose()?
            .map(|(at, id)| listed_sk(at, &id));
        let range = Range {
            index: Some(GSI1),
            pk: tenant_pk(tenant),
            from: "ACTION#".to_owned(),
            to: after
                .clone()
                .unwrap_or_else(|| "ACTION#\u{ffff}".to_owned()),
            newest_first: true,
        };
        let found = self
            .query(&range, limit + 1, |item| {
                // The range's bound is inclusive: the cursor's own action is not listed again.
                if after.as_deref() == Some(string(item, "gsi1sk")?) {
                    return Ok(None);
                }
                let action: ActionRecord = from_doc(item)?;
                Ok(filter.matches(&action).then_some(action))
            })
            .await?;
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
        for _ in 0..DECIDE_ATTEMPTS {
            let (mut action, steps) = self
                .action_and_steps(tenant, action_id)
                .await?
                .ok_or_else(|| PortError::NotFound(format!("action {action_id}")))?;
            if !from.contains(&action.status) {
                return Ok(None);
            }
            action.apply(to, decision);
            let moved = build(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(self.action_item(&action, steps + 1)?))
                    .condition_expression("steps = :steps")
                    .expression_attribute_values(":steps", n(steps))
                    .build(),
            )?;
            let step = doc_item(tenant_pk(tenant), log_sk(action_id, steps), decision)?;
            let writes = vec![
                TransactWriteItem::builder().put(moved).build(),
                TransactWriteItem::builder().put(self.create(step)?).build(),
            ];
            if self.transact(writes).await?.is_none() {
                return Ok(Some(action));
            }
        }
        Err(PortError::Unavailable(format!(
            "action {action_id}: {DECIDE_ATTEMPTS} steps raced this one; try again"
        )))
    }

    async fn decisions(&self, tenant: &str, action_id: &ActionId) -> PortResult<Vec<Decision>> {
        self.query(
            &Range::prefix(tenant_pk(tenant), &log_prefix(action_id)),
            usize::MAX,
            |item| from_doc(item).map(Some),
        )
        .await
    }

    async fn forget_actions_before(&self, before: DateTime<Utc>) -> PortResult<u64> {
        let finals: Vec<&str> = ActionStatus::ALL
            .iter()
            .filter(|s| s.is_final())
            .map(|s| s.as_str())
            .collect();
        let placeholders: Vec<String> = (0..finals.len()).map(|i| format!(":f{i}")).collect();
        let mut forgotten = 0;
        let mut start = None;
        loop {
            let mut scan = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(format!(
                    "begins_with(sk, :action) AND requested < :before AND #status IN ({})",
                    placeholders.join(", ")
                ))
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":action", s("ACTION#"))
                .expression_attribute_values(":before", n(before.timestamp_millis()))
                .set_exclusive_start_key(start);
            for (placeholder, status) in placeholders.iter().zip(&finals) {
                scan = scan.expression_attribute_values(placeholder, s(*status));
            }
            let output = scan.send().await.map_err(|e| sdk("DynamoDB Scan", e))?;
            for item in output.items.unwrap_or_default() {
                let action: ActionRecord = from_doc(&item)?;
                let pk = tenant_pk(&action.tenant);
                let mut keys: Vec<Item> = self
                    .query(
                        &Range::prefix(pk.clone(), &log_prefix(&action.action_id)),
                        usize::MAX,
                        |step| Ok(Some(key(pk.clone(), string(step, "sk")?))),
                    )
                    .await?;
                // The action last: a retention run cut short leaves it to be found again.
                keys.push(key(pk.clone(), action_sk(&action.action_id)));
                self.delete_keys(keys).await?;
                forgotten += 1;
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(forgotten);
            }
        }
    }
}
