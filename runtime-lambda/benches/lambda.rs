//! Each Lambda binary against the Runtime API harness (dd0c-tests) and moto, side by side in one
//! run: init time (process start → its first `GET …/invocation/next`), warm time of one
//! invocation (a 10-message SQS batch for ingest and score; a wake-up with an empty outbox for
//! notify; a schedule tick for digest; an API request refused without a token for api), and
//! binary size. Target: init ≤ 30 ms (Rust hello-world Lambdas init in 11–19 ms on AWS).
//!
//! `DD0C_TEST_AWS_ENDPOINT=http://127.0.0.1:55500 cargo bench -p dd0c-lambda --bench lambda`
//! (scripts/test.sh starts moto; or `python scripts/moto_serial.py 127.0.0.1 55500`).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use dd0c_tests::lambda::{Outcome, RuntimeApi};
use serde_json::json;
use support::{launch, Cloud};

const STARTS: usize = 15;
const WARM_RUNS: usize = 15;
const TARGET_INIT: Duration = Duration::from_millis(30);

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn max(samples: &[Duration]) -> Duration {
    samples.iter().copied().max().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Init times of `binary` over [`STARTS`] fresh processes.
async fn init_times(cloud: &Cloud, binary: &str, env: &[(&'static str, String)]) -> Vec<Duration> {
    let mut times = Vec::new();
    for _ in 0..STARTS {
        let api = RuntimeApi::start().await.expect("runtime API");
        let mut function = dd0c_tests::lambda::Function::spawn(
            std::path::Path::new(binary),
            &api,
            &[cloud.env(), env.to_vec()].concat(),
        )
        .expect("spawn");
        let polled = api
            .wait_for_poll(function.started, Duration::from_secs(10))
            .await;
        let Some(polled) = polled else {
            panic!("{binary} never asked for an event: {:?}", function.exited());
        };
        times.push(polled - function.started);
        function.kill().await;
    }
    times
}

/// Busy time (event handed out → answer) of [`WARM_RUNS`] invocations, after one to warm up.
async fn warm_times(mut invoke: impl AsyncFnMut() -> Option<Duration>) -> Vec<Duration> {
    let _ = invoke().await;
    let mut times = Vec::new();
    for _ in 0..WARM_RUNS {
        if let Some(busy) = invoke().await {
            times.push(busy);
        }
    }
    times
}

#[tokio::main]
async fn main() {
    let cloud = Cloud::new().await;
    let cognito = [
        (
            "DD0C_COGNITO_ISSUER",
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_bench".to_owned(),
        ),
        ("DD0C_COGNITO_CLIENT_ID", "bench-client".to_owned()),
    ];
    let binaries: [(&str, &str, Vec<(&'static str, String)>); 5] = [
        ("lambda-ingest", env!("CARGO_BIN_EXE_lambda-ingest"), vec![]),
        ("lambda-score", env!("CARGO_BIN_EXE_lambda-score"), vec![]),
        ("lambda-notify", env!("CARGO_BIN_EXE_lambda-notify"), vec![]),
        ("lambda-digest", env!("CARGO_BIN_EXE_lambda-digest"), vec![]),
        (
            "lambda-api",
            env!("CARGO_BIN_EXE_lambda-api"),
            cognito.to_vec(),
        ),
    ];
    println!(
        "{:<14} {:>10} {:>10} {:>8} {:>12} {:>10}",
        "binary", "init p50", "init max", "vs 30ms", "warm p50", "size"
    );
    for (name, binary, env) in &binaries {
        let init = init_times(&cloud, binary, env).await;
        let api = RuntimeApi::start().await.expect("runtime API");
        let _function = dd0c_tests::lambda::Function::spawn(
            std::path::Path::new(binary),
            &api,
            &[cloud.env(), env.clone()].concat(),
        )
        .expect("spawn");
        // The score function reads what the ingest function writes: one runs beside it.
        let ingest_api = RuntimeApi::start().await.expect("runtime API");
        let _ingest = (*name == "lambda-score").then(|| {
            dd0c_tests::lambda::Function::spawn(
                std::path::Path::new(env!("CARGO_BIN_EXE_lambda-ingest")),
                &ingest_api,
                &cloud.env(),
            )
            .expect("spawn")
        });
        let mut batch = 0u64;
        let warm = match *name {
            "lambda-ingest" | "lambda-score" => {
                warm_times(async || {
                    batch += 1;
                    let account = format!("{:012}", 500_000_000_000u64 + batch);
                    let records: Vec<_> = (0..10)
                        .map(|i| launch(&account, &format!("{name}-{batch}-{i}"), i, 1))
                        .collect();
                    cloud.send_records("bench", &records).await;
                    let (api, queue) = match *name {
                        "lambda-ingest" => (&api, &cloud.ingest_queue),
                        _ => {
                            cloud.drain(&cloud.ingest_queue, &ingest_api).await;
                            (&api, &cloud.score_queue)
                        }
                    };
                    let (event, invocation) = cloud.poll(queue, api).await?;
                    let whole = support::message_ids(&event).len() == 10;
                    let answered = matches!(&invocation.outcome, Outcome::Response(r) if support::failures(r).is_empty());
                    (whole && answered).then_some(invocation.busy)
                })
                .await
            }
            "lambda-api" => {
                warm_times(async || {
                    let event = json!({
                        "version": "2.0", "routeKey": "$default", "rawPath": "/v1/anomalies", "rawQueryString": "",
                        "headers": {"host": "api.dd0c.test"},
                        "requestContext": {"accountId": "123456789012", "apiId": "bench", "domainName": "api.dd0c.test",
                            "http": {"method": "GET", "path": "/v1/anomalies", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1", "userAgent": "bench"},
                            "requestId": "r", "routeKey": "$default", "stage": "$default", "time": "28/Nov/2026:00:00:00 +0000", "timeEpoch": 0},
                        "isBase64Encoded": false
                    });
                    let invocation = api.invoke(event, support::INVOKE_TIMEOUT).await.ok()?;
                    matches!(&invocation.outcome, Outcome::Response(r) if r["statusCode"] == 401).then_some(invocation.busy)
                })
                .await
            }
            _ => {
                warm_times(async || {
                    let invocation = api
                        .invoke(json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}), support::INVOKE_TIMEOUT)
                        .await
                        .ok()?;
                    matches!(invocation.outcome, Outcome::Response(_)).then_some(invocation.busy)
                })
                .await
            }
        };
        assert_eq!(
            warm.len(),
            WARM_RUNS,
            "{name}: every warm invocation answers"
        );
        let size = std::fs::metadata(binary)
            .map(|m| m.len())
            .unwrap_or_default();
        let init_p50 = median(init.clone());
        println!(
            "{:<14} {:>10} {:>10} {:>7.2}x {:>12} {:>7.1} MB",
            name,
            ms(init_p50),
            ms(max(&init)),
            init_p50.as_secs_f64() / TARGET_INIT.as_secs_f64(),
            ms(median(warm)),
            size as f64 / 1e6
        );
    }
}
