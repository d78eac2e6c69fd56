//! Alerts end to end on real parts: CloudTrail pushed over HTTP → scored in Postgres → Slack (a
//! loopback HTTP server) and e-mail (aiosmtpd, a real SMTP server), with panic mode in Redis —
//! held while it is on, each alert delivered exactly once when it is lifted — and the Slack
//! buttons acting on the anomaly through a signed request.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dd0c_adapters_redis::RedisFlags;
use dd0c_adapters_smtp::SmtpMail;
use dd0c_cost::serve::Dispatcher;
use dd0c_ingest::PriceCatalog;
use dd0c_ports::conformance::unique;
use dd0c_ports::domain::{AnomalyStatus, Settings, Severity};
use dd0c_ports::webhook::Outbound;
use dd0c_tests::CaptureServer;
use support::{config, expected, fresh_database, of_account, onboard, story, TENANT};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "slack-signing-secret-for-tests";
const HOOK: &str = "/services/T000/B000/XXXX";

/// Mail files in the Maildir addressed to `to`.
fn mails_to(to: &str) -> Vec<String> {
    let dir = std::env::var("DD0C_TEST_MAILDIR").expect("DD0C_TEST_MAILDIR: run scripts/test.sh");
    let mut found = Vec::new();
    for sub in ["new", "cur"] {
        for entry in std::fs::read_dir(format!("{dir}/{sub}"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            if text.contains(to) {
                found.push(text);
            }
        }
    }
    found
}

async fn until(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The anomaly ids an alert's buttons act on.
fn alert_ids(post: &serde_json::Value) -> Vec<String> {
    let blocks = post["blocks"].as_array().cloned().unwrap_or_default();
    let value = blocks
        .iter()
        .find(|b| b["type"] == "actions")
        .and_then(|b| b["elements"][0]["value"].as_str())
        .unwrap_or_default()
        .to_owned();
    let ids = value
        .split_once('/')
        .map(|(_, ids)| ids)
        .unwrap_or_default();
    ids.split(',').map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alerts_reach_slack_and_the_inbox_once_panic_holds_them_and_buttons_work() {
    let slack = CaptureServer::start().await.expect("Slack stand-in");
    let database_url = fresh_database().await;
    let mut backend = dd0c_cost::backend::Backend::postgres(&database_url, 20)
        .await
        .expect("backend")
        .outbound(Outbound::allowing_private(["127.0.0.1"]))
        .expect("the Slack stand-in on loopback allowed");
    let redis =
        std::env::var("DD0C_TEST_REDIS_URL").expect("DD0C_TEST_REDIS_URL: run scripts/test.sh");
    let smtp =
        std::env::var("DD0C_TEST_SMTP_URL").expect("DD0C_TEST_SMTP_URL: run scripts/test.sh");
    backend.flags = std::sync::Arc::new(RedisFlags::connect(&redis).await.expect("Redis"));
    backend.mail = Some(std::sync::Arc::new(
        SmtpMail::new(&smtp, "dd0c/cost <alerts@dd0c.test>").expect("SMTP"),
    ));

    let (records, prod, _) = story(7, 14);
    let records = of_account(records, &prod);
    let token = onboard(&backend, &prod).await;
    let inbox = format!("{}@example.com", unique("oncall"));
    let settings = Settings {
        slack_webhook_url: Some(slack.url(HOOK)),
        slack_team_id: Some("T0DD0C".into()),
        email_to: vec![inbox.clone()],
        email_min_severity: Severity::Warning,
        ..Settings::default()
    };
    backend
        .stores
        .settings
        .put_settings(TENANT, &settings)
        .await
        .expect("settings");
    // A fresh tenant name per run would not match the support helpers; panic mode lives in the
    // shared Redis, so this test owns TENANT's switch only while it runs.
    backend
        .flags
        .set_panic_mode(TENANT, true)
        .await
        .expect("panic on");

    let mut serve = config("api,ingest,score,notify");
    serve.slack_signing_secret = Some(SECRET.into());
    let dispatcher =
        Dispatcher::new(backend.clone(), serve, PriceCatalog::bundled()).expect("dispatcher");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(dispatcher.clone().run(Some(listener), shutdown.clone()));

    let client = reqwest::Client::new();
    for chunk in records.chunks(200) {
        let response = client
            .post(format!("{address}/v1/events"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"Records": chunk}))
            .send()
            .await
            .expect("pushed");
        assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
    }
    let offline = expected(&records).await;
    let routed: Vec<String> = offline
        .anomalies
        .iter()
        .filter(|a| a.severity >= Severity::Warning && a.status == AnomalyStatus::Open)
        .map(|a| a.anomaly_id.clone())
        .collect();
    assert!(!routed.is_empty(), "the story raises alerts worth sending");
    let anomalies = backend.stores.anomalies.clone();
    until(
        "every anomaly committed",
        Duration::from_secs(60),
        async || {
            let page = anomalies
                .anomalies(TENANT, &Default::default(), None, 1000)
                .await
                .expect("list");
            page.items.len() == offline.anomalies.len()
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        slack.posts(HOOK).is_empty(),
        "nothing reaches Slack in panic mode"
    );
    assert!(
        mails_to(&inbox).is_empty(),
        "nothing is mailed in panic mode"
    );

    backend
        .flags
        .set_panic_mode(TENANT, false)
        .await
        .expect("panic off");
    let outbox = backend.stores.outbox.clone();
    until(
        "the held alerts delivered",
        Duration::from_secs(30),
        async || outbox.pending(10).await.expect("pending").is_empty(),
    )
    .await;
    let posts = slack.posts(HOOK);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for post in &posts {
        for id in alert_ids(post) {
            *seen.entry(id).or_default() += 1;
        }
    }
    let mut wanted = routed.clone();
    wanted.sort();
    assert_eq!(
        seen.keys().cloned().collect::<Vec<_>>(),
        wanted,
        "every routed anomaly on Slack"
    );
    assert!(seen.values().all(|n| *n == 1), "none twice: {seen:?}");
    let mails = mails_to(&inbox);
    assert_eq!(mails.len(), posts.len(), "one e-mail per alert");
    assert!(mails.iter().all(|m| m.contains("Subject: [dd0c/cost]")
        && m.contains("text/html")
        && m.contains("text/plain")));

    // The Acknowledge button, as Slack sends it: a signed form post.
    let first = &posts[0];
    let value = first["blocks"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["type"] == "actions"))
        .and_then(|b| b["elements"][0]["value"].as_str())
        .expect("a button value")
        .to_owned();
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let signed_by = |team: &str| {
        let payload = serde_json::json!({"type": "block_actions", "user": {"id": "U1", "username": "maria"},
            "team": {"id": team}, "actions": [{"action_id": "acknowledge", "value": value}]});
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form");
        let signature = dd0c_api::slack::sign(SECRET.as_bytes(), &timestamp, body.as_bytes());
        (body, signature)
    };
    let (elsewhere, elsewhere_signature) = signed_by("TOTHER");
    let from_another_workspace = client
        .post(format!("{address}/v1/slack/actions"))
        .header("x-slack-request-timestamp", &timestamp)
        .header("x-slack-signature", &elsewhere_signature)
        .body(elsewhere)
        .send()
        .await
        .expect("pressed");
    assert_eq!(
        from_another_workspace.status(),
        reqwest::StatusCode::FORBIDDEN,
        "a click from a workspace the tenant did not bind"
    );
    let (body, signature) = signed_by("T0DD0C");
    let press = || {
        client
            .post(format!("{address}/v1/slack/actions"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", &timestamp)
            .header("x-slack-signature", &signature)
            .body(body.clone())
            .send()
    };
    let answer = press().await.expect("pressed");
    assert_eq!(answer.status(), reqwest::StatusCode::OK);
    for id in alert_ids(first) {
        let anomaly = anomalies
            .anomaly(TENANT, &id)
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(anomaly.status, AnomalyStatus::Acknowledged, "{id}");
    }
    assert_eq!(
        press().await.expect("again").status(),
        reqwest::StatusCode::UNAUTHORIZED,
        "a replay is refused"
    );
    let forged = client
        .post(format!("{address}/v1/slack/actions"))
        .header("x-slack-request-timestamp", &timestamp)
        .header("x-slack-signature", &signature)
        .body(body.replace("acknowledge", "mark_expected"))
        .send()
        .await
        .expect("forged");
    assert_eq!(
        forged.status(),
        reqwest::StatusCode::UNAUTHORIZED,
        "a changed body is refused"
    );

    let metrics = reqwest::get(format!("{address}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(&format!(
            "dd0c_notifications_total{{channel=\"slack\"}} {}",
            posts.len()
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("dd0c_notifications_held_total{reason=\"panic_mode\"}"),
        "{metrics}"
    );
    shutdown.cancel();
    running.await.expect("task").expect("stopped cleanly");
}
