//! Requesting an action: [`Remediation::request`] finds what the subject's resources are, makes
//! the action that fits them, records the request, and asks the cloud's dry run at once — a
//! resource tagged `dd0c:protect`, gone, or out of the role's reach is refused here, before
//! anyone is asked to approve it. In `auto` mode a finding the rule takes is approved as well.

use dd0c_ports::auth::Principal;
use dd0c_ports::domain::Account;
use dd0c_ports::remediation::{
    Action, ActionId, ActionKind, ActionRecord, ActionStatus, Decision, Step, Subject,
};
use dd0c_ports::zombie::{Finding, FindingStatus};

use crate::rules::{actor, auto_rule, request_rule, AUTO};
use crate::{ActionError, Remediation};

/// What a request acts on, found from its subject.
#[derive(Debug, Clone)]
struct Target {
    account_id: String,
    region: String,
    action: Action,
    monthly_usd: f64,
    /// The finding, when the subject is one (`auto` mode judges it).
    finding: Option<Finding>,
}

/// How many hours a month has, for what a running resource costs a month.
const HOURS_PER_MONTH: f64 = 730.0;

impl Remediation {
    /// Requests `kind` (by default the first that fits) on `subject`'s resources for
    /// `principal`'s tenant: checks that remediation is offered, finds the resources, records
    /// the request, and dry-runs it — refused and logged when the dry run fails. In `auto`
    /// mode, a finding the rule takes is approved and queued too. Returns the action as it
    /// stands.
    pub async fn request(
        &self,
        principal: &Principal,
        subject: Subject,
        kind: Option<ActionKind>,
    ) -> Result<ActionRecord, ActionError> {
        let tenant = &principal.tenant;
        let settings = self
            .flags
            .remediation(tenant)
            .await
            .map_err(ActionError::port("reading the remediation settings"))?;
        let rule = request_rule(&settings)?;
        let target = self.target(tenant, &subject, kind).await?;
        let account = self.actable_account(tenant, &target.account_id).await?;
        let now = self.clock.now();
        let action = ActionRecord {
            action_id: ActionId::new(),
            tenant: tenant.clone(),
            account_id: target.account_id,
            region: target.region,
            subject,
            action: target.action,
            monthly_usd: target.monthly_usd,
            requested_by: actor(principal).to_owned(),
            requested_at: now,
            status: ActionStatus::Requested,
            updated_at: now,
            way_back: None,
        };
        let requested = Decision::new(
            now,
            &action.requested_by,
            Step::Requested,
            &rule,
            "requested",
        );
        self.stores
            .actions
            .add_action(&action, &requested)
            .await
            .map_err(ActionError::port("recording the request"))?;
        let action = self.dry_run_request(&account, action).await?;
        match target.finding.and_then(|f| auto_rule(&settings, &f, now)) {
            Some(auto) => self.approve_as(&action, AUTO, &auto).await,
            None => {
                self.ask_for_approval(&action).await;
                Ok(action)
            }
        }
    }

    /// Posts the approval message of `action` to the tenant's Slack channel, unless it has
    /// none or panic mode holds what goes out. A failed post leaves the request as it is: the
    /// approvals queue of the dashboard and the CLI lists it all the same.
    async fn ask_for_approval(&self, action: &ActionRecord) {
        let Some(webhook) = &self.announce else {
            return;
        };
        let tenant = &action.tenant;
        let url = match self.stores.settings.settings(tenant).await {
            Ok(settings) => settings.slack_webhook_url,
            Err(e) => {
                tracing::warn!(%tenant, error = %e, "no approval message: settings unreadable");
                return;
            }
        };
        let Some(url) = url else {
            return;
        };
        if self.flags.panic_mode(tenant).await.unwrap_or(true) {
            return;
        }
        let body = dd0c_notify::render::approval(action).to_string();
        if let Err(e) = webhook.post_bytes(&url, &[], body.as_bytes()).await {
            tracing::warn!(%tenant, action_id = %action.action_id, error = %e, "the approval message was not posted");
        }
    }

    /// The subject's account, region, resources and monthly cost, with the action of `kind`
    /// on them.
    async fn target(
        &self,
        tenant: &str,
        subject: &Subject,
        kind: Option<ActionKind>,
    ) -> Result<Target, ActionError> {
        match subject {
            Subject::Finding(id) => self.finding_target(tenant, id, kind).await,
            Subject::Anomaly(id) => self.anomaly_target(tenant, id, kind).await,
        }
    }

    async fn finding_target(
        &self,
        tenant: &str,
        finding_id: &str,
        kind: Option<ActionKind>,
    ) -> Result<Target, ActionError> {
        let finding = self
            .stores
            .zombies
            .finding(tenant, finding_id)
            .await
            .map_err(ActionError::port("reading the finding"))?
            .ok_or_else(|| ActionError::NotFound(format!("no finding {finding_id}")))?;
        if finding.status != FindingStatus::Open {
            return Err(ActionError::Invalid(format!(
                "finding {finding_id} is {}: only an open finding is acted on",
                finding.status
            )));
        }
        let kind = fitting(
            kind,
            ActionKind::for_finding(finding.kind),
            &format!("a finding of kind {}", finding.kind),
        )?;
        Ok(Target {
            account_id: finding.account_id.clone(),
            region: finding.region.clone(),
            action: kind
                .on(&[finding.action_target().to_owned()])
                .map_err(|e| ActionError::Invalid(e.to_string()))?,
            monthly_usd: finding.monthly_waste_usd * kind.share_saved(),
            finding: Some(finding),
        })
    }

    /// An anomaly's resources still running, as the ledger follows them.
    async fn anomaly_target(
        &self,
        tenant: &str,
        anomaly_id: &str,
        kind: Option<ActionKind>,
    ) -> Result<Target, ActionError> {
        let anomaly = self
            .stores
            .anomalies
            .anomaly(tenant, anomaly_id)
            .await
            .map_err(ActionError::port("reading the anomaly"))?
            .ok_or_else(|| ActionError::NotFound(format!("no anomaly {anomaly_id}")))?;
        let kind = fitting(
            kind,
            ActionKind::for_resource_kind(&anomaly.resource_kind),
            &format!("an anomaly of {}", anomaly.resource_kind),
        )?;
        let now = self.clock.now();
        let records = self
            .stores
            .ledger
            .of_anomaly(tenant, anomaly_id)
            .await
            .map_err(ActionError::port("reading the anomaly's resources"))?;
        let running: Vec<_> = records
            .iter()
            .filter(|r| r.key.account_id == anomaly.account_id && r.key.region == anomaly.region)
            .map(|r| (r.key.resource_id.clone(), r.life(now)))
            .filter(|(_, life)| life.running())
            .collect();
        if running.is_empty() {
            return Err(ActionError::Invalid(format!(
                "none of anomaly {anomaly_id}'s resources is running"
            )));
        }
        let ids: Vec<String> = running.iter().map(|(id, _)| id.clone()).collect();
        let hourly: f64 = running.iter().map(|(_, life)| life.hourly_now()).sum();
        Ok(Target {
            account_id: anomaly.account_id,
            region: anomaly.region,
            action: kind
                .on(&ids)
                .map_err(|e| ActionError::Invalid(e.to_string()))?,
            monthly_usd: hourly * HOURS_PER_MONTH,
            finding: None,
        })
    }

    /// The tenant's account `account_id`, if dd0c/cost may act on it (it has a remediation
    /// role).
    pub(crate) async fn actable_account(
        &self,
        tenant: &str,
        account_id: &str,
    ) -> Result<Account, ActionError> {
        let account = self
            .stores
            .tenants
            .account(tenant, account_id)
            .await
            .map_err(ActionError::port("reading the account"))?
            .ok_or_else(|| ActionError::NotFound(format!("no account {account_id}")))?;
        if !account.can_act() {
            return Err(ActionError::NotOffered(format!(
                "account {account_id} has no remediation role or key: add the customer \
                 template's remediation role (or, self-hosted, a remediation access key) to the \
                 account to act on its resources"
            )));
        }
        Ok(account)
    }

    /// Dry-runs a just-requested action: logged as passed, or refused with the cloud's answer.
    async fn dry_run_request(
        &self,
        account: &Account,
        action: ActionRecord,
    ) -> Result<ActionRecord, ActionError> {
        let dry_run = match self.remediator(account, &action.action_id).await {
            Ok(remediator) => remediator.dry_run(&action.region, &action.action).await,
            Err(e) => Err(e),
        };
        let now = self.clock.now();
        let (to, step) = match &dry_run {
            Ok(()) => (
                ActionStatus::Requested,
                Decision::new(
                    now,
                    crate::rules::WORKER,
                    Step::DryRun,
                    "dry run first",
                    "passed",
                ),
            ),
            Err(e) => (
                ActionStatus::Refused,
                Decision::new(
                    now,
                    crate::rules::WORKER,
                    Step::Refused,
                    "dry run first",
                    e.to_string(),
                ),
            ),
        };
        let moved = self
            .stores
            .actions
            .decide(
                &action.tenant,
                &action.action_id,
                &[ActionStatus::Requested],
                to,
                &step,
            )
            .await
            .map_err(ActionError::port("recording the dry run"))?
            .unwrap_or(action);
        match dry_run {
            Ok(()) => Ok(moved),
            Err(e) => Err(ActionError::Refused {
                action_id: moved.action_id,
                why: e.to_string(),
            }),
        }
    }
}

/// `asked`, if it is one of `fits`; else the first that fits; `Invalid` when none does or
/// `asked` is not among them (`what` names the subject).
fn fitting(
    asked: Option<ActionKind>,
    fits: &[ActionKind],
    what: &str,
) -> Result<ActionKind, ActionError> {
    let names = || {
        fits.iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (asked, fits.first()) {
        (_, None) => Err(ActionError::Invalid(format!(
            "no action acts on {what} yet"
        ))),
        (None, Some(first)) => Ok(*first),
        (Some(kind), _) if fits.contains(&kind) => Ok(kind),
        (Some(kind), _) => Err(ActionError::Invalid(format!(
            "{kind} does not act on {what} (one of: {})",
            names()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_asked_must_fit_the_subject() {
        let fits = ActionKind::for_resource_kind("ec2.instance");
        assert_eq!(
            fitting(None, fits, "x").expect("default"),
            ActionKind::StopInstances
        );
        assert_eq!(
            fitting(Some(ActionKind::TerminateInstances), fits, "x").expect("fits"),
            ActionKind::TerminateInstances
        );
        let refused = fitting(
            Some(ActionKind::DeleteVolume),
            fits,
            "an anomaly of ec2.instance",
        )
        .expect_err("a volume action on instances");
        assert!(refused.to_string().contains("stop_instances"), "{refused}");
        let none = fitting(
            None,
            ActionKind::for_resource_kind("lambda.provisioned"),
            "an anomaly of lambda.provisioned",
        )
        .expect_err("nothing acts on provisioned concurrency");
        assert!(none.to_string().contains("lambda.provisioned"), "{none}");
    }
}
