//! `auto` mode: [`AutoJob`] requests, as `dd0c:auto`, an action on each open finding its rule
//! takes — a kind listed in `auto_kinds`, idle at least `auto_min_days` — and the rule approves
//! it at once; the act role then runs it under panic mode, the breaker and `max_per_hour` like
//! any other. A finding that already had an action (whatever became of it) is left to people.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dd0c_function::job::{Job, JobRun};
use dd0c_function::FunctionError;
use dd0c_ports::auth::{Principal, Role};
use dd0c_ports::remediation::{ActionFilter, ActionRecord, RemediationMode, Subject};
use dd0c_ports::zombie::{FindingFilter, FindingStatus};

use crate::rules::{auto_rule, AUTO};
use crate::{ActionError, Remediation};

/// How often `auto` mode looks at the findings: the hunter scans daily, so an hour is soon.
const HOURLY: Duration = Duration::from_secs(3600);

/// Most of a tenant's past actions read to know which findings already had one.
const PAST_ACTIONS: usize = 10_000;

/// The scheduled job of `auto` mode.
#[allow(missing_debug_implementations)]
pub struct AutoJob(pub Remediation);

#[async_trait]
impl Job for AutoJob {
    fn name(&self) -> &'static str {
        "auto-actions"
    }

    fn period(&self) -> Duration {
        HOURLY
    }

    async fn run(&self, _now: DateTime<Utc>, _replica: &str) -> Result<JobRun, FunctionError> {
        let tenants = self
            .0
            .stores
            .tenants
            .tenants()
            .await
            .map_err(FunctionError::port("listing tenants"))?;
        let mut requested = 0;
        for tenant in tenants {
            match self.0.auto(&tenant.name).await {
                Ok(actions) => requested += actions.len() as u64,
                Err(ActionError::Port { what, source }) => {
                    return Err(FunctionError::Port { what, source })
                }
                Err(e) => {
                    tracing::warn!(job = "auto-actions", tenant = %tenant.name, error = %e, "skipped")
                }
            }
        }
        Ok(JobRun {
            done: requested,
            summary: format!("{requested} actions requested by auto mode"),
        })
    }
}

impl Remediation {
    /// Requests and approves, as `dd0c:auto`, an action on each open finding of `tenant` that
    /// `auto` mode takes and that never had one. Returns what was approved; a request the dry
    /// run refused is in the log, not in the answer.
    pub async fn auto(&self, tenant: &str) -> Result<Vec<ActionRecord>, ActionError> {
        let settings = self
            .flags
            .remediation(tenant)
            .await
            .map_err(ActionError::port("reading the remediation settings"))?;
        if settings.mode != RemediationMode::Auto {
            return Ok(Vec::new());
        }
        let filter = FindingFilter {
            kinds: settings.auto_kinds.clone(),
            statuses: vec![FindingStatus::Open],
            ..FindingFilter::default()
        };
        let findings = self
            .stores
            .zombies
            .findings(tenant, &filter)
            .await
            .map_err(ActionError::port("listing findings"))?;
        let acted_on = self.findings_acted_on(tenant).await?;
        let now = self.clock.now();
        let principal = Principal {
            subject: AUTO.to_owned(),
            email: None,
            tenant: tenant.to_owned(),
            role: Role::Member,
        };
        let mut approved = Vec::new();
        for finding in findings {
            if acted_on.contains(&finding.finding_id)
                || auto_rule(&settings, &finding, now).is_none()
            {
                continue;
            }
            match self
                .request(&principal, Subject::Finding(finding.finding_id), None)
                .await
            {
                Ok(action) => approved.push(action),
                Err(ActionError::Port { what, source }) => {
                    return Err(ActionError::Port { what, source })
                }
                Err(e) => tracing::info!(%tenant, error = %e, "auto mode did not act"),
            }
        }
        Ok(approved)
    }

    /// The findings any of the tenant's actions was for.
    async fn findings_acted_on(&self, tenant: &str) -> Result<BTreeSet<String>, ActionError> {
        let page = self
            .stores
            .actions
            .actions(tenant, &ActionFilter::default(), None, PAST_ACTIONS)
            .await
            .map_err(ActionError::port("listing actions"))?;
        Ok(page
            .items
            .into_iter()
            .filter_map(|a| match a.subject {
                Subject::Finding(id) => Some(id),
                Subject::Anomaly(_) => None,
            })
            .collect())
    }
}
