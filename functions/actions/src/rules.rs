//! The tenant's rules, applied: whether actions are offered at all, who may approve one, which
//! findings `auto` mode acts on by itself. Each allowed step names the rule that allowed it, as
//! the decision log records it.

use chrono::{DateTime, Utc};
use dd0c_ports::auth::{Principal, Role};
use dd0c_ports::remediation::{RemediationMode, RemediationSettings};
use dd0c_ports::zombie::{Finding, FindingStatus};

use crate::ActionError;

/// Who a person is in the log: their e-mail, else their subject.
pub fn actor(principal: &Principal) -> &str {
    principal.email.as_deref().unwrap_or(&principal.subject)
}

/// The actor of what `auto` mode requests and approves.
pub const AUTO: &str = "dd0c:auto";

/// The actor of the steps of a run.
pub const WORKER: &str = "dd0c:worker";

/// The rule that lets a member request an action; `Off` while remediation is off.
pub fn request_rule(settings: &RemediationSettings) -> Result<String, ActionError> {
    match settings.mode {
        RemediationMode::Off => Err(ActionError::Off),
        mode => Ok(format!("mode={mode}: any member may request")),
    }
}

/// The rule that lets `approver` approve or reject what `requested_by` asked for: an admin,
/// and with `two_person` someone else than the requester.
pub fn review_rule(
    settings: &RemediationSettings,
    approver: &Principal,
    requested_by: &str,
) -> Result<String, ActionError> {
    if settings.mode == RemediationMode::Off {
        return Err(ActionError::Off);
    }
    if approver.role != Role::Admin {
        return Err(ActionError::Forbidden(
            "approving or rejecting an action needs the admin role".into(),
        ));
    }
    if settings.two_person && actor(approver).eq_ignore_ascii_case(requested_by) {
        return Err(ActionError::Forbidden(
            "remediation.two_person is on: the approver must be someone other than the requester"
                .into(),
        ));
    }
    let two_person = if settings.two_person {
        ", two_person"
    } else {
        ""
    };
    Ok(format!(
        "mode={}{two_person}: an admin decides",
        settings.mode
    ))
}

/// The rule by which `auto` mode acts on `finding` at `now` without a person: its kind is
/// one of `auto_kinds` and it has been idle at least `auto_min_days`. `None` when it does not.
pub fn auto_rule(
    settings: &RemediationSettings,
    finding: &Finding,
    now: DateTime<Utc>,
) -> Option<String> {
    let idle_days = (now - finding.first_seen).num_days();
    let applies = settings.mode == RemediationMode::Auto
        && finding.status == FindingStatus::Open
        && settings.auto_kinds.contains(&finding.kind)
        && idle_days >= i64::from(settings.auto_min_days);
    applies.then(|| {
        format!(
            "mode=auto: {} idle {idle_days} days, auto_min_days={}",
            finding.kind, settings.auto_min_days
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use dd0c_ports::conformance::finding;
    use dd0c_ports::zombie::ZombieKind;

    fn person(email: &str, role: Role) -> Principal {
        Principal {
            subject: format!("sub-{email}"),
            email: Some(email.to_owned()),
            tenant: "t".to_owned(),
            role,
        }
    }

    fn approve_mode() -> RemediationSettings {
        RemediationSettings {
            mode: RemediationMode::Approve,
            ..Default::default()
        }
    }

    #[test]
    fn nothing_is_offered_while_off() {
        let off = RemediationSettings::default();
        assert!(matches!(request_rule(&off), Err(ActionError::Off)));
        let admin = person("admin@x.io", Role::Admin);
        assert!(matches!(
            review_rule(&off, &admin, "member@x.io"),
            Err(ActionError::Off)
        ));
    }

    #[test]
    fn a_member_requests_and_only_an_admin_approves() {
        let settings = approve_mode();
        assert!(request_rule(&settings)
            .expect("offered")
            .contains("mode=approve"));
        let member = person("other@x.io", Role::Member);
        assert!(matches!(
            review_rule(&settings, &member, "member@x.io"),
            Err(ActionError::Forbidden(_))
        ));
        let admin = person("admin@x.io", Role::Admin);
        review_rule(&settings, &admin, "admin@x.io").expect("one person may do both");
    }

    #[test]
    fn two_person_needs_another_approver() {
        let settings = RemediationSettings {
            two_person: true,
            ..approve_mode()
        };
        let admin = person("Admin@x.io", Role::Admin);
        let refused = review_rule(&settings, &admin, "admin@x.io").expect_err("the same person");
        assert!(refused.to_string().contains("two_person"), "{refused}");
        let rule = review_rule(&settings, &admin, "member@x.io").expect("another person");
        assert!(rule.contains("two_person"), "{rule}");
    }

    #[test]
    fn auto_takes_only_listed_kinds_idle_long_enough() {
        let settings = RemediationSettings {
            mode: RemediationMode::Auto,
            auto_kinds: vec![ZombieKind::EbsUnattached],
            auto_min_days: 14,
            ..Default::default()
        };
        let volume = finding("t", "111122223333", ZombieKind::EbsUnattached, "vol-1", 8.0);
        let young = volume.first_seen + Duration::days(13);
        let old = volume.first_seen + Duration::days(14);
        assert_eq!(auto_rule(&settings, &volume, young), None);
        assert!(auto_rule(&settings, &volume, old)
            .expect("idle 14 days")
            .contains("auto_min_days=14"));
        let address = finding(
            "t",
            "111122223333",
            ZombieKind::EipUnassociated,
            "eipalloc-1",
            3.6,
        );
        assert_eq!(auto_rule(&settings, &address, old), None, "not listed");
        let approve = RemediationSettings {
            mode: RemediationMode::Approve,
            ..settings
        };
        assert_eq!(auto_rule(&approve, &volume, old), None, "approve mode");
    }
}
