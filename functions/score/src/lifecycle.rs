//! Anomalies that follow their resources: once every resource an anomaly named has come to
//! rest — ended, or stopped with only a call to start it again ([`Life::at_rest`]) — the
//! anomaly resolves itself, with a history entry naming the call that ended or stopped the last
//! of them, its actor, how long they ran and what they cost. The resolution is recorded
//! whatever a person set before (an acknowledged anomaly too), once: a later start does not
//! reopen it (the anomaly's figures show the resource running again).

use chrono::{DateTime, Utc};
use dd0c_ports::domain::Anomaly;
use dd0c_ports::domain::Change;
use dd0c_ports::domain::{
    actor_name, format_duration, format_usd, AnomalyStatus, Feedback, FeedbackAction,
    OutboxMessage, Resolution,
};
use dd0c_ports::ledger::{
    records_by_anomaly, Ended, Followed, FollowedAnomaly, Life, ResourceFilter, ResourceLedger,
    ResourceRecord,
};
use dd0c_ports::store::AnomalyStore;
use dd0c_ports::PortError;

/// Who a resolution by dd0c/cost itself is recorded as.
pub const BY: &str = "dd0c";

/// An anomaly that has just resolved itself.
#[derive(Debug, Clone)]
pub struct Settled {
    /// The anomaly, now resolved.
    pub anomaly: Anomaly,
    /// What its follow-up says.
    pub resolution: Resolution,
    /// When the last of its resources ended.
    pub at: DateTime<Utc>,
    /// Whether it was alerted (raised while no snooze matched): only then does a follow-up
    /// go to the channels.
    pub alerted: bool,
}

impl Settled {
    /// The follow-up for the channels that got the alert; `None` when there was no alert.
    pub fn follow_up(&self) -> Option<OutboxMessage> {
        self.alerted.then(|| {
            OutboxMessage::follow_up(self.anomaly.clone(), self.resolution.clone(), self.at)
        })
    }
}

/// Resolves `anomaly_id` of `tenant` if every resource the ledger holds for it has come to
/// rest (as of `now`); `None` when something still runs or will start again by itself, the
/// ledger holds none of its resources yet, retention forgot the anomaly, or it was resolved so
/// before.
pub async fn settle(
    ledger: &dyn ResourceLedger,
    anomalies: &dyn AnomalyStore,
    tenant: &str,
    anomaly_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Settled>, PortError> {
    let records = ledger.of_anomaly(tenant, anomaly_id).await?;
    // A link waiting for its resource's changes is a resource not known to have ended.
    if records.is_empty() || records.iter().any(|r| r.changes.is_empty()) {
        return Ok(None);
    }
    let lives: Vec<Life> = records.iter().map(|r| r.life(now)).collect();
    // Nothing to settle while one still bills, or will by itself.
    let Some(rests) = lives.iter().map(Life::at_rest).collect::<Option<Vec<_>>>() else {
        return Ok(None);
    };
    let Some(last) = rests.into_iter().max_by_key(|e| e.at) else {
        return Ok(None);
    };
    // Each is at rest: its cost is complete.
    let actual_cost_usd: f64 = lives.iter().map(|l| l.cost_until(now)).sum();
    let note = ended_note(&lives, last, actual_cost_usd, now);
    let history = anomalies.feedback(tenant, anomaly_id).await?;
    if history
        .iter()
        .any(|f| f.by == BY && f.action == FeedbackAction::Resolve)
    {
        return Ok(None);
    }
    let Some(before) = anomalies.anomaly(tenant, anomaly_id).await? else {
        return Ok(None);
    };
    let at = last.at;
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
        Ok(()) => {}
        Err(PortError::NotFound(_)) => return Ok(None),
        Err(error) => return Err(error),
    }
    let avoided_usd = Followed::avoided_usd(&before, actual_cost_usd);
    let alerted = alerted(&before, &history);
    let mut anomaly = before;
    anomaly.status = AnomalyStatus::Resolved;
    Ok(Some(Settled {
        anomaly,
        resolution: Resolution {
            note,
            actual_cost_usd,
            avoided_usd,
            by_person: None,
        },
        at,
        alerted,
    }))
}

/// Whether `anomaly` went out as an alert: it did unless a snooze matched at its raise (it
/// is snoozed with no one having snoozed it since).
fn alerted(anomaly: &Anomaly, history: &[Feedback]) -> bool {
    anomaly.status != AnomalyStatus::Snoozed
        || history
            .iter()
            .any(|f| matches!(f.action, FeedbackAction::Snooze { .. }))
}

/// A page of one tenant's anomalies, each with what its resources amount to as of `now`:
/// from the ledger where it holds them (read at once for the page), as the anomaly counted them
/// where it does not.
pub async fn followed_all(
    ledger: &dyn ResourceLedger,
    tenant: &str,
    anomalies: Vec<Anomaly>,
    now: DateTime<Utc>,
) -> Result<Vec<FollowedAnomaly>, PortError> {
    let mut records = records_by_anomaly(ledger, tenant, &anomalies).await?;
    Ok(anomalies
        .into_iter()
        .map(|anomaly| {
            let mine = records.remove(&anomaly.anomaly_id).unwrap_or_default();
            let followed = Followed::of_anomaly(&anomaly, &mine, now);
            FollowedAnomaly { anomaly, followed }
        })
        .collect())
}

/// The resources of a burst anomaly beyond its own event's: the records of those of its kind
/// its actor created in its account from `since` (when the burst's window opened) to its
/// event.
pub async fn burst_resources(
    ledger: &dyn ResourceLedger,
    anomaly: &Anomaly,
    since: DateTime<Utc>,
) -> Result<Vec<ResourceRecord>, PortError> {
    const PAGE: usize = 200;
    let filter = ResourceFilter {
        account_id: Some(anomaly.account_id.clone()),
        resource_kind: Some(anomaly.resource_kind.clone()),
        ended: None,
        // Not those created after it: often the rest of its receive, recorded first.
        began_by: Some(anomaly.event_time),
    };
    let created_in_burst = |c: &dd0c_ports::ledger::ResourceChange| {
        c.change == Change::Create
            && c.mark.actor_arn == anomaly.actor_arn
            && (since..=anomaly.event_time).contains(&c.mark.at)
    };
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = ledger
            .list(&anomaly.tenant, &filter, cursor.as_deref(), PAGE)
            .await?;
        let mut older = false;
        for record in page.items {
            // Newest first: once a record began before the window, the rest did too.
            older |= record.first_at().is_some_and(|at| at < since);
            if record.changes.iter().any(created_in_burst) {
                found.push(record);
            }
        }
        match page.next_cursor {
            Some(next) if !older => cursor = Some(next),
            _ => return Ok(found),
        }
    }
}

/// "every resource ended (4): TerminateInstances by user/alice after 2 h 10 min; cost $355.02"
/// ("stopped" when all stopped, "stopped or ended" when both), of `lives` that are all at rest,
/// `last` the latest of their ends or stops and `cost` what they cost.
fn ended_note(lives: &[Life], last: &Ended, cost: f64, now: DateTime<Utc>) -> String {
    let how = match &last.by {
        Some(mark) => format!("{} by {}", mark.call, actor_name(&mark.actor_arn)),
        None => "found gone by the zombie hunter".to_owned(),
    };
    let ran = lives
        .iter()
        .map(|l| l.running_time(now))
        .max()
        .unwrap_or_default();
    let ended = lives.iter().filter(|l| l.ended.is_some()).count();
    let rest = match ended {
        0 => "stopped",
        n if n == lives.len() => "ended",
        _ => "stopped or ended",
    };
    format!(
        "every resource {rest} ({}): {how} after {}; cost {}",
        lives.len(),
        format_duration(ran),
        format_usd(cost)
    )
}
