//! The pure heart of the scorer: one cost event and its two baselines in, the anomaly (if any)
//! and the updated baselines out. No I/O, so every policy rule is testable in isolation.
//!
//! The policy, in order:
//! 1. **Signals.** *Z-score* `(hourly − mean) / sd`, with sd floored at
//!    `max(sd_floor_usd, sd_floor_ratio × mean)`, once the kind's baseline has `min_samples`
//!    priced events, and only above the highest cost already alerted on × (1 + step_tolerance).
//!    *Novelty* — actor, region, instance family new to the account; resource type new to the
//!    kind — once the account's baseline has `min_samples` events. *Burst* — one actor's
//!    resources of one kind within `burst_window_minutes` reaching `burst_min_quantity` and
//!    `burst_factor` × the kind's largest earlier window, judged on the window's summed cost.
//!    *Cold start* — the account is still warming up.
//! 2. **Dollars.** The event's (or the burst's) cost against the tenant's thresholds: critical
//!    from `critical_monthly_usd` or `critical_hourly_usd`, warning from the warning ones, info
//!    from `info_monthly_usd`, nothing below it.
//! 3. **Severity** = the dollar level, when something is surprising (any signal above, cold start
//!    only from warning up). A strong surprise (Z ≥ `z_critical`, two or more novelties, or a
//!    burst) lifts info to warning; nothing but dollars makes an anomaly critical. With
//!    `combine = or`, a warning-level cost is an anomaly even when nothing is surprising.
//! 4. **Score** (0–100) = 100 × √(surprise/3 × impact/4), the geometric mean of surprise points
//!    (Z/z_critical up to 2, 0.5 per novelty, 1 for a burst, 0.5 for cold start; at most 3) and
//!    dollar impact (log10(1 + monthly / info_monthly_usd), at most 4).

use chrono::{DateTime, Duration, Utc};
use dd0c_ports::baseline::{
    is_new, remember, Baseline, BurstWindow, WindowEntry, MAX_WINDOW_ENTRIES,
};
use dd0c_ports::domain::{
    format_usd, Anomaly, AnomalyStatus, BaselineStats, Combine, CostEvent, PriceSource, Reason,
    Severity, Signal, Thresholds, HOURS_PER_MONTH,
};
use sha2::{Digest, Sha256};

use crate::explain;

/// What scoring one event decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The anomaly raised, if any.
    pub anomaly: Option<Anomaly>,
    /// For a burst the event raised: when its window opened. The actor's resources of the kind
    /// created since are the anomaly's too.
    pub burst_since: Option<DateTime<Utc>>,
    /// The burst anomaly whose window the event joined without raising another.
    pub joined: Option<String>,
    /// The kind baseline after this event.
    pub kind: Baseline,
    /// The account baseline after this event.
    pub account: Baseline,
}

/// The id of the anomaly an event raises: the same in every mode and on every retry.
pub fn anomaly_id(tenant: &str, event_id: &str) -> String {
    let digest = Sha256::digest(format!("{tenant}\n{event_id}").as_bytes());
    format!("an-{}", dd0c_ports::text::hex(&digest[..12]))
}

fn dollar_level(hourly: f64, monthly: f64, t: &Thresholds) -> Option<Severity> {
    if monthly >= t.critical_monthly_usd || hourly >= t.critical_hourly_usd {
        Some(Severity::Critical)
    } else if monthly >= t.warning_monthly_usd || hourly >= t.warning_hourly_usd {
        Some(Severity::Warning)
    } else if monthly >= t.info_monthly_usd {
        Some(Severity::Info)
    } else {
        None
    }
}

fn stats(baseline: &Baseline) -> BaselineStats {
    BaselineStats {
        n: baseline.stats.n,
        mean: baseline.stats.mean,
        sd: baseline.stats.sd(),
    }
}

/// Scores `event` against its kind and account baselines under thresholds `t`: the policy's
/// steps in the module doc's order.
pub fn evaluate(
    event: &CostEvent,
    kind: &Baseline,
    account: &Baseline,
    t: &Thresholds,
) -> Evaluation {
    let facts = Facts::of(event, kind, account, t);
    let mut surprise = Surprise::default();
    zscore(&facts, &mut surprise);
    novelty(&facts, &mut surprise);
    let mut burst = burst(&facts);
    let dollars = dollars(&facts, &burst);
    if dollars.burst_raised {
        surprise.burst(&facts, &burst);
    }
    cold_start(&facts, &dollars, &mut surprise);
    let severity = severity(&surprise, &dollars, t);
    let z_fired = surprise.z_fired;
    let anomaly = severity.map(|severity| raise(&facts, severity, &dollars, surprise));
    let (mut burst_since, mut joined) = (None, None);
    match &anomaly {
        Some(raised) if dollars.burst_raised => {
            burst.window.alerted = Some(raised.severity).max(burst.window.alerted);
            burst.window.anomaly_id = Some(raised.anomaly_id.clone());
            burst_since = burst.window.entries.first().map(|e| e.at);
        }
        None if facts.priced => joined = burst.window.anomaly_id.clone(),
        _ => {}
    }
    let (kind, account) = learn(&facts, z_fired && anomaly.is_some(), burst);
    Evaluation {
        anomaly,
        burst_since,
        joined,
        kind,
        account,
    }
}

/// What every step reads: the event, its baselines, the thresholds and what follows from them.
struct Facts<'a> {
    event: &'a CostEvent,
    kind: &'a Baseline,
    account: &'a Baseline,
    t: &'a Thresholds,
    /// The event has a real price.
    priced: bool,
    /// The kind's baseline has enough priced events for a Z-score and a burst.
    kind_warm: bool,
    /// The account's baseline has enough events for novelty.
    account_warm: bool,
    family: Option<&'a str>,
    window_length: Duration,
}

impl<'a> Facts<'a> {
    fn of(
        event: &'a CostEvent,
        kind: &'a Baseline,
        account: &'a Baseline,
        t: &'a Thresholds,
    ) -> Self {
        Facts {
            event,
            kind,
            account,
            t,
            priced: event.price_source != PriceSource::Unknown && event.hourly_usd > 0.0,
            kind_warm: kind.stats.n >= t.min_samples,
            account_warm: account.stats.n >= t.min_samples,
            family: event.instance_family(),
            window_length: Duration::minutes(i64::from(t.burst_window_minutes)),
        }
    }

    /// Whether a burst window has no entry inside this event's window any more.
    fn closed(&self, window: &BurstWindow) -> bool {
        window
            .entries
            .iter()
            .all(|e| self.event.event_time - e.at >= self.window_length)
    }
}

/// The signals that fired, their reasons and surprise points (summed in the policy's order).
#[derive(Default)]
struct Surprise {
    reasons: Vec<Reason>,
    points: f64,
    z_fired: bool,
    z_strong: bool,
    novelties: u32,
    burst_raised: bool,
    cold: bool,
}

impl Surprise {
    fn burst(&mut self, facts: &Facts, burst: &Burst) {
        let t = facts.t;
        self.burst_raised = true;
        self.points += 1.0;
        self.reasons.push(Reason {
            signal: Signal::Burst,
            observed: f64::from(burst.quantity),
            threshold: Some(round2(t.burst_factor * f64::from(burst.peak_before.max(1)))),
            baseline: None,
            detail: explain::burst_detail(
                facts.event,
                burst.quantity,
                burst.peak_before,
                t.burst_window_minutes,
            ),
        });
    }

    /// Something is surprising: any signal, cold start included.
    fn any(&self) -> bool {
        self.z_fired || self.novelties > 0 || self.burst_raised || self.cold
    }

    /// A surprise strong enough to lift info to warning.
    fn strong(&self) -> bool {
        self.z_strong || self.novelties >= 2 || self.burst_raised
    }
}

/// Step 1a: the Z-score against the kind's baseline, above the last step already alerted on.
fn zscore(facts: &Facts, surprise: &mut Surprise) {
    let (event, kind, t) = (facts.event, facts.kind, facts.t);
    if !(facts.priced && facts.kind_warm) {
        return;
    }
    let sd = kind
        .stats
        .sd()
        .max(t.sd_floor_usd)
        .max(t.sd_floor_ratio * kind.stats.mean);
    let z = (event.hourly_usd - kind.stats.mean) / sd;
    let above_step = event.hourly_usd > kind.alert_ceiling_hourly * (1.0 + t.step_tolerance);
    if z >= t.z_warning && above_step {
        surprise.z_fired = true;
        surprise.z_strong = z >= t.z_critical;
        surprise.points += (z / t.z_critical).min(2.0);
        surprise.reasons.push(Reason {
            signal: Signal::Zscore,
            observed: round2(z),
            threshold: Some(t.z_warning),
            baseline: Some(stats(kind)),
            detail: explain::zscore_detail(event, kind, z),
        });
    }
}

/// Step 1b: novelty against what the account (and the kind) has seen.
fn novelty(facts: &Facts, surprise: &mut Surprise) {
    let (event, kind, account) = (facts.event, facts.kind, facts.account);
    if !facts.account_warm {
        return;
    }
    let mut novel = Vec::new();
    if is_new(&account.actors, &event.actor_arn) {
        novel.push((Signal::NewActor, explain::new_actor_detail(event)));
    }
    if is_new(&account.regions, &event.region) {
        novel.push((
            Signal::NewRegion,
            format!("first activity in {} for this account", event.region),
        ));
    }
    if let Some(f) = facts
        .family
        .filter(|f| is_new(&account.instance_families, f))
    {
        novel.push((
            Signal::NewInstanceFamily,
            format!("instance family {f} never used in this account"),
        ));
    }
    if event.resource_type != "unknown" && is_new(&kind.resource_types, &event.resource_type) {
        novel.push((
            Signal::NewResourceType,
            explain::new_type_detail(event, kind),
        ));
    }
    surprise.novelties = novel.len() as u32;
    surprise.points += 0.5 * f64::from(surprise.novelties);
    surprise
        .reasons
        .extend(novel.into_iter().map(|(signal, detail)| Reason {
            signal,
            observed: 1.0,
            threshold: None,
            baseline: None,
            detail,
        }));
}

/// What the burst window says about this event, and the window as this event leaves it.
struct Burst {
    quantity: u32,
    hourly: f64,
    peak_before: u32,
    fired: bool,
    /// The kind's largest closed window that did not alert.
    peak: u32,
    /// The actor's window with this event in it.
    window: BurstWindow,
}

/// Step 1c: this actor's window of this kind. Windows that closed without alerting teach the
/// kind what a normal batch is; a burst never raises its own bar.
fn burst(facts: &Facts) -> Burst {
    let (event, kind, t) = (facts.event, facts.kind, facts.t);
    let peak = kind
        .windows
        .values()
        .filter(|w| facts.closed(w) && w.alerted.is_none())
        .map(window_quantity)
        .fold(kind.peak_window_quantity, u32::max);
    let mut window = match kind.windows.get(&event.actor_arn) {
        Some(open) if !facts.closed(open) => open.clone(),
        _ => BurstWindow {
            entries: Vec::new(),
            peak_at_open: peak,
            alerted: None,
            anomaly_id: None,
        },
    };
    window
        .entries
        .retain(|e| event.event_time - e.at < facts.window_length);
    window.entries.push(WindowEntry {
        at: event.event_time,
        hourly_usd: event.hourly_usd,
        quantity: event.quantity,
    });
    if window.entries.len() > MAX_WINDOW_ENTRIES {
        let oldest = window.entries.remove(0);
        let next = &mut window.entries[0];
        next.quantity = next.quantity.saturating_add(oldest.quantity);
        next.hourly_usd += oldest.hourly_usd;
    }
    let quantity = window_quantity(&window);
    let hourly: f64 = window.entries.iter().map(|e| e.hourly_usd).sum();
    let bar = (t.burst_factor * f64::from(window.peak_at_open.max(1)))
        .max(f64::from(t.burst_min_quantity));
    Burst {
        quantity,
        hourly,
        peak_before: window.peak_at_open,
        fired: facts.kind_warm && window.entries.len() >= 2 && f64::from(quantity) >= bar,
        peak,
        window,
    }
}

/// Step 2: the cost judged and its dollar level.
struct Dollars {
    /// The burst raises (once per severity level per window), so its cost is judged.
    burst_raised: bool,
    hourly: f64,
    monthly: f64,
    quantity: u32,
    level: Option<Severity>,
}

/// The burst's dollars when it raises, else the event's.
fn dollars(facts: &Facts, burst: &Burst) -> Dollars {
    let (event, t) = (facts.event, facts.t);
    let burst_dollars = dollar_level(burst.hourly, burst.hourly * HOURS_PER_MONTH, t);
    let burst_raised = facts.priced && burst.fired && burst_dollars > burst.window.alerted;
    let (hourly, quantity) = if burst_raised {
        (burst.hourly, burst.quantity)
    } else {
        (event.hourly_usd, event.quantity)
    };
    let monthly = hourly * HOURS_PER_MONTH;
    Dollars {
        burst_raised,
        hourly,
        monthly,
        quantity,
        level: if facts.priced {
            dollar_level(hourly, monthly, t)
        } else {
            None
        },
    }
}

/// Step 1d, which needs the dollars: an account still warming up, where dollars alone decide
/// from warning up.
fn cold_start(facts: &Facts, dollars: &Dollars, surprise: &mut Surprise) {
    let (account, t) = (facts.account, facts.t);
    if facts.account_warm || dollars.level < Some(Severity::Warning) {
        return;
    }
    surprise.cold = true;
    surprise.points += 0.5;
    surprise.reasons.push(Reason {
        signal: Signal::ColdStart,
        observed: account.stats.n as f64,
        threshold: Some(t.min_samples as f64),
        baseline: Some(stats(account)),
        detail: format!(
            "this account has fewer than {} priced events, so dollars alone decide",
            t.min_samples
        ),
    });
}

/// Step 3: the dollar level when something is surprising, info lifted to warning by a strong
/// surprise; with `combine = or`, a warning-level cost without surprise too.
fn severity(surprise: &Surprise, dollars: &Dollars, t: &Thresholds) -> Option<Severity> {
    match (surprise.any(), dollars.level) {
        (_, None) => None,
        (true, Some(Severity::Info)) if surprise.strong() => Some(Severity::Warning),
        (true, level) => level,
        (false, level) if t.combine == Combine::Or && level >= Some(Severity::Warning) => level,
        (false, _) => None,
    }
}

/// Step 4: the anomaly, with the dollar reason (from warning up), its score and explanation.
fn raise(facts: &Facts, severity: Severity, dollars: &Dollars, surprise: Surprise) -> Anomaly {
    let (event, t) = (facts.event, facts.t);
    let Surprise {
        mut reasons,
        points,
        burst_raised,
        ..
    } = surprise;
    if let Some(level) = dollars.level.filter(|_| severity >= Severity::Warning) {
        reasons.push(dollar_reason(level, dollars, t));
    }
    let impact = (1.0 + dollars.monthly / t.info_monthly_usd.max(0.01))
        .log10()
        .min(4.0);
    let score = round2(100.0 * ((points.min(3.0) / 3.0) * (impact / 4.0)).sqrt());
    let mut anomaly = Anomaly {
        anomaly_id: anomaly_id(&event.tenant, &event.event_id),
        event_id: event.event_id.clone(),
        event_time: event.event_time,
        tenant: event.tenant.clone(),
        account_id: event.account_id.clone(),
        region: event.region.clone(),
        actor_arn: event.actor_arn.clone(),
        resource_kind: event.resource_kind.clone(),
        resource_type: event.resource_type.clone(),
        resource_ids: event.resource_ids.clone(),
        quantity: dollars.quantity,
        hourly_usd: round6(dollars.hourly),
        monthly_usd: round6(dollars.monthly),
        severity,
        score,
        reasons,
        explanation: String::new(),
        status: AnomalyStatus::Open,
    };
    anomaly.explanation = explain::sentence(event, &anomaly, burst_raised);
    anomaly
}

/// The threshold a cost of dollar level `level` crossed: monthly where it did, else hourly.
fn dollar_reason(level: Severity, dollars: &Dollars, t: &Thresholds) -> Reason {
    let (signal, observed, threshold) = if dollars.monthly >= threshold_for(level, t).0 {
        (
            Signal::MonthlyUsd,
            dollars.monthly,
            threshold_for(level, t).0,
        )
    } else {
        (Signal::HourlyUsd, dollars.hourly, threshold_for(level, t).1)
    };
    Reason {
        signal,
        observed: round2(observed),
        threshold: Some(threshold),
        baseline: None,
        detail: format!(
            "{} crosses the {} threshold of {}",
            format_usd(observed),
            level,
            format_usd(threshold)
        ),
    }
}

/// Step 5: learn from the event whatever was decided; the kind remembers the step alerted on
/// (`z_alerted`) and the actor's window.
fn learn(facts: &Facts, z_alerted: bool, burst: Burst) -> (Baseline, Baseline) {
    let event = facts.event;
    let mut kind_after = facts.kind.clone();
    let mut account_after = facts.account.clone();
    for baseline in [&mut kind_after, &mut account_after] {
        if facts.priced {
            baseline.stats.push(event.hourly_usd);
        }
        remember(&mut baseline.actors, &event.actor_arn);
        remember(&mut baseline.regions, &event.region);
        if let Some(f) = facts.family {
            remember(&mut baseline.instance_families, f);
        }
        if event.resource_type != "unknown" {
            remember(&mut baseline.resource_types, &event.resource_type);
        }
        baseline.updated_at = Some(
            baseline
                .updated_at
                .map_or(event.event_time, |u| u.max(event.event_time)),
        );
    }
    if z_alerted {
        kind_after.alert_ceiling_hourly = kind_after.alert_ceiling_hourly.max(event.hourly_usd);
    }
    kind_after.peak_window_quantity = burst.peak;
    kind_after.windows.retain(|_, w| !facts.closed(w));
    kind_after
        .windows
        .insert(event.actor_arn.clone(), burst.window);
    (kind_after, account_after)
}

fn window_quantity(window: &BurstWindow) -> u32 {
    window
        .entries
        .iter()
        .map(|e| e.quantity)
        .fold(0, u32::saturating_add)
}

/// The (monthly, hourly) thresholds of a dollar level.
fn threshold_for(level: Severity, t: &Thresholds) -> (f64, f64) {
    match level {
        Severity::Critical => (t.critical_monthly_usd, t.critical_hourly_usd),
        Severity::Warning => (t.warning_monthly_usd, t.warning_hourly_usd),
        Severity::Info => (t.info_monthly_usd, f64::INFINITY),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
