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

use chrono::Duration;
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
    /// The kind baseline after this event.
    pub kind: Baseline,
    /// The account baseline after this event.
    pub account: Baseline,
}

/// The id of the anomaly an event raises: the same in every mode and on every retry.
pub fn anomaly_id(tenant: &str, event_id: &str) -> String {
    let digest = Sha256::digest(format!("{tenant}\n{event_id}").as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("an-{hex}")
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

/// What the burst window says about this event.
struct Burst {
    quantity: u32,
    hourly: f64,
    peak_before: u32,
    fired: bool,
}

/// Scores `event` against its kind and account baselines under thresholds `t`.
pub fn evaluate(
    event: &CostEvent,
    kind: &Baseline,
    account: &Baseline,
    t: &Thresholds,
) -> Evaluation {
    let priced = event.price_source != PriceSource::Unknown && event.hourly_usd > 0.0;
    let kind_warm = kind.stats.n >= t.min_samples;
    let account_warm = account.stats.n >= t.min_samples;
    let family = event.instance_family();
    let mut reasons: Vec<Reason> = Vec::new();
    let mut surprise_points = 0.0;
    let mut z_strong = false;

    // Z-score against the kind's baseline, above the last step already alerted on.
    let mut z_fired = false;
    if priced && kind_warm {
        let sd = kind
            .stats
            .sd()
            .max(t.sd_floor_usd)
            .max(t.sd_floor_ratio * kind.stats.mean);
        let z = (event.hourly_usd - kind.stats.mean) / sd;
        let above_step = event.hourly_usd > kind.alert_ceiling_hourly * (1.0 + t.step_tolerance);
        if z >= t.z_warning && above_step {
            z_fired = true;
            z_strong = z >= t.z_critical;
            surprise_points += (z / t.z_critical).min(2.0);
            reasons.push(Reason {
                signal: Signal::Zscore,
                observed: round2(z),
                threshold: Some(t.z_warning),
                baseline: Some(stats(kind)),
                detail: explain::zscore_detail(event, kind, z),
            });
        }
    }

    // Novelty against what the account (and the kind) has seen.
    let mut novelties = 0;
    if account_warm {
        let mut novel = |signal: Signal, observed: f64, detail: String| {
            novelties += 1;
            reasons.push(Reason {
                signal,
                observed,
                threshold: None,
                baseline: None,
                detail,
            });
        };
        if is_new(&account.actors, &event.actor_arn) {
            novel(Signal::NewActor, 1.0, explain::new_actor_detail(event));
        }
        if is_new(&account.regions, &event.region) {
            novel(
                Signal::NewRegion,
                1.0,
                format!("first activity in {} for this account", event.region),
            );
        }
        if let Some(f) = family.filter(|f| is_new(&account.instance_families, f)) {
            novel(
                Signal::NewInstanceFamily,
                1.0,
                format!("instance family {f} never used in this account"),
            );
        }
        if event.resource_type != "unknown" && is_new(&kind.resource_types, &event.resource_type) {
            novel(
                Signal::NewResourceType,
                1.0,
                explain::new_type_detail(event, kind),
            );
        }
        surprise_points += 0.5 * f64::from(novelties);
    }

    // Burst: this actor's window of this kind. Windows that closed without alerting teach the
    // kind what a normal batch is; a burst never raises its own bar.
    let window_length = Duration::minutes(i64::from(t.burst_window_minutes));
    let closed = |w: &BurstWindow| {
        w.entries
            .iter()
            .all(|e| event.event_time - e.at >= window_length)
    };
    let peak = kind
        .windows
        .values()
        .filter(|w| closed(w) && w.alerted.is_none())
        .map(window_quantity)
        .fold(kind.peak_window_quantity, u32::max);
    let mut window = match kind.windows.get(&event.actor_arn) {
        Some(open) if !closed(open) => open.clone(),
        _ => BurstWindow {
            entries: Vec::new(),
            peak_at_open: peak,
            alerted: None,
        },
    };
    window
        .entries
        .retain(|e| event.event_time - e.at < window_length);
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
    let burst = {
        let quantity = window_quantity(&window);
        let hourly: f64 = window.entries.iter().map(|e| e.hourly_usd).sum();
        let bar = (t.burst_factor * f64::from(window.peak_at_open.max(1)))
            .max(f64::from(t.burst_min_quantity));
        let fired = kind_warm && window.entries.len() >= 2 && f64::from(quantity) >= bar;
        Burst {
            quantity,
            hourly,
            peak_before: window.peak_at_open,
            fired,
        }
    };

    // Dollars: the burst's when it raises (once per severity level per window), else the event's.
    let burst_dollars = dollar_level(burst.hourly, burst.hourly * HOURS_PER_MONTH, t);
    let burst_raised = priced && burst.fired && burst_dollars > window.alerted;
    let (hourly, quantity) = if burst_raised {
        (burst.hourly, burst.quantity)
    } else {
        (event.hourly_usd, event.quantity)
    };
    let monthly = hourly * HOURS_PER_MONTH;
    let dollars = if priced {
        dollar_level(hourly, monthly, t)
    } else {
        None
    };

    if burst_raised {
        surprise_points += 1.0;
        reasons.push(Reason {
            signal: Signal::Burst,
            observed: f64::from(burst.quantity),
            threshold: Some(round2(t.burst_factor * f64::from(burst.peak_before.max(1)))),
            baseline: None,
            detail: explain::burst_detail(
                event,
                burst.quantity,
                burst.peak_before,
                t.burst_window_minutes,
            ),
        });
    }
    let cold = !account_warm && dollars >= Some(Severity::Warning);
    if cold {
        surprise_points += 0.5;
        reasons.push(Reason {
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

    let surprising = z_fired || novelties > 0 || burst_raised || cold;
    let strong = z_strong || novelties >= 2 || burst_raised;
    let severity = match (surprising, dollars) {
        (_, None) => None,
        (true, Some(Severity::Info)) if strong => Some(Severity::Warning),
        (true, level) => level,
        (false, level) if t.combine == Combine::Or && level >= Some(Severity::Warning) => level,
        (false, _) => None,
    };

    let anomaly = severity.map(|severity| {
        if let Some(level) = dollars.filter(|_| severity >= Severity::Warning) {
            let (signal, observed, threshold) = if monthly >= threshold_for(level, t).0 {
                (Signal::MonthlyUsd, monthly, threshold_for(level, t).0)
            } else {
                (Signal::HourlyUsd, hourly, threshold_for(level, t).1)
            };
            let detail = format!(
                "{} crosses the {} threshold of {}",
                format_usd(observed),
                level,
                format_usd(threshold)
            );
            reasons.push(Reason {
                signal,
                observed: round2(observed),
                threshold: Some(threshold),
                baseline: None,
                detail,
            });
        }
        let impact = (1.0 + monthly / t.info_monthly_usd.max(0.01))
            .log10()
            .min(4.0);
        let score = round2(100.0 * ((surprise_points.min(3.0) / 3.0) * (impact / 4.0)).sqrt());
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
            quantity,
            hourly_usd: round6(hourly),
            monthly_usd: round6(monthly),
            severity,
            score,
            reasons,
            explanation: String::new(),
            status: AnomalyStatus::Open,
        };
        anomaly.explanation = explain::sentence(event, &anomaly, burst_raised);
        anomaly
    });

    // Learn from the event whatever was decided.
    let mut kind_after = kind.clone();
    let mut account_after = account.clone();
    for baseline in [&mut kind_after, &mut account_after] {
        if priced {
            baseline.stats.push(event.hourly_usd);
        }
        remember(&mut baseline.actors, &event.actor_arn);
        remember(&mut baseline.regions, &event.region);
        if let Some(f) = family {
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
    if z_fired && anomaly.is_some() {
        kind_after.alert_ceiling_hourly = kind_after.alert_ceiling_hourly.max(event.hourly_usd);
    }
    if burst_raised && anomaly.is_some() {
        window.alerted = anomaly.as_ref().map(|a| a.severity).max(window.alerted);
    }
    kind_after.peak_window_quantity = peak;
    kind_after.windows.retain(|_, w| !closed(w));
    kind_after.windows.insert(event.actor_arn.clone(), window);

    Evaluation {
        anomaly,
        kind: kind_after,
        account: account_after,
    }
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
