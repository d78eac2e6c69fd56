//! What people do about anomalies, recorded with who and when. "Mark expected" also teaches
//! the baselines, so the same thing does not alert again.

use chrono::{DateTime, Utc};
use dd0c_ports::baseline::{remember, BaselineKey};
use dd0c_ports::domain::{
    instance_family, AnomalyStatus, Feedback, FeedbackAction, Signal, Snooze,
};
use dd0c_ports::store::{AnomalyStore, BaselineWrite, CommitOutcome, ScoreStore};
use dd0c_ports::PortError;

use crate::{back_off, read_pair, ScoreError, MAX_ATTEMPTS};

/// Applies `action` to an anomaly of `tenant` on behalf of `by` at `at`. `NotFound` when the
/// tenant has no such anomaly.
pub async fn apply(
    store: &dyn ScoreStore,
    anomalies: &dyn AnomalyStore,
    tenant: &str,
    anomaly_id: &str,
    action: FeedbackAction,
    by: &str,
    at: DateTime<Utc>,
) -> Result<AnomalyStatus, ScoreError> {
    let anomaly = anomalies
        .anomaly(tenant, anomaly_id)
        .await?
        .ok_or_else(|| PortError::NotFound(format!("anomaly {anomaly_id}")))?;
    let status = match &action {
        FeedbackAction::Acknowledge => AnomalyStatus::Acknowledged,
        FeedbackAction::Resolve => AnomalyStatus::Resolved,
        FeedbackAction::Snooze { scope, until } => {
            anomalies
                .add_snooze(&Snooze {
                    tenant: tenant.to_owned(),
                    scope: scope.clone(),
                    until: *until,
                    by: by.to_owned(),
                })
                .await?;
            AnomalyStatus::Snoozed
        }
        FeedbackAction::MarkExpected => {
            teach(store, &anomaly).await?;
            AnomalyStatus::Expected
        }
    };
    let feedback = Feedback {
        anomaly_id: anomaly_id.to_owned(),
        action,
        by: by.to_owned(),
        at,
        note: None,
    };
    anomalies.record_feedback(tenant, &feedback, status).await?;
    Ok(status)
}

/// Makes what the anomaly saw normal: its actor, type, region and family known; its cost the
/// new step for the Z-score; its quantity the new normal batch for bursts.
async fn teach(
    store: &dyn ScoreStore,
    anomaly: &dd0c_ports::domain::Anomaly,
) -> Result<(), ScoreError> {
    let kind_key = BaselineKey::new(&anomaly.tenant, &anomaly.account_id, &anomaly.resource_kind);
    let account_key = BaselineKey::account(&anomaly.tenant, &anomaly.account_id);
    let was_burst = anomaly.reasons.iter().any(|r| r.signal == Signal::Burst);
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            back_off(&anomaly.anomaly_id, attempt).await;
        }
        let (kind, account) = read_pair(store, &kind_key, &account_key).await?;
        let mut writes = Vec::new();
        for mut baseline in [kind, account] {
            let expected_version = baseline.version;
            remember(&mut baseline.actors, &anomaly.actor_arn);
            remember(&mut baseline.regions, &anomaly.region);
            remember(&mut baseline.resource_types, &anomaly.resource_type);
            if let Some(family) = instance_family(&anomaly.resource_type) {
                remember(&mut baseline.instance_families, family);
            }
            if baseline.key.resource_kind == anomaly.resource_kind {
                if was_burst {
                    // A burst's cost is the batch's; what becomes normal is the batch size.
                    baseline.peak_window_quantity =
                        baseline.peak_window_quantity.max(anomaly.quantity);
                    if let Some(window) = baseline.windows.get_mut(&anomaly.actor_arn) {
                        window.peak_at_open = window.peak_at_open.max(anomaly.quantity);
                    }
                } else {
                    baseline.alert_ceiling_hourly =
                        baseline.alert_ceiling_hourly.max(anomaly.hourly_usd);
                }
            }
            writes.push(BaselineWrite {
                baseline,
                expected_version,
            });
        }
        if store.update_baselines(writes).await? == CommitOutcome::Committed {
            return Ok(());
        }
    }
    Err(ScoreError::Contended(kind_key))
}
