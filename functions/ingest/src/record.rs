//! One CloudTrail record, deserialized without copying, plus the wrapper fields of the shapes
//! that carry records (S3 log file, EventBridge envelope, SQS message, SNS notification).

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Any JSON object the reader meets: either a wrapper (one of the first four fields set) or a
/// CloudTrail record (the rest).
#[derive(Debug, Deserialize)]
pub(crate) struct Node<'a> {
    /// S3 log file: `{"Records": [...]}`; also Lambda's SQS event.
    #[serde(rename = "Records", borrow)]
    pub records: Option<Vec<&'a RawValue>>,
    /// EventBridge envelope: the record.
    #[serde(borrow)]
    pub detail: Option<&'a RawValue>,
    /// SQS message: the envelope as a JSON string.
    #[serde(alias = "Body", borrow)]
    pub body: Option<Cow<'a, str>>,
    /// SNS notification: the envelope or log file as a JSON string.
    #[serde(rename = "Message", borrow)]
    pub message: Option<Cow<'a, str>>,

    #[serde(rename = "eventID", borrow)]
    pub event_id: Option<Cow<'a, str>>,
    #[serde(rename = "eventTime", borrow)]
    pub event_time: Option<Cow<'a, str>>,
    #[serde(rename = "eventSource", borrow)]
    pub event_source: Option<Cow<'a, str>>,
    #[serde(rename = "eventName", borrow)]
    pub event_name: Option<Cow<'a, str>>,
    #[serde(rename = "awsRegion", borrow)]
    pub aws_region: Option<Cow<'a, str>>,
    #[serde(rename = "recipientAccountId", borrow)]
    pub recipient_account_id: Option<Cow<'a, str>>,
    #[serde(rename = "errorCode", borrow)]
    pub error_code: Option<Cow<'a, str>>,
    #[serde(rename = "readOnly", default, deserialize_with = "lenient_bool")]
    pub read_only: Option<bool>,
    #[serde(rename = "userIdentity", borrow)]
    pub user_identity: Option<UserIdentity<'a>>,
    #[serde(rename = "userAgent", borrow)]
    pub user_agent: Option<Cow<'a, str>>,
    #[serde(rename = "requestParameters", borrow)]
    pub request_parameters: Option<&'a RawValue>,
    #[serde(rename = "responseElements", borrow)]
    pub response_elements: Option<&'a RawValue>,
}

/// `userIdentity`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct UserIdentity<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub arn: Option<Cow<'a, str>>,
    #[serde(rename = "principalId", borrow)]
    pub principal_id: Option<Cow<'a, str>>,
    #[serde(rename = "accountId", borrow)]
    pub account_id: Option<Cow<'a, str>>,
    #[serde(rename = "invokedBy", borrow)]
    pub invoked_by: Option<Cow<'a, str>>,
    #[serde(rename = "sessionContext", borrow)]
    pub session_context: Option<SessionContext<'a>>,
}

/// `userIdentity.sessionContext`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SessionContext<'a> {
    #[serde(rename = "sessionIssuer", borrow)]
    pub session_issuer: Option<SessionIssuer<'a>>,
}

/// `userIdentity.sessionContext.sessionIssuer`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SessionIssuer<'a> {
    #[serde(borrow)]
    pub arn: Option<Cow<'a, str>>,
}

fn lenient_bool<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum BoolOrText<'a> {
        Bool(bool),
        Text(Cow<'a, str>),
    }
    Ok(match Option::<BoolOrText>::deserialize(deserializer)? {
        Some(BoolOrText::Bool(b)) => Some(b),
        Some(BoolOrText::Text(t)) => Some(t.eq_ignore_ascii_case("true")),
        None => None,
    })
}

/// Who made the call, as dd0c/cost reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Actor {
    pub arn: String,
    pub session: Option<String>,
    pub kind: String,
}

/// Derives the actor: for assumed roles the role (session issuer) ARN and the session name; for
/// AWS services the invoking service; else the principal's ARN or id.
pub(crate) fn actor(identity: Option<&UserIdentity<'_>>, account_id: &str) -> Actor {
    let Some(identity) = identity else {
        return Actor {
            arn: "unknown".into(),
            session: None,
            kind: "Unknown".into(),
        };
    };
    let kind = identity.kind.as_deref().unwrap_or("Unknown").to_owned();
    let arn = identity.arn.as_deref();
    let session = (kind == "AssumedRole")
        .then(|| {
            arn.and_then(|a| a.rsplit_once('/'))
                .map(|(_, s)| s.to_owned())
        })
        .flatten();
    let issuer = identity
        .session_context
        .as_ref()
        .and_then(|c| c.session_issuer.as_ref())
        .and_then(|i| i.arn.as_deref());
    let chosen = match kind.as_str() {
        "AssumedRole" => issuer
            .map(str::to_owned)
            .or_else(|| arn.and_then(role_arn_of_session)),
        "AWSService" => identity.invoked_by.as_deref().map(str::to_owned),
        "Root" => arn
            .map(str::to_owned)
            .or_else(|| Some(format!("arn:aws:iam::{account_id}:root"))),
        _ => None,
    };
    let arn = chosen
        .or_else(|| arn.map(str::to_owned))
        .or_else(|| identity.principal_id.as_deref().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into());
    Actor { arn, session, kind }
}

/// `arn:aws:sts::123:assumed-role/Role/session` → `arn:aws:iam::123:role/Role`.
fn role_arn_of_session(session_arn: &str) -> Option<String> {
    let rest = session_arn.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let (partition, _service, _region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let role = resource.strip_prefix("assumed-role/")?.split('/').next()?;
    Some(format!("arn:{partition}:iam::{account}:role/{role}"))
}

/// Parses `eventTime`: RFC 3339 as CloudTrail writes it (`2024-05-01T12:00:00Z`), or the UTC
/// `2024-05-01 12:00:00[.fraction]` that CloudTrail Lake queries, Athena and SIEM exports write.
/// The AWS service that made the call for someone (`autoscaling.amazonaws.com` launching a
/// group's instances): `userIdentity.invokedBy`, else a `userAgent` that is a service's name.
pub(crate) fn invoking_service<'n>(node: &'n Node<'_>) -> Option<&'n str> {
    let invoked_by = node
        .user_identity
        .as_ref()
        .and_then(|identity| identity.invoked_by.as_deref());
    invoked_by
        .or(node.user_agent.as_deref())
        .filter(|name| name.ends_with(".amazonaws.com"))
}

pub(crate) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

/// Drops an API-version suffix: `UpdateFunctionCode20150331v2` → `UpdateFunctionCode`.
pub(crate) fn base_event_name(name: &str) -> &str {
    let without_v = match name.rfind('v') {
        Some(i) if i + 1 < name.len() && name[i + 1..].bytes().all(|b| b.is_ascii_digit()) => {
            &name[..i]
        }
        _ => name,
    };
    let digits = without_v
        .bytes()
        .rev()
        .take_while(u8::is_ascii_digit)
        .count();
    if digits == 8
        && without_v.len() > 8
        && (without_v[without_v.len() - 8..].starts_with("19")
            || without_v[without_v.len() - 8..].starts_with("20"))
    {
        &without_v[..without_v.len() - 8]
    } else {
        name
    }
}

/// Read-only by name, for records without `readOnly`.
pub(crate) fn looks_read_only(name: &str) -> bool {
    [
        "Describe", "Get", "List", "Head", "Lookup", "Search", "Query", "Scan", "BatchGet",
        "Select", "Check", "Validate", "Estimate", "Preview", "View",
    ]
    .iter()
    .any(|prefix| {
        name.starts_with(prefix)
            && name[prefix.len()..].starts_with(|c: char| c.is_ascii_uppercase() || c == '\0')
    }) || matches!(
        name,
        "ConsoleLogin" | "AssumeRole" | "Decrypt" | "GenerateDataKey"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_date_suffixes_are_dropped() {
        assert_eq!(
            base_event_name("UpdateFunctionCode20150331v2"),
            "UpdateFunctionCode"
        );
        assert_eq!(
            base_event_name("PutProvisionedConcurrencyConfig20170331"),
            "PutProvisionedConcurrencyConfig"
        );
        assert_eq!(base_event_name("RunInstances"), "RunInstances");
        assert_eq!(base_event_name("CreateClusterV2"), "CreateClusterV2");
        assert_eq!(base_event_name("v2"), "v2");
        assert_eq!(base_event_name("Get12345678"), "Get12345678");
    }

    #[test]
    fn assumed_roles_report_the_role_and_the_session() {
        let identity = UserIdentity {
            kind: Some("AssumedRole".into()),
            arn: Some("arn:aws:sts::111122223333:assumed-role/ci-deployer/job-42".into()),
            ..Default::default()
        };
        let actor = actor(Some(&identity), "111122223333");
        assert_eq!(actor.arn, "arn:aws:iam::111122223333:role/ci-deployer");
        assert_eq!(actor.session.as_deref(), Some("job-42"));
        let service = UserIdentity {
            kind: Some("AWSService".into()),
            invoked_by: Some("autoscaling.amazonaws.com".into()),
            ..Default::default()
        };
        assert_eq!(
            super::actor(Some(&service), "1").arn,
            "autoscaling.amazonaws.com"
        );
        let root = UserIdentity {
            kind: Some("Root".into()),
            ..Default::default()
        };
        assert_eq!(
            super::actor(Some(&root), "1234").arn,
            "arn:aws:iam::1234:root"
        );
    }

    #[test]
    fn read_only_by_name() {
        assert!(looks_read_only("DescribeInstances"));
        assert!(looks_read_only("ListBuckets"));
        assert!(!looks_read_only("Getaway"));
        assert!(!looks_read_only("RunInstances"));
    }
}
