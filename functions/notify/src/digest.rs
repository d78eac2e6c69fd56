//! The daily digest: a tenant's last 24 hours of anomalies — counts by severity, dollars at
//! stake, top actors, new actors and regions — and its zombies — the top open ones, their total
//! monthly waste, and what removing some saved since the last digest — and what closed: the
//! anomalies whose resources all ended in those 24 hours, how long they ran, what they cost and
//! what ending them avoided; by e-mail and Slack, once a day at the tenant's `digest_hour` in
//! its `digest_time_zone`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, TimeDelta, Timelike, Utc};
use dd0c_ports::domain::{
    actor_name, format_duration, format_usd, Anomaly, AnomalyStatus, Pricing, Settings, Severity,
    Signal,
};
use dd0c_ports::ledger::{records_by_anomaly, Followed, ResourceLedger};
use dd0c_ports::mail::Email;
use dd0c_ports::store::{AnomalyFilter, AnomalyStore};
use dd0c_ports::zombie::{
    open_waste, saved_since, Finding, FindingFilter, FindingStatus, ZombieState,
};
use dd0c_ports::PortResult;
use serde::Serialize;
use serde_json::{json, Value};

use crate::render::render;

/// The most anomalies one digest lists.
const MAX_LISTED: usize = 1000;
/// Actors named under "top actors".
const TOP_ACTORS: usize = 5;
/// Zombies named under "top zombies".
const TOP_ZOMBIES: usize = 5;
/// How far back a resolved anomaly may have been raised for its close to be counted.
const CLOSED_LOOKBACK: TimeDelta = TimeDelta::days(92);

/// The local day whose digest is due at `now`: today in the tenant's time zone once its digest
/// hour has come (the scheduler claims each day once, so a digest held by panic mode or missed
/// by a restart still goes out later that day). `None` before the hour. An unknown time zone
/// counts as UTC.
pub fn due(settings: &Settings, now: DateTime<Utc>) -> Option<NaiveDate> {
    let zone = time_zone(&settings.digest_time_zone).unwrap_or(chrono_tz::UTC);
    let local = now.with_timezone(&zone);
    (local.hour() >= u32::from(settings.digest_hour)).then(|| local.date_naive())
}

/// The IANA time zone `name` (`Europe/Berlin`), or an error saying it is not one.
pub use dd0c_ports::domain::time_zone;

/// One tenant's digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    /// The tenant.
    pub tenant: String,
    /// The local day it is for.
    pub day: NaiveDate,
    /// The anomalies of the 24 hours before it was built, newest first.
    pub anomalies: Vec<Anomaly>,
    /// The open idle findings with the most waste.
    pub top_zombies: Vec<Finding>,
    /// Open idle findings in all.
    pub open_zombies: usize,
    /// Their monthly waste (USD/month).
    pub zombie_waste_usd: f64,
    /// The monthly waste of zombies gone in the 24 hours before it was built (USD/month saved).
    pub saved_usd: f64,
    /// The anomalies whose resources all ended in those 24 hours.
    pub closed: Closed,
    /// The tenant's discount: figures are shown at what the tenant pays, the list price beside.
    pub pricing: Pricing,
}

/// The anomalies whose resources all ended in a digest's 24 hours.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Closed {
    /// How many.
    pub count: usize,
    /// The median time from an anomaly's raise to the end of its last resource.
    pub median_time_to_end: Option<TimeDelta>,
    /// What their resources cost, creation to end.
    pub actual_cost_usd: f64,
    /// Their month-end forecasts at alert time less what they cost.
    pub avoided_usd: f64,
}

impl Closed {
    /// Reads `tenant`'s resolved anomalies raised within [`CLOSED_LOOKBACK`] and keeps those
    /// whose resources, as `ledger` holds them, all ended in the 24 hours before `now`.
    async fn build(
        anomalies: &dyn AnomalyStore,
        ledger: &dyn ResourceLedger,
        tenant: &str,
        now: DateTime<Utc>,
    ) -> PortResult<Closed> {
        let filter = AnomalyFilter {
            statuses: vec![AnomalyStatus::Resolved],
            from: Some(now - CLOSED_LOOKBACK),
            to: Some(now),
            ..AnomalyFilter::default()
        };
        let since = now - TimeDelta::hours(24);
        let mut closed = Closed::default();
        let mut times = Vec::new();
        let resolved = read_anomalies(anomalies, tenant, &filter).await?;
        let mut records = records_by_anomaly(ledger, tenant, &resolved).await?;
        for anomaly in &resolved {
            let records = records.remove(&anomaly.anomaly_id).unwrap_or_default();
            let Some(followed) = Followed::of_records(&records, now) else {
                continue;
            };
            let (Some(ended_at), Some(actual)) = (followed.ended_at, followed.actual_cost_usd)
            else {
                continue;
            };
            if ended_at <= since || ended_at > now {
                continue;
            }
            closed.count += 1;
            closed.actual_cost_usd += actual;
            closed.avoided_usd += Followed::avoided_usd(anomaly, actual);
            times.push(ended_at - anomaly.event_time);
        }
        closed.median_time_to_end = median(times);
        Ok(closed)
    }
}

/// The middle of `spans` (the mean of the two middle ones for an even count).
fn median(mut spans: Vec<TimeDelta>) -> Option<TimeDelta> {
    spans.sort();
    let n = spans.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(spans[n / 2]),
        _ => Some((spans[n / 2 - 1] + spans[n / 2]) / 2),
    }
}

/// Up to [`MAX_LISTED`] of `tenant`'s anomalies that `filter` passes, newest first.
async fn read_anomalies(
    anomalies: &dyn AnomalyStore,
    tenant: &str,
    filter: &AnomalyFilter,
) -> PortResult<Vec<Anomaly>> {
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = anomalies
            .anomalies(tenant, filter, cursor.as_deref(), 200)
            .await?;
        listed.extend(page.items);
        match page.next_cursor {
            Some(next) if listed.len() < MAX_LISTED => cursor = Some(next),
            _ => break,
        }
    }
    listed.truncate(MAX_LISTED);
    Ok(listed)
}

#[derive(Serialize)]
struct ZombieLine {
    explanation: String,
}

#[derive(Serialize)]
struct ActorLine {
    name: String,
    count: usize,
    monthly: String,
}

#[derive(Serialize)]
struct DigestItem {
    severity: String,
    explanation: String,
}

#[derive(Serialize)]
struct DigestContext {
    tenant: String,
    day: String,
    count: usize,
    critical: usize,
    warning: usize,
    info: usize,
    at_stake: String,
    top_actors: Vec<ActorLine>,
    new_actors: Vec<String>,
    new_regions: Vec<String>,
    items: Vec<DigestItem>,
    open_zombies: usize,
    zombie_waste: String,
    saved: String,
    has_savings: bool,
    zombies: Vec<ZombieLine>,
    closed: usize,
    closed_median: String,
    closed_actual: String,
    closed_avoided: String,
}

impl Digest {
    /// Reads the tenant's anomalies of the 24 hours before `now`, what closed in them, and
    /// its findings; figures are to be shown under `pricing`.
    pub async fn build(
        stores: &dd0c_ports::store::Stores,
        tenant: &str,
        day: NaiveDate,
        now: DateTime<Utc>,
        pricing: Pricing,
    ) -> PortResult<Digest> {
        let (anomalies, zombies) = (stores.anomalies.as_ref(), stores.zombies.as_ref());
        let filter = AnomalyFilter {
            from: Some(now - TimeDelta::hours(24)),
            to: Some(now),
            ..AnomalyFilter::default()
        };
        let listed = read_anomalies(anomalies, tenant, &filter).await?;
        let closed = Closed::build(anomalies, stores.ledger.as_ref(), tenant, now).await?;
        let findings = zombies.findings(tenant, &FindingFilter::default()).await?;
        let open: Vec<Finding> = findings
            .iter()
            .filter(|f| f.status == FindingStatus::Open && f.state == ZombieState::Idle)
            .cloned()
            .collect();
        Ok(Digest {
            tenant: tenant.to_owned(),
            day,
            anomalies: listed,
            open_zombies: open.len(),
            zombie_waste_usd: open_waste(&findings),
            saved_usd: saved_since(&findings, now - TimeDelta::hours(24)),
            top_zombies: open.into_iter().take(TOP_ZOMBIES).collect(),
            closed,
            pricing,
        })
    }

    /// Whether there is nothing to report (no digest is sent then).
    pub fn is_empty(&self) -> bool {
        self.anomalies.is_empty()
            && self.open_zombies == 0
            && self.saved_usd == 0.0
            && self.closed.count == 0
    }

    fn count(&self, severity: Severity) -> usize {
        self.anomalies
            .iter()
            .filter(|a| a.severity == severity)
            .count()
    }

    fn at_stake(&self) -> f64 {
        self.anomalies.iter().map(|a| a.monthly_usd).sum()
    }

    fn context(&self) -> DigestContext {
        let mut actors: BTreeMap<String, (usize, f64)> = BTreeMap::new();
        let (mut new_actors, mut new_regions) = (BTreeSet::new(), BTreeSet::new());
        for a in &self.anomalies {
            let entry = actors.entry(actor_name(&a.actor_arn)).or_default();
            entry.0 += 1;
            entry.1 += a.monthly_usd;
            for reason in &a.reasons {
                match reason.signal {
                    Signal::NewActor => {
                        new_actors.insert(actor_name(&a.actor_arn));
                    }
                    Signal::NewRegion => {
                        new_regions.insert(a.region.clone());
                    }
                    _ => {}
                }
            }
        }
        let mut top: Vec<(String, (usize, f64))> = actors.into_iter().collect();
        top.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1).then_with(|| a.0.cmp(&b.0)));
        DigestContext {
            tenant: self.tenant.clone(),
            day: self.day.to_string(),
            count: self.anomalies.len(),
            critical: self.count(Severity::Critical),
            warning: self.count(Severity::Warning),
            info: self.count(Severity::Info),
            at_stake: self.pricing.show(self.at_stake(), "/month"),
            top_actors: top
                .into_iter()
                .take(TOP_ACTORS)
                .map(|(name, (count, monthly))| ActorLine {
                    name,
                    count,
                    monthly: self.pricing.show(monthly, "/month"),
                })
                .collect(),
            new_actors: new_actors.into_iter().collect(),
            new_regions: new_regions.into_iter().collect(),
            items: self
                .anomalies
                .iter()
                .map(|a| DigestItem {
                    severity: a.severity.to_string(),
                    explanation: a.explanation.clone(),
                })
                .collect(),
            open_zombies: self.open_zombies,
            zombie_waste: self.pricing.show(self.zombie_waste_usd, "/month"),
            saved: self.pricing.show(self.saved_usd, "/month"),
            has_savings: self.saved_usd > 0.0,
            zombies: self
                .top_zombies
                .iter()
                .map(|f| ZombieLine {
                    explanation: f.explanation.clone(),
                })
                .collect(),
            closed: self.closed.count,
            closed_median: self
                .closed
                .median_time_to_end
                .map(format_duration)
                .unwrap_or_default(),
            closed_actual: self.pricing.show(self.closed.actual_cost_usd, ""),
            closed_avoided: self.pricing.show(self.closed.avoided_usd, ""),
        }
    }

    /// The digest as plain text: the e-mail's text part.
    pub fn text(&self) -> Result<String, crate::render::RenderError> {
        render("digest.txt", &self.context())
    }

    /// The digest e-mail to `to`.
    pub fn email(&self, to: &[String]) -> Result<Email, crate::render::RenderError> {
        let context = self.context();
        Ok(Email {
            to: to.to_vec(),
            subject: format!(
                "[dd0c/cost] Daily digest {}: {} anomalies, {}/month at stake, {} zombies wasting {}/month",
                self.day,
                self.anomalies.len(),
                format_usd(self.pricing.net(self.at_stake())),
                self.open_zombies,
                format_usd(self.pricing.net(self.zombie_waste_usd))
            ),
            text: render("digest.txt", &context)?,
            html: render("digest.html", &context)?,
        })
    }

    /// The digest as a Slack message.
    pub fn slack(&self) -> Value {
        let context = self.context();
        let actors: String = context
            .top_actors
            .iter()
            .map(|a| format!("• `{}`: {} anomalies, {}\n", a.name, a.count, a.monthly))
            .collect();
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": format!("Daily digest {}", context.day)}}),
            json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
                "*{}* anomalies in the last 24 hours ({} critical, {} warning, {} info), *{}* at stake.",
                context.count, context.critical, context.warning, context.info, context.at_stake)}}),
        ];
        if !actors.is_empty() {
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Top actors*\n{}", actors.trim_end())}}));
        }
        let mut novelties = Vec::new();
        if !context.new_actors.is_empty() {
            novelties.push(format!("*New actors:* {}", context.new_actors.join(", ")));
        }
        if !context.new_regions.is_empty() {
            novelties.push(format!("*New regions:* {}", context.new_regions.join(", ")));
        }
        if !novelties.is_empty() {
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": novelties.join("\n")}}));
        }
        if context.open_zombies > 0 || context.has_savings {
            let mut text = format!(
                "*Zombies:* {} open, *{}* wasted.",
                context.open_zombies, context.zombie_waste
            );
            if context.has_savings {
                text.push_str(&format!(
                    " Removed since the last digest: *{}* saved.",
                    context.saved
                ));
            }
            for zombie in &context.zombies {
                text.push_str(&format!("\n• {}", zombie.explanation));
            }
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
        }
        if context.closed > 0 {
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
                "*Closed:* {} anomalies ended (median {} from alert to end), costing *{}*; *{}* avoided against leaving them running to month end.",
                context.closed, context.closed_median, context.closed_actual, context.closed_avoided)}}));
        }
        json!({
            "text": format!("dd0c/cost daily digest {}: {} anomalies, {} at stake", context.day, context.count, context.at_stake),
            "blocks": blocks,
        })
    }
}

/// The digests as a scheduled job: each period, every tenant whose digest is due gets it
/// ([`crate::Notifier::send_due_digests`], which claims each tenant's day itself).
#[allow(missing_debug_implementations)]
pub struct DigestJob {
    /// Sends them.
    pub notifier: crate::Notifier,
    /// Tenants, settings and the schedule's claims.
    pub stores: dd0c_ports::store::Stores,
}

/// How often due digests are looked for: a digest goes out within this of its hour.
pub const DIGEST_CHECK: std::time::Duration = std::time::Duration::from_secs(60);

#[async_trait::async_trait]
impl dd0c_function::job::Job for DigestJob {
    fn name(&self) -> &'static str {
        "digest"
    }

    fn period(&self) -> std::time::Duration {
        DIGEST_CHECK
    }

    async fn run(
        &self,
        _now: chrono::DateTime<chrono::Utc>,
        replica: &str,
    ) -> Result<dd0c_function::job::JobRun, dd0c_function::FunctionError> {
        let sent = self
            .notifier
            .send_due_digests(&self.stores, replica)
            .await
            .map_err(dd0c_function::FunctionError::port("sending due digests"))?;
        Ok(dd0c_function::job::JobRun {
            done: sent.len() as u64,
            summary: format!("{} digests sent", sent.len()),
        })
    }
}
