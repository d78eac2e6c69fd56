//! Anomalies that follow their resources: once every resource an anomaly named has ended, the
//! anomaly resolves itself, with a history entry naming the call that ended the last of them,
//! its actor, how long they ran and what they cost. The resolution is recorded whatever a
//! person set before (an acknowledged anomaly too), once.

use chrono::{DateTime, TimeDelta, Utc};
use dd0c_ports::domain::{actor_name, format_usd, AnomalyStatus, Feedback, FeedbackAction};
use dd0c_ports::ledger::{Life, ResourceLedger};
use dd0c_ports::store::AnomalyStore;
use dd0c_ports::PortError;

/// Who a resolution by dd0c/cost itself is recorded as.
pub const BY: &str = "dd0c";

/// Resolves `anomaly_id` of `tenant` if every resource the ledger holds for it has ended (as
/// of `now`), returning the history entry's note; `None` when something still runs, the
/// ledger holds none of its resources yet, or it was resolved so before.
pub async fn settle(
    ledger: &dyn ResourceLedger,
    anomalies: &dyn AnomalyStore,
    tenant: &str,
    anomaly_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, PortError> {
    let records = ledger.of_anomaly(tenant, anomaly_id).await?;
    // A link waiting for its resource's changes is a resource not known to have ended.
    if records.is_empty() || records.iter().any(|r| r.changes.is_empty()) {
        return Ok(None);
    }
    let lives: Vec<Life> = records.iter().map(|r| r.life(now)).collect();
    let Some(note) = ended_note(&lives, now) else {
        return Ok(None);
    };
    let history = anomalies.feedback(tenant, anomaly_id).await?;
    let settled = history
        .iter()
        .any(|f| f.by == BY && f.action == FeedbackAction::Resolve);
    if settled {
        return Ok(None);
    }
    let at = lives
        .iter()
        .filter_map(|l| l.ended.as_ref().map(|e| e.at))
        .max()
        .unwrap_or(now);
    let feedback = Feedback {
        anomaly_id: anomaly_id.to_owned(),
        action: FeedbackAction::Resolve,
        by: BY.to_owned(),
        at,
        note: Some(note.clone()),
    };
    match anomalies
        .record_feedback(tenant, &feedback, AnomalyStatus::Resolved)
        .await
    {
        Ok(()) => Ok(Some(note)),
        // Retention forgot the anomaly: nothing left to resolve.
        Err(PortError::NotFound(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// "every resource ended (4): TerminateInstances by user/alice after 2 h 10 min; cost $355.02",
/// or `None` while one still lives.
fn ended_note(lives: &[Life], now: DateTime<Utc>) -> Option<String> {
    if lives.iter().any(|l| l.ended.is_none()) {
        return None;
    }
    let last = lives
        .iter()
        .filter_map(|l| l.ended.as_ref())
        .max_by_key(|e| e.at)?;
    let how = match &last.by {
        Some(mark) => format!("{} by {}", mark.call, actor_name(&mark.actor_arn)),
        None => "found gone by the zombie hunter".to_owned(),
    };
    let ran = lives
        .iter()
        .map(|l| l.running_time(now))
        .max()
        .unwrap_or_default();
    let cost: f64 = lives.iter().filter_map(Life::actual_cost).sum();
    Some(format!(
        "every resource ended ({}): {how} after {}; cost {}",
        lives.len(),
        duration(ran),
        format_usd(cost)
    ))
}

/// `2 h 10 min`, `45 min`, `3 d 4 h`.
fn duration(span: TimeDelta) -> String {
    let minutes = span.num_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{mins} min"),
        (0, _) => format!("{hours} h {mins} min"),
        _ => format!("{days} d {hours} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(TimeDelta::minutes(130)), "2 h 10 min");
        assert_eq!(duration(TimeDelta::minutes(45)), "45 min");
        assert_eq!(duration(TimeDelta::hours(76)), "3 d 4 h");
    }
}
