//! # dd0c-actions
//!
//! Governed remediation: acting on an anomaly's or a zombie finding's resources from where a
//! person sees them, under the tenant's rules, each step in an append-only decision log.
//! Written over ports only: the rules come from [`Flags::remediation`], the resources from the
//! stores, the account through [`CloudAccess::act`], the run through a queue.
//!
//! An action's life: requested (the cloud's dry run passes, else it is refused and logged) →
//! approved by an admin, or by `auto` mode's rule → queued → run by the worker: held (blocked)
//! by panic mode, an open breaker or the hourly limit; dry-run again, claimed (running) by one
//! worker only, run, and logged with the cloud's request ids and its way back → done, and the
//! finding it ended is gone.
//!
//! Map:
//! - [`rules`] — the rules applied: offered at all, who approves, what `auto` takes.
//! - [`request`] — [`Remediation::request`]: an action on a subject, checked and dry-run.
//! - [`review`] — [`Remediation::approve`] and [`Remediation::reject`].
//! - [`run`] — [`RunActions`], the queue function that runs approved actions.
//! - [`auto`] — [`AutoJob`], `auto` mode's hourly look at the findings.

pub mod auto;
pub mod request;
pub mod review;
pub mod rules;
pub mod run;

use std::sync::Arc;

use dd0c_ports::clock::Clock;
use dd0c_ports::domain::Account;
use dd0c_ports::flags::Flags;
use dd0c_ports::keys::{DedupKey, GroupKey};
use dd0c_ports::queue::{OutgoingMessage, Queue};
use dd0c_ports::remediation::{ActionId, ActionRecord, ActionStatus, Remediator};
use dd0c_ports::secrets::Credentials;
use dd0c_ports::store::Stores;
use dd0c_ports::zombie::CloudAccess;
use dd0c_ports::PortError;

pub use auto::AutoJob;
pub use run::RunActions;

/// The queue approved actions wait on to run.
pub const ACTIONS_QUEUE: &str = "actions";

/// Why an action could not be requested, approved or rejected.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The tenant's remediation is off.
    #[error("remediation is off for this tenant: an admin sets remediation.mode to approve or auto first")]
    Off,
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing of the tenant under this name.
    #[error("{0}")]
    NotFound(String),
    /// The request names no action that fits its subject.
    #[error("{0}")]
    Invalid(String),
    /// No action can be offered on this subject (its account has no remediation role).
    #[error("{0}")]
    NotOffered(String),
    /// Refused when requested, by the tenant's rules or the cloud's dry run; the refusal is in
    /// the action's log.
    #[error("action {action_id} refused: {why}")]
    Refused {
        /// The refused action.
        action_id: ActionId,
        /// Why.
        why: String,
    },
    /// The action is no longer where this step could move it from (a replayed approval, an
    /// action already rejected): nothing was done.
    #[error("action {action_id} is already {status}: nothing was done")]
    Moved {
        /// The action.
        action_id: ActionId,
        /// Where it stands.
        status: ActionStatus,
    },
    /// A port failed.
    #[error("{what}: {source}")]
    Port {
        /// What was being done.
        what: &'static str,
        /// The port's error.
        source: PortError,
    },
}

impl ActionError {
    /// Wraps a port error with what was being done, for `map_err`.
    pub fn port(what: &'static str) -> impl FnOnce(PortError) -> ActionError {
        move |source| ActionError::Port { what, source }
    }
}

/// The message that has the worker run an approved action: `{tenant}/{action id}`.
pub type RunAction = dd0c_ports::keys::ActionRef;

/// What requesting, approving and running actions use.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Remediation {
    /// Actions and their log, findings, anomalies, accounts.
    pub stores: Stores,
    /// The tenant's rules, panic mode, the actions breaker and hourly slots.
    pub flags: Arc<dyn Flags>,
    /// Customer accounts, opened to act on.
    pub cloud: Arc<dyn CloudAccess>,
    /// The sealed remediation keys of accounts acted on without a role.
    pub credentials: Credentials,
    /// Where approved actions wait to run ([`ACTIONS_QUEUE`]).
    pub queue: Arc<dyn Queue>,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Posts a request's approval message to the tenant's Slack channel; `None`: none is
    /// posted.
    pub announce: Option<Arc<dyn dd0c_ports::webhook::Webhook>>,
}

impl Remediation {
    /// The actions port on `account` for `action_id`: through its remediation role, else its
    /// remediation key.
    async fn remediator(
        &self,
        account: &Account,
        action_id: &ActionId,
    ) -> Result<Arc<dyn Remediator>, PortError> {
        let key = self.credentials.remediation_key(account).await?;
        self.cloud.act(account, key.as_ref(), action_id).await
    }

    /// Queues `action` to run: in its account's group, once per approval (a replayed approval
    /// sends the same deduplication key).
    async fn queue_run(&self, action: &ActionRecord) -> Result<(), ActionError> {
        let run = RunAction {
            tenant: action.tenant.clone(),
            action_id: action.action_id.clone(),
        };
        let approval = action.updated_at.timestamp_nanos_opt().unwrap_or_default();
        let message = OutgoingMessage {
            group_key: GroupKey::new(&action.tenant, &action.account_id).to_string(),
            dedup_key: DedupKey::new(&action.tenant, &format!("{}@{approval}", action.action_id))
                .to_string(),
            body: serde_json::to_string(&run).map_err(|e| ActionError::Port {
                what: "encoding a run",
                source: PortError::caused("encoding a run", e),
            })?,
            trace: None,
        };
        self.queue
            .send(message)
            .await
            .map(drop)
            .map_err(ActionError::port("queueing the action to run"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_message_reads_back() {
        let run = RunAction {
            tenant: "acme-west".into(),
            action_id: ActionId::new(),
        };
        let json = serde_json::to_string(&run).expect("serializes");
        assert_eq!(
            serde_json::from_str::<RunAction>(&json).expect("reads"),
            run
        );
        assert!("acme/not-an-id".parse::<RunAction>().is_err());
        assert!("/act_0123456789abcdef01234567"
            .parse::<RunAction>()
            .is_err());
    }
}
