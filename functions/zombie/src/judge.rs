//! What each kind of resource is judged on: a region's inventory in, candidates out — each with
//! its waste, the described facts that make it a zombie, and the metric signals that must all
//! say idle.
//!
//! Skipped before judging: resources tagged `dd0c:ignore`, and resources younger than their
//! lookback (their metrics cannot cover it yet).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use dd0c_ports::domain::format_usd;
use dd0c_ports::zombie::{
    Evidence, Instance, RegionInventory, Statistic, Tags, ZombieKind, ZombieSettings, IGNORE_TAG,
};

use crate::signals::Signal;
use crate::waste::{cents, Waste};

/// A resource that is a zombie if its signals agree.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The kind of waste.
    pub kind: ZombieKind,
    /// Its id.
    pub resource_id: String,
    /// Its ARN.
    pub resource_arn: String,
    /// Its type.
    pub resource_type: String,
    /// What removing it saves a month.
    pub monthly_waste_usd: f64,
    /// Described facts, each already idle.
    pub facts: Vec<Evidence>,
    /// Metric signals, each of which must say idle.
    pub signals: Vec<Signal>,
    /// When a described fact dates the idleness (an instance's stop time).
    pub since: Option<DateTime<Utc>>,
    /// The resource in words (`t3.large instance i-0abc with 2 volumes`).
    pub subject: String,
    /// Why, for a candidate judged by facts alone.
    pub facts_text: Option<String>,
    /// What saves the money (`terminating it`).
    pub action: &'static str,
}

impl Candidate {
    /// Idle since: the start of its longest signal's lookback (every day of which was idle),
    /// else the time a described fact dates, else `now`.
    pub fn idle_since(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let since = match self.signals.iter().map(|s| s.lookback_days).max() {
            Some(days) => now - Duration::days(i64::from(days)),
            None => self.since.unwrap_or(now),
        };
        since.min(now)
    }
}

/// The statistic of a described fact's evidence (not a metric's).
pub const DESCRIBED: &str = "describe";

/// The context of one region's judgement.
#[derive(Debug, Clone, Copy)]
pub struct Region<'a> {
    /// The account.
    pub account_id: &'a str,
    /// The region.
    pub region: &'a str,
    /// The tenant's thresholds.
    pub settings: &'a ZombieSettings,
    /// Prices.
    pub waste: Waste<'a>,
    /// The scan's time.
    pub now: DateTime<Utc>,
}

impl Region<'_> {
    fn arn(&self, resource: &str) -> String {
        format!("arn:aws:ec2:{}:{}:{resource}", self.region, self.account_id)
    }

    /// Whether a resource created at `created` is at least `days` old (unknown: judged).
    fn older_than(&self, created: Option<DateTime<Utc>>, days: u32) -> bool {
        created.is_none_or(|c| self.now - c >= Duration::days(i64::from(days)))
    }
}

fn ignored(tags: &Tags) -> bool {
    tags.contains_key(IGNORE_TAG)
}

/// A described fact as evidence: `observed` against the most an idle resource may show.
fn fact(what: &str, observed: f64, threshold: f64) -> Evidence {
    Evidence {
        metric: what.to_owned(),
        statistic: DESCRIBED.to_owned(),
        period_seconds: 0,
        unit: String::new(),
        days_evaluated: 0,
        datapoints: 1,
        threshold: Some(threshold),
        observed: Some(observed),
    }
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// Every candidate of one region.
pub fn candidates(inventory: &RegionInventory, at: &Region<'_>) -> Vec<Candidate> {
    let mut found = Vec::new();
    found.extend(instances(inventory, at));
    found.extend(volumes(inventory, at));
    found.extend(addresses(inventory, at));
    found.extend(nat_gateways(inventory, at));
    found.extend(load_balancers(inventory, at));
    found.extend(databases(inventory, at));
    found.extend(snapshots(inventory, at));
    found
}

/// An instance's attached volumes and addresses: what terminating it also saves.
struct Attached {
    volumes: usize,
    addresses: usize,
    monthly_usd: f64,
}

fn attached(instance: &Instance, inventory: &RegionInventory, at: &Region<'_>) -> Attached {
    let volumes: BTreeMap<&str, _> = inventory
        .volumes
        .iter()
        .map(|v| (v.id.as_str(), v))
        .collect();
    let own_volumes: Vec<_> = instance
        .volume_ids
        .iter()
        .filter_map(|id| volumes.get(id.as_str()))
        .collect();
    let addresses = inventory
        .addresses
        .iter()
        .filter(|a| a.instance_id.as_deref() == Some(instance.id.as_str()))
        .count();
    Attached {
        volumes: own_volumes.len(),
        addresses,
        monthly_usd: own_volumes.iter().map(|v| at.waste.volume(v)).sum::<f64>()
            + addresses as f64 * at.waste.address(),
    }
}

fn instances<'a>(
    inventory: &'a RegionInventory,
    at: &'a Region<'a>,
) -> impl Iterator<Item = Candidate> + 'a {
    let s = at.settings;
    inventory
        .instances
        .iter()
        .filter(|i| !ignored(&i.tags))
        .filter_map(move |i| {
            let extra = attached(i, inventory, at);
            let with = match (extra.volumes, extra.addresses) {
                (0, 0) => String::new(),
                (v, 0) => format!(" with {}", plural(v, "volume")),
                (0, a) => format!(" with {}", plural(a, "address")),
                (v, a) => format!(" with {} and {}", plural(v, "volume"), plural(a, "address")),
            };
            let subject = format!("{} instance {}{with}", i.instance_type, i.id);
            let base = Candidate {
                kind: ZombieKind::Ec2Idle,
                resource_id: i.id.clone(),
                resource_arn: at.arn(&format!("instance/{}", i.id)),
                resource_type: i.instance_type.clone(),
                monthly_waste_usd: cents(at.waste.instance(i) + extra.monthly_usd),
                facts: Vec::new(),
                signals: Vec::new(),
                since: None,
                subject,
                facts_text: None,
                action: "terminating it",
            };
            match i.state.as_str() {
                "running" if at.older_than(i.launched, s.ec2_lookback_days) => {
                    let signal = |metrics, statistic, unit_divisor, unit, threshold| Signal {
                        namespace: "AWS/EC2",
                        metrics,
                        dimension: ("InstanceId", i.id.clone()),
                        statistic,
                        unit_divisor,
                        unit,
                        threshold,
                        lookback_days: s.ec2_lookback_days,
                    };
                    Some(Candidate {
                        signals: vec![
                            signal(
                                &["CPUUtilization"],
                                Statistic::Maximum,
                                1.0,
                                "%",
                                s.ec2_cpu_max_percent,
                            ),
                            signal(
                                &["NetworkIn", "NetworkOut"],
                                Statistic::Sum,
                                1e6,
                                " MB a day",
                                s.ec2_network_max_mb_per_day,
                            ),
                        ],
                        ..base
                    })
                }
                "stopped" => {
                    let since = i.stopped_since?;
                    let days = (at.now - since).num_days();
                    // Stopped with nothing attached, it costs nothing: no waste to report.
                    let wasting = extra.monthly_usd > 0.0;
                    (wasting && days >= i64::from(s.ec2_stopped_days)).then(|| Candidate {
                        kind: ZombieKind::Ec2Stopped,
                        monthly_waste_usd: cents(extra.monthly_usd),
                        facts: vec![fact(
                            "days stopped",
                            days as f64,
                            f64::from(s.ec2_stopped_days),
                        )],
                        since: Some(since),
                        facts_text: Some(format!(
                            "has been stopped for {days} days; its storage and addresses still bill"
                        )),
                        ..base
                    })
                }
                _ => None,
            }
        })
}

fn volumes<'a>(
    inventory: &'a RegionInventory,
    at: &'a Region<'a>,
) -> impl Iterator<Item = Candidate> + 'a {
    inventory
        .volumes
        .iter()
        .filter(|v| !v.attached && !ignored(&v.tags))
        .filter(|v| at.older_than(v.created, at.settings.ebs_unattached_days))
        .map(|v| Candidate {
            kind: ZombieKind::EbsUnattached,
            resource_id: v.id.clone(),
            resource_arn: at.arn(&format!("volume/{}", v.id)),
            resource_type: v.volume_type.clone(),
            monthly_waste_usd: cents(at.waste.volume(v)),
            facts: vec![fact("attachments", 0.0, 0.0)],
            signals: Vec::new(),
            since: None,
            subject: format!("{} GiB {} volume {}", v.size_gib, v.volume_type, v.id),
            facts_text: Some("is attached to nothing".to_owned()),
            action: "deleting it (after a snapshot, if its data matters)",
        })
}

fn addresses<'a>(
    inventory: &'a RegionInventory,
    at: &'a Region<'a>,
) -> impl Iterator<Item = Candidate> + 'a {
    inventory
        .addresses
        .iter()
        .filter(|a| !a.associated && !ignored(&a.tags))
        .map(|a| Candidate {
            kind: ZombieKind::EipUnassociated,
            resource_id: a.allocation_id.clone(),
            resource_arn: at.arn(&format!("elastic-ip/{}", a.allocation_id)),
            resource_type: "public-ipv4".to_owned(),
            monthly_waste_usd: cents(at.waste.address()),
            facts: vec![fact("associations", 0.0, 0.0)],
            signals: Vec::new(),
            since: None,
            subject: format!("Elastic IP {} ({})", a.public_ip, a.allocation_id),
            facts_text: Some("is associated with nothing".to_owned()),
            action: "releasing it",
        })
}

fn nat_gateways<'a>(
    inventory: &'a RegionInventory,
    at: &'a Region<'a>,
) -> impl Iterator<Item = Candidate> + 'a {
    let s = at.settings;
    inventory
        .nat_gateways
        .iter()
        // A gateway a route table uses is in service or standing by: never waste.
        .filter(|n| !inventory.routed_nat_gateways.contains(&n.id) && !ignored(&n.tags))
        .filter(move |n| at.older_than(n.created, s.nat_lookback_days))
        .map(move |n| {
            let signal = |metric: &'static [&'static str], statistic, unit| Signal {
                namespace: "AWS/NATGateway",
                metrics: metric,
                dimension: ("NatGatewayId", n.id.clone()),
                statistic,
                unit_divisor: 1.0,
                unit,
                threshold: 0.0,
                lookback_days: s.nat_lookback_days,
            };
            Candidate {
                kind: ZombieKind::NatIdle,
                resource_id: n.id.clone(),
                resource_arn: at.arn(&format!("natgateway/{}", n.id)),
                resource_type: "nat-gateway".to_owned(),
                monthly_waste_usd: cents(at.waste.nat_gateway()),
                facts: vec![fact("route tables using it", 0.0, 0.0)],
                signals: vec![
                    signal(
                        &["ActiveConnectionCount"],
                        Statistic::Maximum,
                        " connections",
                    ),
                    signal(&["PacketsInFromSource"], Statistic::Sum, " packets a day"),
                    signal(
                        &["PacketsInFromDestination"],
                        Statistic::Sum,
                        " packets a day",
                    ),
                ],
                since: None,
                subject: format!("NAT gateway {} (in no route table)", n.id),
                facts_text: None,
                action: "deleting it",
            }
        })
}

fn load_balancers<'a>(
    inventory: &'a RegionInventory,
    at: &'a Region<'a>,
) -> impl Iterator<Item = Candidate> + 'a {
    let s = at.settings;
    inventory
        .load_balancers
        .iter()
        .filter(|lb| !ignored(&lb.tags))
        .filter(move |lb| at.older_than(lb.created, s.elb_lookback_days))
        .map(move |lb| {
            let base = Candidate {
                kind: ZombieKind::ElbIdle,
                resource_id: lb.name.clone(),
                resource_arn: lb.arn.clone(),
                resource_type: lb.lb_type.clone(),
                monthly_waste_usd: cents(at.waste.load_balancer(lb)),
                facts: vec![fact("healthy targets", f64::from(lb.healthy_targets), 0.0)],
                signals: Vec::new(),
                since: None,
                subject: format!("{} load balancer {}", lb.lb_type, lb.name),
                facts_text: Some(format!(
                    "has no healthy targets ({} registered)",
                    lb.registered_targets
                )),
                action: "deleting it",
            };
            if lb.healthy_targets == 0 {
                return base;
            }
            let (namespace, dimension, metric, unit, threshold): (
                _,
                _,
                &'static [&'static str],
                _,
                _,
            ) = match lb.lb_type.as_str() {
                "classic" => (
                    "AWS/ELB",
                    "LoadBalancerName",
                    &["RequestCount"],
                    " requests a day",
                    s.elb_idle_requests_per_day,
                ),
                "network" => (
                    "AWS/NetworkELB",
                    "LoadBalancer",
                    &["NewFlowCount"],
                    " flows a day",
                    0.0,
                ),
                "gateway" => (
                    "AWS/GatewayELB",
                    "LoadBalancer",
                    &["NewFlowCount"],
                    " flows a day",
                    0.0,
                ),
                _ => (
                    "AWS/ApplicationELB",
                    "LoadBalancer",
                    &["RequestCount"],
                    " requests a day",
                    0.0,
                ),
            };
            Candidate {
                facts: Vec::new(),
                signals: vec![Signal {
                    namespace,
                    metrics: metric,
                    dimension: (dimension, lb.metric_dimension.clone()),
                    statistic: Statistic::Sum,
                    unit_divisor: 1.0,
                    unit,
                    threshold,
                    lookback_days: s.elb_lookback_days,
                }],
                since: None,
                facts_text: None,
                ..base
            }
        })
}

fn databases<'a>(
    inventory: &'a RegionInventory,
    at: &'a Region<'a>,
) -> impl Iterator<Item = Candidate> + 'a {
    let s = at.settings;
    inventory
        .databases
        .iter()
        .filter(|db| db.status == "available" && !ignored(&db.tags))
        .filter(move |db| at.older_than(db.created, s.rds_lookback_days))
        .map(move |db| Candidate {
            kind: ZombieKind::RdsIdle,
            resource_id: db.id.clone(),
            resource_arn: if db.arn.is_empty() {
                format!("arn:aws:rds:{}:{}:db:{}", at.region, at.account_id, db.id)
            } else {
                db.arn.clone()
            },
            resource_type: db.class.clone(),
            monthly_waste_usd: cents(at.waste.database(db)),
            facts: Vec::new(),
            signals: vec![Signal {
                namespace: "AWS/RDS",
                metrics: &["DatabaseConnections"],
                dimension: ("DBInstanceIdentifier", db.id.clone()),
                statistic: Statistic::Maximum,
                unit_divisor: 1.0,
                unit: " connections",
                threshold: 0.0,
                lookback_days: s.rds_lookback_days,
            }],
            since: None,
            subject: format!("{} {} database {}", db.class, db.engine, db.id),
            facts_text: None,
            action: "deleting it (after a final snapshot)",
        })
}

fn snapshots<'a>(
    inventory: &'a RegionInventory,
    at: &'a Region<'a>,
) -> impl Iterator<Item = Candidate> + 'a {
    let s = at.settings;
    let volumes: std::collections::BTreeSet<&str> =
        inventory.volumes.iter().map(|v| v.id.as_str()).collect();
    inventory
        .snapshots
        .iter()
        .filter(move |snap| {
            let source_gone = snap
                .volume_id
                .as_deref()
                .is_none_or(|v| !volumes.contains(v));
            source_gone && !inventory.image_snapshots.contains(&snap.id) && !ignored(&snap.tags)
        })
        .filter(move |snap| at.older_than(snap.started, s.snapshot_min_age_days))
        .map(move |snap| {
            let age = snap.started.map(|t| (at.now - t).num_days());
            Candidate {
                kind: ZombieKind::SnapshotOrphaned,
                resource_id: snap.id.clone(),
                resource_arn: format!("arn:aws:ec2:{}::snapshot/{}", at.region, snap.id),
                resource_type: "snapshot".to_owned(),
                monthly_waste_usd: cents(at.waste.snapshot(snap)),
                facts: vec![
                    fact("source volume exists", 0.0, 0.0),
                    fact("images using it", 0.0, 0.0),
                ],
                signals: Vec::new(),
                since: None,
                subject: format!(
                    "{} GiB snapshot {} of {}",
                    snap.size_gib,
                    snap.id,
                    snap.volume_id.as_deref().unwrap_or("an unknown volume")
                ),
                facts_text: Some(match age {
                    Some(days) => {
                        format!("is {days} days old, its volume is gone and no image uses it")
                    }
                    None => "has lost its volume and no image uses it".to_owned(),
                }),
                action: "deleting it",
            }
        })
}

/// One sentence: what the resource is, why it is a zombie (or why it cannot be judged), and
/// what removing it saves.
pub fn explain(candidate: &Candidate, evidence: &[Evidence], no_data: bool) -> String {
    let c = candidate;
    if no_data {
        let missing: Vec<&str> = evidence
            .iter()
            .filter(|e| e.datapoints == 0 && e.statistic != DESCRIBED)
            .map(|e| e.metric.as_str())
            .collect();
        let days = evidence.iter().map(|e| e.days_evaluated).max().unwrap_or(0);
        return format!(
            "{} has no {} datapoints in the last {days} days, so it cannot be judged idle; check \
             that CloudWatch receives its metrics (it costs {} a month).",
            c.subject,
            missing.join(" or "),
            format_usd(c.monthly_waste_usd)
        );
    }
    let why = match &c.facts_text {
        Some(text) => text.clone(),
        None => {
            let signals: Vec<String> = evidence
                .iter()
                .filter(|e| e.statistic != DESCRIBED)
                .map(|e| {
                    format!(
                        "{} at most {}{unit}, limit {}{unit}",
                        e.metric,
                        trim(e.observed.unwrap_or(0.0)),
                        trim(e.threshold.unwrap_or(0.0)),
                        unit = e.unit
                    )
                })
                .collect();
            let days = evidence.iter().map(|e| e.days_evaluated).max().unwrap_or(0);
            format!("has been idle for {days} days ({})", signals.join("; "))
        }
    };
    format!(
        "{} {why}: {} saves {} a month.",
        c.subject,
        c.action,
        format_usd(c.monthly_waste_usd)
    )
}

/// A number as people read it: at most two decimals, no trailing zeros.
fn trim(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}
