//! The tenant's own endpoint: each routed anomaly (`anomaly.detected`), and its follow-up when
//! it resolves itself (`anomaly.resolved`), POSTed as JSON — one anomaly per request, for the
//! automation that receives it — signed per the Standard Webhooks specification with the
//! tenant's secret. A post that fails stays in the outbox and is tried again (with the
//! channel's breaker backing off) under the same `webhook-id`, so a receiver keeps one of each.
//! Digests do not go here.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dd0c_ports::clock::Clock;
use dd0c_ports::domain::{Anomaly, Resolution, Settings};
use dd0c_ports::ledger::Followed;
use dd0c_ports::store::SettingsStore;
use dd0c_ports::webhook::{SigningSecret, Webhook};
use dd0c_ports::PortError;
use serde_json::{json, Value};

use crate::channels::{Channel, Deliver, Endpoints, Message};
use crate::SendError;

/// What an event tells: its `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// An anomaly was raised.
    AnomalyDetected,
    /// An alerted anomaly resolved: its resources ended, or a person resolved it.
    AnomalyResolved,
}

impl EventType {
    /// Its name in the event's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::AnomalyDetected => "anomaly.detected",
            EventType::AnomalyResolved => "anomaly.resolved",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event, ready to sign.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The `webhook-id`: the same for every try of one event, different between events.
    pub id: String,
    /// The JSON body.
    pub body: Value,
}

impl Event {
    /// The event of `kind` about `anomaly`, sent at `at`: `type`, `timestamp` and `data`
    /// (the anomaly, its dashboard page when known, and `extra`).
    fn new(
        kind: EventType,
        anomaly: &Anomaly,
        at: DateTime<Utc>,
        endpoints: &Endpoints,
        extra: (&str, Value),
    ) -> Event {
        let (name, value) = extra;
        Event {
            id: format!(
                "msg_{}_{}",
                anomaly.anomaly_id,
                kind.as_str().replace('.', "_")
            ),
            body: json!({
                "type": kind.as_str(),
                "timestamp": at.to_rfc3339(),
                "data": {
                    "anomaly": anomaly,
                    "url": endpoints.anomaly_url(&anomaly.anomaly_id),
                    name: value,
                },
            }),
        }
    }

    /// `anomaly.detected`, with what it costs left running to the end of the month.
    pub fn detected(anomaly: &Anomaly, at: DateTime<Utc>, endpoints: &Endpoints) -> Event {
        let forecast = Followed::assumed(anomaly, at).forecast_month_end_usd;
        let extra = ("forecast_month_end_usd", json!(forecast));
        Event::new(EventType::AnomalyDetected, anomaly, at, endpoints, extra)
    }

    /// `anomaly.resolved`, with how it ended, what it cost and what ending it avoided.
    pub fn resolved(
        anomaly: &Anomaly,
        resolution: &Resolution,
        at: DateTime<Utc>,
        endpoints: &Endpoints,
    ) -> Event {
        let extra = ("resolution", json!(resolution));
        Event::new(EventType::AnomalyResolved, anomaly, at, endpoints, extra)
    }

    /// The body's bytes and the three Standard Webhooks headers, signed with `secret` at `at`.
    pub fn signed(
        &self,
        secret: &SigningSecret,
        at: DateTime<Utc>,
    ) -> (Vec<u8>, [(&'static str, String); 3]) {
        let body = self.body.to_string().into_bytes();
        let timestamp = at.timestamp();
        let signature = secret.sign(&self.id, timestamp, &body);
        let headers = [
            ("webhook-id", self.id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ];
        (body, headers)
    }
}

/// The signed webhook channel.
#[allow(missing_debug_implementations)]
pub struct SignedWebhook {
    /// Posts.
    pub webhook: Arc<dyn Webhook>,
    /// Each tenant's signing secret.
    pub secrets: Arc<dyn SettingsStore>,
    /// The time events are stamped and signed with.
    pub clock: Arc<dyn Clock>,
    /// The dashboard events link to.
    pub endpoints: Endpoints,
}

#[async_trait]
impl Deliver for SignedWebhook {
    fn channel(&self) -> Channel {
        Channel::Webhook
    }

    fn digests(&self, _settings: &Settings) -> bool {
        false
    }

    fn keeps_incidents(&self) -> bool {
        true
    }

    async fn send(
        &self,
        tenant: &str,
        settings: &Settings,
        message: Message<'_>,
    ) -> Result<(), SendError> {
        let url = settings.webhook_url.as_deref().unwrap_or_default();
        let now = self.clock.now();
        let events = message.per_anomaly(
            |a, at| Event::detected(a, at, &self.endpoints),
            |r| Event::resolved(r.anomaly, r.resolution, now, &self.endpoints),
        );
        if events.is_empty() {
            return Ok(());
        }
        let secret = self.secrets.webhook_secret(tenant).await?.ok_or_else(|| {
            PortError::Invalid(
                "the tenant has no webhook signing secret: make one in the settings \
                 (POST /v1/settings/webhook-secret)"
                    .to_owned(),
            )
        })?;
        for event in events {
            let (body, headers) = event.signed(&secret, now);
            self.webhook.post_bytes(url, &headers, &body).await?;
        }
        Ok(())
    }
}
