//! Each tenant's intake rate (`DD0C_TENANT_EVENTS_PER_SECOND`) at the dispatcher's edges, on
//! Postgres: pushes over it refused with 429 and `Retry-After` on every replica sharing Redis,
//! nothing queued; an agent's batch `RESOURCE_EXHAUSTED` with the seconds to wait; and a trail
//! file that waits behind live pushes instead of refusing them.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use dd0c_adapters_memory::MemoryBuckets;
use dd0c_cost::backend::Backend;
use dd0c_cost::serve::Dispatcher;
use dd0c_grpc::proto::Batch;
use dd0c_ingest::limit::IntakeLimit;
use dd0c_ingest::trail::Deliver;
use dd0c_ingest::PriceCatalog;
use dd0c_ports::conformance::{unique, unique_account_id};
use reqwest::StatusCode;
use serde_json::Value;
use support::{
    authorized, client, config, fresh_database, log_file, onboard_as, push, pushed, queued,
    run_instances, serve_edges, App,
};

/// `n` launches of one instance each in `account`, a second apart and each its own event, as a
/// push body.
fn launches(account: &str, n: usize) -> Vec<u8> {
    let now = chrono::Utc::now();
    let records: Vec<Value> = (0..n)
        .map(|i| {
            let at = now - chrono::TimeDelta::seconds(i as i64 + 1);
            let mut launch = run_instances(
                account,
                "alice",
                at,
                "t3.micro",
                &[format!("i-{:017x}", rand::random::<u64>())],
            );
            launch["eventID"] = unique("launch").into();
            launch
        })
        .collect();
    serde_json::to_vec(&records).expect("json")
}

/// A replica configured as an operator would: `DD0C_TENANT_EVENTS_PER_SECOND` and
/// `DD0C_TENANT_EVENTS_BURST` on the command line, Redis through `DD0C_REDIS_URL`.
async fn replica_of_settings(database_url: &str, settings: &[&str]) -> App {
    let mut args = vec!["dd0c-cost", "--database-url", database_url];
    args.extend_from_slice(settings);
    args.push("serve");
    let cli = dd0c_cost::cli::Cli::try_parse_from(args).expect("settings");
    let backend = dd0c_cost::admin::open_backend(&cli.backend)
        .await
        .expect("backend");
    serve_edges(
        Dispatcher::new(backend, config("api,ingest"), PriceCatalog::bundled())
            .expect("dispatcher"),
    )
    .await
}

/// A replica whose tenants may send `per_second` records a second, in bursts of `burst`,
/// counted in this process.
async fn replica(per_second: f64, burst: f64) -> App {
    let mut backend = Backend::postgres(&fresh_database().await, 10)
        .await
        .expect("backend");
    backend.intake = Some(IntakeLimit::new(
        Arc::new(MemoryBuckets::new()),
        per_second,
        burst,
    ));
    serve_edges(
        Dispatcher::new(backend, config("api,ingest"), PriceCatalog::bundled())
            .expect("dispatcher"),
    )
    .await
}

async fn metrics(app: &App) -> String {
    reqwest::get(format!("{}/metrics", app.address))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

#[tokio::test]
async fn a_tenants_intake_rate_is_shared_by_replicas_through_redis() {
    let redis =
        std::env::var("DD0C_TEST_REDIS_URL").expect("DD0C_TEST_REDIS_URL: run scripts/test.sh");
    let url = fresh_database().await;
    let settings = [
        "--redis-url",
        redis.as_str(),
        "--tenant-events-per-second",
        "5",
        "--tenant-events-burst",
        "20",
    ];
    let (a, b) = (
        replica_of_settings(&url, &settings).await,
        replica_of_settings(&url, &settings).await,
    );
    let (tenant, account) = (unique("intake"), unique_account_id());
    let token = onboard_as(&a.dispatcher.backend, &tenant, &account).await;

    let (status, accepted) = push(&a, &token, launches(&account, 20), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "a burst: {accepted}");
    assert_eq!(accepted["priced"], 20);

    let refused = pushed(&b, &token, launches(&account, 10), None).await;
    assert_eq!(
        refused.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the other replica spent it"
    );
    let wait: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!(
        (1..=2).contains(&wait),
        "ten records at five a second: {wait} s"
    );
    let problem: Value = refused.json().await.expect("a problem");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&tenant)
            && detail.contains("intake rate of 5 records a second (bursts of 20)")
            && detail.contains("nothing was queued"),
        "{problem}"
    );
    assert_eq!(
        queued(&b).await,
        20,
        "nothing of the refused push was queued"
    );
    assert!(
        metrics(&b)
            .await
            .contains("dd0c_ingest_rejected_total{reason=\"rate_limited\"} 10"),
        "refused records are counted"
    );

    let (other, other_account) = (unique("intake"), unique_account_id());
    let other_token = onboard_as(&b.dispatcher.backend, &other, &other_account).await;
    let (status, _) = push(&b, &other_token, launches(&other_account, 20), None).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "another tenant has its own rate"
    );

    tokio::time::sleep(Duration::from_secs(wait)).await;
    let (status, accepted) = push(&b, &token, launches(&account, 10), None).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "after Retry-After: {accepted}"
    );
    assert_eq!(queued(&b).await, 50);
}

#[tokio::test]
async fn an_agents_batch_over_the_rate_is_resource_exhausted_with_the_seconds_to_wait() {
    let app = replica(5.0, 10.0).await;
    let (tenant, account) = (unique("intake"), unique_account_id());
    let token = onboard_as(&app.dispatcher.backend, &tenant, &account).await;
    let batches: Vec<Batch> = (1..=2)
        .map(|seq| Batch {
            seq,
            records: launches(&account, 10).into(),
        })
        .collect();
    let mut acks = client(&app.grpc)
        .await
        .forward(authorized(tokio_stream::iter(batches), &token))
        .await
        .expect("stream opened")
        .into_inner();
    let ack = acks.message().await.expect("first batch").expect("an ack");
    assert_eq!((ack.seq, ack.priced), (1, 10));
    let status = acks
        .message()
        .await
        .expect_err("the second is over the rate");
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(
        status
            .message()
            .contains("batch 2: over the tenant's intake rate"),
        "{status:?}"
    );
    let wait = dd0c_grpc::retry_after(&status).expect("retry-after in the metadata");
    assert!(
        (1..=2).contains(&wait),
        "ten records at five a second: {wait} s"
    );
    assert_eq!(queued(&app).await, 10, "the second batch is not queued");
}

#[tokio::test]
async fn a_trail_file_waits_behind_live_pushes_instead_of_refusing_them() {
    let app = replica(20.0, 20.0).await;
    let (tenant, account) = (unique("intake"), unique_account_id());
    let token = onboard_as(&app.dispatcher.backend, &tenant, &account).await;
    let records: Vec<Value> = serde_json::from_slice(&launches(&account, 60)).expect("records");
    let started = Instant::now();
    let file = {
        let admitter = app.dispatcher.admitter();
        let (tenant, account) = (tenant.clone(), account.clone());
        tokio::spawn(async move {
            admitter
                .deliver(&tenant, &account, "a trail file", log_file(&records))
                .await
        })
    };
    // Live pushes at under half the rate while the file's sixty records wait their turn.
    for push_no in 0..12 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (status, answer) = push(&app, &token, launches(&account, 2), None).await;
        assert_eq!(
            status,
            StatusCode::ACCEPTED,
            "live push {push_no}: {answer}"
        );
    }
    let delivered = file.await.expect("joins").expect("delivered");
    assert_eq!(delivered.records, 60);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "sixty records past a burst of twenty at twenty a second are paced, not sent at once"
    );
    assert_eq!(queued(&app).await, 60 + 24);
}
