//! Words: the reason phrases and the one sentence a manager can read.

use dd0c_ports::baseline::{Baseline, ACCOUNT_SCOPE};
use dd0c_ports::domain::{actor_name, format_usd as usd, Anomaly, CostEvent, Reason, Signal};

/// What the actor did, in words: "launched", "created", "resized … to", "scaled … to".
fn verb(event_name: &str) -> &'static str {
    match event_name {
        "ModifyInstanceAttribute" => "resized an instance to",
        "SetDesiredCapacity" | "UpdateAutoScalingGroup" => "scaled an Auto Scaling group to",
        "StartInstances" => "started",
        "RequestSpotInstances" => "requested",
        "PutProvisionedConcurrencyConfig" => "provisioned",
        n if n.starts_with("Run") => "launched",
        n if n.starts_with("Restore") => "restored",
        _ => "created",
    }
}

fn what(event: &CostEvent, quantity: u32) -> String {
    let noun = event
        .resource_kind
        .split_once('.')
        .map_or(event.resource_kind.as_str(), |(_, n)| n)
        .replace('-', " ");
    if event.resource_type == "unknown" {
        format!("{quantity} × {noun} of unknown type")
    } else if event.resource_type.replace('-', " ") == noun {
        format!("{quantity} × {noun}")
    } else if noun == "instance" || noun == "node" || noun == "broker" {
        format!("{quantity} × {}", event.resource_type)
    } else {
        format!("{quantity} × {} {noun}", event.resource_type)
    }
}

fn who(event: &CostEvent) -> String {
    match &event.actor_session {
        Some(session) => format!("{} (session {session})", actor_name(&event.actor_arn)),
        None => actor_name(&event.actor_arn),
    }
}

/// Reason phrase of a Z-score.
pub fn zscore_detail(event: &CostEvent, kind: &Baseline, z: f64) -> String {
    format!(
        "{}/h is {z:.1} standard deviations above this account's usual {} cost of {}/h (n={})",
        usd(event.hourly_usd),
        event.resource_kind,
        usd(kind.stats.mean),
        kind.stats.n
    )
}

/// Reason phrase of a new actor.
pub fn new_actor_detail(event: &CostEvent) -> String {
    format!(
        "{} has never created a priced resource in this account",
        actor_name(&event.actor_arn)
    )
}

/// Reason phrase of a new resource type (or a kind the account never used).
pub fn new_type_detail(event: &CostEvent, kind: &Baseline) -> String {
    if kind.resource_types.is_empty() && kind.key.resource_kind != ACCOUNT_SCOPE {
        format!("first {} ever created in this account", event.resource_kind)
    } else {
        format!(
            "first {} among this account's {}",
            event.resource_type, event.resource_kind
        )
    }
}

/// Reason phrase of a burst.
pub fn burst_detail(event: &CostEvent, quantity: u32, peak: u32, minutes: u32) -> String {
    format!(
        "{quantity} {} by one actor within {minutes} minutes (largest earlier batch: {peak})",
        event.resource_kind
    )
}

fn because(reasons: &[Reason]) -> String {
    let surprising: Vec<&str> = reasons
        .iter()
        .filter(|r| r.signal.is_surprise())
        .map(|r| r.detail.as_str())
        .collect();
    match surprising.as_slice() {
        [] => reasons
            .iter()
            .map(|r| r.detail.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        _ => surprising.join("; "),
    }
}

/// The explanation: who did what, where, what it costs, and why it stands out.
pub fn sentence(event: &CostEvent, anomaly: &Anomaly, burst: bool) -> String {
    let action = if burst {
        format!(
            "{} {} within minutes",
            verb(&event.event_name),
            what(event, anomaly.quantity)
        )
    } else {
        format!(
            "{} {}",
            verb(&event.event_name),
            what(event, anomaly.quantity)
        )
    };
    let dollars = anomaly
        .reasons
        .iter()
        .any(|r| matches!(r.signal, Signal::HourlyUsd | Signal::MonthlyUsd));
    format!(
        "{} {action} in {} (account {}): {}/h, about {}/month. {}: {}.",
        who(event),
        event.region,
        event.account_id,
        usd(anomaly.hourly_usd),
        usd(anomaly.monthly_usd),
        if dollars {
            "It stands out because"
        } else {
            "Why it stands out"
        },
        because(&anomaly.reasons)
    )
}
