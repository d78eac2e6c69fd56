//! The notification channels, each in one place: whether a tenant's settings route an anomaly
//! to it, and how an alert or a digest goes out on it. The notifier, the panic-mode view and
//! the metrics go through [`Channel::ALL`] and [`Deliver`] and name no channel; a new channel
//! is one more [`Channel`] and one more [`Deliver`] — Slack and e-mail here, the signed
//! webhook, Teams and PagerDuty in their own modules.

use std::sync::Arc;

use async_trait::async_trait;
use dd0c_ports::clock::Clock;
pub use dd0c_ports::domain::Channel;
use dd0c_ports::domain::Settings;
use dd0c_ports::mail::Mail;
use dd0c_ports::store::SettingsStore;
use dd0c_ports::webhook::Webhook;

use crate::digest::Digest;
use crate::render::{Alert, Resolved};
use crate::{pagerduty, signed, teams, SendError};

/// What goes out on a channel.
#[derive(Clone, Copy)]
#[allow(missing_debug_implementations)]
pub enum Message<'a> {
    /// An alert: one actor's anomalies.
    Alert(&'a Alert<'a>),
    /// The follow-up of an alerted anomaly that resolved itself.
    Resolved(&'a Resolved<'a>),
    /// A tenant's daily digest.
    Digest(&'a Digest),
}

impl Message<'_> {
    /// What a channel that speaks per anomaly (the webhook, PagerDuty) sends for this message:
    /// `alerted` of each anomaly of an alert (with the alert's time), `resolved` of a
    /// follow-up, nothing for a digest.
    pub fn per_anomaly<T>(
        &self,
        alerted: impl Fn(&dd0c_ports::domain::Anomaly, chrono::DateTime<chrono::Utc>) -> T,
        resolved: impl Fn(&Resolved<'_>) -> T,
    ) -> Vec<T> {
        match self {
            Message::Alert(alert) => alert
                .anomalies
                .iter()
                .map(|a| alerted(a, alert.at))
                .collect(),
            Message::Resolved(r) => vec![resolved(r)],
            Message::Digest(_) => Vec::new(),
        }
    }
}

/// One channel's way out.
#[async_trait]
pub trait Deliver: Send + Sync {
    /// The channel.
    fn channel(&self) -> Channel;
    /// Whether the daily digest goes here: where the channel is set up, unless it is one for
    /// alerts alone.
    fn digests(&self, settings: &Settings) -> bool {
        settings.has_channel(self.channel())
    }
    /// Whether it keeps incidents open until told they are over (PagerDuty, automation
    /// behind the webhook): then a person's resolution in dd0c/cost goes here too, where the
    /// people who resolved it need not read of it.
    fn keeps_incidents(&self) -> bool {
        false
    }
    /// Sends `tenant`'s `message` as `settings` direct.
    async fn send(
        &self,
        tenant: &str,
        settings: &Settings,
        message: Message<'_>,
    ) -> Result<(), SendError>;
}

/// What channels need beyond a tenant's settings: set per deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Where PagerDuty events go: [`pagerduty::EVENTS_URL`] but in tests.
    pub pagerduty_events_url: String,
    /// The dashboard's address, which alerts link to; unset, they carry no link.
    pub dashboard_url: Option<String>,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            pagerduty_events_url: pagerduty::EVENTS_URL.to_owned(),
            dashboard_url: None,
        }
    }
}

impl Endpoints {
    /// The dashboard page of anomaly `id`, when the dashboard's address is known.
    pub fn anomaly_url(&self, id: &str) -> Option<String> {
        let base = self.dashboard_url.as_deref()?.trim_end_matches('/');
        Some(format!("{base}/anomalies/{id}"))
    }
}

/// Slack, through incoming webhooks.
#[allow(missing_debug_implementations)]
pub struct Slack(pub Arc<dyn Webhook>);

#[async_trait]
impl Deliver for Slack {
    fn channel(&self) -> Channel {
        Channel::Slack
    }

    async fn send(
        &self,
        _tenant: &str,
        settings: &Settings,
        message: Message<'_>,
    ) -> Result<(), SendError> {
        let url = settings.slack_webhook_url.as_deref().unwrap_or_default();
        let body = match message {
            Message::Alert(alert) => alert.slack(),
            Message::Resolved(resolved) => resolved.slack(),
            Message::Digest(digest) => digest.slack(),
        };
        Ok(self.0.post(url, &body).await?)
    }
}

/// E-mail, through the mail port.
#[allow(missing_debug_implementations)]
pub struct Email(pub Arc<dyn Mail>);

#[async_trait]
impl Deliver for Email {
    fn channel(&self) -> Channel {
        Channel::Email
    }

    async fn send(
        &self,
        _tenant: &str,
        settings: &Settings,
        message: Message<'_>,
    ) -> Result<(), SendError> {
        let email = match message {
            Message::Alert(alert) => alert.email(&settings.email_to)?,
            Message::Resolved(resolved) => resolved.email(&settings.email_to)?,
            Message::Digest(digest) => digest.email(&settings.email_to)?,
        };
        self.0.send(&email).await?;
        Ok(())
    }
}

/// What the channels of a deployment are made of.
#[allow(missing_debug_implementations)]
pub struct Parts {
    /// Posts to Slack, Teams, PagerDuty and tenants' endpoints.
    pub webhook: Arc<dyn Webhook>,
    /// Sends e-mail, where the deployment has a mail server.
    pub mail: Option<Arc<dyn Mail>>,
    /// Where the signed webhook finds each tenant's signing secret.
    pub secrets: Arc<dyn SettingsStore>,
    /// Time, for the webhook's signature timestamp.
    pub clock: Arc<dyn Clock>,
    /// Where PagerDuty is, and the dashboard alerts link to.
    pub endpoints: Endpoints,
}

/// The channels of a deployment, in the order an alert takes them: Slack, e-mail where the
/// deployment can send it, the signed webhook, Teams and PagerDuty.
pub fn standard(parts: Parts) -> Vec<Arc<dyn Deliver>> {
    let Parts {
        webhook,
        mail,
        secrets,
        clock,
        endpoints,
    } = parts;
    let mut channels: Vec<Arc<dyn Deliver>> = vec![Arc::new(Slack(webhook.clone()))];
    if let Some(mail) = mail {
        channels.push(Arc::new(Email(mail)));
    }
    channels.push(Arc::new(signed::SignedWebhook {
        webhook: webhook.clone(),
        secrets,
        clock,
        endpoints: endpoints.clone(),
    }));
    channels.push(Arc::new(teams::Teams {
        webhook: webhook.clone(),
        endpoints: endpoints.clone(),
    }));
    channels.push(Arc::new(pagerduty::PagerDuty { webhook, endpoints }));
    channels
}

/// Why a test alert did not go out.
#[derive(Debug, thiserror::Error)]
pub enum TestAlertError {
    /// The tenant's settings do not set the channel up.
    #[error("{0} is not set up in the settings")]
    NotSetUp(Channel),
    /// This deployment has no way out on the channel (e-mail without a mail server).
    #[error("this deployment does not send {0}")]
    NotDeployed(Channel),
}

/// The anomaly a test alert is about: nothing was launched, and it says so.
pub fn test_anomaly(
    tenant: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> dd0c_ports::domain::Anomaly {
    use dd0c_ports::domain::{Anomaly, AnomalyStatus, Severity, HOURS_PER_MONTH};
    Anomaly {
        anomaly_id: format!("test-{}", at.timestamp_millis()),
        event_id: "test".to_owned(),
        event_time: at,
        tenant: tenant.to_owned(),
        account_id: "000000000000".to_owned(),
        region: "us-east-1".to_owned(),
        actor_arn: "arn:aws:iam::000000000000:user/dd0c-test".to_owned(),
        resource_kind: "ec2.instance".to_owned(),
        resource_type: "t3.micro".to_owned(),
        resource_ids: Vec::new(),
        quantity: 1,
        hourly_usd: 0.0104,
        monthly_usd: 0.0104 * HOURS_PER_MONTH,
        severity: Severity::Critical,
        score: 0.0,
        reasons: Vec::new(),
        explanation: "A test alert from the dd0c/cost settings: nothing was launched.".to_owned(),
        status: AnomalyStatus::Open,
    }
}

/// Sends a test alert on `channel` as `tenant`'s `settings` set it up, whatever its routing:
/// `Ok(Err(_))` when the channel itself refused it (the error says how), `Err` when there was
/// nothing to try.
pub async fn send_test_alert(
    channels: &[Arc<dyn Deliver>],
    tenant: &str,
    settings: &Settings,
    channel: Channel,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Result<(), SendError>, TestAlertError> {
    if !settings.has_channel(channel) {
        return Err(TestAlertError::NotSetUp(channel));
    }
    let way = channels
        .iter()
        .find(|c| c.channel() == channel)
        .ok_or(TestAlertError::NotDeployed(channel))?;
    let anomalies = [test_anomaly(tenant, at)];
    let alert = Alert {
        anomalies: &anomalies,
        at,
        actions: false,
        pricing: settings.pricing,
    };
    Ok(way.send(tenant, settings, Message::Alert(&alert)).await)
}
