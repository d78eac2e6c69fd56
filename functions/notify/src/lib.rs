//! # dd0c-notify
//!
//! The notifier: turns the outbox the scorer writes (in the same commit as each anomaly) into
//! Slack messages, e-mails, signed webhooks, Teams cards and PagerDuty incidents, exactly as
//! the tenant's settings route them ([`Settings::routes`]: its routing rules, else each
//! channel's least severity).
//!
//! Map:
//! - [`Notifier::try_execute`] — one round: claim outbox messages (a lease keeps replicas from
//!   sending twice), hold those of tenants in panic mode, group each actor's anomalies within
//!   [`GROUP_WINDOW`] into one alert (an anomaly's follow-up, written when it resolved itself,
//!   goes alone), send it on every routed channel whose breaker is closed,
//!   and record each channel's delivery so a retry never repeats a channel that already has it.
//!   Whatever is not delivered stays in the outbox and is claimed again when the lease lapses:
//!   held, never dropped.
//! - [`render`] — Slack Block Kit (with Acknowledge / Snooze 24 h buttons) and
//!   the HTML + text e-mail, from the templates in `templates/`.
//! - [`channels`] — each channel in one place: its routing and how it sends ([`Channel`],
//!   [`channels::Deliver`]); [`signed`], [`teams`] and [`pagerduty`] are the channels whose
//!   messages are made beside them.
//! - [`breaker`] — circuit-breaker transitions per tenant and channel.
//! - [`digest`] — the daily digest per tenant at its hour and time zone;
//!   [`Notifier::send_due_digests`] sends the due ones, once per tenant and day.

pub mod breaker;
pub mod channels;
pub mod digest;
pub mod pagerduty;
pub mod render;
pub mod signed;
pub mod teams;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use dd0c_function::tracing::Span;
use dd0c_function::{step_span, trace};
use dd0c_ports::clock::Clock;
use dd0c_ports::domain::{OutboxMessage, Settings};
use dd0c_ports::flags::Flags;
use dd0c_ports::store::{Claimed, OutboxStore, SettingsStore, Stores};
use dd0c_ports::PortResult;

pub use channels::Channel;
pub use render::{Alert, Resolved};

use channels::{Deliver, Message};

/// How long a claim keeps other replicas off a message; also how soon a held or undelivered
/// message is tried again.
pub const LEASE: Duration = Duration::from_secs(30);
/// Messages claimed per round.
pub const BATCH: usize = 100;
/// One actor's anomalies this close together (from the first) make one alert.
pub const GROUP_WINDOW: TimeDelta = TimeDelta::minutes(10);

/// What one round did, for metrics and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    /// Messages claimed.
    pub claimed: usize,
    /// Messages held because their tenant is in panic mode.
    pub held: usize,
    /// Alerts sent, per channel.
    pub sent: BTreeMap<Channel, usize>,
    /// Sends that failed.
    pub failed: usize,
    /// Alerts not tried because their channel's breaker is open.
    pub skipped_open: usize,
    /// Messages completely delivered (every routed channel has them).
    pub completed: usize,
}

/// Why a notification did not go out.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The message did not render.
    #[error(transparent)]
    Render(#[from] render::RenderError),
    /// The webhook or the mail backend refused it or failed.
    #[error(transparent)]
    Port(#[from] dd0c_ports::PortError),
}

/// The ports a notifier uses.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Notifier {
    /// The outbox the scorer writes.
    pub outbox: Arc<dyn OutboxStore>,
    /// Routing and recipients per tenant.
    pub settings: Arc<dyn SettingsStore>,
    /// Panic mode and breakers.
    pub flags: Arc<dyn Flags>,
    /// The ways out, in the order an alert takes them ([`channels::standard`]).
    pub channels: Vec<Arc<dyn Deliver>>,
    /// Time, for breakers.
    pub clock: Arc<dyn Clock>,
    /// How long a claim lasts: [`LEASE`] in production.
    pub lease: Duration,
}

/// A `notify` span for one claimed message, continuing the trace of the scoring that wrote it.
fn notify_span(claim: &Claimed) -> Span {
    let message = &claim.message;
    let span = step_span!(
        "notify",
        tenant = %message.tenant,
        account_id = %message.anomaly.account_id,
        event_id = %message.anomaly.event_id,
        anomaly_id = %message.anomaly.anomaly_id,
        severity = message.anomaly.severity.as_str(),
        follow_up = message.resolution.is_some(),
    );
    trace::continue_from(&span, message.trace);
    span
}

/// Splits one tenant's claims into alerts: each actor's anomalies, in event-time order, within
/// [`GROUP_WINDOW`] of the first of the alert. A follow-up goes alone.
fn alerts(mut claims: Vec<Claimed>) -> Vec<Vec<Claimed>> {
    let order = |c: &Claimed| {
        let m = &c.message;
        (
            m.resolution.is_some(),
            m.anomaly.actor_arn.clone(),
            m.anomaly.event_time,
        )
    };
    claims.sort_by_key(order);
    let mut groups: Vec<Vec<Claimed>> = Vec::new();
    for claim in claims {
        let joins = groups.last().and_then(|g| g.first()).is_some_and(|first| {
            first.message.resolution.is_none()
                && claim.message.resolution.is_none()
                && first.message.anomaly.actor_arn == claim.message.anomaly.actor_arn
                && claim.message.anomaly.event_time - first.message.anomaly.event_time
                    <= GROUP_WINDOW
        });
        match groups.last_mut() {
            Some(group) if joins => group.push(claim),
            _ => groups.push(vec![claim]),
        }
    }
    groups
}

impl Notifier {
    /// One round over the outbox; see the crate doc.
    pub async fn try_execute(&self) -> PortResult<Round> {
        let claims = self.outbox.claim(BATCH, self.lease).await?;
        let mut round = Round {
            claimed: claims.len(),
            ..Round::default()
        };
        let mut by_tenant: BTreeMap<String, Vec<Claimed>> = BTreeMap::new();
        for claim in claims {
            by_tenant
                .entry(claim.message.tenant.clone())
                .or_default()
                .push(claim);
        }
        for (tenant, claims) in by_tenant {
            if self.flags.panic_mode(&tenant).await? {
                // Left claimed: the lease lapses and a later round tries again.
                round.held += claims.len();
                continue;
            }
            let settings = self.settings.settings(&tenant).await?;
            // Alerts offer actions while the tenant's remediation is on.
            let actions = self.flags.remediation(&tenant).await?.mode
                != dd0c_ports::remediation::RemediationMode::Off;
            for group in alerts(claims) {
                self.deliver(&tenant, &settings, actions, group, &mut round)
                    .await?;
            }
        }
        Ok(round)
    }

    /// Sends one alert (or a follow-up) on each routed channel that does not have it yet, then marks complete
    /// the messages every routed channel now has.
    async fn deliver(
        &self,
        tenant: &str,
        settings: &Settings,
        actions: bool,
        group: Vec<Claimed>,
        round: &mut Round,
    ) -> PortResult<()> {
        let routed: Vec<Vec<Channel>> = group
            .iter()
            .map(|c| self.routes(settings, &c.message))
            .collect();
        let spans: Vec<Span> = group.iter().map(notify_span).collect();
        let mut delivered: Vec<BTreeSet<String>> =
            group.iter().map(|c| c.delivered.clone()).collect();
        // A follow-up goes alone (see `alerts`).
        let resolved = group.first().and_then(|c| {
            let resolution = c.message.resolution.as_ref()?;
            Some(Resolved {
                anomaly: &c.message.anomaly,
                resolution,
                pricing: settings.pricing,
            })
        });
        for way in &self.channels {
            let channel = way.channel();
            let waiting: Vec<usize> = (0..group.len())
                .filter(|&i| {
                    routed[i].contains(&channel) && !delivered[i].contains(channel.as_str())
                })
                .collect();
            if waiting.is_empty() {
                continue;
            }
            let key = channel.breaker_key(tenant);
            let state = self.flags.breaker(&key).await?;
            let now = self.clock.now();
            if !breaker::allows(state.as_ref(), now) {
                round.skipped_open += 1;
                continue;
            }
            let anomalies: Vec<_> = waiting
                .iter()
                .map(|&i| group[i].message.anomaly.clone())
                .collect();
            let alert = Alert {
                anomalies: &anomalies,
                at: now,
                actions,
                pricing: settings.pricing,
            };
            let message = match &resolved {
                Some(resolved) => Message::Resolved(resolved),
                None => Message::Alert(&alert),
            };
            match way.send(tenant, settings, message).await {
                Ok(()) => {
                    for &i in waiting.iter().filter(|_| trace::enabled()) {
                        tracing::info!(target: trace::TARGET, parent: &spans[i], channel = channel.as_str(), "delivered");
                    }
                    for &i in &waiting {
                        self.outbox
                            .mark_channel_delivered(&group[i].message.outbox_id, channel.as_str())
                            .await?;
                        delivered[i].insert(channel.as_str().to_owned());
                    }
                    *round.sent.entry(channel).or_default() += 1;
                    if state.is_some_and(|s| s != breaker::after_success()) {
                        self.flags
                            .put_breaker(&key, &breaker::after_success())
                            .await?;
                    }
                }
                Err(error) => {
                    for &i in waiting.iter().filter(|_| trace::enabled()) {
                        tracing::warn!(target: trace::TARGET, parent: &spans[i], channel = channel.as_str(), %error, "not delivered");
                    }
                    round.failed += 1;
                    let next = breaker::after_failure(state.as_ref(), now);
                    tracing::warn!(%tenant, channel = channel.as_str(), %error, failures = next.consecutive_failures, open_until = ?next.open_until, "notification failed; it stays in the outbox");
                    self.flags.put_breaker(&key, &next).await?;
                }
            }
        }
        for ((claim, routed), delivered) in group.iter().zip(&routed).zip(&delivered) {
            if routed.iter().all(|c| delivered.contains(c.as_str())) {
                self.outbox.mark_delivered(&claim.message.outbox_id).await?;
                round.completed += 1;
            }
        }
        Ok(())
    }

    /// The channels `message` goes to: where the settings route its anomaly, and for a
    /// person's resolution only those of them that keep incidents.
    fn routes(&self, settings: &Settings, message: &OutboxMessage) -> Vec<Channel> {
        let by_person = message
            .resolution
            .as_ref()
            .is_some_and(|r| r.by_person.is_some());
        let keeps_incidents = |channel: &Channel| {
            self.channels
                .iter()
                .any(|c| c.channel() == *channel && c.keeps_incidents())
        };
        settings
            .routes(&message.anomaly)
            .into_iter()
            .filter(|c| !by_person || keeps_incidents(c))
            .collect()
    }

    /// Sends `tenant`'s digest for `day` (the 24 hours before now) on each configured channel,
    /// unless it has nothing to report; returns the channels it reached. A failed channel is
    /// logged, not retried: tomorrow's digest covers the next day.
    pub async fn send_digest(
        &self,
        stores: &Stores,
        tenant: &str,
        settings: &Settings,
        day: chrono::NaiveDate,
    ) -> PortResult<Vec<Channel>> {
        let digest =
            digest::Digest::build(stores, tenant, day, self.clock.now(), settings.pricing).await?;
        let mut reached = Vec::new();
        if digest.is_empty() {
            return Ok(reached);
        }
        for way in self.channels.iter().filter(|c| c.digests(settings)) {
            let channel = way.channel().as_str();
            match way.send(tenant, settings, Message::Digest(&digest)).await {
                Ok(()) => reached.push(way.channel()),
                Err(error) => tracing::warn!(%tenant, channel, %error, "the digest did not go out"),
            }
        }
        Ok(reached)
    }

    /// Sends each tenant's digest once a day, at or after its hour in its time zone: the day is
    /// the tick claimed in `schedule`, so a replica restart, a second replica or panic mode at
    /// the hour delays a digest, never doubles it. Returns the digests sent: tenant, day and
    /// the channels reached.
    pub async fn send_due_digests(
        &self,
        stores: &Stores,
        replica: &str,
    ) -> PortResult<Vec<(String, chrono::NaiveDate, Vec<Channel>)>> {
        let now = self.clock.now();
        let mut sent = Vec::new();
        for tenant in stores.tenants.tenants().await? {
            let settings = self.settings.settings(&tenant.name).await?;
            let Some(day) = digest::due(&settings, now) else {
                continue;
            };
            if self.flags.panic_mode(&tenant.name).await? {
                continue;
            }
            let tick = day.and_time(chrono::NaiveTime::MIN).and_utc();
            if !stores
                .schedule
                .claim_tick(&format!("digest:{}", tenant.name), tick, replica)
                .await?
            {
                continue;
            }
            let reached = self
                .send_digest(stores, &tenant.name, &settings, day)
                .await?;
            tracing::info!(job = "digest", tenant = %tenant.name, %day, channels = ?reached, "ran");
            sent.push((tenant.name, day, reached));
        }
        Ok(sent)
    }
}
