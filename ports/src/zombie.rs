//! The zombie hunter's vocabulary and ports.
//!
//! - [`Finding`] — one idle or forgotten resource: its kind, state (`idle`, or `no_data` when
//!   its metrics are missing), monthly waste, the [`Evidence`] per signal, and its status.
//! - [`ZombieSettings`] — every threshold and lookback, a tenant setting with documented defaults.
//! - [`RegionInventory`] — what one region of a customer account holds that the hunter judges,
//!   read through the [`Inventory`] port; [`Metrics`] reads CloudWatch-style statistics.
//! - [`CloudAccess`] opens both ports on one customer account ([`CustomerAccount`]).
//! - [`ZombieStore`] — where findings are kept between scans.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::{integral, Account};
use crate::PortResult;

/// Skipping a resource: a tag with this key (any value) tells the hunter to leave it alone.
pub const IGNORE_TAG: &str = "dd0c:ignore";

wire_enum! {
    /// What kind of waste a finding is.
    ZombieKind {
        /// A running instance with no meaningful CPU or network for the lookback.
        Ec2Idle = "ec2.idle",
        /// An instance stopped for longer than the threshold: its volumes and addresses still bill.
        Ec2Stopped = "ec2.stopped",
        /// A volume attached to nothing.
        EbsUnattached = "ebs.unattached",
        /// An Elastic IP associated with nothing (public IPv4 bills by the hour).
        EipUnassociated = "eip.unassociated",
        /// A load balancer with no healthy backends or no traffic.
        ElbIdle = "elb.idle",
        /// A NAT gateway with no traffic that no route table uses.
        NatIdle = "nat.idle",
        /// A database with no connections for the lookback.
        RdsIdle = "rds.idle",
        /// A snapshot whose source volume is gone and that no image uses.
        SnapshotOrphaned = "snapshot.orphaned",
    }
}

wire_enum! {
    /// Whether the hunter saw the resource idle or could not see its metrics at all.
    ZombieState {
        /// Every signal is below its threshold over the lookback.
        Idle = "idle",
        /// The metrics are missing: reported, never skipped, never called idle.
        NoData = "no_data",
    }
}

wire_enum! {
    /// Where a finding stands.
    FindingStatus {
        /// Still there, still wasting.
        Open = "open",
        /// Someone said it is meant to be so (with a reason); kept, not counted as waste.
        Ignored = "ignored",
        /// The resource disappeared: its waste counts as saved.
        Gone = "gone",
    }
}

/// What one signal showed: the metric, how it was read, and what was seen against what limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Evidence {
    /// The metric (`AWS/EC2 CPUUtilization`) or the described fact (`attachments`).
    pub metric: String,
    /// The statistic (`Maximum`, `Sum`), or `describe` for a described fact.
    pub statistic: String,
    /// The period of one datapoint, in seconds (0 for a described fact).
    pub period_seconds: u32,
    /// The unit of `threshold` and `observed` (`%`, `MB`, `requests`; empty for a count).
    #[serde(default)]
    pub unit: String,
    /// Days the signal covers.
    pub days_evaluated: u32,
    /// Datapoints read.
    pub datapoints: u32,
    /// The limit the observed value must stay at or under to count as idle.
    pub threshold: Option<f64>,
    /// The highest value seen (a described fact: its count); `None` without datapoints.
    pub observed: Option<f64>,
}

/// One idle or forgotten resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finding {
    /// Stable across scans: [`Finding::id_for`] of tenant, account, region, kind and resource.
    pub finding_id: String,
    /// The owning tenant.
    pub tenant: String,
    /// The AWS account.
    pub account_id: String,
    /// The region.
    pub region: String,
    /// What kind of waste.
    pub kind: ZombieKind,
    /// The resource's id (`i-…`, `vol-…`, a load balancer's name, a DB identifier).
    pub resource_id: String,
    /// The resource's ARN.
    pub resource_arn: String,
    /// Its type (`t3.large`, `gp3`, `application`, `db.r6g.large`).
    pub resource_type: String,
    /// Idle, or without data.
    pub state: ZombieState,
    /// What deleting or stopping it would save per month, attached storage and addresses
    /// included. For `no_data`, what it costs: what is at stake, not counted as waste.
    pub monthly_waste_usd: f64,
    /// What each signal showed.
    pub evidence: Vec<Evidence>,
    /// One sentence saying why.
    pub explanation: String,
    /// Idle since: when the evidence starts (at most the scan that first saw it).
    pub first_seen: DateTime<Utc>,
    /// The last scan that saw it so.
    pub last_seen: DateTime<Utc>,
    /// Open, ignored or gone.
    pub status: FindingStatus,
    /// Why it is ignored, as given.
    #[serde(default)]
    pub ignored_reason: Option<String>,
    /// When a scan found the resource gone.
    #[serde(default)]
    pub gone_at: Option<DateTime<Utc>>,
}

impl Finding {
    /// The id an action names the resource by: a load balancer's ARN (the v2 API deletes by
    /// ARN; a Classic one's ARN ends in its name), else its id.
    pub fn action_target(&self) -> &str {
        match self.kind {
            ZombieKind::ElbIdle if !self.resource_arn.is_empty() => &self.resource_arn,
            _ => &self.resource_id,
        }
    }

    /// The stable id of a finding: the same resource judged the same way keeps its id, so a scan
    /// updates it instead of adding another.
    pub fn id_for(
        tenant: &str,
        account_id: &str,
        region: &str,
        kind: ZombieKind,
        resource_id: &str,
    ) -> String {
        let mut hash = Sha256::new();
        for part in [tenant, account_id, region, kind.as_str(), resource_id] {
            hash.update(part.as_bytes());
            hash.update([0u8]);
        }
        let digest = hash.finalize();
        format!("zf_{}", crate::text::hex(&digest[..12]))
    }

    /// Whether `id` has the shape of [`Finding::id_for`].
    pub fn is_id(id: &str) -> bool {
        id.strip_prefix("zf_")
            .is_some_and(|hex| hex.len() == 24 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
    }
}

/// Every threshold and lookback of the hunter: a tenant setting. Defaults follow the published
/// criteria of AWS Trusted Advisor, Compute Optimizer and AWS Config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ZombieSettings {
    /// Regions scanned besides those seen in the account's CloudTrail.
    #[cfg_attr(feature = "openapi", schema(inline, value_type = Vec<RegionName>))]
    pub regions: Vec<String>,
    /// Days of metrics an instance is judged on (Compute Optimizer: 14).
    #[serde(deserialize_with = "integral")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 455))]
    pub ec2_lookback_days: u32,
    /// Highest daily peak CPU (%) of an idle instance (Compute Optimizer: below 5 %).
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub ec2_cpu_max_percent: f64,
    /// Most network traffic (in + out, MB) of an idle instance's day (Trusted Advisor: 5 MB).
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub ec2_network_max_mb_per_day: f64,
    /// Days stopped before a stopped instance is waste (AWS Config: 30).
    #[serde(deserialize_with = "integral")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 455))]
    pub ec2_stopped_days: u32,
    /// Days a volume must exist before being unattached counts (the API does not say since when
    /// it is unattached).
    #[serde(deserialize_with = "integral")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 455))]
    pub ebs_unattached_days: u32,
    /// Days of traffic a load balancer is judged on (Trusted Advisor: 7).
    #[serde(deserialize_with = "integral")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 455))]
    pub elb_lookback_days: u32,
    /// Requests a day at or under which a Classic load balancer is idle (Trusted Advisor: 100).
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub elb_idle_requests_per_day: f64,
    /// Days of traffic a NAT gateway is judged on (Compute Optimizer: 32).
    #[serde(deserialize_with = "integral")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 455))]
    pub nat_lookback_days: u32,
    /// Days without connections of an idle database (Trusted Advisor: 7).
    #[serde(deserialize_with = "integral")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 455))]
    pub rds_lookback_days: u32,
    /// Age of an orphaned snapshot before it is waste.
    #[serde(deserialize_with = "integral")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3650))]
    pub snapshot_min_age_days: u32,
}

#[cfg(feature = "openapi")]
/// An AWS region name.
#[derive(utoipa::ToSchema)]
#[schema(pattern = "^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")]
#[allow(dead_code)]
pub(crate) struct RegionName(String);

impl Default for ZombieSettings {
    fn default() -> Self {
        ZombieSettings {
            regions: Vec::new(),
            ec2_lookback_days: 14,
            ec2_cpu_max_percent: 5.0,
            ec2_network_max_mb_per_day: 5.0,
            ec2_stopped_days: 30,
            ebs_unattached_days: 7,
            elb_lookback_days: 7,
            elb_idle_requests_per_day: 100.0,
            nat_lookback_days: 32,
            rds_lookback_days: 7,
            snapshot_min_age_days: 30,
        }
    }
}

/// CloudWatch keeps daily statistics 455 days: no lookback can reach further.
const MAX_LOOKBACK_DAYS: u32 = 455;

/// Whether `region` has the shape of an AWS region name (`us-east-1`, `us-gov-west-1`).
pub fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|n| (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
}

impl ZombieSettings {
    /// Refuses values no scan could use; the error names the field.
    pub fn validate(&self) -> Result<(), crate::FieldError> {
        if let Some(bad) = self.regions.iter().find(|r| !is_region(r)) {
            return Err(crate::FieldError::new(
                "regions",
                format!("{bad:?} is not an AWS region name"),
            ));
        }
        let days = [
            (
                "ec2_lookback_days",
                self.ec2_lookback_days,
                MAX_LOOKBACK_DAYS,
            ),
            ("ec2_stopped_days", self.ec2_stopped_days, MAX_LOOKBACK_DAYS),
            (
                "ebs_unattached_days",
                self.ebs_unattached_days,
                MAX_LOOKBACK_DAYS,
            ),
            (
                "elb_lookback_days",
                self.elb_lookback_days,
                MAX_LOOKBACK_DAYS,
            ),
            (
                "nat_lookback_days",
                self.nat_lookback_days,
                MAX_LOOKBACK_DAYS,
            ),
            (
                "rds_lookback_days",
                self.rds_lookback_days,
                MAX_LOOKBACK_DAYS,
            ),
            ("snapshot_min_age_days", self.snapshot_min_age_days, 3650),
        ];
        if let Some((name, value, most)) = days.iter().find(|(_, v, most)| *v == 0 || v > most) {
            return Err(crate::FieldError::new(
                name,
                format!("{value} is not 1–{most} days"),
            ));
        }
        let amounts = [
            ("ec2_cpu_max_percent", self.ec2_cpu_max_percent, 100.0),
            (
                "ec2_network_max_mb_per_day",
                self.ec2_network_max_mb_per_day,
                f64::MAX,
            ),
            (
                "elb_idle_requests_per_day",
                self.elb_idle_requests_per_day,
                f64::MAX,
            ),
        ];
        if let Some((name, value, _)) = amounts
            .iter()
            .find(|(_, v, most)| !v.is_finite() || *v < 0.0 || v > most)
        {
            return Err(crate::FieldError::new(
                name,
                format!("{value} is out of range"),
            ));
        }
        Ok(())
    }
}

/// An access key pair a self-hosted install reads a customer account with.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// `AKIA…`.
    pub access_key_id: String,
    /// The secret: never logged, never returned.
    pub secret_access_key: String,
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// Tags of a resource.
pub type Tags = BTreeMap<String, String>;

/// An EC2 instance.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Instance {
    /// `i-…`.
    pub id: String,
    /// `t3.large`.
    pub instance_type: String,
    /// `running`, `stopped`, …
    pub state: String,
    /// When it was launched.
    pub launched: Option<DateTime<Utc>>,
    /// When it was stopped, read from its state transition reason.
    pub stopped_since: Option<DateTime<Utc>>,
    /// Its EBS volumes.
    pub volume_ids: Vec<String>,
    /// Its tags.
    pub tags: Tags,
}

/// An EBS volume.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Volume {
    /// `vol-…`.
    pub id: String,
    /// `gp3`, `io2`, …
    pub volume_type: String,
    /// Size in GiB.
    pub size_gib: f64,
    /// Provisioned IOPS.
    pub iops: Option<f64>,
    /// Provisioned throughput (MiB/s).
    pub throughput_mibps: Option<f64>,
    /// Attached to an instance.
    pub attached: bool,
    /// When it was created.
    pub created: Option<DateTime<Utc>>,
    /// Its tags.
    pub tags: Tags,
}

/// An Elastic IP address.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Address {
    /// `eipalloc-…`.
    pub allocation_id: String,
    /// The address.
    pub public_ip: String,
    /// The instance it is associated with.
    pub instance_id: Option<String>,
    /// Associated with anything (an instance or a network interface).
    pub associated: bool,
    /// Its tags.
    pub tags: Tags,
}

/// A NAT gateway.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NatGateway {
    /// `nat-…`.
    pub id: String,
    /// `available`, `deleted`, …
    pub state: String,
    /// When it was created.
    pub created: Option<DateTime<Utc>>,
    /// Its tags.
    pub tags: Tags,
}

/// A load balancer, Classic or v2.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadBalancer {
    /// Its name.
    pub name: String,
    /// Its ARN (Classic: built from the name).
    pub arn: String,
    /// `classic`, `application`, `network` or `gateway`.
    pub lb_type: String,
    /// The value of its CloudWatch `LoadBalancer` (v2) or `LoadBalancerName` (Classic) dimension.
    pub metric_dimension: String,
    /// Backends registered (instances, or targets of its target groups).
    pub registered_targets: u32,
    /// Backends healthy.
    pub healthy_targets: u32,
    /// When it was created.
    pub created: Option<DateTime<Utc>>,
    /// Its tags.
    pub tags: Tags,
}

/// An RDS DB instance.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Database {
    /// The DB instance identifier.
    pub id: String,
    /// Its ARN.
    pub arn: String,
    /// `db.r6g.large`.
    pub class: String,
    /// `postgres`, `mysql`, …
    pub engine: String,
    /// Multi-AZ.
    pub multi_az: bool,
    /// Allocated storage in GiB.
    pub storage_gib: f64,
    /// `gp3`, `io1`, …
    pub storage_type: String,
    /// `available`, `stopped`, …
    pub status: String,
    /// When it was created.
    pub created: Option<DateTime<Utc>>,
    /// Its tags.
    pub tags: Tags,
}

/// An EBS snapshot owned by the account.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// `snap-…`.
    pub id: String,
    /// The volume it was taken from.
    pub volume_id: Option<String>,
    /// The source volume's size in GiB (an upper bound of what the snapshot stores).
    pub size_gib: f64,
    /// When it was started.
    pub started: Option<DateTime<Utc>>,
    /// Its tags.
    pub tags: Tags,
}

/// What one region of a customer account holds that the hunter judges.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegionInventory {
    /// Instances (every state but terminated).
    pub instances: Vec<Instance>,
    /// Volumes.
    pub volumes: Vec<Volume>,
    /// Elastic IPs.
    pub addresses: Vec<Address>,
    /// NAT gateways that are not deleted.
    pub nat_gateways: Vec<NatGateway>,
    /// NAT gateways some route table routes to (in use or standing by: never waste).
    pub routed_nat_gateways: BTreeSet<String>,
    /// Load balancers.
    pub load_balancers: Vec<LoadBalancer>,
    /// DB instances.
    pub databases: Vec<Database>,
    /// Snapshots the account owns.
    pub snapshots: Vec<Snapshot>,
    /// Snapshots an image (AMI) the account owns is built from: never orphans.
    pub image_snapshots: BTreeSet<String>,
}

/// Describing the resources of a customer account.
#[async_trait]
pub trait Inventory: Send + Sync {
    /// Everything judged in `region`, every page read.
    async fn region(&self, region: &str) -> PortResult<RegionInventory>;
}

/// How datapoints of one period are summarized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Statistic {
    /// The highest value.
    Maximum,
    /// The total.
    Sum,
}

impl Statistic {
    /// CloudWatch's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::Maximum => "Maximum",
            Statistic::Sum => "Sum",
        }
    }
}

/// One statistic of one metric, per period.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricQuery {
    /// The caller's id of this query (lowercase letter first, then letters, digits, `_`).
    pub id: String,
    /// `AWS/EC2`.
    pub namespace: String,
    /// `CPUUtilization`.
    pub metric: String,
    /// Name and value of each dimension.
    pub dimensions: Vec<(String, String)>,
    /// The statistic.
    pub statistic: Statistic,
    /// Seconds per datapoint.
    pub period_seconds: u32,
}

/// The datapoints of one [`MetricQuery`], oldest first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricSeries {
    /// The query's id.
    pub id: String,
    /// Period start and value.
    pub points: Vec<(DateTime<Utc>, f64)>,
}

/// Reading metric statistics of a customer account.
#[async_trait]
pub trait Metrics: Send + Sync {
    /// One series per query, in the queries' order, with `from <= time < to`. Adapters batch as
    /// many queries per request as their API allows.
    async fn series(
        &self,
        region: &str,
        queries: &[MetricQuery],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> PortResult<Vec<MetricSeries>>;
}

/// Requests made on behalf of one scan, counted and named by the adapters.
#[derive(Debug, Clone, Default)]
pub struct ApiCalls(Arc<CallLog>);

#[derive(Debug, Default)]
struct CallLog {
    count: AtomicU64,
    actions: std::sync::Mutex<BTreeMap<String, u64>>,
}

impl ApiCalls {
    fn actions_held(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        self.0
            .actions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records one request of `action`, named as IAM names it (`ec2:DescribeInstances`).
    pub fn record(&self, action: &str) {
        self.0.count.fetch_add(1, Ordering::Relaxed);
        let mut actions = self.actions_held();
        match actions.get_mut(action) {
            Some(n) => *n += 1,
            None => {
                actions.insert(action.to_owned(), 1);
            }
        }
    }

    /// Requests recorded so far.
    pub fn count(&self) -> u64 {
        self.0.count.load(Ordering::Relaxed)
    }

    /// Requests so far per action.
    pub fn by_action(&self) -> BTreeMap<String, u64> {
        self.actions_held().clone()
    }
}

/// Both read ports on one customer account, and the count of the requests they make.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct CustomerAccount {
    /// Describing resources.
    pub inventory: Arc<dyn Inventory>,
    /// Reading metrics.
    pub metrics: Arc<dyn Metrics>,
    /// Requests made so far.
    pub calls: ApiCalls,
}

/// Opening a customer account for reading — its role (with the ExternalId) or its access keys —
/// and for acting, through its remediation role.
#[async_trait]
pub trait CloudAccess: Send + Sync {
    /// The read ports on `account`: through its role (with its ExternalId) when it has one, else
    /// with `access_key`; `Invalid` when it has neither.
    async fn open(
        &self,
        account: &Account,
        access_key: Option<&AccessKey>,
    ) -> PortResult<CustomerAccount>;
    /// The actions port on `account` for action `action_id`: through the account's remediation
    /// role (with its ExternalId) when it has one, in a session named after the action, so
    /// that the account's CloudTrail names the action behind each call; else with
    /// `access_key` (its remediation key); `Invalid` when it has neither.
    async fn act(
        &self,
        account: &Account,
        access_key: Option<&AccessKey>,
        action_id: &crate::remediation::ActionId,
    ) -> PortResult<Arc<dyn crate::remediation::Remediator>>;
    /// The account's CloudTrail bucket `bucket`, read the same way ([`crate::sources`]).
    async fn trail(
        &self,
        account: &Account,
        access_key: Option<&AccessKey>,
        bucket: &str,
    ) -> PortResult<crate::sources::OpenTrail>;
}

/// A filter for listing findings. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FindingFilter {
    /// Only this account.
    pub account_id: Option<String>,
    /// Only this region.
    pub region: Option<String>,
    /// Only these kinds.
    pub kinds: Vec<ZombieKind>,
    /// Only these statuses.
    pub statuses: Vec<FindingStatus>,
}

impl FindingFilter {
    /// Whether a finding passes the filter.
    pub fn matches(&self, f: &Finding) -> bool {
        self.account_id.as_ref().is_none_or(|a| *a == f.account_id)
            && self.region.as_ref().is_none_or(|r| *r == f.region)
            && (self.kinds.is_empty() || self.kinds.contains(&f.kind))
            && (self.statuses.is_empty() || self.statuses.contains(&f.status))
    }
}

/// Orders findings as every listing does: most waste first, then by id.
pub fn by_waste(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    b.monthly_waste_usd
        .total_cmp(&a.monthly_waste_usd)
        .then_with(|| a.finding_id.cmp(&b.finding_id))
}

/// The monthly waste of open, idle findings: ignored ones are meant to be so, and no-data ones
/// are not known to be idle.
pub fn open_waste(findings: &[Finding]) -> f64 {
    findings
        .iter()
        .filter(|f| f.status == FindingStatus::Open && f.state == ZombieState::Idle)
        .map(|f| f.monthly_waste_usd)
        .fold(0.0, dollars)
}

/// Adds dollars from a positive zero: `Sum` for `f64` starts at `-0.0`, which an empty list
/// would show as "-$0.00".
fn dollars(total: f64, usd: f64) -> f64 {
    total + usd
}

/// The monthly waste of idle findings whose resource went away at or after `since`: what
/// removing them saved.
pub fn saved_since(findings: &[Finding], since: DateTime<Utc>) -> f64 {
    findings
        .iter()
        .filter(|f| f.state == ZombieState::Idle && f.status == FindingStatus::Gone)
        .filter(|f| f.gone_at.is_some_and(|t| t >= since))
        .map(|f| f.monthly_waste_usd)
        .fold(0.0, dollars)
}

/// Findings between scans.
#[async_trait]
pub trait ZombieStore: Send + Sync {
    /// One finding of this tenant.
    async fn finding(&self, tenant: &str, finding_id: &str) -> PortResult<Option<Finding>>;
    /// This tenant's findings matching `filter`, ordered [`by_waste`].
    async fn findings(&self, tenant: &str, filter: &FindingFilter) -> PortResult<Vec<Finding>>;
    /// Stores findings, each replacing the one with its (tenant, finding id).
    async fn put_findings(&self, findings: &[Finding]) -> PortResult<()>;
    /// Forgets findings of this tenant (a resource no longer idle); unknown ids are skipped.
    async fn remove_findings(&self, tenant: &str, finding_ids: &[String]) -> PortResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_findings_waste_and_save_a_positive_zero() {
        assert!(open_waste(&[]).is_sign_positive());
        assert!(saved_since(&[], Utc::now()).is_sign_positive());
    }
}
