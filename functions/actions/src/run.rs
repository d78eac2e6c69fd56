//! Running an approved action: [`RunActions`] takes each [`RunAction`] off the actions queue and
//! [`Remediation::run`] does it in these steps, each in the log:
//! 1. held — panic mode, the tenant's actions breaker open, remediation turned off, or the
//!    hour's `max_per_hour` slots taken: the action is `blocked` (an admin may approve again);
//! 2. dry-run again in the account (the world may have changed since the request): `failed`
//!    with the cloud's answer if it does not pass;
//! 3. claimed — moved to `running` by one worker only, so it never runs twice;
//! 4. run: `done` with the cloud's calls, request ids and the way back, or `failed`;
//! 5. its effects: a finding it ended is `gone`; an anomaly's resources it stopped or
//!    terminated are recorded in the ledger, in the action's name, and the anomaly resolves
//!    itself once they have all ended.
//!
//! Failures of the cloud count on the tenant's actions breaker (`{tenant}:actions`), which
//! opens after repeated failures as the channels' breakers do.

use async_trait::async_trait;
use chrono::{DurationRound, TimeDelta};
use dd0c_function::{FunctionError, Handled, QueueFunction, Received};
use dd0c_notify::breaker;
use dd0c_ports::domain::Account;
use dd0c_ports::ledger::{Mark, ResourceChange, ResourceKey};
use dd0c_ports::queue::Delivery;
use dd0c_ports::remediation::{ActionRecord, ActionStatus, Decision, Ran, Step, Subject};
use dd0c_ports::zombie::FindingStatus;
use dd0c_ports::PortError;

use crate::rules::WORKER;
use crate::{Remediation, RunAction};

/// The rule the worker's steps name.
const RUN_RULE: &str = "approved; held by panic mode, the actions breaker and max_per_hour";

/// The queue function that runs approved actions.
#[allow(missing_debug_implementations)]
pub struct RunActions(pub Remediation);

#[async_trait]
impl QueueFunction for RunActions {
    type Message = RunAction;

    fn name(&self) -> &'static str {
        "actions"
    }

    fn decode(&self, delivery: &Delivery) -> Result<RunAction, FunctionError> {
        serde_json::from_str(&delivery.body).map_err(|e| FunctionError::malformed(delivery, e))
    }

    async fn handle(&self, message: &Received<'_, RunAction>) -> Result<Handled, FunctionError> {
        self.0.run(&message.message).await?;
        Ok(Handled::Done)
    }
}

/// The breaker of a tenant's actions, in the flags store beside the channels'.
fn breaker_key(tenant: &str) -> String {
    format!("{tenant}:actions")
}

impl Remediation {
    /// Runs the approved action `run` names; an action no longer approved (run, blocked,
    /// rejected, forgotten) is left as it is. Returns the action as it ends up, if it moved.
    pub async fn run(&self, run: &RunAction) -> Result<Option<ActionRecord>, FunctionError> {
        let Some(action) = self
            .stores
            .actions
            .action(&run.tenant, &run.action_id)
            .await
            .map_err(FunctionError::port("reading the action"))?
        else {
            return Ok(None);
        };
        if action.status != ActionStatus::Approved {
            return Ok(None);
        }
        if let Some(why) = self.held(&action).await? {
            return self
                .step(
                    &action,
                    ActionStatus::Approved,
                    ActionStatus::Blocked,
                    Step::Blocked,
                    why,
                )
                .await;
        }
        let account = match self
            .actable_account(&action.tenant, &action.account_id)
            .await
        {
            Ok(account) => account,
            Err(e) => {
                return self
                    .step(
                        &action,
                        ActionStatus::Approved,
                        ActionStatus::Failed,
                        Step::Failed,
                        e.to_string(),
                    )
                    .await
            }
        };
        let remediator = match self.remediator(&account, &action.action_id).await {
            Ok(remediator) => remediator,
            Err(e) => return self.failed(&action, ActionStatus::Approved, e).await,
        };
        if let Err(e) = remediator.dry_run(&action.region, &action.action).await {
            return self.failed(&action, ActionStatus::Approved, e).await;
        }
        let claimed = self
            .step(
                &action,
                ActionStatus::Approved,
                ActionStatus::Running,
                Step::DryRun,
                "passed; running".into(),
            )
            .await?;
        if claimed.is_none() {
            return Ok(None);
        }
        match remediator
            .run(&action.region, &action.action, action.action_id.as_str())
            .await
        {
            Ok(ran) => self.done(&action, &account, ran).await,
            Err(e) => self.failed(&action, ActionStatus::Running, e).await,
        }
    }

    /// Why the action must wait, if it must: panic mode, the breaker, remediation turned off,
    /// no slot left this hour (taken last: only an action about to run takes one).
    async fn held(&self, action: &ActionRecord) -> Result<Option<String>, FunctionError> {
        let tenant = &action.tenant;
        let now = self.clock.now();
        if self
            .flags
            .panic_mode(tenant)
            .await
            .map_err(FunctionError::port("reading panic mode"))?
        {
            return Ok(Some("panic mode is on: no action runs".into()));
        }
        let state = self
            .flags
            .breaker(&breaker_key(tenant))
            .await
            .map_err(FunctionError::port("reading the actions breaker"))?;
        if !breaker::allows(state.as_ref(), now) {
            return Ok(Some(format!(
                "the actions breaker is open after {} failures in a row",
                state.map_or(0, |s| s.consecutive_failures)
            )));
        }
        let settings = self
            .flags
            .remediation(tenant)
            .await
            .map_err(FunctionError::port("reading the remediation settings"))?;
        if settings.mode == dd0c_ports::remediation::RemediationMode::Off {
            return Ok(Some("remediation was turned off".into()));
        }
        let hour = now
            .duration_trunc(TimeDelta::hours(1))
            .map_err(|e| FunctionError::Invalid(format!("the hour of {now}: {e}")))?;
        let slot = self
            .flags
            .take_action_slot(tenant, hour, settings.max_per_hour)
            .await
            .map_err(FunctionError::port("taking an action slot"))?;
        Ok((!slot).then(|| {
            format!(
                "max_per_hour: {} actions already ran this hour",
                settings.max_per_hour
            )
        }))
    }

    /// Appends a step of the worker's with no calls, moving the action `from` → `to`.
    async fn step(
        &self,
        action: &ActionRecord,
        from: ActionStatus,
        to: ActionStatus,
        step: Step,
        outcome: String,
    ) -> Result<Option<ActionRecord>, FunctionError> {
        let decision = Decision::new(self.clock.now(), WORKER, step, RUN_RULE, outcome);
        self.decide(action, from, to, &decision).await
    }

    async fn decide(
        &self,
        action: &ActionRecord,
        from: ActionStatus,
        to: ActionStatus,
        decision: &Decision,
    ) -> Result<Option<ActionRecord>, FunctionError> {
        self.stores
            .actions
            .decide(&action.tenant, &action.action_id, &[from], to, decision)
            .await
            .map_err(FunctionError::port("recording a step"))
    }

    /// The cloud refused: the action fails with its answer, and the breaker counts it.
    async fn failed(
        &self,
        action: &ActionRecord,
        from: ActionStatus,
        error: PortError,
    ) -> Result<Option<ActionRecord>, FunctionError> {
        let key = breaker_key(&action.tenant);
        let state = self
            .flags
            .breaker(&key)
            .await
            .map_err(FunctionError::port("reading the actions breaker"))?;
        let next = breaker::after_failure(state.as_ref(), self.clock.now());
        self.flags
            .put_breaker(&key, &next)
            .await
            .map_err(FunctionError::port("storing the actions breaker"))?;
        self.step(
            action,
            from,
            ActionStatus::Failed,
            Step::Failed,
            error.to_string(),
        )
        .await
    }

    /// The run succeeded: logged with its calls and way back, the breaker closed, and its
    /// effects recorded.
    async fn done(
        &self,
        action: &ActionRecord,
        account: &Account,
        ran: Ran,
    ) -> Result<Option<ActionRecord>, FunctionError> {
        let decision = Decision {
            calls: ran.calls,
            way_back: Some(ran.way_back),
            ..Decision::new(self.clock.now(), WORKER, Step::Executed, RUN_RULE, "ran")
        };
        let done = self
            .decide(action, ActionStatus::Running, ActionStatus::Done, &decision)
            .await?;
        self.flags
            .put_breaker(&breaker_key(&action.tenant), &breaker::after_success())
            .await
            .map_err(FunctionError::port("closing the actions breaker"))?;
        self.record_effects(action, account).await?;
        Ok(done)
    }

    /// What the action ended: its finding gone; its anomaly's resources stopped or ended in
    /// the ledger, in the action's name, and the anomaly resolved once none runs.
    async fn record_effects(
        &self,
        action: &ActionRecord,
        account: &Account,
    ) -> Result<(), FunctionError> {
        let now = self.clock.now();
        match &action.subject {
            Subject::Finding(finding_id) => {
                let found = self
                    .stores
                    .zombies
                    .finding(&action.tenant, finding_id)
                    .await
                    .map_err(FunctionError::port("reading the finding"))?;
                if let Some(mut finding) = found.filter(|f| f.status != FindingStatus::Gone) {
                    finding.status = FindingStatus::Gone;
                    finding.gone_at = Some(now);
                    self.stores
                        .zombies
                        .put_findings(&[finding])
                        .await
                        .map_err(FunctionError::port("marking the finding gone"))?;
                }
            }
            Subject::Anomaly(anomaly_id) => {
                let changes = ledger_changes(action, account, now);
                self.stores
                    .ledger
                    .record(&action.tenant, &changes)
                    .await
                    .map_err(FunctionError::port("recording the ended resources"))?;
                let settled = dd0c_score::lifecycle::settle(
                    self.stores.ledger.as_ref(),
                    self.stores.anomalies.as_ref(),
                    &action.tenant,
                    anomaly_id,
                    now,
                )
                .await
                .map_err(FunctionError::port("resolving the anomaly"))?;
                if let Some(follow_up) = settled.as_ref().and_then(|s| s.follow_up()) {
                    self.stores
                        .outbox
                        .enqueue(&follow_up)
                        .await
                        .map_err(FunctionError::port("queueing the resolution's follow-up"))?;
                }
            }
        }
        Ok(())
    }
}

/// The ledger's record of what `action` did to an anomaly's resources, marked with the
/// action's session as the actor (as the account's CloudTrail names it) and the action's id
/// as the event, so a redelivery records nothing twice (nor does CloudTrail's own record of
/// the call: a second end or stop changes nothing).
fn ledger_changes(
    action: &ActionRecord,
    account: &Account,
    at: chrono::DateTime<chrono::Utc>,
) -> Vec<ResourceChange> {
    let Some(effect) = action.action.kind().effect() else {
        return Vec::new();
    };
    let role = account
        .remediation_role_arn
        .as_deref()
        .and_then(|arn| arn.rsplit_once('/'))
        .map_or("dd0c-cost-remediation", |(_, name)| name);
    let actor_arn = format!(
        "arn:aws:sts::{}:assumed-role/{role}/dd0c-cost-{}",
        action.account_id, action.action_id
    );
    action
        .action
        .resource_ids()
        .into_iter()
        .map(|id| ResourceChange {
            key: ResourceKey::new(&action.account_id, &action.region, id),
            change: effect.change,
            resource_kind: effect.resource_kind.to_owned(),
            resource_type: "unknown".to_owned(),
            quantity: 1,
            unit_hourly_usd: 0.0,
            priced: false,
            mark: Mark {
                at,
                actor_arn: actor_arn.clone(),
                event_id: format!("dd0c:{}", action.action_id),
                call: effect.call.to_owned(),
            },
        })
        .collect()
}
