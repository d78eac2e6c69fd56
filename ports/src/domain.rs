//! The domain types that flow through the pipeline. Field names are the public contract (JSON
//! output, API, storage payloads): see `ARCHITECTURE.md`, "Field names".

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{FieldError, PortError};

/// Hours in the month used for every monthly projection (AWS's own convention: 365 × 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// The tenant used when none is configured (single-tenant self-hosted installs, `analyze`).
pub const DEFAULT_TENANT: &str = "default";

/// `$1,234.56`, or four decimals below a dollar (`$0.0052`) so small prices do not read as zero.
pub fn format_usd(amount: f64) -> String {
    if amount != 0.0 && amount.abs() < 1.0 {
        return format!("${amount:.4}");
    }
    let cents = (amount * 100.0).round() as i64;
    let digits = (cents / 100).abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!(
        "{}${grouped}.{:02}",
        if cents < 0 { "-" } else { "" },
        (cents % 100).abs()
    )
}

/// A span as people say it: `2 h 10 min`, `45 min`, `3 d 4 h`.
pub fn format_duration(span: chrono::TimeDelta) -> String {
    let minutes = span.num_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{mins} min"),
        (0, _) => format!("{hours} h {mins} min"),
        _ => format!("{days} d {hours} h"),
    }
}

/// `text` with its control and invisible format characters written as `\u{…}` escapes, for a
/// log line: text that came from a record (an actor, an explanation) can then never end a line
/// and forge the next one, nor read backwards.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(crate::text::is_unprintable) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if crate::text::is_unprintable(c) {
                    format!("\\u{{{:04x}}}", u32::from(c))
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// What a person recognizes of an actor ARN: `role/ci-deployer` of
/// `arn:aws:iam::1:role/path/ci-deployer`, `root`, `user/ana`; services stay as they are.
pub fn actor_name(arn: &str) -> String {
    let resource = arn.splitn(6, ':').nth(5).unwrap_or(arn);
    match resource.split_once('/') {
        Some((kind, path)) => format!("{kind}/{}", path.rsplit('/').next().unwrap_or(path)),
        None => resource.to_owned(),
    }
}

/// Where a price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PriceSource {
    /// Looked up in the price catalog for this exact type and region.
    Catalog,
    /// Derived: an unknown type priced from its family and size, an unknown region priced from
    /// us-east-1 with the catalog's multiplier, or a missing dimension filled with a default.
    Estimated,
    /// The record does not say what was created (e.g. `StartInstances`, or an Auto Scaling group
    /// whose launch template holds the type); the cost is reported as 0 and flagged so.
    Unknown,
}

impl PriceSource {
    /// The lowercase name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            PriceSource::Catalog => "catalog",
            PriceSource::Estimated => "estimated",
            PriceSource::Unknown => "unknown",
        }
    }
}

/// What a call did to the resources of its cost event. Creations, starts and resizes begin a
/// rate and are scored; stops and ends close one and are only followed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Change {
    /// New resources bill from now (`RunInstances`, `CreateDBInstance`, …).
    #[default]
    Create,
    /// Stopped resources bill again (`StartInstances`, `StartDBInstance`, `ResumeCluster`).
    Start,
    /// The rate of existing resources changes: the event carries the new type, count and price
    /// (`ModifyInstanceAttribute`, `ModifyDBInstance`, an Auto Scaling group's capacity).
    Resize,
    /// The resources' compute stops billing; what they keep (an instance's volumes, a stopped
    /// database's storage) is priced as its own resource (`StopInstances`, `StopDBInstance`).
    Stop,
    /// The resources are gone (`TerminateInstances`, `DeleteVolume`, `DeleteDBInstance`, …).
    End,
}

impl Change {
    /// Every change, in the order a resource's life meets them.
    pub const ALL: [Change; 5] = [
        Change::Create,
        Change::Start,
        Change::Resize,
        Change::Stop,
        Change::End,
    ];

    /// The lowercase name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Create => "create",
            Change::Start => "start",
            Change::Resize => "resize",
            Change::Stop => "stop",
            Change::End => "end",
        }
    }

    /// Whether the change begins a rate, so its event is priced and scored.
    pub fn is_priced(self) -> bool {
        matches!(self, Change::Create | Change::Start | Change::Resize)
    }

    /// Whether this is a creation (what cost events were before changes existed; their JSON
    /// leaves the field out).
    pub fn is_create(&self) -> bool {
        *self == Change::Create
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Change {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Change::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!("unknown change {s:?} (expected create, start, resize, stop or end)")
            })
    }
}

/// A priced resource creation, start or resize — or a stop or end of resources — derived from
/// one CloudTrail record. One record yields several cost events when it touches resources of
/// several types (e.g. an EMR cluster's master and core groups); their ids then carry a `#n`
/// suffix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostEvent {
    /// CloudTrail `eventID` (or `sha256:` of the canonical record when missing), `#n` for the
    /// n-th further resource group of the same record.
    pub event_id: String,
    /// CloudTrail `eventTime`.
    pub event_time: DateTime<Utc>,
    /// The dd0c/cost tenant that owns the account.
    pub tenant: String,
    /// `recipientAccountId`: the account in which the resource was created.
    pub account_id: String,
    /// `awsRegion`.
    pub region: String,
    /// e.g. `ec2.amazonaws.com`.
    pub event_source: String,
    /// e.g. `RunInstances` (API-date suffixes such as `20150331v2` removed).
    pub event_name: String,
    /// Who did it: for assumed roles the role ARN (session issuer), else the principal's ARN,
    /// or the invoking service for `AWSService` identities.
    pub actor_arn: String,
    /// The role session name for assumed roles (often the human or CI job behind the role).
    pub actor_session: Option<String>,
    /// CloudTrail `userIdentity.type`: `IAMUser`, `AssumedRole`, `Root`, `AWSService`, …
    pub actor_type: String,
    /// What kind of resource: `ec2.instance`, `rds.instance`, `ec2.nat-gateway`, …
    pub resource_kind: String,
    /// The priced type within the kind: `m5.xlarge`, `db.r6g.large`, `gp3`, `application`, …
    pub resource_type: String,
    /// Ids of the created resources, when the record names them.
    pub resource_ids: Vec<String>,
    /// How many resources of this type were created (instances, nodes, volumes, …).
    pub quantity: u32,
    /// USD per hour for one resource.
    pub unit_hourly_usd: f64,
    /// USD per hour for all `quantity` resources.
    pub hourly_usd: f64,
    /// `hourly_usd` × 730.
    pub monthly_usd: f64,
    /// Where `unit_hourly_usd` came from.
    pub price_source: PriceSource,
    /// What the call did to the resources; absent in JSON for a creation. For a stop or an
    /// end, the prices are those of what stops billing where the record tells it, else 0 and
    /// `unknown`.
    #[serde(default, skip_serializing_if = "Change::is_create")]
    pub change: Change,
}

impl CostEvent {
    /// The instance family (`m5` of `m5.xlarge`, `r6g` of `db.r6g.large`), for kinds whose types
    /// are instance classes.
    pub fn instance_family(&self) -> Option<&str> {
        instance_family(&self.resource_type)
    }
}

/// The family part of an instance-class type name: `m5` of `m5.xlarge`, `r6g` of `db.r6g.large`,
/// `g5` of `ml.g5.xlarge`, `r6g` of `r6g.large.search`. `None` for types that are not classes.
pub fn instance_family(resource_type: &str) -> Option<&str> {
    let mut parts = resource_type.split('.');
    let first = parts.next()?;
    let family = match first {
        "db" | "cache" | "ml" | "kafka" => parts.next()?,
        _ => first,
    };
    let looks_like_family = family.len() >= 2
        && family.starts_with(|c: char| c.is_ascii_lowercase())
        && family.chars().any(|c| c.is_ascii_digit());
    (looks_like_family && resource_type.contains('.')).then_some(family)
}

/// A notification channel: how alerts reach people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Channel {
    /// The tenant's Slack incoming webhook.
    Slack,
    /// E-mail to the tenant's recipients.
    Email,
    /// The tenant's own endpoint, signed per Standard Webhooks.
    Webhook,
    /// A Microsoft Teams Workflows webhook.
    Teams,
    /// PagerDuty's Events API v2.
    #[serde(rename = "pagerduty")]
    PagerDuty,
}

impl Channel {
    /// Every channel, in the order an alert goes out on them.
    pub const ALL: [Channel; 5] = [
        Channel::Slack,
        Channel::Email,
        Channel::Webhook,
        Channel::Teams,
        Channel::PagerDuty,
    ];

    /// Its name in settings, delivery records, breaker keys and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Slack => "slack",
            Channel::Email => "email",
            Channel::Webhook => "webhook",
            Channel::Teams => "teams",
            Channel::PagerDuty => "pagerduty",
        }
    }

    /// The breaker key of this channel for `tenant`.
    pub fn breaker_key(self, tenant: &str) -> String {
        format!("{tenant}:{}", self.as_str())
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How urgent an anomaly is. Ordered: `Info < Warning < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Severity {
    /// Worth a line in the digest.
    Info,
    /// Worth a message today.
    Warning,
    /// Worth interrupting someone now.
    Critical,
}

impl Severity {
    /// The lowercase name used in JSON, tables and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "critical" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity {other:?} (expected info, warning or critical)"
            )),
        }
    }
}

/// The signal behind one reason of an anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Signal {
    /// The event's hourly cost is far above this account's baseline for the kind.
    Zscore,
    /// The actor has never created a priced resource in this account.
    NewActor,
    /// The resource type is new for this kind in this account.
    NewResourceType,
    /// The region is new for this account.
    NewRegion,
    /// The instance family is new for this account.
    NewInstanceFamily,
    /// One actor created many resources of one kind within a short window.
    Burst,
    /// The hourly cost crosses a tenant threshold.
    HourlyUsd,
    /// The projected monthly cost crosses a tenant threshold.
    MonthlyUsd,
    /// The account's baseline is still warming up; dollars alone decide.
    ColdStart,
}

impl Signal {
    /// Whether this signal says "this is unusual" (as opposed to "this is expensive").
    pub fn is_surprise(self) -> bool {
        !matches!(self, Signal::HourlyUsd | Signal::MonthlyUsd)
    }
}

/// The statistics of a baseline at the moment a reason was computed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BaselineStats {
    /// Number of priced events folded in.
    pub n: u64,
    /// Mean hourly USD per event.
    pub mean: f64,
    /// Standard deviation of hourly USD per event (sample).
    pub sd: f64,
}

/// One structured reason of an anomaly: which signal fired, on what value, against what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reason {
    /// The signal.
    pub signal: Signal,
    /// The observed value (USD/h, USD/month, a Z-score or a count, per signal).
    pub observed: f64,
    /// The threshold it crossed, in the same unit, when there is one.
    pub threshold: Option<f64>,
    /// The baseline it was compared with, for statistical signals.
    pub baseline: Option<BaselineStats>,
    /// A short human phrase, e.g. "actor arn:… is new to account 1234".
    pub detail: String,
}

/// Where an anomaly stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AnomalyStatus {
    /// Raised and not acted on.
    Open,
    /// Someone has seen it.
    Acknowledged,
    /// Raised while a snooze matched, or snoozed afterwards; not notified.
    Snoozed,
    /// Marked as expected: what it saw is now part of the baseline.
    Expected,
    /// Dealt with.
    Resolved,
}

impl AnomalyStatus {
    /// The lowercase name used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyStatus::Open => "open",
            AnomalyStatus::Acknowledged => "acknowledged",
            AnomalyStatus::Snoozed => "snoozed",
            AnomalyStatus::Expected => "expected",
            AnomalyStatus::Resolved => "resolved",
        }
    }
}

/// A scored cost event that stands out, with everything needed to explain it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Anomaly {
    /// Derived from the event id, so re-scoring the same event yields the same id in every mode.
    pub anomaly_id: String,
    /// The cost event that raised it (the latest one, for a burst).
    pub event_id: String,
    /// When that event happened.
    pub event_time: DateTime<Utc>,
    /// The owning tenant.
    pub tenant: String,
    /// The AWS account.
    pub account_id: String,
    /// The AWS region.
    pub region: String,
    /// Who did it.
    pub actor_arn: String,
    /// What kind of resource.
    pub resource_kind: String,
    /// What type within the kind.
    pub resource_type: String,
    /// The resources the event created (instance ids, …) as CloudTrail names them; for a burst,
    /// the latest event's.
    #[serde(default)]
    pub resource_ids: Vec<String>,
    /// How many (for a burst: the whole window's count).
    pub quantity: u32,
    /// USD per hour at stake (for a burst: the whole window's).
    pub hourly_usd: f64,
    /// USD per month at stake.
    pub monthly_usd: f64,
    /// How urgent.
    pub severity: Severity,
    /// 0–100: dollar impact times surprise, for sorting (see the scorer's policy).
    pub score: f64,
    /// Every signal that fired.
    pub reasons: Vec<Reason>,
    /// One sentence a manager can read.
    pub explanation: String,
    /// Life-cycle state.
    pub status: AnomalyStatus,
}

impl Anomaly {
    /// What it created, as alerts and tables say it: `4 × p4d.24xlarge`.
    pub fn units(&self) -> String {
        format!("{} × {}", self.quantity, self.resource_type)
    }
}

/// What a person did about an anomaly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum FeedbackAction {
    /// "I've seen it."
    Acknowledge,
    /// Silence anomalies matching `scope` until `until`.
    Snooze {
        /// What to silence.
        scope: SnoozeScope,
        /// Until when (exclusive).
        until: DateTime<Utc>,
    },
    /// "This is normal": learn it so the same thing does not alert again.
    MarkExpected,
    /// "Dealt with."
    Resolve,
}

/// What a snooze silences, within one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SnoozeScope {
    /// Everything this actor ARN does.
    Actor(String),
    /// Every anomaly of this resource kind.
    ResourceKind(String),
    /// Everything in this AWS account.
    Account(String),
}

impl SnoozeScope {
    /// Whether an anomaly falls under this scope.
    pub fn matches(&self, anomaly: &Anomaly) -> bool {
        match self {
            SnoozeScope::Actor(arn) => anomaly.actor_arn == *arn,
            SnoozeScope::ResourceKind(kind) => anomaly.resource_kind == *kind,
            SnoozeScope::Account(account) => anomaly.account_id == *account,
        }
    }
}

/// An active snooze.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snooze {
    /// The tenant it belongs to.
    pub tenant: String,
    /// What it silences.
    pub scope: SnoozeScope,
    /// Until when (exclusive).
    pub until: DateTime<Utc>,
    /// Who set it.
    pub by: String,
}

/// A recorded piece of feedback: who did what to which anomaly, when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Feedback {
    /// The anomaly acted on.
    pub anomaly_id: String,
    /// The action.
    #[serde(flatten)]
    pub action: FeedbackAction,
    /// Who (user e-mail, Slack user id, `cli`, or `dd0c` for what dd0c/cost did itself).
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// What happened, where the action alone does not say (a resolution because every
    /// resource ended: which call, whose, after how long, at what cost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A customer of dd0c/cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Unique, URL-safe name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Whether `id` is an AWS account id: exactly 12 digits.
pub fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Longest tenant name.
pub const MAX_TENANT_NAME: usize = 64;

/// Whether `name` may name a tenant: letters, digits, `-` and `_`, at most [`MAX_TENANT_NAME`].
/// Tenant names go into wire keys (`tenant#account`, `tenant/ids`) and store keys, so they hold
/// none of the separators those use.
pub fn valid_tenant_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TENANT_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An AWS account watched for a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    /// The owning tenant.
    pub tenant: String,
    /// The 12-digit AWS account id.
    pub account_id: String,
    /// A human name ("prod", "data-science").
    pub name: Option<String>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// The IAM role dd0c/cost assumes in the account (cloud mode); one tenant per role.
    #[serde(default)]
    pub role_arn: Option<String>,
    /// The ExternalId of that role's trust policy, generated server-side (never by the client).
    #[serde(default)]
    pub external_id: Option<String>,
    /// The access key id a self-hosted install reads the account with, when it has no role;
    /// its secret is stored sealed, apart ([`crate::store::TenantStore::account_secret`]).
    #[serde(default)]
    pub access_key_id: Option<String>,
    /// The role dd0c/cost assumes, with the same ExternalId, to act on the account's resources
    /// (the customer template's opt-in second role).
    #[serde(default)]
    pub remediation_role_arn: Option<String>,
    /// The access key id a self-hosted install acts on the account's resources with, when it
    /// has no remediation role; its secret is stored sealed, apart, like the reading key's.
    /// With neither, no action is offered.
    #[serde(default)]
    pub remediation_access_key_id: Option<String>,
}

impl Account {
    /// An account of `tenant` with no name, role or access key yet: one that only sends events.
    pub fn new(tenant: &str, account_id: &str, created_at: DateTime<Utc>) -> Account {
        Account {
            tenant: tenant.to_owned(),
            account_id: account_id.to_owned(),
            name: None,
            created_at,
            role_arn: None,
            external_id: None,
            access_key_id: None,
            remediation_role_arn: None,
            remediation_access_key_id: None,
        }
    }

    /// Whether dd0c/cost may act on its resources: it has a remediation role or key.
    pub fn can_act(&self) -> bool {
        self.remediation_role_arn.is_some() || self.remediation_access_key_id.is_some()
    }
}

/// Scoring thresholds; tenant-wide, optionally overridden per account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Thresholds {
    /// Dollar floor for any anomaly: below this monthly cost nothing is raised (USD/month).
    pub info_monthly_usd: f64,
    /// Monthly cost at which an anomaly is a warning (USD/month).
    pub warning_monthly_usd: f64,
    /// Monthly cost at which an anomaly is critical (USD/month).
    pub critical_monthly_usd: f64,
    /// Hourly cost at which an anomaly is a warning (USD/h).
    pub warning_hourly_usd: f64,
    /// Hourly cost at which an anomaly is critical (USD/h).
    pub critical_hourly_usd: f64,
    /// Z-score from which an event's cost counts as surprising.
    pub z_warning: f64,
    /// Z-score from which the surprise is strong (raises severity by one step, up to the dollar cap).
    pub z_critical: f64,
    /// How dollars and surprise combine: `and` (default) raises an anomaly only for a surprising
    /// event that also crosses the dollar floor; `or` also raises one for any event crossing the
    /// warning dollar thresholds, surprising or not.
    pub combine: Combine,
    /// Priced events a baseline needs before its Z-score and novelty signals count (cold start);
    /// until then dollars alone decide, from the warning thresholds up.
    #[serde(deserialize_with = "integral")]
    #[cfg_attr(feature = "openapi", schema(maximum = 1_000_000))]
    pub min_samples: u64,
    /// Floor on the standard deviation in USD/h, so identical routine events do not make a
    /// cent's difference infinitely surprising (at least a millionth of a dollar).
    #[cfg_attr(feature = "openapi", schema(minimum = 0.000001))]
    pub sd_floor_usd: f64,
    /// Floor on the standard deviation as a fraction of the mean.
    pub sd_floor_ratio: f64,
    /// A Z-score anomaly is raised only above the highest cost already alerted on (or marked
    /// expected) for the baseline, times 1 + this tolerance: one alert per step change.
    pub step_tolerance: f64,
    /// Length of the sliding window for bursts (minutes).
    #[serde(deserialize_with = "integral")]
    #[cfg_attr(feature = "openapi", schema(maximum = 10_080))]
    pub burst_window_minutes: u32,
    /// Resources one actor must create of one kind within the window to count as a burst.
    #[serde(deserialize_with = "integral")]
    #[cfg_attr(feature = "openapi", schema(maximum = 1_000_000))]
    pub burst_min_quantity: u32,
    /// …and how many times the kind's largest earlier window that must be.
    pub burst_factor: f64,
}

/// The least standard-deviation floor a tenant may set (USD/h).
pub const MIN_SD_FLOOR_USD: f64 = 0.000_001;

impl Thresholds {
    /// The counts within their documented bounds, and a standard-deviation floor above zero.
    pub fn validate(&self) -> Result<(), FieldError> {
        let bounds = [
            ("min_samples", self.min_samples, 1_000_000),
            (
                "burst_window_minutes",
                u64::from(self.burst_window_minutes),
                10_080,
            ),
            (
                "burst_min_quantity",
                u64::from(self.burst_min_quantity),
                1_000_000,
            ),
        ];
        if let Some((name, value, most)) = bounds.iter().find(|(_, value, most)| value > most) {
            return Err(FieldError::new(name, format!("{value} is above {most}")));
        }
        // A zero floor with a flat baseline would divide by zero: an infinite Z-score.
        if self.sd_floor_usd.is_nan() || self.sd_floor_usd < MIN_SD_FLOOR_USD {
            return Err(FieldError::new(
                "sd_floor_usd",
                format!("{} is below {MIN_SD_FLOOR_USD}", self.sd_floor_usd),
            ));
        }
        Ok(())
    }
}

/// Reads a JSON integer for an unsigned field, written as an integer or as an integral number
/// (`10.0`): JSON does not tell them apart, and clients that keep numbers as floats send the
/// latter.
pub fn integral<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    let number = serde_json::Number::deserialize(deserializer)?;
    let whole = match (number.as_u64(), number.as_f64()) {
        (Some(n), _) => Some(n),
        (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 && f < 18_446_744_073_709_551_616.0 => {
            Some(f as u64)
        }
        _ => None,
    };
    whole.and_then(|n| T::try_from(n).ok()).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "{number} is not a whole number in the field's range"
        ))
    })
}

/// [`integral`] for an optional field.
pub fn integral_option<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<u64>,
{
    #[derive(Deserialize)]
    struct Whole<T: TryFrom<u64>>(#[serde(deserialize_with = "integral")] T);
    Ok(Option::<Whole<T>>::deserialize(deserializer)?.map(|Whole(n)| n))
}

/// How dollar and statistical thresholds combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Combine {
    /// Dollar floor AND surprise.
    And,
    /// Dollar warning OR surprise (above the dollar floor).
    Or,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            info_monthly_usd: 10.0,
            warning_monthly_usd: 500.0,
            critical_monthly_usd: 2_000.0,
            warning_hourly_usd: 1.0,
            critical_hourly_usd: 10.0,
            z_warning: 3.0,
            z_critical: 6.0,
            combine: Combine::And,
            min_samples: 10,
            sd_floor_usd: 0.01,
            sd_floor_ratio: 0.1,
            step_tolerance: 0.25,
            burst_window_minutes: 15,
            burst_min_quantity: 5,
            burst_factor: 3.0,
        }
    }
}

/// A tenant's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Settings {
    /// Tenant-wide thresholds.
    pub thresholds: Thresholds,
    /// Per-account overrides, keyed by AWS account id.
    #[cfg_attr(feature = "openapi", schema(schema_with = account_thresholds_schema))]
    pub account_thresholds: BTreeMap<String, Thresholds>,
    /// Slack incoming webhook URL: https to a public host, by name (a name that resolves to a
    /// loopback, private or link-local address is refused; an operator may allow private hosts,
    /// plain http and addresses included, with `DD0C_OUTBOUND_PRIVATE_HOSTS`). A member reads
    /// it only to its host.
    // The shape of a URL the server requests for a tenant: https to a host by name, no
    // whitespace or control character (the API refuses the rest, with the reason).
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = r"^https://[A-Za-z][A-Za-z0-9-]{0,62}(\.[A-Za-z0-9-]{1,63})*\.[A-Za-z][A-Za-z0-9-]{0,62}(/[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)?$"
        )
    )]
    pub slack_webhook_url: Option<String>,
    /// The Slack workspace (`team.id`, `T…`) whose alert buttons may act on this tenant's
    /// anomalies; unset, no button does.
    #[cfg_attr(feature = "openapi", schema(pattern = "^T[A-Z0-9]{0,31}$"))]
    pub slack_team_id: Option<String>,
    /// E-mail recipients.
    #[cfg_attr(feature = "openapi", schema(inline, value_type = Vec<EmailAddress>))]
    pub email_to: Vec<String>,
    /// Local hour (0–23) at which the daily digest goes out.
    #[serde(deserialize_with = "integral")]
    #[cfg_attr(feature = "openapi", schema(maximum = 23))]
    pub digest_hour: u8,
    /// IANA time zone of `digest_hour`.
    #[cfg_attr(feature = "openapi", schema(schema_with = time_zone_schema))]
    pub digest_time_zone: String,
    /// The least severity posted to Slack.
    pub slack_min_severity: Severity,
    /// The least severity e-mailed.
    pub email_min_severity: Severity,
    /// The tenant's own endpoint: each routed anomaly, and its follow-up when it resolves
    /// itself, POSTed as JSON signed per the Standard Webhooks specification with the tenant's
    /// signing secret (`POST /v1/settings/webhook-secret`, needed first). Held to the same
    /// rules as the Slack URL; a member reads it only to its host.
    // The same shape as `slack_webhook_url`.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = r"^https://[A-Za-z][A-Za-z0-9-]{0,62}(\.[A-Za-z0-9-]{1,63})*\.[A-Za-z][A-Za-z0-9-]{0,62}(/[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)?$"
        )
    )]
    pub webhook_url: Option<String>,
    /// The least severity sent to the webhook.
    pub webhook_min_severity: Severity,
    /// A Microsoft Teams Workflows webhook URL ("Post to a channel when a webhook request is
    /// received"): alerts go there as Adaptive Cards. Held to the same rules as the Slack URL;
    /// a member reads it only to its host.
    // The same shape as `slack_webhook_url`.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = r"^https://[A-Za-z][A-Za-z0-9-]{0,62}(\.[A-Za-z0-9-]{1,63})*\.[A-Za-z][A-Za-z0-9-]{0,62}(/[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)?$"
        )
    )]
    pub teams_webhook_url: Option<String>,
    /// The least severity posted to Teams.
    pub teams_min_severity: Severity,
    /// A PagerDuty Events API v2 integration key (32 letters and digits): alerts trigger an
    /// incident per anomaly, resolved when the anomaly resolves. A member does not read it.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z0-9]{32}$"))]
    pub pagerduty_routing_key: Option<String>,
    /// The least severity that pages.
    pub pagerduty_min_severity: Severity,
    /// Routing rules, tried in order: the first that matches an anomaly sends it to its
    /// channels (none: the digest only). An anomaly no rule matches goes to each channel set
    /// up whose least severity it reaches (the default rule).
    #[cfg_attr(feature = "openapi", schema(max_items = 50))]
    pub routing: Vec<RoutingRule>,
    /// The zombie hunter's thresholds and lookbacks.
    pub zombies: crate::zombie::ZombieSettings,
    /// What the tenant pays against AWS's list prices.
    pub pricing: Pricing,
}

/// What a tenant pays against AWS's list prices: a Savings Plan's or an enterprise discount's
/// share off, as one figure. What the dashboard, alerts and zombie waste show is the list price
/// less it, with the list price beside; anomalies are scored, and thresholds compared, on list
/// prices, so a discount changes no verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pricing {
    /// Percent off list prices, 0–90.
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 90.0))]
    pub discount_percent: f64,
}

impl Pricing {
    /// The largest discount a tenant may set.
    pub const MAX_DISCOUNT_PERCENT: f64 = 90.0;

    /// What the tenant pays for `list_usd`.
    pub fn net(&self, list_usd: f64) -> f64 {
        list_usd * (1.0 - self.discount_percent / 100.0)
    }

    /// `$80.00 (list $100.00)` under a discount, `$100.00` without; `unit` follows each
    /// figure (`/h`, `/month`).
    pub fn show(&self, list_usd: f64, unit: &str) -> String {
        if self.discount_percent == 0.0 {
            return format!("{}{unit}", format_usd(list_usd));
        }
        format!(
            "{}{unit} (list {}{unit})",
            format_usd(self.net(list_usd)),
            format_usd(list_usd)
        )
    }

    fn validate(&self) -> Result<(), FieldError> {
        let d = self.discount_percent;
        if !(0.0..=Self::MAX_DISCOUNT_PERCENT).contains(&d) {
            return Err(FieldError::new(
                "discount_percent",
                format!("{d} is not 0–{}", Self::MAX_DISCOUNT_PERCENT),
            ));
        }
        Ok(())
    }
}

/// How an error names rule `i`: `routing[2] "prod critical"`.
fn rule_place(i: usize, rule: &RoutingRule) -> String {
    format!("routing[{i}] {:?}", rule.name)
}

/// The most routing rules a tenant keeps.
pub const MAX_ROUTING_RULES: usize = 50;

/// A routing rule: which anomalies it takes — each condition set must hold — and the channels
/// they go to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoutingRule {
    /// What the rule is called, in errors and in the dashboard.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 80,
            pattern = r"^[^\u0000-\u001f\u007f-\u009f]+$"
        )
    )]
    pub name: String,
    /// Anomalies at least this severe; unset: any.
    #[serde(default)]
    pub min_severity: Option<Severity>,
    /// Anomalies in these AWS accounts; empty: any.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(inline, value_type = Vec<AccountIdText>))]
    pub accounts: Vec<String>,
    /// Anomalies in these regions; empty: any.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(inline, value_type = Vec<crate::zombie::RegionName>))]
    pub regions: Vec<String>,
    /// Anomalies of these resource kinds (`ec2.instance`, `rds.instance`…); empty: any.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(inline, value_type = Vec<ResourceKindName>))]
    pub resource_kinds: Vec<String>,
    /// Anomalies with at least this much at stake, USD/month; unset: any.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0))]
    pub min_monthly_usd: Option<f64>,
    /// Where the anomalies it takes go (a channel named twice still gets each alert once);
    /// empty: no channel, the digest only.
    #[cfg_attr(feature = "openapi", schema(max_items = 5))]
    pub channels: Vec<Channel>,
}

impl RoutingRule {
    /// Whether `anomaly` meets every condition the rule sets.
    pub fn matches(&self, anomaly: &Anomaly) -> bool {
        let any_or =
            |list: &[String], value: &str| list.is_empty() || list.iter().any(|v| v == value);
        self.min_severity.is_none_or(|s| anomaly.severity >= s)
            && any_or(&self.accounts, &anomaly.account_id)
            && any_or(&self.regions, &anomaly.region)
            && any_or(&self.resource_kinds, &anomaly.resource_kind)
            && self
                .min_monthly_usd
                .is_none_or(|m| anomaly.monthly_usd >= m)
    }

    /// The rule's own shape: a name, account ids, regions, kinds, a cost of 0 or more.
    /// (Whether its channels are set up is the settings' to say.)
    fn validate(&self) -> Result<(), FieldError> {
        let name = &self.name;
        if name.is_empty() || name.chars().count() > 80 || name.contains(char::is_control) {
            return Err(FieldError::new(
                "name",
                "is not a name of 1–80 characters without control characters",
            ));
        }
        if let Some(bad) = self.accounts.iter().find(|a| !is_account_id(a)) {
            return Err(FieldError::new(
                "accounts",
                format!("{bad:?} is not a 12-digit AWS account id"),
            ));
        }
        if let Some(bad) = self.regions.iter().find(|r| !crate::zombie::is_region(r)) {
            return Err(FieldError::new(
                "regions",
                format!("{bad:?} is not an AWS region (like eu-west-1)"),
            ));
        }
        let kind = |k: &String| {
            (1..=64).contains(&k.len())
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        };
        if let Some(bad) = self.resource_kinds.iter().find(|k| !kind(k)) {
            return Err(FieldError::new(
                "resource_kinds",
                format!("{bad:?} is not a resource kind (like ec2.instance)"),
            ));
        }
        if let Some(usd) = self.min_monthly_usd {
            if !usd.is_finite() || usd < 0.0 {
                return Err(FieldError::new(
                    "min_monthly_usd",
                    format!("{usd} is not a cost of 0 or more"),
                ));
            }
        }
        Ok(())
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            thresholds: Thresholds::default(),
            account_thresholds: BTreeMap::new(),
            slack_webhook_url: None,
            slack_team_id: None,
            email_to: Vec::new(),
            digest_hour: 9,
            digest_time_zone: "UTC".to_owned(),
            slack_min_severity: Severity::Warning,
            email_min_severity: Severity::Critical,
            webhook_url: None,
            webhook_min_severity: Severity::Warning,
            teams_webhook_url: None,
            teams_min_severity: Severity::Warning,
            pagerduty_routing_key: None,
            pagerduty_min_severity: Severity::Critical,
            routing: Vec::new(),
            zombies: crate::zombie::ZombieSettings::default(),
            pricing: Pricing::default(),
        }
    }
}

impl Settings {
    /// Sets one setting from `key=value` text, as operators type it: `key` names a field, with
    /// dots for nested ones (`thresholds.warning_monthly_usd`); `value` is read as JSON when it
    /// parses (numbers, `true`, `null`) and as a string otherwise, and `email_to` and
    /// `zombies.regions` take a comma-separated list. The result must still be valid settings (see
    /// [`Settings::validate`]); the error names the key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), PortError> {
        let mut document = serde_json::to_value(&*self)
            .map_err(|e| PortError::caused("the settings as JSON", e))?;
        let parsed = if key == "email_to" || key == "zombies.regions" {
            serde_json::Value::from(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .collect::<Vec<_>>(),
            )
        } else {
            serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::from(value))
        };
        let mut slot = &mut document;
        for part in key.split('.') {
            let object = slot.as_object_mut().ok_or_else(|| {
                PortError::Invalid(format!("{key}: {part:?} is not inside an object"))
            })?;
            if !object.contains_key(part) && !key.starts_with("account_thresholds.") {
                return Err(PortError::Invalid(format!(
                    "{key}: no setting named {part:?}"
                )));
            }
            slot = object
                .entry(part.to_owned())
                .or_insert_with(|| serde_json::json!({}));
        }
        *slot = parsed;
        let updated: Settings = serde_json::from_value(document)
            .map_err(|e| PortError::Invalid(format!("{key}: {e}")))?;
        updated.validate()?;
        *self = updated;
        Ok(())
    }

    /// What every stored setting must satisfy: each field well formed
    /// ([`Settings::validate_fields`]) and the fields in agreement
    /// ([`Settings::validate_channels`]); the error names the field.
    pub fn validate(&self) -> Result<(), FieldError> {
        self.validate_fields()?;
        self.validate_channels()
    }

    /// Each field well formed: http(s) channel URLs, a Slack team id, a PagerDuty key, e-mail
    /// addresses, a digest hour of 0–23 in an IANA time zone, thresholds, zombie settings and
    /// routing rules within their bounds.
    pub fn validate_fields(&self) -> Result<(), FieldError> {
        if time_zone(&self.digest_time_zone).is_err() {
            return Err(FieldError::new(
                "digest_time_zone",
                not_a_time_zone(&self.digest_time_zone),
            ));
        }
        for (field, url) in self.outbound_urls() {
            if !crate::webhook::is_http_url(url) {
                return Err(FieldError::new(
                    field,
                    format!("{url:?} is not an http(s) URL"),
                ));
            }
        }
        if let Some(key) = &self.pagerduty_routing_key {
            if key.len() != 32 || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(FieldError::new(
                    "pagerduty_routing_key",
                    "is not a PagerDuty integration key (32 letters and digits, from the \
                     service's Events API v2 integration)",
                ));
            }
        }
        if let Some(team) = &self.slack_team_id {
            let shape = team.len() <= 32
                && team.starts_with('T')
                && team
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            if !shape {
                return Err(FieldError::new(
                    "slack_team_id",
                    format!("{team:?} is not a Slack team id (T followed by letters and digits)"),
                ));
            }
        }
        if let Some(bad) = self.email_to.iter().find(|a| !crate::mail::is_address(a)) {
            return Err(FieldError::new(
                "email_to",
                format!("{bad:?} is not an e-mail address"),
            ));
        }
        if let Some(bad) = self.account_thresholds.keys().find(|a| !is_account_id(a)) {
            return Err(FieldError::new(
                "account_thresholds",
                format!("{bad:?} is not a 12-digit AWS account id"),
            ));
        }
        self.thresholds
            .validate()
            .map_err(|e| e.within("thresholds"))?;
        for (account, thresholds) in &self.account_thresholds {
            thresholds
                .validate()
                .map_err(|e| e.within(account).within("account_thresholds"))?;
        }
        if self.digest_hour > 23 {
            return Err(FieldError::new(
                "digest_hour",
                format!("{} is not 0–23", self.digest_hour),
            ));
        }
        self.zombies.validate().map_err(|e| e.within("zombies"))?;
        self.pricing.validate().map_err(|e| e.within("pricing"))?;
        if self.routing.len() > MAX_ROUTING_RULES {
            return Err(FieldError::new(
                "routing",
                format!("{} rules: at most {MAX_ROUTING_RULES}", self.routing.len()),
            ));
        }
        for (i, rule) in self.routing.iter().enumerate() {
            rule.validate()
                .map_err(|e| e.within(&rule_place(i, rule)))?;
        }
        Ok(())
    }

    /// Whether the fields agree with each other: each routing rule names only channels these
    /// settings set up; the error names the rule by its place and name
    /// (`routing[2] "prod critical".channels`).
    pub fn validate_channels(&self) -> Result<(), FieldError> {
        for (i, rule) in self.routing.iter().enumerate() {
            if let Some(off) = rule.channels.iter().find(|c| !self.has_channel(**c)) {
                return Err(FieldError::new(
                    "channels",
                    format!("names {off}, which these settings do not set up"),
                )
                .within(&rule_place(i, rule)));
            }
        }
        Ok(())
    }

    /// Whether `channel` is set up: its URL, key or recipients given.
    pub fn has_channel(&self, channel: Channel) -> bool {
        match channel {
            Channel::Slack => self.slack_webhook_url.is_some(),
            Channel::Email => !self.email_to.is_empty(),
            Channel::Webhook => self.webhook_url.is_some(),
            Channel::Teams => self.teams_webhook_url.is_some(),
            Channel::PagerDuty => self.pagerduty_routing_key.is_some(),
        }
    }

    /// The least severity `channel` takes under the default rule.
    pub fn min_severity(&self, channel: Channel) -> Severity {
        match channel {
            Channel::Slack => self.slack_min_severity,
            Channel::Email => self.email_min_severity,
            Channel::Webhook => self.webhook_min_severity,
            Channel::Teams => self.teams_min_severity,
            Channel::PagerDuty => self.pagerduty_min_severity,
        }
    }

    /// The channels an anomaly goes to: those of the first rule that matches it, or under the
    /// default rule each channel set up whose least severity it reaches. Only channels set up.
    pub fn routes(&self, anomaly: &Anomaly) -> Vec<Channel> {
        let rule = self.routing.iter().find(|r| r.matches(anomaly));
        Channel::ALL
            .into_iter()
            .filter(|c| match rule {
                Some(rule) => rule.channels.contains(c),
                None => anomaly.severity >= self.min_severity(*c),
            })
            .filter(|c| self.has_channel(*c))
            .collect()
    }

    /// The URLs set that the server will request, by field name.
    pub fn outbound_urls(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("slack_webhook_url", &self.slack_webhook_url),
            ("webhook_url", &self.webhook_url),
            ("teams_webhook_url", &self.teams_webhook_url),
        ]
        .into_iter()
        .filter_map(|(field, url)| Some((field, url.as_deref()?)))
    }

    /// The thresholds that apply to an account: its override, else the tenant's.
    pub fn thresholds_for(&self, account_id: &str) -> &Thresholds {
        self.account_thresholds
            .get(account_id)
            .unwrap_or(&self.thresholds)
    }
}

/// The IANA time zone `name` (`Europe/Berlin`), or why not.
pub fn time_zone(name: &str) -> Result<chrono_tz::Tz, PortError> {
    name.parse()
        .map_err(|_| PortError::Invalid(not_a_time_zone(name)))
}

/// Why `name` is refused as a time zone.
fn not_a_time_zone(name: &str) -> String {
    format!("{name:?} is not an IANA time zone (such as Europe/Berlin)")
}

/// An e-mail address as [`crate::mail::is_address`] takes it.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(
    pattern = r"^[^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+@[^@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$"
)]
#[allow(dead_code)]
struct EmailAddress(String);

/// A 12-digit AWS account id.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(pattern = "^[0-9]{12}$")]
#[allow(dead_code)]
struct AccountIdText(String);

/// A resource kind, as anomalies name it.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(pattern = "^[a-z0-9._-]{1,64}$")]
#[allow(dead_code)]
struct ResourceKindName(String);

/// The schema of per-account thresholds: an object keyed by account id.
#[cfg(feature = "openapi")]
fn account_thresholds_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let account_id = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[0-9]{12}$"))
        .build();
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(account_id))
        .additional_properties(Some(utoipa::openapi::Ref::from_schema_name("Thresholds")))
        .build()
}

/// The schema of a time zone: one of the IANA names.
#[cfg(feature = "openapi")]
fn time_zone_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())))
        .description(Some("An IANA time zone"))
        .build()
}

/// A message the scorer leaves for the notifier, written in the same atomic step as its anomaly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// Unique per notification; notifiers deduplicate sends by it.
    pub outbox_id: String,
    /// The owning tenant.
    pub tenant: String,
    /// The anomaly to notify about.
    pub anomaly: Anomaly,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// For a follow-up: how the anomaly resolved itself; `None` for the alert itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    /// Where in a trace the message was made (the scoring of the record that raised the
    /// anomaly), when traced: the notifier's work continues that trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<crate::keys::TraceParent>,
}

/// How an alerted anomaly resolved, as its follow-up tells it: by itself (its resources
/// ended), or by a person in dd0c/cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    /// The history entry's note: the call that ended the last resource, its actor, how long
    /// the resources ran and what they cost; or who resolved it.
    pub note: String,
    /// What the resources cost from their creation to their ends (so far, when a person
    /// resolved it).
    pub actual_cost_usd: f64,
    /// The month-end forecast the alert stated, less the actual cost: what ending them saved
    /// (0 when a person resolved it: nothing needs to have ended).
    pub avoided_usd: f64,
    /// Who resolved it, when a person did rather than its resources ending. Such a follow-up
    /// goes only to channels that keep incidents: PagerDuty and the webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_person: Option<String>,
}

impl OutboxMessage {
    /// The follow-up of `anomaly`, which `person` resolved at `at` when its resources had cost
    /// `cost_so_far_usd`: one per anomaly, apart from the one its resources' end writes.
    pub fn resolved_by_person(
        anomaly: Anomaly,
        person: &str,
        cost_so_far_usd: f64,
        at: DateTime<Utc>,
    ) -> Self {
        OutboxMessage {
            trace: None,
            outbox_id: format!("{}.resolved-by-person", anomaly.anomaly_id),
            tenant: anomaly.tenant.clone(),
            anomaly,
            created_at: at,
            resolution: Some(Resolution {
                note: format!("resolved by {person} in dd0c/cost"),
                actual_cost_usd: cost_so_far_usd,
                avoided_usd: 0.0,
                by_person: Some(person.to_owned()),
            }),
        }
    }

    /// The follow-up of `anomaly`, which resolved itself at `at`: one per anomaly, whoever
    /// writes it.
    pub fn follow_up(anomaly: Anomaly, resolution: Resolution, at: DateTime<Utc>) -> Self {
        OutboxMessage {
            trace: None,
            outbox_id: format!("{}.resolved", anomaly.anomaly_id),
            tenant: anomaly.tenant.clone(),
            anomaly,
            created_at: at,
            resolution: Some(resolution),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROD: &str = "111111111111";
    const SANDBOX: &str = "222222222222";

    fn anomaly(account: &str, severity: Severity, monthly_usd: f64) -> Anomaly {
        Anomaly {
            anomaly_id: "an-1".into(),
            event_id: "ev-1".into(),
            event_time: DateTime::UNIX_EPOCH,
            tenant: "acme".into(),
            account_id: account.into(),
            region: "us-east-1".into(),
            actor_arn: "arn:aws:iam::111111111111:user/intern".into(),
            resource_kind: "ec2.instance".into(),
            resource_type: "p4d.24xlarge".into(),
            resource_ids: Vec::new(),
            quantity: 1,
            hourly_usd: monthly_usd / HOURS_PER_MONTH,
            monthly_usd,
            severity,
            score: 50.0,
            reasons: Vec::new(),
            explanation: String::new(),
            status: AnomalyStatus::Open,
        }
    }

    fn rule(name: &str, channels: &[Channel]) -> RoutingRule {
        RoutingRule {
            name: name.into(),
            min_severity: None,
            accounts: Vec::new(),
            regions: Vec::new(),
            resource_kinds: Vec::new(),
            min_monthly_usd: None,
            channels: channels.to_vec(),
        }
    }

    /// Slack, e-mail and PagerDuty set up; critical in prod pages, all of sandbox goes nowhere.
    fn routed() -> Settings {
        Settings {
            slack_webhook_url: Some("https://hooks.slack.com/services/T/B/x".into()),
            email_to: vec!["oncall@example.com".into()],
            pagerduty_routing_key: Some("R0123456789abcdefghijklmnopqrstu".into()),
            routing: vec![
                RoutingRule {
                    min_severity: Some(Severity::Critical),
                    accounts: vec![PROD.into()],
                    ..rule("prod critical", &[Channel::PagerDuty, Channel::Slack])
                },
                RoutingRule {
                    accounts: vec![SANDBOX.into()],
                    ..rule("sandbox: digest only", &[])
                },
            ],
            ..Settings::default()
        }
    }

    #[test]
    fn the_first_matching_rule_routes_and_the_rest_take_the_default_rule() {
        let settings = routed();
        assert_eq!(settings.validate(), Ok(()));
        assert_eq!(
            settings.routes(&anomaly(PROD, Severity::Critical, 90_000.0)),
            [Channel::Slack, Channel::PagerDuty]
        );
        assert_eq!(
            settings.routes(&anomaly(SANDBOX, Severity::Critical, 90_000.0)),
            [],
            "sandbox: the digest only"
        );
        assert_eq!(
            settings.routes(&anomaly(PROD, Severity::Warning, 900.0)),
            [Channel::Slack],
            "no rule: Slack from warning, e-mail and PagerDuty from critical"
        );
        assert_eq!(
            settings.routes(&anomaly("333333333333", Severity::Critical, 900.0)),
            [Channel::Slack, Channel::Email, Channel::PagerDuty]
        );
    }

    #[test]
    fn a_rule_matches_when_each_condition_it_sets_holds() {
        let a = anomaly(PROD, Severity::Warning, 1_000.0);
        let any = rule("any", &[]);
        assert!(any.matches(&a));
        for (rule, matches) in [
            (
                RoutingRule {
                    min_monthly_usd: Some(1_000.0),
                    ..any.clone()
                },
                true,
            ),
            (
                RoutingRule {
                    min_monthly_usd: Some(1_000.01),
                    ..any.clone()
                },
                false,
            ),
            (
                RoutingRule {
                    regions: vec!["eu-west-1".into()],
                    ..any.clone()
                },
                false,
            ),
            (
                RoutingRule {
                    regions: vec!["eu-west-1".into(), "us-east-1".into()],
                    ..any.clone()
                },
                true,
            ),
            (
                RoutingRule {
                    resource_kinds: vec!["rds.instance".into()],
                    ..any.clone()
                },
                false,
            ),
            (
                RoutingRule {
                    min_severity: Some(Severity::Critical),
                    ..any.clone()
                },
                false,
            ),
            (
                RoutingRule {
                    min_severity: Some(Severity::Info),
                    ..any.clone()
                },
                true,
            ),
        ] {
            assert_eq!(rule.matches(&a), matches, "{rule:?}");
        }
    }

    #[test]
    fn a_bad_rule_is_refused_naming_it() {
        let mut settings = routed();
        settings.routing[1].accounts.push("sandbox".into());
        let error = settings.validate().expect_err("refused");
        assert_eq!(error.field, r#"routing[1] "sandbox: digest only".accounts"#);
        let mut settings = routed();
        settings.routing[0].channels.push(Channel::Teams);
        let error = settings.validate().expect_err("refused");
        assert_eq!(error.field, r#"routing[0] "prod critical".channels"#);
        assert!(error.reason.contains("teams"), "{error}");
        let mut settings = routed();
        settings.routing[0].name = "bad\nname".into();
        assert!(settings.validate().is_err());
    }

    /// Settings `key=value` makes, or the error it gives.
    fn set(key: &str, value: &str) -> Result<Settings, String> {
        let mut settings = Settings::default();
        settings
            .set(key, value)
            .map(|()| settings)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn settings_refuse_each_value_their_document_refuses_naming_the_key() {
        for (key, value) in [
            ("digest_time_zone", "Mars/Olympus"),
            ("digest_hour", "24"),
            ("slack_webhook_url", "https://hooks.slack.com/a\u{7}b"),
            ("slack_team_id", "t123"),
            ("email_to", "a@b,not an address"),
            ("thresholds.sd_floor_usd", "0"),
            ("thresholds.min_samples", "1000001"),
            ("thresholds.burst_window_minutes", "10081"),
            ("account_thresholds.prod", "{}"),
            ("zombies.regions", "us-east-1,mars-1"),
            ("zombies.ec2_lookback_days", "0"),
            ("zombies.ec2_cpu_max_percent", "101"),
            ("zombies.snapshot_min_age_days", "3651"),
            ("pricing.discount_percent", "90.5"),
            ("pricing.discount_percent", "-1"),
        ] {
            let error = set(key, value).expect_err(key);
            assert!(
                error.contains(key.split('.').next().unwrap_or(key)),
                "{key}: {error}"
            );
        }
        let hours = set("digest_hour", "23.0").expect("an integral number is an integer");
        assert_eq!(hours.digest_hour, 23);
        let account = set("account_thresholds.123456789012", "{\"min_samples\": 3}").expect("set");
        assert_eq!(account.thresholds_for("123456789012").min_samples, 3);
        let zombies = set("zombies.regions", "us-east-1, eu-west-1").expect("a region list");
        assert_eq!(zombies.zombies.regions, ["us-east-1", "eu-west-1"]);
        let discounted = set("pricing.discount_percent", "20").expect("a discount");
        assert_eq!(discounted.pricing.net(100.0), 80.0);
        assert_eq!(
            discounted.pricing.show(10.0, "/h"),
            "$8.00/h (list $10.00/h)"
        );
        assert_eq!(Pricing::default().show(10.0, "/h"), "$10.00/h");
    }

    #[test]
    fn printable_text_cannot_end_a_log_line() {
        assert_eq!(printable("plain"), "plain");
        assert_eq!(
            printable("x\r\nINFO forged\u{0}"),
            "x\\u{000d}\\u{000a}INFO forged\\u{0000}"
        );
    }

    #[test]
    fn instance_family_reads_every_class_naming_scheme() {
        assert_eq!(instance_family("m5.xlarge"), Some("m5"));
        assert_eq!(instance_family("db.r6g.large"), Some("r6g"));
        assert_eq!(instance_family("cache.t3.micro"), Some("t3"));
        assert_eq!(instance_family("ml.g5.2xlarge"), Some("g5"));
        assert_eq!(instance_family("r6g.large.search"), Some("r6g"));
        assert_eq!(instance_family("kafka.m5.large"), Some("m5"));
        assert_eq!(instance_family("gp3"), None);
        assert_eq!(instance_family("application"), None);
        assert_eq!(instance_family("nat-gateway"), None);
    }

    #[test]
    fn money_and_actors_read_naturally() {
        assert_eq!(format_usd(95_695.344), "$95,695.34");
        assert_eq!(format_usd(1_000.0), "$1,000.00");
        assert_eq!(
            format_duration(chrono::TimeDelta::minutes(130)),
            "2 h 10 min"
        );
        assert_eq!(format_duration(chrono::TimeDelta::minutes(45)), "45 min");
        assert_eq!(format_duration(chrono::TimeDelta::hours(76)), "3 d 4 h");
        assert_eq!(format_usd(0.0052), "$0.0052");
        assert_eq!(format_usd(0.0), "$0.00");
        assert_eq!(format_usd(-12.5), "-$12.50");
        assert_eq!(
            actor_name("arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/Admin"),
            "role/Admin"
        );
        assert_eq!(actor_name("arn:aws:iam::111122223333:user/bob"), "user/bob");
        assert_eq!(actor_name("arn:aws:iam::111122223333:root"), "root");
        assert_eq!(
            actor_name("autoscaling.amazonaws.com"),
            "autoscaling.amazonaws.com"
        );
    }

    #[test]
    fn severities_order_by_urgency() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Critical);
        assert_eq!("critical".parse::<Severity>(), Ok(Severity::Critical));
        assert!("high".parse::<Severity>().is_err());
    }
}
