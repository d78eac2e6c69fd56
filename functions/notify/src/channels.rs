//! The notification channels, each in one place: whether a tenant's settings route an anomaly
//! to it, and how an alert or a digest goes out on it. The notifier, the panic-mode view and
//! the metrics go through [`Channel::ALL`] and [`Deliver`] and name no channel; a new channel
//! is one more [`Channel`] and one more [`Deliver`].

use std::sync::Arc;

use async_trait::async_trait;
use dd0c_ports::domain::{Settings, Severity};
use dd0c_ports::mail::Mail;
use dd0c_ports::webhook::Webhook;

use crate::digest::Digest;
use crate::render::{Alert, Resolved};
use crate::SendError;

/// A delivery channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    /// The tenant's Slack incoming webhook.
    Slack,
    /// E-mail to the tenant's recipients.
    Email,
}

impl Channel {
    /// Every channel, in the order an alert goes out on them.
    pub const ALL: [Channel; 2] = [Channel::Slack, Channel::Email];

    /// Its name in delivery records, breaker keys and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Slack => "slack",
            Channel::Email => "email",
        }
    }

    /// The breaker key of this channel for `tenant`.
    pub fn breaker_key(self, tenant: &str) -> String {
        format!("{tenant}:{}", self.as_str())
    }
}

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

/// One channel's way out.
#[async_trait]
pub trait Deliver: Send + Sync {
    /// The channel.
    fn channel(&self) -> Channel;
    /// Whether `settings` route an anomaly of `severity` here (configured, and severe enough).
    fn routes(&self, settings: &Settings, severity: Severity) -> bool;
    /// Whether the tenant set this channel up at all (where digests go).
    fn configured(&self, settings: &Settings) -> bool;
    /// Sends `message` as `settings` direct.
    async fn send(&self, settings: &Settings, message: Message<'_>) -> Result<(), SendError>;
}

/// Slack, through incoming webhooks.
#[allow(missing_debug_implementations)]
pub struct Slack(pub Arc<dyn Webhook>);

#[async_trait]
impl Deliver for Slack {
    fn channel(&self) -> Channel {
        Channel::Slack
    }

    fn routes(&self, settings: &Settings, severity: Severity) -> bool {
        self.configured(settings) && severity >= settings.slack_min_severity
    }

    fn configured(&self, settings: &Settings) -> bool {
        settings.slack_webhook_url.is_some()
    }

    async fn send(&self, settings: &Settings, message: Message<'_>) -> Result<(), SendError> {
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

    fn routes(&self, settings: &Settings, severity: Severity) -> bool {
        self.configured(settings) && severity >= settings.email_min_severity
    }

    fn configured(&self, settings: &Settings) -> bool {
        !settings.email_to.is_empty()
    }

    async fn send(&self, settings: &Settings, message: Message<'_>) -> Result<(), SendError> {
        let email = match message {
            Message::Alert(alert) => alert.email(&settings.email_to)?,
            Message::Resolved(resolved) => resolved.email(&settings.email_to)?,
            Message::Digest(digest) => digest.email(&settings.email_to)?,
        };
        self.0.send(&email).await?;
        Ok(())
    }
}

/// The channels of a deployment: Slack through `webhook`, and e-mail where `mail` is set.
pub fn standard(webhook: Arc<dyn Webhook>, mail: Option<Arc<dyn Mail>>) -> Vec<Arc<dyn Deliver>> {
    let mut channels: Vec<Arc<dyn Deliver>> = vec![Arc::new(Slack(webhook))];
    if let Some(mail) = mail {
        channels.push(Arc::new(Email(mail)));
    }
    channels
}
