//! Traces end to end: `dd0c-cost serve` with `OTEL_EXPORTER_OTLP_ENDPOINT` sends its spans to a
//! real OTLP/HTTP receiver (dd0c-tests' `otlp`, decoding with OpenTelemetry's own protobufs);
//! one pushed launch gives `ingest`, `queue`, `score` and `notify` spans of one trace, each the
//! child of the one before, named for the tenant, account, event, anomaly and severity.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dd0c_ports::conformance::unique_account_id;
use dd0c_ports::domain::Settings;
use dd0c_tests::otlp::{assert_one_pipeline, OtlpReceiver};
use dd0c_tests::{free_port, CaptureServer};
use support::{fresh_database, onboard, run_instances, TENANT};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pushed_launch_is_one_trace_from_ingest_to_notify_in_the_receiver() {
    let receiver = OtlpReceiver::start().expect("the OTLP receiver");
    let slack = CaptureServer::start().await.expect("Slack stand-in");
    let url = fresh_database().await;
    let backend = dd0c_cost::backend::Backend::postgres(&url, 2)
        .await
        .expect("backend");
    let account = unique_account_id();
    let token = onboard(&backend, &account).await;
    backend
        .stores
        .settings
        .put_settings(
            TENANT,
            &Settings {
                slack_webhook_url: Some(slack.url("/hook")),
                ..Settings::default()
            },
        )
        .await
        .expect("settings");

    let port = free_port();
    let _serve = Killed(
        Command::new(env!("CARGO_BIN_EXE_dd0c-cost"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", &url)
            .env("DD0C_JWT_SECRET", "a-test-secret-of-at-least-32-bytes-x")
            .env("DD0C_OUTBOUND_PRIVATE_HOSTS", "127.0.0.1")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
            .env("DD0C_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("dd0c-cost serve starts"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while !reqwest::get(format!("{base}/readyz"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "serve is not ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let ids: Vec<String> = (0..4).map(|i| format!("i-{:017x}", 0xd0c0 + i)).collect();
    let launch = run_instances(&account, "intern", chrono::Utc::now(), "p4d.24xlarge", &ids);
    let event_id = launch["eventID"].as_str().expect("event id").to_owned();
    let pushed = reqwest::Client::new()
        .post(format!("{base}/v1/events"))
        .bearer_auth(&token)
        .json(&launch)
        .send()
        .await
        .expect("pushed");
    assert_eq!(pushed.status(), reqwest::StatusCode::ACCEPTED);

    // The batch exporter sends every few seconds: wait for the notifier's span.
    let deadline = Instant::now() + Duration::from_secs(60);
    let pipeline = loop {
        match receiver.pipeline(TENANT) {
            Some(spans) => break spans,
            None if Instant::now() > deadline => {
                panic!("no notify span with its ancestors: {:?}", receiver.spans())
            }
            None => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    assert_eq!(slack.posts("/hook").len(), 1, "the alert reached Slack");
    assert_one_pipeline(&pipeline);
    let [ingest, _, score, notify] = pipeline;
    assert_eq!(ingest["attributes"]["tenant"], TENANT);
    assert_eq!(ingest["attributes"]["account_id"], account.as_str());
    assert_eq!(ingest["service"], "dd0c-cost");
    assert_eq!(score["attributes"]["event_id"], event_id.as_str());
    assert_eq!(score["attributes"]["severity"], "critical");
    let anomaly_id = score["attributes"]["anomaly_id"].clone();
    assert!(
        anomaly_id.as_str().is_some_and(|a| a.starts_with("an-")),
        "{score}"
    );
    assert_eq!(notify["attributes"]["anomaly_id"], anomaly_id);
    assert_eq!(notify["attributes"]["severity"], "critical");
    assert!(
        notify["events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|n| n == "delivered")),
        "{notify}"
    );
}
