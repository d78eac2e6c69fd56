//! What an alert and its follow-up look like: Slack Block Kit (the alert with action buttons),
//! and an HTML + text e-mail rendered from the templates in `templates/`.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use dd0c_ports::domain::{actor_name, format_usd, Anomaly, Pricing, Resolution, Severity};
use dd0c_ports::keys::{ActionRef, ActionValue};
use dd0c_ports::ledger::Followed;
use dd0c_ports::mail::Email;
use dd0c_ports::remediation::{ActionKind, ActionRecord};
use minijinja::Environment;
use serde::Serialize;
use serde_json::{json, Value};

/// The Slack action ids of the two buttons; `POST /v1/slack/actions` maps them back. Whoever
/// sees the channel can click, so the buttons do what a member may: no "Mark expected", which
/// needs an admin (in the dashboard).
pub const ACTION_ACKNOWLEDGE: &str = "acknowledge";
/// Snoozes the anomaly's actor for 24 hours.
pub const ACTION_SNOOZE_24H: &str = "snooze_24h";
/// Marked the anomaly expected, on alerts sent before that needed an admin: now refused.
pub const ACTION_MARK_EXPECTED: &str = "mark_expected";

/// Approves the action an approval message names (`tenant/act_…`): an admin's button.
pub const ACTION_APPROVE: &str = "approve_action";
/// Rejects it.
pub const ACTION_REJECT: &str = "reject_action";

/// At most this many anomalies are named in one button's value (Slack's 2,000-character cap).
const MAX_IDS_PER_BUTTON: usize = 20;

fn templates() -> &'static Environment<'static> {
    static TEMPLATES: OnceLock<Environment<'static>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        let mut env = Environment::new();
        // `.html` names turn on HTML escaping: an actor or region can never inject markup.
        for (name, source) in [
            ("alert.txt", include_str!("../templates/alert.txt")),
            ("alert.html", include_str!("../templates/alert.html")),
            ("resolved.txt", include_str!("../templates/resolved.txt")),
            ("resolved.html", include_str!("../templates/resolved.html")),
            ("digest.txt", include_str!("../templates/digest.txt")),
            ("digest.html", include_str!("../templates/digest.html")),
        ] {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "a bundled template does not parse");
            }
        }
        env
    })
}

/// A bundled template that did not render.
#[derive(Debug, thiserror::Error)]
#[error("rendering {name}: {source}")]
pub struct RenderError {
    /// The template.
    pub name: &'static str,
    /// minijinja's error.
    pub source: minijinja::Error,
}

/// Renders the bundled template `name` with `context`.
pub(crate) fn render(name: &'static str, context: &impl Serialize) -> Result<String, RenderError> {
    templates()
        .get_template(name)
        .and_then(|t| t.render(context))
        .map_err(|source| RenderError { name, source })
}

/// `text` made literal in Slack's mrkdwn: `&`, `<` and `>` escaped as Slack asks, so an actor,
/// region or resource type from a record can never become a mention (`<!channel>`), a link
/// (`<mailto:…|…>`) or any other markup of Slack's.
pub fn slack_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn emoji(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => ":red_circle:",
        Severity::Warning => ":large_orange_circle:",
        Severity::Info => ":large_blue_circle:",
    }
}

/// `4 × p4d.24xlarge in us-east-1`.
fn units_in_region(anomaly: &Anomaly) -> String {
    format!("{} in {}", anomaly.units(), anomaly.region)
}

fn capitalized(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "Critical",
        Severity::Warning => "Warning",
        Severity::Info => "Info",
    }
}

/// One alert: anomalies of one tenant raised by one actor within minutes, oldest first.
#[derive(Debug, Clone, Copy)]
pub struct Alert<'a> {
    /// At least one anomaly.
    pub anomalies: &'a [Anomaly],
    /// When it is sent: what is left running is counted from here to the month's end.
    pub at: DateTime<Utc>,
    /// Whether the tenant's remediation is on: a warning or critical alert then offers the
    /// actions that fit its resources (Stop, Terminate), as requests an admin approves.
    pub actions: bool,
    /// The tenant's discount: figures are shown at what the tenant pays, the list price beside.
    pub pricing: Pricing,
}

#[derive(Serialize)]
struct Item {
    severity: String,
    resource: String,
    region: String,
    event_time: String,
    hourly: String,
    monthly: String,
    explanation: String,
    reasons: Vec<String>,
}

#[derive(Serialize)]
struct AlertContext {
    headline: String,
    actor: String,
    account_id: String,
    total_hourly: String,
    total_monthly: String,
    left_running: String,
    items: Vec<Item>,
    anomaly_ids: Vec<String>,
}

impl Alert<'_> {
    /// The highest severity in the alert.
    pub fn severity(&self) -> Severity {
        self.anomalies
            .iter()
            .map(|a| a.severity)
            .max()
            .unwrap_or(Severity::Info)
    }

    fn total_hourly(&self) -> f64 {
        self.anomalies.iter().map(|a| a.hourly_usd).sum()
    }

    fn total_monthly(&self) -> f64 {
        self.anomalies.iter().map(|a| a.monthly_usd).sum()
    }

    /// What the anomalies' resources cost from their creation to the end of the month if
    /// nothing ends: the forecast every alert states.
    pub fn left_running_to_month_end(&self) -> f64 {
        self.anomalies
            .iter()
            .map(|a| Followed::assumed(a, self.at).forecast_month_end_usd)
            .sum()
    }

    fn first(&self) -> Option<&Anomaly> {
        self.anomalies.first()
    }

    fn actor(&self) -> String {
        self.first()
            .map(|a| actor_name(&a.actor_arn))
            .unwrap_or_default()
    }

    fn what(&self) -> String {
        match self.anomalies {
            [one] => units_in_region(one),
            many => format!("{} launches by {}", many.len(), self.actor()),
        }
    }

    /// One line: severity, what, where, and the monthly cost.
    pub fn headline(&self) -> String {
        format!(
            "{}: {} — {}",
            capitalized(self.severity()),
            self.what(),
            self.pricing.show(self.total_monthly(), "/month")
        )
    }

    /// The actions its buttons offer: those that fit a single anomaly's resources, when the
    /// tenant's remediation is on and the anomaly is a warning or worse.
    fn offered_actions(&self) -> &'static [ActionKind] {
        match self.anomalies {
            [one] if self.actions && one.severity >= Severity::Warning => {
                ActionKind::for_resource_kind(&one.resource_kind)
            }
            _ => &[],
        }
    }

    /// The value carried by the buttons: `tenant/id,id,…`.
    fn button_value(&self) -> String {
        ActionValue {
            tenant: self.first().map(|a| a.tenant.clone()).unwrap_or_default(),
            anomaly_ids: self
                .anomalies
                .iter()
                .take(MAX_IDS_PER_BUTTON)
                .map(|a| a.anomaly_id.clone())
                .collect(),
        }
        .to_string()
    }

    /// The title every channel's card starts with: `Critical cost anomaly — $X/month`.
    pub fn title(&self) -> String {
        format!(
            "{} cost anomaly — {}",
            capitalized(self.severity()),
            self.pricing.show(self.total_monthly(), "/month")
        )
    }

    /// The facts every channel's card shows, labelled, in order.
    pub fn facts(&self) -> Vec<(&'static str, String)> {
        let Some(first) = self.first() else {
            return Vec::new();
        };
        let resources: Vec<String> = self.anomalies.iter().map(Anomaly::units).collect();
        let mut regions: Vec<&str> = self.anomalies.iter().map(|a| a.region.as_str()).collect();
        regions.dedup();
        vec![
            ("Severity", self.severity().to_string()),
            ("Actor", self.actor()),
            ("Account", first.account_id.clone()),
            ("Region", regions.join(", ")),
            ("Resources", resources.join(", ")),
            (
                "Cost",
                format!(
                    "{} · {}",
                    self.pricing.show(self.total_hourly(), "/h"),
                    self.pricing.show(self.total_monthly(), "/month")
                ),
            ),
            (
                "Left running to month end",
                self.pricing.show(self.left_running_to_month_end(), ""),
            ),
        ]
    }

    /// Why the anomalies were raised: each distinct reason once.
    pub fn reasons(&self) -> Vec<String> {
        let mut reasons: Vec<String> = Vec::new();
        for anomaly in self.anomalies {
            for reason in &anomaly.reasons {
                if !reasons.contains(&reason.detail) {
                    reasons.push(reason.detail.clone());
                }
            }
        }
        reasons
    }

    /// The footer line: `dd0c/cost · anomaly ID · time`.
    pub fn footer(&self) -> String {
        self.first()
            .map(|a| {
                format!(
                    "dd0c/cost · anomaly {} · {}",
                    a.anomaly_id,
                    a.event_time.to_rfc3339()
                )
            })
            .unwrap_or_default()
    }

    /// The Slack incoming-webhook payload: Block Kit with the facts, the reasons and the
    /// Acknowledge / Snooze 24 h buttons, plus a plain `text` fallback.
    pub fn slack(&self) -> Value {
        if self.anomalies.is_empty() {
            return json!({"text": "dd0c/cost: empty alert"});
        }
        let fields: Vec<Value> = self
            .facts()
            .into_iter()
            .map(|(label, value)| {
                let value = match label {
                    "Severity" => format!("{} {}", emoji(self.severity()), slack_text(&value)),
                    "Actor" => format!("`{}`", slack_text(&value)),
                    _ => slack_text(&value),
                };
                json!({"type": "mrkdwn", "text": format!("*{label}*\n{value}")})
            })
            .collect();
        let why: String = self
            .reasons()
            .iter()
            .map(|r| format!("• {}\n", slack_text(r)))
            .collect();
        let value = self.button_value();
        let button = |action: &str, label: &str, style: Option<&str>| {
            let mut b = json!({"type": "button", "action_id": action, "value": value,
                "text": {"type": "plain_text", "text": label}});
            if let Some(style) = style {
                b["style"] = json!(style);
            }
            b
        };
        let explanations: String = self
            .anomalies
            .iter()
            .map(|a| format!("{}\n", slack_text(&a.explanation)))
            .collect();
        let mut buttons = vec![
            button(ACTION_ACKNOWLEDGE, "Acknowledge", Some("primary")),
            button(ACTION_SNOOZE_24H, "Snooze 24 h", None),
        ];
        for &kind in self.offered_actions() {
            // The action id is the kind's wire value: the handler reads it back as one.
            let mut b = button(kind.as_str(), action_label(kind), Some("danger"));
            b["confirm"] = json!({
                "title": {"type": "plain_text", "text": "Request this action?"},
                "text": {"type": "plain_text", "text": "An admin approves it before it runs; its dry run checks it first."},
                "confirm": {"type": "plain_text", "text": action_label(kind)},
                "deny": {"type": "plain_text", "text": "Cancel"},
            });
            buttons.push(b);
        }
        json!({
            "text": format!("{} {}", emoji(self.severity()), slack_text(&self.headline())),
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": self.title()}},
                {"type": "section", "text": {"type": "mrkdwn", "text": explanations.trim_end()}},
                {"type": "section", "fields": fields},
                {"type": "section", "text": {"type": "mrkdwn", "text": format!("*Why*\n{}", why.trim_end())}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": slack_text(&self.footer())}]},
                {"type": "actions", "block_id": "dd0c_feedback", "elements": buttons},
            ]
        })
    }

    /// The e-mail to `to`: subject, and text and HTML parts from the alert templates.
    pub fn email(&self, to: &[String]) -> Result<Email, RenderError> {
        let context = AlertContext {
            headline: self.headline(),
            actor: self
                .first()
                .map(|a| a.actor_arn.clone())
                .unwrap_or_default(),
            account_id: self
                .first()
                .map(|a| a.account_id.clone())
                .unwrap_or_default(),
            total_hourly: self.pricing.show(self.total_hourly(), "/h"),
            total_monthly: self.pricing.show(self.total_monthly(), "/month"),
            left_running: self.pricing.show(self.left_running_to_month_end(), ""),
            items: self
                .anomalies
                .iter()
                .map(|a| Item {
                    severity: a.severity.to_string(),
                    resource: a.units(),
                    region: a.region.clone(),
                    event_time: a.event_time.to_rfc3339(),
                    hourly: self.pricing.show(a.hourly_usd, "/h"),
                    monthly: self.pricing.show(a.monthly_usd, "/month"),
                    explanation: a.explanation.clone(),
                    reasons: a.reasons.iter().map(|r| r.detail.clone()).collect(),
                })
                .collect(),
            anomaly_ids: self
                .anomalies
                .iter()
                .map(|a| a.anomaly_id.clone())
                .collect(),
        };
        Ok(Email {
            to: to.to_vec(),
            subject: format!("[dd0c/cost] {}", self.headline()),
            text: render("alert.txt", &context)?,
            html: render("alert.html", &context)?,
        })
    }
}

/// The follow-up of an alerted anomaly that resolved itself: how its resources ended, what
/// they cost and what ending them avoided.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    /// The anomaly, resolved.
    pub anomaly: &'a Anomaly,
    /// How.
    pub resolution: &'a Resolution,
    /// The tenant's discount, as in the alert.
    pub pricing: Pricing,
}

#[derive(Serialize)]
struct ResolvedContext {
    headline: String,
    resource: String,
    region: String,
    account_id: String,
    event_time: String,
    severity: String,
    actor: String,
    note: String,
    actual_cost: String,
    avoided: String,
    anomaly_id: String,
}

impl Resolved<'_> {
    /// One line: resolved, what, the actual cost and what was avoided.
    pub fn headline(&self) -> String {
        format!(
            "Resolved: {} — cost {}, {} avoided",
            units_in_region(self.anomaly),
            self.pricing.show(self.resolution.actual_cost_usd, ""),
            self.pricing.show(self.resolution.avoided_usd, "")
        )
    }

    /// The title every channel's card starts with.
    pub fn title(&self) -> String {
        format!(
            "Resolved: {} cost anomaly",
            capitalized(self.anomaly.severity)
        )
    }

    /// The facts every channel's card shows, labelled, in order.
    pub fn facts(&self) -> Vec<(&'static str, String)> {
        let a = self.anomaly;
        let r = self.resolution;
        vec![
            ("Resources", a.units()),
            ("Account", a.account_id.clone()),
            ("Region", a.region.clone()),
            ("Raised by", actor_name(&a.actor_arn)),
            ("Actual cost", self.pricing.show(r.actual_cost_usd, "")),
            (
                "Avoided",
                format!(
                    "{} against leaving it running to month end",
                    self.pricing.show(r.avoided_usd, "")
                ),
            ),
        ]
    }

    /// The footer line: `dd0c/cost · anomaly ID · raised time`.
    pub fn footer(&self) -> String {
        let a = self.anomaly;
        format!(
            "dd0c/cost · anomaly {} · raised {}",
            a.anomaly_id,
            a.event_time.to_rfc3339()
        )
    }

    /// The Slack incoming-webhook payload: no buttons, nothing is left to act on.
    pub fn slack(&self) -> Value {
        let fields: Vec<Value> = self
            .facts()
            .into_iter()
            .map(|(label, value)| {
                let value = match label {
                    "Raised by" => format!("`{}`", slack_text(&value)),
                    _ => slack_text(&value),
                };
                json!({"type": "mrkdwn", "text": format!("*{label}*\n{value}")})
            })
            .collect();
        json!({
            "text": format!(":white_check_mark: {}", slack_text(&self.headline())),
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": self.title()}},
                {"type": "section", "text": {"type": "mrkdwn", "text": slack_text(&self.resolution.note)}},
                {"type": "section", "fields": fields},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": slack_text(&self.footer())}]},
            ]
        })
    }

    /// The e-mail to `to`: subject, and text and HTML parts from the follow-up templates.
    pub fn email(&self, to: &[String]) -> Result<Email, RenderError> {
        let a = self.anomaly;
        let context = ResolvedContext {
            headline: self.headline(),
            resource: a.units(),
            region: a.region.clone(),
            account_id: a.account_id.clone(),
            event_time: a.event_time.to_rfc3339(),
            severity: a.severity.to_string(),
            actor: a.actor_arn.clone(),
            note: self.resolution.note.clone(),
            actual_cost: self.pricing.show(self.resolution.actual_cost_usd, ""),
            avoided: self.pricing.show(self.resolution.avoided_usd, ""),
            anomaly_id: a.anomaly_id.clone(),
        };
        Ok(Email {
            to: to.to_vec(),
            subject: format!("[dd0c/cost] {}", self.headline()),
            text: render("resolved.txt", &context)?,
            html: render("resolved.html", &context)?,
        })
    }
}

/// What a button offering `kind` says.
fn action_label(kind: ActionKind) -> &'static str {
    match kind {
        ActionKind::StopInstances => "Stop",
        ActionKind::TerminateInstances => "Terminate",
        ActionKind::DeleteVolume => "Delete volume",
        ActionKind::ReleaseAddress => "Release address",
        ActionKind::DeleteNatGateway => "Delete NAT gateway",
        ActionKind::DeleteLoadBalancer => "Delete load balancer",
        ActionKind::StopDbInstance => "Stop database",
        ActionKind::DeleteDbInstance => "Delete database",
        ActionKind::ArchiveSnapshot => "Archive snapshot",
    }
}

/// The Slack message asking for an approval of `action`: what it does to which resources,
/// where, who asked and what it saves, with Approve / Reject buttons for the tenant's Slack
/// approvers.
pub fn approval(action: &ActionRecord) -> Value {
    let value = ActionRef {
        tenant: action.tenant.clone(),
        action_id: action.action_id.clone(),
    }
    .to_string();
    let what = format!(
        "{} {} in {} ({}), requested by {} — saves {}/month",
        action_label(action.action.kind()),
        action.action.resource_ids().join(", "),
        action.account_id,
        action.region,
        action.requested_by,
        format_usd(action.monthly_usd)
    );
    let button = |id: &str, label: &str, style: &str| {
        json!({"type": "button", "action_id": id, "value": value, "style": style,
            "text": {"type": "plain_text", "text": label}})
    };
    json!({
        "text": format!("Approval needed: {}", slack_text(&what)),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("*Approval needed*\n{}", slack_text(&what))}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("dd0c/cost · action {} · dry run passed", action.action_id)}]},
            {"type": "actions", "block_id": "dd0c_approval", "elements": [
                button(ACTION_APPROVE, "Approve", "primary"),
                button(ACTION_REJECT, "Reject", "danger"),
            ]},
        ]
    })
}
