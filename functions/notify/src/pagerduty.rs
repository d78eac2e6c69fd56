//! PagerDuty, through the Events API v2: each anomaly of an alert triggers an incident with
//! the anomaly's id as its `dedup_key` (a retry or a second alert for it adds nothing), and its
//! follow-up — the anomaly resolved itself — resolves that incident. Digests do not page.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dd0c_ports::domain::{actor_name, format_usd, Anomaly, Settings};
use dd0c_ports::ledger::Followed;
use dd0c_ports::webhook::Webhook;
use serde_json::{json, Value};

use crate::channels::{Channel, Deliver, Endpoints, Message};
use crate::SendError;

/// PagerDuty's events endpoint.
pub const EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// PagerDuty's limit on a summary, in characters.
const SUMMARY_LIMIT: usize = 1024;

/// What an event does to the incident of its `dedup_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Opens it (or adds to the open one).
    Trigger,
    /// Closes it.
    Resolve,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Trigger => "trigger",
            Action::Resolve => "resolve",
        })
    }
}

/// The `trigger` event of `anomaly`, alerted at `at`.
pub fn trigger(
    routing_key: &str,
    anomaly: &Anomaly,
    at: DateTime<Utc>,
    endpoints: &Endpoints,
) -> Value {
    let forecast = Followed::assumed(anomaly, at).forecast_month_end_usd;
    let summary: String = format!(
        "{}: {} in {} by {} — {}/month, {} left running to month end",
        anomaly.severity,
        anomaly.units(),
        anomaly.region,
        actor_name(&anomaly.actor_arn),
        format_usd(anomaly.monthly_usd),
        format_usd(forecast)
    )
    .chars()
    .take(SUMMARY_LIMIT)
    .collect();
    let link = endpoints.anomaly_url(&anomaly.anomaly_id);
    let mut event = json!({
        "routing_key": routing_key,
        "event_action": Action::Trigger.to_string(),
        "dedup_key": anomaly.anomaly_id,
        "client": "dd0c/cost",
        "payload": {
            "summary": summary,
            "source": format!("aws:{}:{}", anomaly.account_id, anomaly.region),
            // PagerDuty's severities include ours by the same names.
            "severity": anomaly.severity.as_str(),
            "timestamp": anomaly.event_time.to_rfc3339(),
            "component": anomaly.resource_type,
            "group": anomaly.account_id,
            "class": anomaly.resource_kind,
            "custom_details": {
                "actor": anomaly.actor_arn,
                "explanation": anomaly.explanation,
                "reasons": anomaly.reasons.iter().map(|r| r.detail.as_str()).collect::<Vec<_>>(),
                "hourly_usd": anomaly.hourly_usd,
                "monthly_usd": anomaly.monthly_usd,
                "forecast_month_end_usd": forecast,
                "resource_ids": anomaly.resource_ids,
            },
        },
    });
    if let Some(url) = link {
        event["client_url"] = json!(url);
        event["links"] = json!([{"href": url, "text": "Open in dd0c/cost"}]);
    }
    event
}

/// The `resolve` event of the incident of `anomaly_id`.
pub fn resolve(routing_key: &str, anomaly_id: &str) -> Value {
    json!({
        "routing_key": routing_key,
        "event_action": Action::Resolve.to_string(),
        "dedup_key": anomaly_id,
    })
}

/// The PagerDuty channel.
#[allow(missing_debug_implementations)]
pub struct PagerDuty {
    /// Posts.
    pub webhook: Arc<dyn Webhook>,
    /// Where events go, and the dashboard incidents link to.
    pub endpoints: Endpoints,
}

#[async_trait]
impl Deliver for PagerDuty {
    fn channel(&self) -> Channel {
        Channel::PagerDuty
    }

    fn digests(&self, _settings: &Settings) -> bool {
        false
    }

    fn keeps_incidents(&self) -> bool {
        true
    }

    async fn send(
        &self,
        _tenant: &str,
        settings: &Settings,
        message: Message<'_>,
    ) -> Result<(), SendError> {
        let key = settings
            .pagerduty_routing_key
            .as_deref()
            .unwrap_or_default();
        let events = message.per_anomaly(
            |a, at| trigger(key, a, at, &self.endpoints),
            |r| resolve(key, &r.anomaly.anomaly_id),
        );
        for event in &events {
            self.webhook
                .post(&self.endpoints.pagerduty_events_url, event)
                .await?;
        }
        Ok(())
    }
}
