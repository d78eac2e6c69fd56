//! What infra-cdk must agree with, generated from the code: `infra-cdk/contract.json`.
//!
//! The CDK app and the customer's template read that file; a test here fails when the file no
//! longer says what the code says (`DD0C_BLESS=1` rewrites it), so a new priced call, a new
//! read action of the zombie hunter or a change to the table reaches the deployed stacks.

use serde_json::{json, Value};

/// The message group of the shared event bus's rule to the ingest queue: one group, since the
/// tenant comes from the event's account ([`dd0c_ingest::handler::Source::EventBridge`]).
pub const INGEST_GROUP: &str = "cloudtrail";

/// Where the dashboard's Content-Security-Policy names the identity provider's origin, which
/// the stack knows only at deploy.
pub const IDENTITY_PROVIDER: &str = "{identity_provider}";

/// The contract: the table's shape, the queues' redelivery limit, the ingest rule's message
/// group, the customer template's role and CloudTrail filter, and the dashboard's
/// Content-Security-Policy (the one `dd0c-cost serve` sends, for CloudFront to send).
pub fn contract() -> Value {
    let dashboard = dd0c_api::dashboard::Config::cloud(dd0c_api::dashboard::HostedUi {
        domain: IDENTITY_PROVIDER.into(),
        client_id: String::new(),
        redirect_uri: None,
    });
    json!({
        "dashboard": {
            "content_security_policy": dashboard.content_security_policy(),
            "identity_provider": IDENTITY_PROVIDER,
        },
        "table": dd0c_adapters_aws::table_shape(),
        "max_receives": crate::env::DEFAULT_MAX_RECEIVES,
        "ingest_group": INGEST_GROUP,
        "customer": {
            "stack_name": dd0c_api::quick_create::STACK_NAME,
            "role_name": dd0c_api::quick_create::ROLE_NAME,
            "read_actions": dd0c_zombie::READ_ACTIONS,
            "event_pattern": event_pattern(),
            "remediation": remediation(),
        },
    })
}

/// The opt-in remediation role: its name, every IAM action of every remediation, the calls
/// that tag what they create (which alone may use `ec2:CreateTags`), and the tag that protects a
/// resource from all of them.
pub fn remediation() -> Value {
    use dd0c_ports::remediation::{ActionKind, PROTECT_TAG};
    // As `ec2:CreateAction` names them: the API call, without the service.
    let tagging: std::collections::BTreeSet<&str> = ActionKind::ALL
        .iter()
        .filter_map(|kind| kind.tagging_call())
        .filter_map(|call| call.strip_prefix("ec2:"))
        .collect();
    json!({
        "role_name": dd0c_api::quick_create::REMEDIATION_ROLE_NAME,
        "actions": ActionKind::every_iam_action(),
        "tagging_calls": tagging,
        "protect_tag": PROTECT_TAG,
    })
}

/// Services whose CloudTrail event names carry an API version (`CreateFunction20150331`).
const VERSIONED_NAMES: &[&str] = &["lambda.amazonaws.com"];

/// The EventBridge pattern of the CloudTrail calls that can create, change or end cost and
/// succeeded: every such call's service and name. Names match exactly, but by prefix for the
/// services that suffix an API version, which keeps the pattern within EventBridge's size
/// limit; the classifier drops what it does not read (a name of one service matched in another).
pub fn event_pattern() -> Value {
    let mut sources: Vec<String> = Vec::new();
    let mut exact: Vec<&str> = Vec::new();
    let mut prefixes: Vec<&str> = Vec::new();
    for (source, name) in dd0c_ingest::priced_calls() {
        let service = source.trim_end_matches(".amazonaws.com");
        sources.push(format!("aws.{service}"));
        if VERSIONED_NAMES.contains(&source) {
            prefixes.push(name);
        } else {
            exact.push(name);
        }
    }
    sources.sort();
    sources.dedup();
    for list in [&mut exact, &mut prefixes] {
        list.sort();
        list.dedup();
    }
    exact.retain(|name| !prefixes.iter().any(|p| name.starts_with(p)));
    let names: Vec<Value> = exact
        .iter()
        .map(|n| json!(n))
        .chain(prefixes.iter().map(|n| json!({"prefix": n})))
        .collect();
    json!({
        "detail-type": ["AWS API Call via CloudTrail"],
        "source": sources,
        "detail": {
            "eventName": names,
            "errorCode": [{"exists": false}],
        },
    })
}
