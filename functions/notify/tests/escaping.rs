//! What a record wrote reaches Slack and e-mail as text, never as markup.

use dd0c_notify::Alert;
use dd0c_ports::conformance::{anomaly_for, cost_event};

fn hostile_anomaly() -> dd0c_ports::domain::Anomaly {
    let mut event = cost_event("acme", "111122223333", "evil-1", 0, 98.32);
    event.actor_arn =
        "arn:aws:iam::111122223333:user/<!channel> <mailto:it@evil.test|Reset your SSO password>"
            .into();
    event.region = "<!here>".into();
    event.resource_type = "p5 & <script>".into();
    let mut anomaly = anomaly_for(&event);
    anomaly.actor_arn = event.actor_arn.clone();
    anomaly.region = event.region.clone();
    anomaly.resource_type = event.resource_type.clone();
    anomaly.explanation = format!("{} launched in {}", event.actor_arn, event.region);
    anomaly
}

#[test]
fn slack_mentions_and_links_from_a_record_are_escaped_in_every_block() {
    let anomalies = [hostile_anomaly()];
    let payload = Alert {
        anomalies: &anomalies,
        at: chrono::Utc::now(),
        actions: false,
        pricing: Default::default(),
    }
    .slack()
    .to_string();
    for injected in ["<!channel>", "<!here>", "<mailto:", "<script>"] {
        assert!(
            !payload.contains(injected),
            "{injected} reached Slack: {payload}"
        );
    }
    assert!(payload.contains("&lt;!channel&gt;"), "{payload}");
    assert!(payload.contains("p5 &amp; &lt;script&gt;"), "{payload}");
}

#[test]
fn e_mail_html_escapes_what_a_record_wrote() {
    let anomalies = [hostile_anomaly()];
    let mail = Alert {
        anomalies: &anomalies,
        at: chrono::Utc::now(),
        actions: false,
        pricing: Default::default(),
    }
    .email(&["oncall@acme.example".into()])
    .expect("rendered");
    assert!(!mail.html.contains("<mailto:"), "{}", mail.html);
    assert!(!mail.html.contains("<script>"), "{}", mail.html);
    assert!(mail.html.contains("&lt;!here&gt;"), "{}", mail.html);
}

#[test]
fn teams_cards_carry_a_records_markup_as_text() {
    let mut anomaly = hostile_anomaly();
    anomaly.actor_arn =
        "arn:aws:iam::111122223333:user/[Reset your SSO](https://evil.test) **now**".into();
    anomaly.explanation = format!("{} launched `x`", anomaly.actor_arn);
    let anomalies = [anomaly];
    let alert = Alert {
        anomalies: &anomalies,
        at: chrono::Utc::now(),
        actions: false,
        pricing: Default::default(),
    };
    let card = dd0c_notify::teams::alert_card(&alert, &Default::default()).to_string();
    for injected in ["[Reset your SSO](", "**now**", "`x`", "<!channel>"] {
        assert!(!card.contains(injected), "{injected} reached Teams: {card}");
    }
    assert!(
        card.contains(r"\\[Reset your SSO\\](https://evil.test) \\*\\*now\\*\\*"),
        "{card}"
    );
}
