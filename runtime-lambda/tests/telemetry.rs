//! Traces through the real Lambda binaries (against the Runtime API harness and moto) with
//! `OTEL_EXPORTER_OTLP_ENDPOINT`: one launch sent as the event bus would is one trace in a real
//! OTLP receiver — `ingest` (lambda-ingest), `queue`, `score` (lambda-score), `notify`
//! (lambda-notify), each the parent of the next, carried between processes in SQS message
//! attributes and the outbox, and sent before each invocation returns.

mod support;

use std::path::PathBuf;

use dd0c_ports::domain::{Settings, Severity};
use dd0c_ports::store::SettingsStore;
use dd0c_tests::lambda::{Function, RuntimeApi};
use dd0c_tests::otlp::{assert_one_pipeline, OtlpReceiver};
use dd0c_tests::CaptureServer;
use support::{launch, Cloud};

const TENANT: &str = "traced";
const ACCOUNT: &str = "444455556666";

/// `binary` against a Runtime API of its own, exporting traces to `receiver`.
async fn spawn(cloud: &Cloud, binary: &str, receiver: &OtlpReceiver) -> (RuntimeApi, Function) {
    let api = RuntimeApi::start().await.expect("runtime API");
    let mut env = cloud.env();
    env.push(("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()));
    let function =
        Function::spawn(&PathBuf::from(binary), &api, &env).expect("the Lambda binary starts");
    (api, function)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_launch_is_one_trace_across_the_lambda_functions() {
    let receiver = OtlpReceiver::start().expect("the OTLP receiver");
    let slack = CaptureServer::start().await.expect("Slack stand-in");
    let cloud = Cloud::new().await;
    cloud
        .store()
        .put_settings(
            TENANT,
            &Settings {
                slack_webhook_url: Some(slack.url("/hook")),
                slack_min_severity: Severity::Info,
                ..Settings::default()
            },
        )
        .await
        .expect("settings");
    let (ingest_api, _ingest) = spawn(&cloud, env!("CARGO_BIN_EXE_lambda-ingest"), &receiver).await;
    let (score_api, _score) = spawn(&cloud, env!("CARGO_BIN_EXE_lambda-score"), &receiver).await;
    let (notify_api, _notify) = spawn(&cloud, env!("CARGO_BIN_EXE_lambda-notify"), &receiver).await;

    let record = launch(ACCOUNT, "ev-traced", 0, 60);
    cloud.send_records(TENANT, &[record]).await;
    cloud.drain(&cloud.ingest_queue, &ingest_api).await;
    cloud.drain(&cloud.score_queue, &score_api).await;
    let woken = cloud.drain(&cloud.notify_queue, &notify_api).await;
    assert_eq!(woken.len(), 1, "the scorer woke the notifier once");
    assert_eq!(slack.posts("/hook").len(), 1, "the alert reached Slack");

    // Each invocation sends its spans before it answers.
    let pipeline = receiver
        .pipeline(TENANT)
        .unwrap_or_else(|| panic!("no notify span with its ancestors: {:?}", receiver.spans()));
    assert_one_pipeline(&pipeline);
    let [ingest, _, score, notify] = pipeline;
    let services = [&ingest, &score, &notify].map(|s| s["service"].clone());
    assert_eq!(services, ["lambda-ingest", "lambda-score", "lambda-notify"]);
    assert_eq!(score["attributes"]["event_id"], "ev-traced");
    assert_eq!(score["attributes"]["account_id"], ACCOUNT);
    let anomaly_id = score["attributes"]["anomaly_id"].clone();
    assert!(
        anomaly_id.as_str().is_some_and(|a| a.starts_with("an-")),
        "{score}"
    );
    assert_eq!(notify["attributes"]["anomaly_id"], anomaly_id);
    assert_eq!(
        notify["attributes"]["severity"],
        score["attributes"]["severity"]
    );
}
