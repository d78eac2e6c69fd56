//! The operator commands against Postgres, as an administrator runs them.

mod support;

use std::process::{Command, Output, Stdio};

use support::fresh_database;

fn dd0c(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dd0c-cost"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("DD0C_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("dd0c-cost runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn an_administrator_onboards_an_account_pushes_cloudtrail_and_reads_anomalies() {
    let url = fresh_database().await;
    assert_eq!(stdout(&dd0c(&url, &["migrate"])).trim(), "migrated");
    assert!(stdout(&dd0c(&url, &["tenant", "add", "acme"])).contains("tenant=acme"));
    let refused = dd0c(&url, &["tenant", "add", "acme"]);
    assert!(
        !refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("exists")
    );
    let bad_id = dd0c(
        &url,
        &[
            "account",
            "add",
            "--tenant",
            "acme",
            "--account-id",
            "12345",
        ],
    );
    assert!(
        String::from_utf8_lossy(&bad_id.stderr).contains("12-digit"),
        "{bad_id:?}"
    );
    let added = stdout(&dd0c(
        &url,
        &[
            "account",
            "add",
            "--tenant",
            "acme",
            "--account-id",
            "111122223333",
            "--name",
            "prod",
        ],
    ));
    let token = added
        .lines()
        .last()
        .and_then(|l| l.strip_prefix("ingest_token="))
        .expect("the last line carries the token")
        .to_owned();
    assert!(
        token.starts_with("dd0c_ing_") && token.len() == 9 + 64,
        "{token}"
    );

    // A p4d launch in a cold account, pushed with the new token through a dispatcher.
    let launch = serde_json::json!({"eventVersion": "1.09", "eventTime": "2026-03-01T10:00:00Z", "eventSource": "ec2.amazonaws.com",
        "eventName": "RunInstances", "awsRegion": "us-east-1", "recipientAccountId": "111122223333", "eventID": "gpu-1",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/intern"},
        "requestParameters": {"instancesSet": {"items": [{"minCount": 4, "maxCount": 4}]}, "instanceType": "p4d.24xlarge"}});
    let dispatcher = support::dispatcher(&url, "api").await;
    let app = dispatcher.router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let response = reqwest::Client::new()
        .post(format!("http://{address}/v1/events"))
        .bearer_auth(&token)
        .body(launch.to_string())
        .send()
        .await
        .expect("pushed");
    assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
    support::drain(&dispatcher).await;

    let listed = stdout(&dd0c(
        &url,
        &["anomalies", "list", "--tenant", "acme", "--format", "jsonl"],
    ));
    let anomaly: serde_json::Value =
        serde_json::from_str(listed.lines().next().expect("one anomaly")).expect("json");
    assert_eq!(
        (
            anomaly["severity"].as_str(),
            anomaly["resource_type"].as_str(),
            anomaly["quantity"].as_u64()
        ),
        (Some("critical"), Some("p4d.24xlarge"), Some(4))
    );
    assert_eq!(anomaly["running_count"], 4, "{anomaly}");
    assert!(
        anomaly["forecast_month_end_usd"]
            .as_f64()
            .expect("forecast")
            > 0.0
    );
    let csv = stdout(&dd0c(
        &url,
        &["anomalies", "list", "--tenant", "acme", "--format", "csv"],
    ));
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().expect("a header line").clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a record")).collect();
    assert_eq!(rows.len(), 1, "{csv}");
    let cell = |name: &str| &rows[0][header.iter().position(|h| h == name).expect(name)];
    assert_eq!(
        (
            cell("severity"),
            cell("resource_type"),
            cell("running_count")
        ),
        ("critical", "p4d.24xlarge", "4")
    );
    let table = stdout(&dd0c(&url, &["anomalies", "list", "--tenant", "acme"]));
    assert!(
        table.contains("CRITICAL")
            && table.contains("user/intern launched 4 × p4d.24xlarge")
            && table.contains("RESOURCES NOW")
            && table.contains("4 running · $"),
        "{table}"
    );
    let resources = stdout(&dd0c(
        &url,
        &["resources", "list", "--tenant", "acme", "--running"],
    ));
    assert!(
        resources.contains("4 × p4d.24xlarge")
            && resources.contains("user/intern")
            && resources.contains("running")
            && resources.contains("1 resources;"),
        "{resources}"
    );
    let ended = stdout(&dd0c(
        &url,
        &["resources", "list", "--tenant", "acme", "--ended"],
    ));
    assert_eq!(ended, "No resources followed yet.\n");
    let other = stdout(&dd0c(
        &url,
        &[
            "anomalies",
            "list",
            "--tenant",
            "someone-else",
            "--format",
            "jsonl",
        ],
    ));
    assert!(other.is_empty(), "another tenant sees nothing");

    // invoke: one function once on a fixture.
    let dir = std::env::temp_dir().join(format!("dd0c-invoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let fixture = dir.join("launch.json");
    std::fs::write(&fixture, launch.to_string()).expect("fixture");
    let priced = stdout(&dd0c(
        &url,
        &[
            "invoke",
            "ingest",
            "--event",
            fixture.to_str().expect("utf-8"),
            "--tenant",
            "acme",
        ],
    ));
    let event: serde_json::Value = serde_json::from_str(priced.trim()).expect("a cost event");
    assert_eq!(event["hourly_usd"], serde_json::json!(87.8304));
    std::fs::remove_dir_all(dir).expect("cleanup");

    // dlq: a poison message, dead-lettered by hand through the queue port, listed and redriven.
    let queue = dispatcher.backend.score_queue.clone();
    queue
        .send(dd0c_ports::queue::OutgoingMessage {
            trace: None,
            group_key: "acme#1".into(),
            dedup_key: "poison".into(),
            body: "oops".into(),
        })
        .await
        .expect("sent");
    let delivery = queue
        .receive(1, std::time::Duration::from_secs(30))
        .await
        .expect("received")
        .remove(0);
    queue
        .dead_letter(&delivery.receipt, "not a cost event: expected value")
        .await
        .expect("dead-lettered");
    let listing = stdout(&dd0c(&url, &["dlq", "list", "--queue", "score"]));
    assert!(
        listing.starts_with(&delivery.message_id) && listing.contains("not a cost event"),
        "{listing}"
    );
    let shown = stdout(&dd0c(
        &url,
        &["dlq", "show", "--queue", "score", &delivery.message_id],
    ));
    assert!(shown.contains("\"body\": \"oops\""), "{shown}");
    assert!(stdout(&dd0c(
        &url,
        &["dlq", "redrive", "--queue", "score", &delivery.message_id]
    ))
    .contains("redriven="));
    assert_eq!(
        queue.depth().await.expect("depth").visible,
        1,
        "back on its queue"
    );
    let unknown = dd0c(&url, &["dlq", "list", "--queue", "nope"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no queue \"nope\""));
}

#[tokio::test]
async fn an_administrator_routes_alerts_and_pulls_the_panic_switch() {
    let url = fresh_database().await;
    let tenant = dd0c_ports::conformance::unique("ops");
    stdout(&dd0c(&url, &["tenant", "add", &tenant]));
    let shown = stdout(&dd0c(
        &url,
        &[
            "settings",
            "set",
            "--tenant",
            &tenant,
            "slack_webhook_url=https://hooks.slack.com/services/T1/B1/x",
            "email_to=oncall@example.com, finops@example.com",
            "email_min_severity=warning",
            "digest_hour=8",
            "digest_time_zone=Europe/Berlin",
            "thresholds.warning_monthly_usd=250",
        ],
    ));
    let settings: dd0c_ports::domain::Settings =
        serde_json::from_str(&shown).expect("the settings as JSON");
    assert_eq!(
        settings.email_to,
        ["oncall@example.com", "finops@example.com"]
    );
    assert_eq!(
        settings.email_min_severity,
        dd0c_ports::domain::Severity::Warning
    );
    assert_eq!(
        (
            settings.digest_hour,
            settings.thresholds.warning_monthly_usd
        ),
        (8, 250.0)
    );
    let again: dd0c_ports::domain::Settings = serde_json::from_str(&stdout(&dd0c(
        &url,
        &["settings", "show", "--tenant", &tenant],
    )))
    .expect("json");
    assert_eq!(again, settings, "stored");

    for (assignment, named) in [
        ("slack_webhook_url=hooks.slack.com/x", "slack_webhook_url"),
        ("email_to=not-an-address", "email_to"),
        ("digest_hour=25", "digest_hour"),
        ("digest_time_zone=Mars/Olympus", "digest_time_zone"),
        ("no_such_setting=1", "no_such_setting"),
        ("email_min_severity=loud", "email_min_severity"),
    ] {
        let refused = dd0c(&url, &["settings", "set", "--tenant", &tenant, assignment]);
        let error = String::from_utf8_lossy(&refused.stderr);
        assert!(
            !refused.status.success() && error.contains(named),
            "{assignment}: {error}"
        );
    }
    let missing = dd0c(&url, &["settings", "show", "--tenant", "nobody"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no tenant \"nobody\""));

    // A routing rule; one naming a channel not set up is refused naming it.
    let rule = r#"routing=[{"name":"sandbox","accounts":["222233334444"],"channels":[]}]"#;
    stdout(&dd0c(&url, &["settings", "set", "--tenant", &tenant, rule]));
    let paging = r#"routing=[{"name":"page","channels":["pagerduty"]}]"#;
    let refused = dd0c(&url, &["settings", "set", "--tenant", &tenant, paging]);
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && error.contains(r#"routing[0] "page".channels"#),
        "{error}"
    );
    // A webhook gets its signing secret with it, shown once; a new one on demand.
    let hooked = dd0c(
        &url,
        &[
            "settings",
            "set",
            "--tenant",
            &tenant,
            "webhook_url=https://automation.example.com/dd0c",
        ],
    );
    let said = String::from_utf8_lossy(&hooked.stderr);
    assert!(
        hooked.status.success() && said.contains("signing secret (shown this once): whsec_"),
        "{said}"
    );
    let secret = stdout(&dd0c(
        &url,
        &["settings", "webhook-secret", "--tenant", &tenant],
    ));
    assert!(
        secret
            .trim()
            .parse::<dd0c_ports::webhook::SigningSecret>()
            .is_ok(),
        "{secret}"
    );
    assert!(
        !said.contains(secret.trim()),
        "a new secret replaces the first"
    );

    // Panic mode is shared through Redis; without it the command says so.
    let without = dd0c(&url, &["panic", "on", "--tenant", &tenant]);
    assert!(String::from_utf8_lossy(&without.stderr).contains("DD0C_REDIS_URL"));
    let redis =
        std::env::var("DD0C_TEST_REDIS_URL").expect("DD0C_TEST_REDIS_URL: run scripts/test.sh");
    let panic = |state: &str| {
        Command::new(env!("CARGO_BIN_EXE_dd0c-cost"))
            .args(["panic", state, "--tenant", &tenant])
            .env("DATABASE_URL", &url)
            .env("DD0C_REDIS_URL", &redis)
            .env("DD0C_LOG", "warn")
            .output()
            .expect("runs")
    };
    assert!(stdout(&panic("on")).contains("panic=on"));
    let flags = dd0c_adapters_redis::RedisFlags::connect(&redis)
        .await
        .expect("Redis");
    assert!(dd0c_ports::flags::Flags::panic_mode(&flags, &tenant)
        .await
        .expect("read"));
    assert!(stdout(&panic("off")).contains("panic=off"));
    assert!(!dd0c_ports::flags::Flags::panic_mode(&flags, &tenant)
        .await
        .expect("read"));
}

#[tokio::test]
async fn an_operator_settles_two_tenants_claim_to_one_account() {
    let url = fresh_database().await;
    stdout(&dd0c(&url, &["migrate"]));
    stdout(&dd0c(&url, &["tenant", "add", "squatter"]));
    stdout(&dd0c(&url, &["tenant", "add", "owner"]));
    let add = |tenant: &str| {
        dd0c(
            &url,
            &[
                "account",
                "add",
                "--tenant",
                tenant,
                "--account-id",
                "123456789012",
            ],
        )
    };
    stdout(&add("squatter"));
    let refused = add("owner");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "a held account is refused");
    assert!(said.contains("already connected"), "{said}");
    assert!(
        !said.contains("squatter"),
        "the holder is not named: {said}"
    );
    stdout(&dd0c(
        &url,
        &[
            "account",
            "remove",
            "--tenant",
            "squatter",
            "--account-id",
            "123456789012",
        ],
    ));
    assert!(stdout(&add("owner")).contains("ingest_token="));
}
