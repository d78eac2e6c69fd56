//! Damaged CloudTrail pushed to `POST /v1/events` on Postgres: every answer is an acceptance or
//! a problem-details refusal, never a server error, and whatever was accepted and queued is
//! scored — nothing dead-letters because it could not be stored.

mod support;

use dd0c_ports::conformance::unique_account_id;
use dd0c_tests::mutate::{mutate, nasty};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use support::{dispatcher, drain, fresh_database, onboard};

/// Cases pushed; bounded so the suite's time stays bounded.
const CASES: u32 = 1000;

fn seeds(account: &str) -> Vec<Value> {
    let who = dd0c_tests::iam_user(account, "dev");
    let at = "2026-03-01T10:00:00Z";
    let record = |source: &str, name: &str, request: Value, response: Value, id: &str| {
        dd0c_tests::record(
            &who,
            account,
            "us-east-1",
            at,
            source,
            name,
            request,
            response,
            id,
        )
    };
    vec![
        record(
            "ec2.amazonaws.com",
            "RunInstances",
            json!({"instancesSet": {"items": [{"maxCount": 2}]}, "instanceType": "m5.large"}),
            json!({"instancesSet": {"items": [{"instanceId": "i-1", "instanceType": "m5.large"}]}}),
            "fuzz-run",
        ),
        record(
            "ec2.amazonaws.com",
            "StartInstances",
            json!({"instancesSet": {"items": [{"instanceId": "i-1"}]}}),
            json!({"instancesSet": {"items": [{"instanceId": "i-1", "previousState": {"name": "stopped"}}]}}),
            "fuzz-start",
        ),
        record(
            "rds.amazonaws.com",
            "CreateDBInstance",
            json!({"dBInstanceClass": "db.r6g.large", "engine": "postgres", "allocatedStorage": 100}),
            Value::Null,
            "fuzz-rds",
        ),
        json!({"Records": [record(
            "ec2.amazonaws.com",
            "CreateNatGateway",
            json!({"subnetId": "subnet-1"}),
            json!({"natGateway": {"natGatewayId": "nat-1"}}),
            "fuzz-nat",
        )]}),
    ]
}

#[test]
fn damaged_pushes_get_an_answer_and_what_is_queued_is_scored() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let account = unique_account_id();
    let (dispatcher, address, token) = runtime.block_on(async {
        let dispatcher = dispatcher(&fresh_database().await, "api").await;
        let token = onboard(&dispatcher.backend, &account).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("port");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(
            dispatcher
                .clone()
                .run(Some(listener), tokio_util::sync::CancellationToken::new()),
        );
        (dispatcher, address, token)
    });
    let client = reqwest::Client::new();
    let seeds = seeds(&account);
    let strategy = (
        0..seeds.len(),
        proptest::collection::vec((any::<prop::sample::Index>(), nasty()), 1..4),
        proptest::option::of(any::<prop::sample::Index>()),
    );
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |(seed, picks, truncate)| {
        let body = mutate(seeds[seed].clone(), picks, truncate);
        let (status, content_type) = runtime.block_on(async {
            let answer = client
                .post(format!("{address}/v1/events"))
                .bearer_auth(&token)
                .body(body.clone())
                .send()
                .await
                .expect("answered");
            let content_type = answer
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            (answer.status(), content_type)
        });
        prop_assert!(!status.is_server_error(), "{status} for {body}");
        prop_assert!(
            status == reqwest::StatusCode::ACCEPTED || content_type == "application/problem+json",
            "{status} {content_type} for {body}"
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    runtime.block_on(async {
        drain(&dispatcher).await;
        let depth = dispatcher.backend.score_queue.depth().await.expect("depth");
        assert_eq!(
            (depth.visible, depth.in_flight, depth.dead),
            (0, 0, 0),
            "every accepted cost event scored, none dead-lettered"
        );
    });
}
