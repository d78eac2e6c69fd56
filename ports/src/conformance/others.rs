use async_trait::async_trait;

use super::fixtures::unique;
use crate::archive::Archive;
use crate::auth::{Auth, Principal};
use crate::flags::{BreakerState, Flags};
use crate::mail::{Email, Mail};
use crate::webhook::Webhook;
use crate::PortError;

/// Runs the auth cases: `valid` must verify to `expected`; every token of `forged` must be
/// refused with `Unauthorized`.
pub async fn auth_suite(auth: &dyn Auth, valid: &str, expected: &Principal, forged: &[String]) {
    assert_eq!(
        &auth.verify(valid).await.expect("a valid token verifies"),
        expected
    );
    let mut always_bad = vec![
        String::new(),
        " ".into(),
        "not-a-token".into(),
        format!("{valid}x"),
    ];
    always_bad.extend(forged.iter().cloned());
    for token in &always_bad {
        match auth.verify(token).await {
            Err(PortError::Unauthorized(_)) => {}
            other => panic!("token {token:?} must be Unauthorized, got {other:?}"),
        }
    }
}

/// Reads back what a mail backend actually delivered (the SMTP sink, moto's sent-mail list…).
#[async_trait]
pub trait MailSink: Send + Sync {
    /// Every message delivered so far whose recipients include `to`.
    async fn delivered_to(&self, to: &str) -> Vec<Email>;
}

/// A delivered MIME message read back: its sender's address and the [`Email`] it carries. For
/// sinks that hold raw messages (an SMTP server's Maildir, moto's SES raw messages); `None` when
/// `raw` is not a message.
pub fn email_from_mime(raw: &[u8]) -> Option<(Option<String>, Email)> {
    let message = mail_parser::MessageParser::default().parse(raw)?;
    let from = message
        .from()
        .and_then(|f| f.first())
        .and_then(|a| a.address())
        .map(str::to_owned);
    let to = message
        .to()
        .map(|list| {
            list.iter()
                .filter_map(|a| a.address().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let part =
        |text: Option<std::borrow::Cow<'_, str>>| text.map(|t| t.into_owned()).unwrap_or_default();
    let email = Email {
        to,
        subject: message.subject().unwrap_or_default().to_owned(),
        text: part(message.body_text(0)),
        html: part(message.body_html(0)),
    };
    Some((from, email))
}

/// Runs the mail cases: a valid message arrives at the sink intact; invalid ones are refused.
pub async fn mail_suite(mail: &dyn Mail, sink: &dyn MailSink) {
    let to = format!("{}@example.com", unique("ops"));
    let email = Email {
        to: vec![to.clone()],
        subject: "dd0c/cost: critical anomaly in 111122223333".into(),
        text: "4 x p4d.24xlarge in eu-west-1: $131.09/h, $95,695.34/month".into(),
        html: "<p>4 &times; <b>p4d.24xlarge</b> in eu-west-1</p>".into(),
    };
    let id = mail.send(&email).await.expect("a valid message sends");
    assert!(!id.is_empty(), "the backend's message id is returned");
    let delivered = sink.delivered_to(&to).await;
    assert_eq!(delivered.len(), 1, "exactly one message arrives");
    assert_eq!(delivered[0].subject, email.subject);
    assert!(
        delivered[0].text.contains("p4d.24xlarge"),
        "the text part arrives"
    );
    assert!(
        delivered[0].html.contains("<b>p4d.24xlarge</b>"),
        "the HTML part arrives"
    );

    let invalid = [
        Email {
            to: Vec::new(),
            ..email.clone()
        },
        Email {
            to: vec!["not-an-address".into()],
            ..email.clone()
        },
        Email {
            subject: "hi\r\nBcc: victim@example.com".into(),
            ..email.clone()
        },
    ];
    for bad in &invalid {
        assert!(
            matches!(mail.send(bad).await, Err(PortError::Invalid(_))),
            "{bad:?} must be Invalid"
        );
    }
    assert_eq!(
        sink.delivered_to(&to).await.len(),
        1,
        "nothing invalid was sent"
    );
}

/// Receives what a webhook backend posted: a loopback HTTP server in adapter tests.
#[async_trait]
pub trait WebhookSink: Send + Sync {
    /// A URL that answers 200 and records what is posted to it under `name`.
    fn accepting_url(&self, name: &str) -> String;
    /// A URL that answers every post with HTTP 500.
    fn failing_url(&self) -> String;
    /// What was posted to `accepting_url(name)`, in order.
    async fn received(&self, name: &str) -> Vec<Received>;
}

/// One post a [`WebhookSink`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Its headers, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// Its body, as sent.
    pub body: Vec<u8>,
}

impl Received {
    /// The value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`null` if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Runs the webhook cases: a post arrives intact, JSON; bytes arrive as sent with their
/// headers (what a signature covers); a 500 and a malformed URL are errors.
pub async fn webhook_suite(webhook: &dyn Webhook, sink: &dyn WebhookSink) {
    let name = unique("hook");
    let body =
        serde_json::json!({"text": "critical: 4 × p4d.24xlarge", "blocks": [{"type": "section"}]});
    webhook
        .post(&sink.accepting_url(&name), &body)
        .await
        .expect("a 200 answer is success");
    let received = sink.received(&name).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&received[0].body).ok(),
        Some(body.clone())
    );
    assert_eq!(received[0].header("content-type"), Some("application/json"));

    let signed = unique("signed");
    // Spacing and key order a re-encoding would change: the bytes must arrive untouched.
    let bytes = br#"{"type": "anomaly.detected",  "data":{"b":1,"a":"\u00e9"}}"#;
    let headers = [
        ("webhook-id", "msg_1".to_owned()),
        ("webhook-timestamp", "1614265330".to_owned()),
    ];
    webhook
        .post_bytes(&sink.accepting_url(&signed), &headers, bytes)
        .await
        .expect("a 200 answer is success");
    let received = sink.received(&signed).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body, bytes.to_vec(), "the bytes as sent");
    assert_eq!(received[0].header("webhook-id"), Some("msg_1"));
    assert_eq!(received[0].header("webhook-timestamp"), Some("1614265330"));
    assert!(
        matches!(
            webhook.post(&sink.failing_url(), &body).await,
            Err(PortError::Backend { .. })
        ),
        "a 500 answer is a Backend error"
    );
    for bad in [
        "ftp://hooks.example.com/x",
        "hooks.example.com/x",
        "https://",
        "",
    ] {
        assert!(
            matches!(webhook.post(bad, &body).await, Err(PortError::Invalid(_))),
            "{bad:?} must be Invalid"
        );
    }
    assert_eq!(sink.received(&name).await.len(), 1, "nothing else arrived");
}

/// Runs the archive cases.
pub async fn archive_suite(archive: &dyn Archive) {
    let prefix = unique("raw");
    let a = format!("{prefix}/2026/03/01/a.json.gz");
    let b = format!("{prefix}/2026/03/02/b.json.gz");
    archive.put(&b, b"second").await.expect("put");
    archive.put(&a, b"first").await.expect("put");
    assert_eq!(
        archive.get(&a).await.expect("get").as_deref(),
        Some(&b"first"[..])
    );
    assert_eq!(
        archive
            .get(&format!("{prefix}/missing"))
            .await
            .expect("get"),
        None
    );
    archive.put(&a, b"replaced").await.expect("put again");
    assert_eq!(
        archive.get(&a).await.expect("get").as_deref(),
        Some(&b"replaced"[..])
    );
    assert_eq!(
        archive.list(&format!("{prefix}/"), 10).await.expect("list"),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(
        archive
            .list(&format!("{prefix}/2026/03/01"), 10)
            .await
            .expect("list"),
        vec![a.clone()]
    );
    assert_eq!(
        archive.list(&format!("{prefix}/"), 1).await.expect("list"),
        vec![a.clone()]
    );
    archive.delete(&a).await.expect("delete");
    archive.delete(&a).await.expect("deleting what is gone");
    assert_eq!(archive.get(&a).await.expect("get"), None, "deleted");
    assert_eq!(
        archive.list(&format!("{prefix}/"), 10).await.expect("list"),
        vec![b.clone()]
    );
    for bad in ["", "/etc/passwd", "a/../b", "a//b", "a/./b", "a b"] {
        assert!(
            matches!(archive.put(bad, b"x").await, Err(PortError::Invalid(_))),
            "key {bad:?} must be Invalid"
        );
        assert!(
            matches!(archive.delete(bad).await, Err(PortError::Invalid(_))),
            "deleting key {bad:?} must be Invalid"
        );
    }
}

/// Runs the flags cases.
pub async fn flags_suite(flags: &dyn Flags) {
    let (a, b) = (unique("t"), unique("t"));
    assert!(
        !flags.panic_mode(&a).await.expect("panic"),
        "off by default"
    );
    flags.set_panic_mode(&a, true).await.expect("set");
    assert!(flags.panic_mode(&a).await.expect("panic"));
    assert!(!flags.panic_mode(&b).await.expect("panic"), "per tenant");
    flags.set_panic_mode(&a, false).await.expect("set");
    assert!(!flags.panic_mode(&a).await.expect("panic"));

    let channel = format!("{a}:slack");
    assert_eq!(flags.breaker(&channel).await.expect("breaker"), None);
    let state = BreakerState {
        consecutive_failures: 5,
        open_until: Some(chrono::Utc::now()),
        trips: 2,
    };
    flags.put_breaker(&channel, &state).await.expect("put");
    let stored = flags
        .breaker(&channel)
        .await
        .expect("breaker")
        .expect("stored");
    assert_eq!((stored.consecutive_failures, stored.trips), (5, 2));
    let drift = (stored.open_until.expect("open_until") - state.open_until.expect("open_until"))
        .num_milliseconds()
        .abs();
    assert!(drift <= 1, "open_until round-trips to the millisecond");
    assert_eq!(
        flags.breaker(&format!("{b}:slack")).await.expect("breaker"),
        None
    );
    remediation_settings_are_kept_per_tenant(flags, &a, &b).await;
}

async fn remediation_settings_are_kept_per_tenant(flags: &dyn Flags, a: &str, b: &str) {
    use crate::remediation::{RemediationMode, RemediationSettings};
    use crate::zombie::ZombieKind;
    assert_eq!(
        flags.remediation(a).await.expect("remediation"),
        RemediationSettings::default(),
        "off until set"
    );
    let auto = RemediationSettings {
        mode: RemediationMode::Auto,
        two_person: true,
        auto_kinds: vec![ZombieKind::EbsUnattached, ZombieKind::EipUnassociated],
        auto_min_days: 30,
        max_per_hour: 3,
        slack_approvers: vec!["U0123ABCD".into()],
    };
    flags.set_remediation(a, &auto).await.expect("set");
    assert_eq!(flags.remediation(a).await.expect("remediation"), auto);
    assert_eq!(
        flags.remediation(b).await.expect("remediation"),
        RemediationSettings::default(),
        "per tenant"
    );
    let off = RemediationSettings::default();
    flags.set_remediation(a, &off).await.expect("set");
    assert_eq!(
        flags.remediation(a).await.expect("remediation"),
        off,
        "replaced"
    );
    action_slots_are_counted_per_tenant_and_hour(flags, a, b).await;
}

async fn action_slots_are_counted_per_tenant_and_hour(flags: &dyn Flags, a: &str, b: &str) {
    use chrono::{Duration, DurationRound};
    let hour = chrono::Utc::now()
        .duration_trunc(Duration::hours(1))
        .expect("an hour");
    let mut taken = Vec::new();
    for _ in 0..3 {
        taken.push(flags.take_action_slot(a, hour, 2).await.expect("slot"));
    }
    assert_eq!(
        taken,
        [true, true, false],
        "two slots in the hour, then none"
    );
    assert!(
        !flags.take_action_slot(a, hour, 2).await.expect("slot"),
        "a refused slot is not counted as taken, and none comes back"
    );
    assert!(
        flags.take_action_slot(a, hour, 3).await.expect("slot"),
        "a higher limit in the same hour has room"
    );
    assert!(
        flags
            .take_action_slot(a, hour + Duration::hours(1), 2)
            .await
            .expect("slot"),
        "the next hour starts again"
    );
    assert!(
        flags.take_action_slot(b, hour, 2).await.expect("slot"),
        "per tenant"
    );
}

/// Runs the attempts cases.
pub async fn attempts_suite(attempts: &dyn crate::attempts::Attempts) {
    use std::time::Duration;
    let (a, b) = (unique("k"), unique("k"));
    assert_eq!(
        attempts.tally(&a).await.expect("tally").count,
        0,
        "none yet"
    );
    for n in 1..=3 {
        let tally = attempts
            .count(&a, Duration::from_secs(60))
            .await
            .expect("count");
        assert_eq!(tally.count, n);
        assert!((59..=60).contains(&tally.retry_after), "{tally:?}");
    }
    let tally = attempts.tally(&a).await.expect("tally");
    assert_eq!(tally.count, 3);
    assert!(
        tally.retry_after >= 59,
        "the window began with the first: {tally:?}"
    );
    assert_eq!(attempts.tally(&b).await.expect("tally").count, 0, "per key");
    attempts.forget(&a).await.expect("forget");
    assert_eq!(
        attempts.tally(&a).await.expect("tally").count,
        0,
        "forgotten"
    );

    attempts
        .count(&b, Duration::from_secs(1))
        .await
        .expect("count");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        attempts.tally(&b).await.expect("tally").count,
        0,
        "the count ends with its window"
    );
    assert_eq!(
        attempts
            .count(&b, Duration::from_secs(60))
            .await
            .expect("count")
            .count,
        1,
        "a new window begins"
    );
}
