//! What every alert states beside the anomaly: the month-end forecast.

use dd0c_notify::Alert;
use dd0c_ports::conformance::{anomaly_for, cost_event};

#[test]
fn every_alert_says_what_is_left_running_to_month_end() {
    use chrono::TimeZone;
    let mut anomaly = anomaly_for(&cost_event("acme", "111122223333", "gpu-1", 0, 10.0));
    anomaly.hourly_usd = 10.0;
    anomaly.event_time = chrono::Utc
        .with_ymd_and_hms(2026, 12, 30, 0, 0, 0)
        .single()
        .expect("valid");
    let anomalies = [anomaly];
    let alert = Alert {
        anomalies: &anomalies,
        at: chrono::Utc
            .with_ymd_and_hms(2026, 12, 30, 12, 0, 0)
            .single()
            .expect("valid"),
        actions: false,
        pricing: Default::default(),
    };
    // From its launch to the first of January: 48 hours at $10.
    assert_eq!(alert.left_running_to_month_end(), 480.0);
    let slack = alert.slack().to_string();
    assert!(
        slack.contains("Left running to month end*\\n$480.00"),
        "{slack}"
    );
    let mail = alert
        .email(&["oncall@acme.example".into()])
        .expect("rendered");
    assert!(
        mail.text.contains("Left running to month end: $480.00"),
        "{}",
        mail.text
    );
    assert!(mail.html.contains("<b>$480.00</b>"), "{}", mail.html);
}

/// The action ids of an alert's Slack buttons.
fn buttons(alert: &Alert) -> Vec<String> {
    let slack = alert.slack();
    let blocks = slack["blocks"].as_array().expect("blocks");
    let actions = blocks
        .iter()
        .find(|b| b["type"] == "actions")
        .expect("an actions block");
    actions["elements"]
        .as_array()
        .expect("buttons")
        .iter()
        .map(|b| b["action_id"].as_str().expect("an action id").to_owned())
        .collect()
}

#[test]
fn a_warning_on_instances_offers_stop_and_terminate_only_while_remediation_is_on() {
    use dd0c_ports::domain::Severity;
    let mut anomaly = anomaly_for(&cost_event("acme", "111122223333", "gpu-2", 0, 10.0));
    anomaly.resource_kind = "ec2.instance".into();
    anomaly.severity = Severity::Warning;
    let anomalies = [anomaly.clone()];
    let at = chrono::Utc::now();
    let on = Alert {
        anomalies: &anomalies,
        at,
        actions: true,
        pricing: Default::default(),
    };
    assert_eq!(
        buttons(&on),
        [
            "acknowledge",
            "snooze_24h",
            "stop_instances",
            "terminate_instances"
        ]
    );
    let off = Alert {
        actions: false,
        ..on
    };
    assert_eq!(buttons(&off), ["acknowledge", "snooze_24h"]);
    let mut info = anomaly;
    info.severity = Severity::Info;
    let quiet = [info];
    let minor = Alert {
        anomalies: &quiet,
        at,
        actions: true,
        pricing: Default::default(),
    };
    assert_eq!(
        buttons(&minor),
        ["acknowledge", "snooze_24h"],
        "an info alert offers no action"
    );
}

#[test]
fn under_a_discount_every_figure_is_what_the_tenant_pays_with_the_list_price_beside() {
    let mut anomaly = anomaly_for(&cost_event("acme", "111122223333", "gpu-3", 0, 10.0));
    anomaly.hourly_usd = 10.0;
    anomaly.monthly_usd = 7_300.0;
    let anomalies = [anomaly];
    let alert = Alert {
        anomalies: &anomalies,
        at: chrono::Utc::now(),
        actions: false,
        pricing: dd0c_ports::domain::Pricing {
            discount_percent: 20.0,
        },
    };
    assert!(
        alert
            .headline()
            .ends_with("$5,840.00/month (list $7,300.00/month)"),
        "{}",
        alert.headline()
    );
    let cost = alert
        .facts()
        .into_iter()
        .find(|(label, _)| *label == "Cost")
        .expect("a cost")
        .1;
    assert_eq!(
        cost,
        "$8.00/h (list $10.00/h) · $5,840.00/month (list $7,300.00/month)"
    );
    let mail = alert
        .email(&["oncall@acme.example".into()])
        .expect("rendered");
    assert!(
        mail.text
            .contains("Cost:     $8.00/h (list $10.00/h), $5,840.00/month"),
        "{}",
        mail.text
    );
    let listed = Alert {
        pricing: Default::default(),
        ..alert
    };
    assert!(
        listed.headline().ends_with("— $7,300.00/month"),
        "{}",
        listed.headline()
    );
}
