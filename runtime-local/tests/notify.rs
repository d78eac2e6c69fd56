//! Alerts end to end on real parts: CloudTrail pushed over HTTP → scored in Postgres → Slack (a
//! loopback HTTP server) and e-mail (aiosmtpd, a real SMTP server), with panic mode in Redis —
//! held while it is on, each alert delivered exactly once when it is lifted — and the Slack
//! buttons acting on the anomaly through a signed request; and the follow-up an alerted
//! anomaly sends when its resources end.

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
use support::{
    config, expected, fresh_database, of_account, onboard, run_instances, story,
    terminate_instances, TENANT,
};
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

/// `dispatcher` serving HTTP on a loopback port until stopped.
struct Served {
    dispatcher: Dispatcher,
    address: String,
    shutdown: CancellationToken,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Served {
    async fn start(dispatcher: Dispatcher) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("port");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(dispatcher.clone().run(Some(listener), shutdown.clone()));
        Served {
            dispatcher,
            address,
            shutdown,
            running,
        }
    }

    /// The api, ingest, score and notify roles on `backend`.
    async fn pipeline(backend: &dd0c_cost::backend::Backend) -> Served {
        let roles = config("api,ingest,score,notify");
        let dispatcher =
            Dispatcher::new(backend.clone(), roles, PriceCatalog::bundled()).expect("dispatcher");
        Served::start(dispatcher).await
    }

    /// Pushes `records` with ingest token `token`: accepted.
    async fn push(&self, token: &str, records: &[serde_json::Value]) {
        let response = reqwest::Client::new()
            .post(format!("{}/v1/events", self.address))
            .bearer_auth(token)
            .json(&serde_json::json!({ "Records": records }))
            .send()
            .await
            .expect("pushed");
        assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.running.await.expect("task").expect("stopped cleanly");
    }
}

/// A backend on a fresh database that may post to the Slack stand-in on loopback and mails
/// through the test SMTP server.
async fn alerting_backend() -> dd0c_cost::backend::Backend {
    let database_url = fresh_database().await;
    let mut backend = dd0c_cost::backend::Backend::postgres(&database_url, 20)
        .await
        .expect("backend")
        .outbound(Outbound::allowing_private(["127.0.0.1"]))
        .expect("the Slack stand-in on loopback allowed");
    let smtp =
        std::env::var("DD0C_TEST_SMTP_URL").expect("DD0C_TEST_SMTP_URL: run scripts/test.sh");
    backend.mail = Some(std::sync::Arc::new(
        SmtpMail::new(&smtp, "dd0c/cost <alerts@dd0c.test>").expect("SMTP"),
    ));
    backend
}

/// The anomaly ids an alert's buttons act on (none for a follow-up, which has no buttons).
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
    ids.split(',')
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn alerts_reach_slack_and_the_inbox_once_panic_holds_them_and_buttons_work() {
    let slack = CaptureServer::start().await.expect("Slack stand-in");
    let mut backend = alerting_backend().await;
    let redis =
        std::env::var("DD0C_TEST_REDIS_URL").expect("DD0C_TEST_REDIS_URL: run scripts/test.sh");
    backend.flags = std::sync::Arc::new(RedisFlags::connect(&redis).await.expect("Redis"));

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
    let served = Served::start(dispatcher).await;
    let (client, address) = (reqwest::Client::new(), served.address.clone());
    for chunk in records.chunks(200) {
        served.push(&token, chunk).await;
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
    served.stop().await;
}

/// The first dollar amount after `label` in `text`: `cost $355.02,` → 355.02.
fn dollars_after(text: &str, label: &str) -> Option<f64> {
    let (_, rest) = text.split_once(label)?;
    let amount: String = rest
        .trim_start()
        .trim_start_matches('$')
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
        .filter(|c| *c != ',')
        .collect();
    amount.trim_end_matches('.').parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_alerted_launch_whose_instances_end_follows_up_once_with_its_cost_and_what_it_avoided() {
    let slack = CaptureServer::start().await.expect("Slack stand-in");
    let backend = alerting_backend().await;
    let account = dd0c_ports::conformance::unique_account_id();
    let token = onboard(&backend, &account).await;
    let inbox = format!("{}@example.com", unique("finops"));
    let settings = Settings {
        slack_webhook_url: Some(slack.url(HOOK)),
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
    let served = Served::pipeline(&backend).await;
    let (dispatcher, push) = (&served.dispatcher, async |record: &serde_json::Value| {
        served.push(&token, std::slice::from_ref(record)).await
    });

    // The intern's 4 × p4d.24xlarge, alerted as they launch.
    let ids = ["i-0a", "i-0b", "i-0c", "i-0d"];
    let now = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).expect("now");
    let launched_at = now - chrono::TimeDelta::hours(3);
    let launch = run_instances(&account, "intern", launched_at, "p4d.24xlarge", &ids);
    push(&launch).await;
    until("the alert on Slack", Duration::from_secs(30), async || {
        slack.posts(HOOK).len() == 1
    })
    .await;
    let page = backend
        .stores
        .anomalies
        .anomalies(TENANT, &Default::default(), None, 10)
        .await
        .expect("list");
    let anomaly = page
        .items
        .first()
        .expect("the launch is an anomaly")
        .clone();

    // Alice terminates them 2 h 10 min later; the end arrives twice.
    let terminate = terminate_instances(
        &account,
        "alice",
        launched_at + chrono::TimeDelta::minutes(130),
        &ids,
    );
    push(&terminate).await;
    until(
        "the follow-up on Slack",
        Duration::from_secs(30),
        async || slack.posts(HOOK).len() == 2,
    )
    .await;
    let follow_up = slack.posts(HOOK)[1].clone();
    let text = follow_up["text"].as_str().unwrap_or_default().to_owned();
    assert!(
        text.contains("Resolved: 4 × p4d.24xlarge in us-east-1"),
        "{text}"
    );
    let note = follow_up["blocks"][1]["text"]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        note.contains("TerminateInstances by user/alice after 2 h 10 min"),
        "{note}"
    );
    assert!(
        !follow_up["blocks"]
            .as_array()
            .is_some_and(|b| b.iter().any(|b| b["type"] == "actions")),
        "nothing left to click: {follow_up}"
    );
    let actual = dollars_after(&text, "cost").expect("the actual cost");
    let want = anomaly.hourly_usd * 130.0 / 60.0;
    assert!(
        (actual - want).abs() <= want * 0.01,
        "actual {actual} against {want}"
    );
    let month_end = dd0c_ports::ledger::month_end(launched_at);
    let forecast = anomaly.hourly_usd * (month_end - launched_at).num_seconds() as f64 / 3600.0;
    let avoided = dollars_after(&text, ",").expect("what was avoided");
    assert!(
        text.contains(" avoided") && (avoided - (forecast - actual).max(0.0)).abs() <= 1.0,
        "avoided {avoided} against a forecast of {forecast}: {text}"
    );
    until("both e-mails", Duration::from_secs(30), async || {
        mails_to(&inbox).len() == 2
    })
    .await;
    assert!(
        mails_to(&inbox).iter().any(
            |m| m.contains("Subject: [dd0c/cost] Resolved: 4 ") && m.contains("Actual cost: $")
        ),
        "the follow-up mailed"
    );

    // The end again, and time for the notifier: still one follow-up.
    push(&terminate).await;
    support::drain(dispatcher).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        slack.posts(HOOK).len(),
        2,
        "one follow-up, however often the end comes"
    );
    let outbox = backend.stores.outbox.clone();
    assert!(outbox.pending(10).await.expect("pending").is_empty());
    served.stop().await;
}

/// The Standard Webhooks reference library for Python checks a request: the verified payload
/// printed as JSON, or a non-zero exit with why.
const VERIFY: &str = "import json, sys\n\
from standardwebhooks import Webhook\n\
print(json.dumps(Webhook(sys.argv[1]).verify(sys.stdin.buffer.read(), json.loads(sys.argv[2]))))";

/// `request` verified with `secret` by the specification's own library (not our code): its
/// payload, or why it was refused.
fn verified_by_standardwebhooks(
    secret: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<serde_json::Value, String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let python = std::env::var("DD0C_TEST_PYTHON").expect("DD0C_TEST_PYTHON: run scripts/test.sh");
    let headers: BTreeMap<&str, &str> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let headers = serde_json::to_string(&headers).expect("headers as JSON");
    let mut child = Command::new(python)
        .args(["-c", VERIFY, secret, &headers])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python with standardwebhooks");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body)
        .expect("the body written");
    let output = child.wait_with_output().expect("the verifier ran");
    if output.status.success() {
        serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_critical_launch_reaches_a_signed_webhook_teams_and_pagerduty_once_and_its_end_resolves_the_incident(
) {
    const WEBHOOK: &str = "/automation/dd0c";
    const TEAMS: &str = "/workflows/alerts/triggers/manual";
    const PAGERDUTY: &str = "/pagerduty/v2/enqueue";
    let catchers = CaptureServer::start().await.expect("the catchers");
    let mut backend = alerting_backend().await;
    backend.endpoints.pagerduty_events_url = catchers.url(PAGERDUTY);
    backend.endpoints.dashboard_url = Some("https://cost.example.com".into());
    let account = dd0c_ports::conformance::unique_account_id();
    let token = onboard(&backend, &account).await;
    let secret = dd0c_ports::webhook::SigningSecret::generate();
    backend
        .stores
        .settings
        .put_webhook_secret(TENANT, &secret)
        .await
        .expect("secret");
    // Routed by a rule naming the three channels: Slack, which the default rule would send
    // it to, gets nothing.
    const SLACK: &str = "/services/T1/B1/rule";
    let settings = Settings {
        slack_webhook_url: Some(catchers.url(SLACK)),
        webhook_url: Some(catchers.url(WEBHOOK)),
        teams_webhook_url: Some(catchers.url(TEAMS)),
        pagerduty_routing_key: Some("R0123456789abcdefghijklmnopqrstu".into()),
        routing: vec![dd0c_ports::domain::RoutingRule {
            name: "critical launches".into(),
            min_severity: Some(Severity::Critical),
            accounts: vec![account.clone()],
            regions: Vec::new(),
            resource_kinds: vec!["ec2.instance".into()],
            min_monthly_usd: Some(10_000.0),
            channels: vec![
                dd0c_ports::domain::Channel::Webhook,
                dd0c_ports::domain::Channel::Teams,
                dd0c_ports::domain::Channel::PagerDuty,
            ],
        }],
        ..Settings::default()
    };
    backend
        .stores
        .settings
        .put_settings(TENANT, &settings)
        .await
        .expect("settings");
    backend
        .flags
        .set_panic_mode(TENANT, true)
        .await
        .expect("panic on");
    let served = Served::pipeline(&backend).await;
    let (dispatcher, push) = (&served.dispatcher, async |record: &serde_json::Value| {
        served.push(&token, std::slice::from_ref(record)).await
    });
    let counts = || [WEBHOOK, TEAMS, PAGERDUTY].map(|path| catchers.requests(path).len());

    // The launch, raised while panic mode holds every channel.
    let ids = ["i-1a", "i-1b", "i-1c", "i-1d"];
    let now = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).expect("now");
    let launched_at = now - chrono::TimeDelta::hours(3);
    push(&run_instances(
        &account,
        "intern",
        launched_at,
        "p4d.24xlarge",
        &ids,
    ))
    .await;
    let anomalies = backend.stores.anomalies.clone();
    until("the anomaly", Duration::from_secs(30), async || {
        let page = anomalies
            .anomalies(TENANT, &Default::default(), None, 10)
            .await
            .expect("list");
        !page.items.is_empty()
    })
    .await;
    let anomaly = anomalies
        .anomalies(TENANT, &Default::default(), None, 10)
        .await
        .expect("list")
        .items[0]
        .clone();
    assert_eq!(anomaly.severity, Severity::Critical);
    support::drain(dispatcher).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(counts(), [0, 0, 0], "nothing goes out in panic mode");

    backend
        .flags
        .set_panic_mode(TENANT, false)
        .await
        .expect("panic off");
    until(
        "the alert on every channel",
        Duration::from_secs(30),
        async || counts() == [1, 1, 1],
    )
    .await;
    let hook = &catchers.requests(WEBHOOK)[0];
    let secret_text = secret.to_string();
    let event = verified_by_standardwebhooks(&secret_text, &hook.headers, &hook.body)
        .expect("the signature verifies");
    assert_eq!(event["type"], "anomaly.detected");
    assert_eq!(
        event["data"]["anomaly"]["anomaly_id"],
        anomaly.anomaly_id.as_str()
    );
    assert_eq!(
        event["data"]["url"],
        format!("https://cost.example.com/anomalies/{}", anomaly.anomaly_id)
    );
    let mut tampered = hook.body.clone();
    tampered.extend_from_slice(b" ");
    assert!(
        verified_by_standardwebhooks(&secret_text, &hook.headers, &tampered).is_err(),
        "a changed body does not verify"
    );
    let other = dd0c_ports::webhook::SigningSecret::generate().to_string();
    assert!(
        verified_by_standardwebhooks(&other, &hook.headers, &hook.body).is_err(),
        "another secret does not verify"
    );
    let card = catchers.posts(TEAMS)[0].to_string();
    assert!(
        card.contains("AdaptiveCard") && card.contains("Left running to month end"),
        "{card}"
    );
    let trigger = &catchers.posts(PAGERDUTY)[0];
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["dedup_key"], anomaly.anomaly_id.as_str());

    // Alice terminates them: the incident resolves, under the same key.
    let terminate = terminate_instances(
        &account,
        "alice",
        launched_at + chrono::TimeDelta::minutes(130),
        &ids,
    );
    push(&terminate).await;
    until(
        "the follow-up on every channel",
        Duration::from_secs(30),
        async || counts() == [2, 2, 2],
    )
    .await;
    let resolve = &catchers.posts(PAGERDUTY)[1];
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(resolve["dedup_key"], anomaly.anomaly_id.as_str());
    let hook = &catchers.requests(WEBHOOK)[1];
    let event = verified_by_standardwebhooks(&secret_text, &hook.headers, &hook.body)
        .expect("the follow-up's signature verifies");
    assert_eq!(event["type"], "anomaly.resolved");
    assert!(event["data"]["resolution"]["actual_cost_usd"]
        .as_f64()
        .is_some_and(|c| c > 0.0));

    push(&terminate).await;
    support::drain(dispatcher).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        counts(),
        [2, 2, 2],
        "each once, however often the end comes"
    );
    assert!(
        catchers.requests(SLACK).is_empty(),
        "the rule names no Slack"
    );
    served.stop().await;
}
