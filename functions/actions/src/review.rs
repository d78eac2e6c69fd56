//! An admin's answer to a request: [`Remediation::approve`] queues the action to run,
//! [`Remediation::reject`] ends it. Each moves the action only from `requested` (or `blocked`,
//! to try again after panic mode or the hourly limit held it), so a replayed click does
//! nothing twice; an approval replayed while the action waits to run sends the same run again,
//! which the queue drops as a duplicate and the worker would run once anyway.

use dd0c_ports::auth::Principal;
use dd0c_ports::remediation::{ActionId, ActionRecord, ActionStatus, Decision, Step};

use crate::rules::{actor, review_rule};
use crate::{ActionError, Remediation};

/// Where an admin's answer can move an action from.
const REVIEWABLE: [ActionStatus; 2] = [ActionStatus::Requested, ActionStatus::Blocked];

impl Remediation {
    /// Approves action `action_id` of `principal`'s tenant and queues it to run. Returns the
    /// action as it stands.
    pub async fn approve(
        &self,
        principal: &Principal,
        action_id: &ActionId,
    ) -> Result<ActionRecord, ActionError> {
        let (action, rule) = self.reviewed(principal, action_id).await?;
        self.approve_as(&action, actor(principal), &rule).await
    }

    /// Rejects action `action_id` of `principal`'s tenant, with `reason` in its log.
    pub async fn reject(
        &self,
        principal: &Principal,
        action_id: &ActionId,
        reason: &str,
    ) -> Result<ActionRecord, ActionError> {
        let (action, rule) = self.reviewed(principal, action_id).await?;
        let step = Decision::new(
            self.clock.now(),
            actor(principal),
            Step::Rejected,
            rule,
            reason,
        );
        self.stores
            .actions
            .decide(
                &action.tenant,
                action_id,
                &REVIEWABLE,
                ActionStatus::Rejected,
                &step,
            )
            .await
            .map_err(ActionError::port("recording the rejection"))?
            .ok_or_else(|| moved(&action))
    }

    /// The action, and the rule that lets `principal` review it.
    async fn reviewed(
        &self,
        principal: &Principal,
        action_id: &ActionId,
    ) -> Result<(ActionRecord, String), ActionError> {
        let tenant = &principal.tenant;
        let settings = self
            .flags
            .remediation(tenant)
            .await
            .map_err(ActionError::port("reading the remediation settings"))?;
        let action = self
            .stores
            .actions
            .action(tenant, action_id)
            .await
            .map_err(ActionError::port("reading the action"))?
            .ok_or_else(|| ActionError::NotFound(format!("no action {action_id}")))?;
        let rule = review_rule(&settings, principal, &action.requested_by)?;
        Ok((action, rule))
    }

    /// Approves `action` as `who` by `rule` and queues its run. An action already approved
    /// and waiting is queued again (the same run, dropped as a duplicate) and answered as
    /// [`ActionError::Moved`].
    pub(crate) async fn approve_as(
        &self,
        action: &ActionRecord,
        who: &str,
        rule: &str,
    ) -> Result<ActionRecord, ActionError> {
        let step = Decision::new(self.clock.now(), who, Step::Approved, rule, "queued to run");
        let approved = self
            .stores
            .actions
            .decide(
                &action.tenant,
                &action.action_id,
                &REVIEWABLE,
                ActionStatus::Approved,
                &step,
            )
            .await
            .map_err(ActionError::port("recording the approval"))?;
        match approved {
            Some(approved) => {
                self.queue_run(&approved).await?;
                Ok(approved)
            }
            None => {
                let current = self.current(action).await?;
                if current.status == ActionStatus::Approved {
                    // A queue send lost after the approval was recorded is made good here.
                    self.queue_run(&current).await?;
                }
                Err(moved(&current))
            }
        }
    }

    /// `action` as it is stored now.
    async fn current(&self, action: &ActionRecord) -> Result<ActionRecord, ActionError> {
        self.stores
            .actions
            .action(&action.tenant, &action.action_id)
            .await
            .map_err(ActionError::port("reading the action"))?
            .ok_or_else(|| ActionError::NotFound(format!("no action {}", action.action_id)))
    }
}

fn moved(action: &ActionRecord) -> ActionError {
    ActionError::Moved {
        action_id: action.action_id.clone(),
        status: action.status,
    }
}
