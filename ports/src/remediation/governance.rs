//! Who may act, on what, and how often: a tenant's remediation settings. They live with panic
//! mode in the flags store ([`crate::flags::Flags::remediation`]), so every replica reads the
//! same switch at once; the rules that apply them live with the actions function.

use serde::{Deserialize, Serialize};

use crate::domain::integral;
use crate::zombie::ZombieKind;
use crate::FieldError;

use super::ActionKind;

wire_enum! {
    /// Whether, and how, actions are taken on a tenant's resources.
    RemediationMode {
        /// No action is offered or taken.
        Off = "off",
        /// Any member may request an action; an admin approves it before it runs.
        Approve = "approve",
        /// As `approve`, and the findings of `auto_kinds` idle for `auto_min_days` are acted on
        /// without a person.
        Auto = "auto",
    }
}

/// A tenant's remediation settings: off unless an admin turns them on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemediationSettings {
    /// `off` (default), `approve` or `auto`.
    pub mode: RemediationMode,
    /// Whether the admin who approves must be someone other than the requester.
    pub two_person: bool,
    /// In `auto` mode, the zombie kinds acted on without approval (each one that has an
    /// action: `ebs.unattached`, `eip.unassociated`, `ec2.idle`, `ec2.stopped`).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<ActionableKind>))]
    pub auto_kinds: Vec<ZombieKind>,
    /// In `auto` mode, how many days a finding must have been idle before it is acted on.
    #[serde(deserialize_with = "integral")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 365))]
    pub auto_min_days: u32,
    /// The most actions run for the tenant in any hour, whoever approved them.
    #[serde(deserialize_with = "integral")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
    pub max_per_hour: u32,
    /// The Slack users (`U…` ids of the tenant's bound workspace) who approve and reject as
    /// admins from the approval message's buttons; empty: approvals happen in the dashboard.
    #[cfg_attr(feature = "openapi", schema(inline, value_type = Vec<SlackUserId>))]
    pub slack_approvers: Vec<String>,
}

/// A Slack user id (the schema only).
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(pattern = "^[UW][A-Z0-9]{2,31}$")]
#[allow(dead_code)]
pub(crate) struct SlackUserId(String);

/// Whether `id` has the shape of a Slack user id.
pub fn is_slack_user(id: &str) -> bool {
    (3..=32).contains(&id.len())
        && (id.starts_with('U') || id.starts_with('W'))
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// A zombie kind that has an action: what `auto_kinds` may list (the schema only).
#[cfg(feature = "openapi")]
pub(crate) struct ActionableKind;

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ActionableKind {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let kinds: Vec<&str> = ZombieKind::ALL
            .iter()
            .filter(|k| !ActionKind::for_finding(**k).is_empty())
            .map(|k| k.as_str())
            .collect();
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("A zombie kind that has an action."))
            .enum_values(Some(kinds))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for ActionableKind {}

impl Default for RemediationSettings {
    fn default() -> Self {
        RemediationSettings {
            mode: RemediationMode::Off,
            two_person: false,
            auto_kinds: Vec::new(),
            auto_min_days: 14,
            max_per_hour: 10,
            slack_approvers: Vec::new(),
        }
    }
}

impl RemediationSettings {
    /// Refuses what no action could follow; the error names the field.
    pub fn validate(&self) -> Result<(), FieldError> {
        if let Some(kind) = self
            .auto_kinds
            .iter()
            .find(|k| ActionKind::for_finding(**k).is_empty())
        {
            return Err(FieldError::new(
                "auto_kinds",
                format!("{kind} has no action to take"),
            ));
        }
        if !(1..=365).contains(&self.auto_min_days) {
            return Err(FieldError::new(
                "auto_min_days",
                format!("{} is not 1–365 days", self.auto_min_days),
            ));
        }
        if let Some(bad) = self.slack_approvers.iter().find(|u| !is_slack_user(u)) {
            return Err(FieldError::new(
                "slack_approvers",
                format!("{bad:?} is not a Slack user id (U… or W…)"),
            ));
        }
        if !(1..=1000).contains(&self.max_per_hour) {
            return Err(FieldError::new(
                "max_per_hour",
                format!("{} is not 1–1000 actions", self.max_per_hour),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_off_and_valid() {
        let settings = RemediationSettings::default();
        assert_eq!(settings.mode, RemediationMode::Off);
        settings.validate().expect("the default is valid");
    }

    #[test]
    fn limits_out_of_range_name_their_field() {
        for (settings, field) in [
            (
                RemediationSettings {
                    max_per_hour: 0,
                    ..Default::default()
                },
                "max_per_hour",
            ),
            (
                RemediationSettings {
                    auto_min_days: 0,
                    ..Default::default()
                },
                "auto_min_days",
            ),
        ] {
            assert_eq!(settings.validate().expect_err("refused").field, field);
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let error = serde_json::from_value::<RemediationSettings>(
            serde_json::json!({"mode": "approve", "two_persons": true}),
        )
        .expect_err("a misspelt field");
        assert!(error.to_string().contains("two_persons"), "{error}");
    }
}
