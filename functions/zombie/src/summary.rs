//! What the API and the digest show of the findings: open waste, what was saved, the top
//! zombies, and ignoring one with a reason.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use dd0c_ports::zombie::{
    open_waste, saved_since, Finding, FindingFilter, FindingStatus, ZombieKind, ZombieState,
    ZombieStore,
};
use dd0c_ports::{PortError, PortResult};
use serde::Serialize;

use crate::waste::cents;

/// A tenant's findings in figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Summary {
    /// Open findings, idle or without data.
    pub open: usize,
    /// Open findings without data (not counted as waste).
    pub no_data: usize,
    /// Ignored findings.
    pub ignored: usize,
    /// The monthly waste of open, idle findings (USD/month).
    pub waste_open_monthly_usd: f64,
    /// The monthly waste of findings gone since the start of this month (USD/month saved).
    pub saved_this_month_usd: f64,
    /// Open, idle findings and their waste, per kind.
    pub by_kind: BTreeMap<ZombieKind, KindTotal>,
}

/// Findings of one kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KindTotal {
    /// How many.
    pub count: usize,
    /// Their monthly waste (USD/month).
    pub monthly_usd: f64,
}

fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

/// The summary of `tenant`'s findings at `now`.
pub async fn summary(
    store: &dyn ZombieStore,
    tenant: &str,
    now: DateTime<Utc>,
) -> PortResult<Summary> {
    let findings = store.findings(tenant, &FindingFilter::default()).await?;
    let open: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.status == FindingStatus::Open)
        .collect();
    let mut by_kind: BTreeMap<ZombieKind, KindTotal> = BTreeMap::new();
    for f in open.iter().filter(|f| f.state == ZombieState::Idle) {
        let total = by_kind.entry(f.kind).or_default();
        total.count += 1;
        total.monthly_usd = cents(total.monthly_usd + f.monthly_waste_usd);
    }
    Ok(Summary {
        open: open.len(),
        no_data: open
            .iter()
            .filter(|f| f.state == ZombieState::NoData)
            .count(),
        ignored: findings
            .iter()
            .filter(|f| f.status == FindingStatus::Ignored)
            .count(),
        waste_open_monthly_usd: cents(open_waste(&findings)),
        saved_this_month_usd: cents(saved_since(&findings, month_start(now))),
        by_kind,
    })
}

/// Longest reason for ignoring a finding.
pub const MAX_REASON: usize = 500;

/// `reason` without its surrounding white space, if it says something: at most
/// [`MAX_REASON`] characters, none a control character, not blank (U+FEFF counts as blank,
/// as it does in the API document's pattern).
pub fn check_reason(reason: &str) -> PortResult<&str> {
    let blank = |c: char| dd0c_ports::text::is_blank(c) || c == '\u{feff}';
    if reason.chars().all(blank)
        || reason.chars().count() > MAX_REASON
        || reason.chars().any(dd0c_ports::text::is_unprintable)
    {
        return Err(PortError::Invalid(format!(
            "reason: 1 to {MAX_REASON} printable characters"
        )));
    }
    Ok(reason.trim())
}

/// Marks a finding ignored with `reason` ([`check_reason`]): later scans keep it so and no
/// total counts it. `NotFound` when the tenant has no such finding; a gone one cannot be
/// ignored.
pub async fn ignore(
    store: &dyn ZombieStore,
    tenant: &str,
    finding_id: &str,
    reason: &str,
) -> PortResult<Finding> {
    let reason = check_reason(reason)?;
    let mut finding = store
        .finding(tenant, finding_id)
        .await?
        .ok_or_else(|| PortError::NotFound(format!("finding {finding_id}")))?;
    if finding.status == FindingStatus::Gone {
        return Err(PortError::Conflict(format!(
            "finding {finding_id} is gone: its resource no longer exists"
        )));
    }
    finding.status = FindingStatus::Ignored;
    finding.ignored_reason = Some(reason.to_owned());
    store.put_findings(std::slice::from_ref(&finding)).await?;
    Ok(finding)
}
