//! The decision log: every action requested on a tenant's resources, where it stands, and each
//! step it went through — request, refusal, approval, rejection, dry run, block, run, failure —
//! appended, never edited.
//!
//! - [`ActionRecord`] is one action and its current [`ActionStatus`].
//! - [`Decision`] is one step of its log: who, when, the rule that allowed it, the cloud's calls
//!   with their request ids, the outcome.
//! - [`ActionStore`] keeps both: a step is appended together with the status move it makes, and
//!   only from the status it expects, so a replayed approval changes nothing.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::store::Page;
use crate::{PortError, PortResult};

use super::{Action, Call, WayBack};

/// An action's id: `act_` and 24 hex digits, random.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ActionId(String);

impl ActionId {
    /// The shape of an id, for documents that describe it; [`FromStr`] accepts exactly this.
    pub const PATTERN: &'static str = "^act_[0-9a-f]{24}$";

    /// A new random id.
    pub fn new() -> ActionId {
        let mut bytes = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        ActionId(format!("act_{}", crate::text::hex(&bytes)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ActionId {
    fn default() -> Self {
        ActionId::new()
    }
}

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ActionId {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s.strip_prefix("act_").unwrap_or_default();
        if hex.len() == 24
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(ActionId(s.to_owned()))
        } else {
            Err(PortError::Invalid(format!(
                "{s:?} is not an action id (act_ and 24 hex digits)"
            )))
        }
    }
}

crate::serde_as_text!(ActionId);

/// What an action was taken for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Subject {
    /// An anomaly's resources.
    Anomaly(String),
    /// A zombie finding's resource.
    Finding(String),
}

wire_enum! {
    /// Where an action stands.
    ActionStatus {
        /// Waiting for an admin's approval.
        Requested = "requested",
        /// Approved, waiting to run.
        Approved = "approved",
        /// Held at run time (panic mode, an open breaker, the hourly limit); an admin may
        /// approve it again.
        Blocked = "blocked",
        /// Its dry run passed and one worker began the run: an action left so by a crash ran,
        /// or did not, as its account's CloudTrail shows (the calls name the action); it is
        /// never run a second time.
        Running = "running",
        /// Ran: its way back is recorded.
        Done = "done",
        /// The cloud refused its dry run or its run.
        Failed = "failed",
        /// An admin said no.
        Rejected = "rejected",
        /// Refused when requested: the tenant's rules do not allow it.
        Refused = "refused",
    }
}

impl ActionStatus {
    /// Whether nothing more can happen to an action in this status.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ActionStatus::Done
                | ActionStatus::Failed
                | ActionStatus::Rejected
                | ActionStatus::Refused
        )
    }
}

wire_enum! {
    /// What one step of the log did.
    Step {
        /// Someone (or the hunter, in `auto` mode) asked for the action.
        Requested = "requested",
        /// The rules refused it.
        Refused = "refused",
        /// An admin (or the `auto` rule) approved it.
        Approved = "approved",
        /// An admin rejected it.
        Rejected = "rejected",
        /// The cloud's dry run passed.
        DryRun = "dry_run",
        /// It was held at run time.
        Blocked = "blocked",
        /// It ran.
        Executed = "executed",
        /// The cloud refused it.
        Failed = "failed",
    }
}

/// One action on a tenant's resources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionRecord {
    /// Its id.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^act_[0-9a-f]{24}$"))]
    pub action_id: ActionId,
    /// The owning tenant.
    pub tenant: String,
    /// The AWS account acted in.
    pub account_id: String,
    /// The region acted in.
    pub region: String,
    /// What it was taken for.
    pub subject: Subject,
    /// What it does, to which resources.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub action: Action,
    /// What the resources cost a month: what the action saves.
    pub monthly_usd: f64,
    /// Who asked (an e-mail, or `dd0c:auto`).
    pub requested_by: String,
    /// When.
    pub requested_at: DateTime<Utc>,
    /// Where it stands.
    pub status: ActionStatus,
    /// When its status last moved.
    pub updated_at: DateTime<Utc>,
    /// What its run left to undo it, once done.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub way_back: Option<WayBack>,
}

/// One step of an action's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decision {
    /// When.
    pub at: DateTime<Utc>,
    /// Who: an e-mail, `dd0c:auto`, or `dd0c:worker` for the steps of a run.
    pub actor: String,
    /// What it did.
    pub step: Step,
    /// The rule that allowed or held it (`mode=approve, two_person, approved by an admin`).
    pub rule: String,
    /// What came of it, in words (the cloud's error, the way back kept).
    pub outcome: String,
    /// The cloud's requests it made, with their request ids.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub calls: Vec<Call>,
    /// The way back a run left.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub way_back: Option<WayBack>,
}

impl ActionRecord {
    /// Moves the action to `to` by `decision`: its time, and the way back a run left.
    pub fn apply(&mut self, to: ActionStatus, decision: &Decision) {
        self.status = to;
        self.updated_at = decision.at;
        if decision.way_back.is_some() {
            self.way_back = decision.way_back.clone();
        }
    }
}

impl Decision {
    /// A step with no calls and no way back.
    pub fn new(
        at: DateTime<Utc>,
        actor: &str,
        step: Step,
        rule: impl Into<String>,
        outcome: impl Into<String>,
    ) -> Decision {
        Decision {
            at,
            actor: actor.to_owned(),
            step,
            rule: rule.into(),
            outcome: outcome.into(),
            calls: Vec::new(),
            way_back: None,
        }
    }
}

/// A filter for listing actions. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActionFilter {
    /// Only these statuses.
    pub statuses: Vec<ActionStatus>,
    /// Only this account.
    pub account_id: Option<String>,
}

impl ActionFilter {
    /// Whether `action` passes.
    pub fn matches(&self, action: &ActionRecord) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&action.status))
            && self
                .account_id
                .as_ref()
                .is_none_or(|id| *id == action.account_id)
    }
}

/// The cursor after `action` in a listing (newest request first): opaque to callers.
pub fn action_cursor(action: &ActionRecord) -> String {
    crate::keys::Cursor {
        at: action.requested_at,
        id: action.action_id.to_string(),
    }
    .to_string()
}

/// Actions and their decision log.
#[async_trait]
pub trait ActionStore: Send + Sync {
    /// Records a new action with the first step of its log, both or neither; `Conflict` when
    /// its id is taken.
    async fn add_action(&self, action: &ActionRecord, first: &Decision) -> PortResult<()>;

    /// One action of this tenant.
    async fn action(&self, tenant: &str, action_id: &ActionId) -> PortResult<Option<ActionRecord>>;

    /// This tenant's actions matching `filter`, newest request first, at most `limit`,
    /// continuing after `cursor` (from [`action_cursor`]).
    async fn actions(
        &self,
        tenant: &str,
        filter: &ActionFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> PortResult<Page<ActionRecord>>;

    /// Appends `decision` and moves the action to `to` (its way back set from the decision's,
    /// when it has one), both or neither, and only while the action's status is one of `from`:
    /// `Ok(None)` when it is not (nothing written — a replay, a race lost), `NotFound` when
    /// the tenant has no such action. Returns the action as it now stands.
    async fn decide(
        &self,
        tenant: &str,
        action_id: &ActionId,
        from: &[ActionStatus],
        to: ActionStatus,
        decision: &Decision,
    ) -> PortResult<Option<ActionRecord>>;

    /// An action's log, oldest step first; empty for an action the tenant does not have.
    async fn decisions(&self, tenant: &str, action_id: &ActionId) -> PortResult<Vec<Decision>>;

    /// Forgets the actions in a final status requested before `before`, with their logs;
    /// returns how many.
    async fn forget_actions_before(&self, before: DateTime<Utc>) -> PortResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_back_and_refuse_other_shapes() {
        let id = ActionId::new();
        assert_eq!(id.to_string().parse::<ActionId>().expect("reads"), id);
        assert_ne!(ActionId::new(), id, "random");
        for bad in [
            "act_",
            "act_XYZ",
            "zf_0123456789abcdef01234567",
            "act_0123456789ABCDEF01234567",
        ] {
            let error = bad.parse::<ActionId>().expect_err(bad);
            assert!(error.to_string().contains("not an action id"), "{error}");
        }
    }

    #[test]
    fn a_subject_names_what_it_is() {
        let json = serde_json::to_value(Subject::Finding("zf_1".into())).expect("serializes");
        assert_eq!(json, serde_json::json!({"finding": "zf_1"}));
    }
}
