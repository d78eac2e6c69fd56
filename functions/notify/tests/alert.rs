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
