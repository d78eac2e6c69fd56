//! Microsoft Teams: an alert, its follow-up and the digest as an Adaptive Card posted to a
//! Teams Workflows webhook ("Post to a channel when a webhook request is received"), with the
//! same facts as the Slack message and a link to the dashboard when its address is known.
//!
//! Card text is markdown to Teams, so every piece of text from a record (an actor, a region,
//! a reason) is escaped with [`teams_text`]: it can never become a link, a mention or
//! formatting.

use std::sync::Arc;

use async_trait::async_trait;
use dd0c_ports::domain::{Settings, Severity};
use dd0c_ports::webhook::Webhook;
use serde_json::{json, Value};

use crate::channels::{Channel, Deliver, Endpoints, Message};
use crate::digest::Digest;
use crate::render::{Alert, Resolved};
use crate::SendError;

/// The characters that open Teams markdown: emphasis, code, strike-through, headings, links
/// (`[text](url)`, `<url>`) and the escape itself.
const MARKDOWN: &[char] = &['\\', '*', '_', '`', '~', '#', '[', ']', '<', '>'];

/// `text` made literal in Teams' markdown: each character that could open markup escaped with
/// a backslash (as CommonMark allows for any punctuation), so no emphasis or link survives; the
/// rest — dollars, commas, dots — reads as it is.
pub fn teams_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if MARKDOWN.contains(&c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The message a Workflows webhook takes: one Adaptive Card attachment with `body` and, when
/// the dashboard's page is known, a button to it.
fn card(body: Vec<Value>, link: Option<String>) -> Value {
    let actions: Vec<Value> = link
        .into_iter()
        .map(|url| json!({"type": "Action.OpenUrl", "title": "Open in dd0c/cost", "url": url}))
        .collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "msteams": {"width": "Full"},
                "body": body,
                "actions": actions,
            },
        }],
    })
}

fn title(text: &str, color: &str) -> Value {
    json!({"type": "TextBlock", "text": teams_text(text), "size": "Large", "weight": "Bolder", "color": color, "wrap": true})
}

fn paragraph(text: &str) -> Value {
    json!({"type": "TextBlock", "text": teams_text(text), "wrap": true})
}

fn facts(facts: Vec<(&'static str, String)>) -> Value {
    let facts: Vec<Value> = facts
        .into_iter()
        .map(|(label, value)| json!({"title": label, "value": teams_text(&value)}))
        .collect();
    json!({"type": "FactSet", "facts": facts})
}

fn footer(text: &str) -> Value {
    json!({"type": "TextBlock", "text": teams_text(text), "size": "Small", "isSubtle": true, "wrap": true})
}

fn color(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "Attention",
        Severity::Warning => "Warning",
        Severity::Info => "Accent",
    }
}

/// The card of an alert: title, explanations, facts, reasons, footer; linked to the first
/// anomaly's page.
pub fn alert_card(alert: &Alert<'_>, endpoints: &Endpoints) -> Value {
    let mut body = vec![title(&alert.title(), color(alert.severity()))];
    body.extend(alert.anomalies.iter().map(|a| paragraph(&a.explanation)));
    body.push(facts(alert.facts()));
    let reasons = alert.reasons();
    if !reasons.is_empty() {
        body.push(json!({"type": "TextBlock", "text": "**Why**", "wrap": true}));
        body.extend(reasons.iter().map(|r| paragraph(&format!("• {r}"))));
    }
    body.push(footer(&alert.footer()));
    let link = alert
        .anomalies
        .first()
        .and_then(|a| endpoints.anomaly_url(&a.anomaly_id));
    card(body, link)
}

/// The card of a follow-up: title, how it ended, facts, footer.
pub fn resolved_card(resolved: &Resolved<'_>, endpoints: &Endpoints) -> Value {
    let body = vec![
        title(&resolved.title(), "Good"),
        paragraph(&resolved.resolution.note),
        facts(resolved.facts()),
        footer(&resolved.footer()),
    ];
    card(body, endpoints.anomaly_url(&resolved.anomaly.anomaly_id))
}

/// The card of a digest: its text, as the e-mail's plain part tells it.
pub fn digest_card(digest: &Digest, endpoints: &Endpoints) -> Result<Value, SendError> {
    let text = digest.text()?;
    let body = vec![
        title(&format!("Daily digest {}", digest.day), "Default"),
        paragraph(&text),
    ];
    Ok(card(body, endpoints.dashboard_url.clone()))
}

/// The Teams channel.
#[allow(missing_debug_implementations)]
pub struct Teams {
    /// Posts.
    pub webhook: Arc<dyn Webhook>,
    /// The dashboard cards link to.
    pub endpoints: Endpoints,
}

#[async_trait]
impl Deliver for Teams {
    fn channel(&self) -> Channel {
        Channel::Teams
    }

    async fn send(
        &self,
        _tenant: &str,
        settings: &Settings,
        message: Message<'_>,
    ) -> Result<(), SendError> {
        let url = settings.teams_webhook_url.as_deref().unwrap_or_default();
        let body = match message {
            Message::Alert(alert) => alert_card(alert, &self.endpoints),
            Message::Resolved(resolved) => resolved_card(resolved, &self.endpoints),
            Message::Digest(digest) => digest_card(digest, &self.endpoints)?,
        };
        Ok(self.webhook.post(url, &body).await?)
    }
}
