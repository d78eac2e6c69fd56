//! The hunt: one account's scan, region by region, and what it changes in the findings store.
//!
//! [`Hunter::scan`] for each account asked for:
//! 1. opens the account ([`CloudAccess`]) — its role, or its access key unsealed;
//! 2. picks the regions: those asked for, else the tenant's configured ones and every region
//!    its CloudTrail showed activity in (at least `us-east-1`);
//! 3. per region, side by side: describes the inventory, judges it ([`crate::judge`]) and reads
//!    the candidates' metrics ([`crate::fetch`]);
//! 4. records the result ([`Hunter::record`]): findings keep their id, first-seen time and an
//!    `ignored` status across scans; a finding whose resource is no longer in its region
//!    becomes `gone` (its waste saved); one whose resource is there but no longer idle is
//!    forgotten. Regions that failed change nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use dd0c_ingest::Current;
use dd0c_ports::clock::Clock;
use dd0c_ports::domain::Account;
use dd0c_ports::store::Stores;
use dd0c_ports::zombie::{
    open_waste, CloudAccess, CustomerAccount, Finding, FindingFilter, FindingStatus,
    RegionInventory, ZombieSettings, ZombieState,
};
use dd0c_ports::PortResult;
use futures_util::stream::{self, StreamExt};

use crate::judge::{self, Candidate, Region};
use crate::signals::{Signal, Verdict};
use crate::waste::{cents, Waste};
use crate::ZombieError;
use dd0c_ports::secrets::Credentials;

/// Regions of one account scanned at once.
const REGION_CONCURRENCY: usize = 4;

/// How far back CloudTrail activity makes a region worth scanning.
const ACTIVE_REGION_DAYS: i64 = 35;

/// Most cost events read to find the active regions.
const MAX_REGION_EVENTS: usize = 100_000;

/// The region scanned when nothing else names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// What to scan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanRequest {
    /// The tenant.
    pub tenant: String,
    /// One account, or all of the tenant's.
    pub account_id: Option<String>,
    /// These regions only (empty: the account's active and configured regions).
    pub regions: Vec<String>,
}

/// An account or region that could not be scanned; its findings are left as they were.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanFailure {
    /// The account.
    pub account_id: String,
    /// The region; `None` when the account could not be read at all.
    pub region: Option<String>,
    /// Why.
    pub error: String,
}

/// What a scan found and did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanReport {
    /// The findings standing after the scan (open and ignored), most waste first.
    pub findings: Vec<Finding>,
    /// Findings this scan saw disappear.
    pub gone: Vec<Finding>,
    /// Resources described.
    pub resources: usize,
    /// Regions scanned.
    pub regions: usize,
    /// Requests made to the customer's account.
    pub api_calls: u64,
    /// Those requests per IAM action (`cloudwatch:GetMetricData`).
    pub actions: BTreeMap<String, u64>,
    /// Accounts and regions that could not be scanned.
    pub failures: Vec<ScanFailure>,
}

impl ScanReport {
    /// Findings without data.
    pub fn no_data(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.state == ZombieState::NoData)
            .count()
    }

    /// Open idle waste, USD a month.
    pub fn waste_monthly_usd(&self) -> f64 {
        cents(open_waste(&self.findings))
    }

    fn absorb(&mut self, other: ScanReport) {
        self.findings.extend(other.findings);
        self.gone.extend(other.gone);
        self.resources += other.resources;
        self.regions += other.regions;
        self.api_calls += other.api_calls;
        for (action, n) in other.actions {
            *self.actions.entry(action).or_default() += n;
        }
        self.failures.extend(other.failures);
    }
}

/// What every region of one account's scan reads.
struct AccountScan<'a> {
    connection: &'a CustomerAccount,
    account: &'a Account,
    settings: &'a ZombieSettings,
    now: DateTime<Utc>,
}

/// One region's result.
struct RegionScan {
    region: String,
    findings: Vec<Finding>,
    /// Every resource id described: what "still there" means.
    present: BTreeSet<String>,
}

/// Scans accounts and keeps their findings.
#[allow(missing_debug_implementations)]
pub struct Hunter {
    stores: Stores,
    cloud: Arc<dyn CloudAccess>,
    credentials: Credentials,
    catalog: Current,
    clock: Arc<dyn Clock>,
}

impl Hunter {
    /// A hunter reading accounts through `cloud`, keeping findings in `stores`; `credentials`
    /// unseals access keys.
    pub fn new(
        stores: Stores,
        cloud: Arc<dyn CloudAccess>,
        credentials: Credentials,
        catalog: impl Into<Current>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Hunter {
            stores,
            cloud,
            credentials,
            catalog: catalog.into(),
            clock,
        }
    }

    /// Scans the accounts of `request` and records what was found.
    pub async fn scan(&self, request: &ScanRequest) -> Result<ScanReport, ZombieError> {
        let accounts = self.accounts(request).await?;
        let settings = self
            .stores
            .settings
            .settings(&request.tenant)
            .await
            .map_err(ZombieError::port("reading the tenant's settings"))?
            .zombies;
        let mut plan = self.regions(request, &settings, &accounts).await?;
        let mut report = ScanReport::default();
        for account in accounts {
            let regions = plan.remove(&account.account_id).unwrap_or_default();
            match self.scan_account(&account, &settings, &regions).await {
                Ok(scanned) => report.absorb(scanned),
                // One account asked for: its failure is the answer. Otherwise one account
                // that cannot be read does not keep the others from being scanned.
                Err(error) if request.account_id.is_some() => return Err(error),
                Err(error) => report.failures.push(ScanFailure {
                    account_id: account.account_id.clone(),
                    region: None,
                    error: error.to_string(),
                }),
            }
        }
        report.findings.sort_by(dd0c_ports::zombie::by_waste);
        Ok(report)
    }

    /// Scans every account of every tenant (the daily run); a tenant whose scan cannot run is
    /// logged and skipped. Returns each tenant's report, its failures included.
    pub async fn scan_everything(&self) -> Result<Vec<(String, ScanReport)>, ZombieError> {
        let tenants = self
            .stores
            .tenants
            .tenants()
            .await
            .map_err(ZombieError::port("listing tenants"))?;
        let mut reports = Vec::new();
        for tenant in tenants {
            let request = ScanRequest {
                tenant: tenant.name.clone(),
                ..ScanRequest::default()
            };
            match self.scan(&request).await {
                Ok(report) => reports.push((tenant.name, report)),
                Err(error) => tracing::warn!(tenant = %tenant.name, %error, "zombie scan failed"),
            }
        }
        Ok(reports)
    }

    async fn accounts(&self, request: &ScanRequest) -> Result<Vec<Account>, ZombieError> {
        let tenants = &self.stores.tenants;
        if tenants
            .tenant(&request.tenant)
            .await
            .map_err(ZombieError::port("reading the tenant"))?
            .is_none()
        {
            return Err(ZombieError::NoTenant(request.tenant.clone()));
        }
        match &request.account_id {
            Some(id) => match tenants
                .account(&request.tenant, id)
                .await
                .map_err(ZombieError::port("reading the account"))?
            {
                Some(account) => Ok(vec![account]),
                None => Err(ZombieError::NoAccount {
                    tenant: request.tenant.clone(),
                    account_id: id.clone(),
                }),
            },
            None => tenants
                .accounts(&request.tenant)
                .await
                .map_err(ZombieError::port("listing the accounts")),
        }
    }

    async fn scan_account(
        &self,
        account: &Account,
        settings: &ZombieSettings,
        regions: &[String],
    ) -> Result<ScanReport, ZombieError> {
        let key = self
            .credentials
            .access_key(account)
            .await
            .map_err(ZombieError::port("opening the account's credentials"))?;
        let connection = self
            .cloud
            .open(account, key.as_ref())
            .await
            .map_err(ZombieError::port("opening the account"))?;
        let now = self.clock.now();
        let scope = AccountScan {
            connection: &connection,
            account,
            settings,
            now,
        };
        // Futures made up front (not in a closure over the stream): the scan stays `Send` for
        // any caller that spawns it.
        let regional: Vec<_> = regions
            .iter()
            .map(|region| self.scan_region(&scope, region))
            .collect();
        let scans: Vec<(String, PortResult<RegionScan>)> = stream::iter(regional)
            .buffer_unordered(REGION_CONCURRENCY)
            .collect()
            .await;
        let mut report = ScanReport::default();
        let mut scanned = Vec::new();
        for (region, result) in scans {
            match result {
                Ok(scan) => {
                    report.resources += scan.present.len();
                    report.regions += 1;
                    scanned.push(scan);
                }
                Err(error) => report.failures.push(ScanFailure {
                    account_id: account.account_id.clone(),
                    region: Some(region),
                    error: error.to_string(),
                }),
            }
        }
        let (findings, gone) = self
            .record(account, scanned, now)
            .await
            .map_err(ZombieError::port("recording findings"))?;
        report.findings = findings;
        report.gone = gone;
        report.api_calls = connection.calls.count();
        report.actions = connection.calls.by_action();
        Ok(report)
    }

    /// The regions to scan per account: those asked for; else the configured ones and those
    /// each account's CloudTrail was active in lately (the tenant's cost events, read once for
    /// all its accounts); else [`DEFAULT_REGION`].
    async fn regions(
        &self,
        request: &ScanRequest,
        settings: &ZombieSettings,
        accounts: &[Account],
    ) -> Result<BTreeMap<String, Vec<String>>, ZombieError> {
        let mut active: BTreeMap<&str, BTreeSet<String>> = accounts
            .iter()
            .map(|a| (a.account_id.as_str(), BTreeSet::new()))
            .collect();
        if request.regions.is_empty() {
            let now = self.clock.now();
            let events = self
                .stores
                .events
                .cost_events(
                    &request.tenant,
                    now - Duration::days(ACTIVE_REGION_DAYS),
                    now,
                    MAX_REGION_EVENTS,
                )
                .await
                .map_err(ZombieError::port("reading the accounts' recent regions"))?;
            for event in events {
                if let Some(seen) = active.get_mut(event.account_id.as_str()) {
                    seen.insert(event.region);
                }
            }
        }
        Ok(active
            .into_iter()
            .map(|(account_id, seen)| {
                let mut regions: BTreeSet<String> = if request.regions.is_empty() {
                    settings.regions.iter().cloned().chain(seen).collect()
                } else {
                    request.regions.iter().cloned().collect()
                };
                if regions.is_empty() {
                    regions.insert(DEFAULT_REGION.to_owned());
                }
                (account_id.to_owned(), regions.into_iter().collect())
            })
            .collect())
    }

    /// One region's scan, named by its region whatever its outcome.
    async fn scan_region(
        &self,
        scope: &AccountScan<'_>,
        region: &str,
    ) -> (String, PortResult<RegionScan>) {
        (region.to_owned(), self.judge_region(scope, region).await)
    }

    /// Describes the region, judges what it holds and reads the candidates' metrics.
    async fn judge_region(&self, scope: &AccountScan<'_>, region: &str) -> PortResult<RegionScan> {
        let AccountScan {
            connection,
            account,
            settings,
            now,
        } = *scope;
        let inventory = connection.inventory.region(region).await?;
        let catalog = self.catalog.get();
        let at = Region {
            account_id: &account.account_id,
            region,
            settings,
            waste: Waste::new(&catalog, region),
            now,
        };
        let candidates = judge::candidates(&inventory, &at);
        let signals: Vec<&[Signal]> = candidates.iter().map(|c| c.signals.as_slice()).collect();
        let verdicts =
            crate::fetch::verdicts(connection.metrics.as_ref(), region, &signals, now).await?;
        let findings = candidates
            .iter()
            .zip(verdicts)
            .filter_map(|(c, v)| finding(account, region, c, v, now))
            .collect();
        Ok(RegionScan {
            region: region.to_owned(),
            findings,
            present: resource_ids(&inventory),
        })
    }

    /// Merges the scanned regions' findings with the stored ones of the same account and
    /// regions; returns the standing findings and those newly gone.
    async fn record(
        &self,
        account: &Account,
        scans: Vec<RegionScan>,
        now: DateTime<Utc>,
    ) -> PortResult<(Vec<Finding>, Vec<Finding>)> {
        let tenant = &account.tenant;
        let stored: BTreeMap<String, Finding> = self
            .stores
            .zombies
            .findings(
                tenant,
                &FindingFilter {
                    account_id: Some(account.account_id.clone()),
                    ..FindingFilter::default()
                },
            )
            .await?
            .into_iter()
            .map(|f| (f.finding_id.clone(), f))
            .collect();
        let mut standing = Vec::new();
        let mut gone = Vec::new();
        let mut forgotten = Vec::new();
        for scan in scans {
            let mut seen = BTreeSet::new();
            for mut finding in scan.findings {
                if let Some(before) = stored.get(&finding.finding_id) {
                    carry_over(&mut finding, before);
                }
                seen.insert(finding.finding_id.clone());
                standing.push(finding);
            }
            for before in stored.values().filter(|f| f.region == scan.region) {
                if seen.contains(&before.finding_id) || before.status == FindingStatus::Gone {
                    continue;
                }
                if scan.present.contains(&before.resource_id) {
                    forgotten.push(before.finding_id.clone());
                } else {
                    gone.push(Finding {
                        status: FindingStatus::Gone,
                        gone_at: Some(now),
                        ..before.clone()
                    });
                }
            }
        }
        let mut writes = standing.clone();
        writes.extend(gone.iter().cloned());
        self.stores.zombies.put_findings(&writes).await?;
        self.stores
            .zombies
            .remove_findings(tenant, &forgotten)
            .await?;
        Ok((standing, gone))
    }
}

/// A stored finding's history carried into this scan's: its first sighting, and an `ignored`
/// status with its reason. A gone resource that is back opens again.
fn carry_over(finding: &mut Finding, before: &Finding) {
    finding.first_seen = finding.first_seen.min(before.first_seen);
    if before.status == FindingStatus::Ignored {
        finding.status = FindingStatus::Ignored;
        finding.ignored_reason = before.ignored_reason.clone();
    }
}

/// The finding a candidate makes under its signals' verdicts, if any.
fn finding(
    account: &Account,
    region: &str,
    c: &Candidate,
    verdicts: Vec<Option<Verdict>>,
    now: DateTime<Utc>,
) -> Option<Finding> {
    let mut evidence = c.facts.clone();
    let mut no_data = false;
    for verdict in verdicts {
        match verdict? {
            Verdict::Busy => return None,
            Verdict::Idle(e) => evidence.push(e),
            Verdict::NoData(e) => {
                no_data = true;
                evidence.push(e);
            }
        }
    }
    Some(Finding {
        finding_id: Finding::id_for(
            &account.tenant,
            &account.account_id,
            region,
            c.kind,
            &c.resource_id,
        ),
        tenant: account.tenant.clone(),
        account_id: account.account_id.clone(),
        region: region.to_owned(),
        kind: c.kind,
        resource_id: c.resource_id.clone(),
        resource_arn: c.resource_arn.clone(),
        resource_type: c.resource_type.clone(),
        state: if no_data {
            ZombieState::NoData
        } else {
            ZombieState::Idle
        },
        monthly_waste_usd: c.monthly_waste_usd,
        explanation: judge::explain(c, &evidence, no_data),
        evidence,
        first_seen: if no_data { now } else { c.idle_since(now) },
        last_seen: now,
        status: FindingStatus::Open,
        ignored_reason: None,
        gone_at: None,
    })
}

/// Every resource id of a region's inventory: what "still there" means.
fn resource_ids(inventory: &RegionInventory) -> BTreeSet<String> {
    let i = inventory;
    i.instances
        .iter()
        .map(|x| x.id.clone())
        .chain(i.volumes.iter().map(|x| x.id.clone()))
        .chain(i.addresses.iter().map(|x| x.allocation_id.clone()))
        .chain(i.nat_gateways.iter().map(|x| x.id.clone()))
        .chain(i.load_balancers.iter().map(|x| x.name.clone()))
        .chain(i.databases.iter().map(|x| x.id.clone()))
        .chain(i.snapshots.iter().map(|x| x.id.clone()))
        .collect()
}

/// The daily hunt as a scheduled job: every tenant's accounts, each tenant's figures logged.
#[allow(missing_debug_implementations)]
pub struct HuntJob(pub Hunter);

/// A day.
const DAILY: std::time::Duration = std::time::Duration::from_secs(86_400);

#[async_trait::async_trait]
impl dd0c_function::job::Job for HuntJob {
    fn name(&self) -> &'static str {
        "zombies"
    }

    fn period(&self) -> std::time::Duration {
        DAILY
    }

    async fn run(
        &self,
        _now: chrono::DateTime<chrono::Utc>,
        _replica: &str,
    ) -> Result<dd0c_function::job::JobRun, dd0c_function::FunctionError> {
        let reports = self.0.scan_everything().await.map_err(|e| match e {
            ZombieError::Port { what, source } => {
                dd0c_function::FunctionError::Port { what, source }
            }
            other => dd0c_function::FunctionError::Invalid(other.to_string()),
        })?;
        let mut findings = 0;
        for (tenant, report) in reports {
            findings += report.findings.len() as u64;
            tracing::info!(
                job = "zombies", %tenant, findings = report.findings.len(),
                waste_monthly_usd = report.waste_monthly_usd(),
                failures = report.failures.len(), "ran"
            );
        }
        Ok(dd0c_function::job::JobRun {
            done: findings,
            summary: format!("{findings} zombies found"),
        })
    }
}
