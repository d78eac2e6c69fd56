//! The three ways CloudTrail reaches a self-hosted dispatcher, side by side in one run on the
//! same records (a CloudTrail-like mix: one record in 20 a launch, the rest reads), records/s:
//! 1. HTTP push: `POST /v1/events`, NDJSON bodies of 1,000 records;
//! 2. gRPC: the agents' `Forward` stream, batches of 1,000 records, every batch acknowledged;
//! 3. the trail poller: gzip log files of 1,000 records in moto S3, listed, read and queued.
//!
//! Each path prices on arrival and queues cost events on the in-memory backend, so what differs
//! is the edge. Then the agent's filter: bytes forwarded with the default filter against
//! `--forward all`, on the same mix. Target: gRPC ≥ HTTP push.
//!
//! `DD0C_TEST_AWS_ENDPOINT=http://127.0.0.1:55500 cargo bench -p dd0c-agent --bench ingestion`
//! (scripts/test.sh's moto works).

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use dd0c_cost::backend::Backend;
use dd0c_cost::serve::{parse_roles, Dispatcher, ServeConfig};
use dd0c_grpc::proto::ingest_client::IngestClient;
use dd0c_grpc::proto::Batch;
use dd0c_ingest::trail::{AccountTrails, Deliver, Poller};
use dd0c_ingest::PriceCatalog;
use dd0c_ports::archive::Archive;
use dd0c_ports::auth::{token_sha256, IngestGrant};
use dd0c_ports::domain::{Account, Tenant};
use dd0c_ports::secrets::Credentials;
use dd0c_ports::sources::Trail;
use serde_json::json;
use tokio_util::sync::CancellationToken;

const RECORDS: usize = 20_000;
const BATCH: usize = 1_000;
const LAUNCH_EVERY: usize = 20;
const ROUNDS: usize = 3;
const TENANT: &str = "bench";
const ACCOUNT: &str = "123456789012";
const TOKEN: &str = "dd0c_ing_bench";

/// The mix of one round: eventIDs unique to `path` and `round`, so no path meets another's
/// duplicates.
fn records(path: &str, round: usize) -> Vec<String> {
    (0..RECORDS)
        .map(|seq| {
            let launch = seq % LAUNCH_EVERY == 0;
            json!({"eventVersion": "1.09",
                "eventTime": format!("2026-03-01T{:02}:{:02}:{:02}Z", (seq / 3600) % 24, (seq / 60) % 60, seq % 60),
                "eventSource": "ec2.amazonaws.com",
                "eventName": if launch { "RunInstances" } else { "DescribeInstances" },
                "readOnly": !launch,
                "awsRegion": "us-east-1", "recipientAccountId": ACCOUNT,
                "eventID": format!("{path}-{round}-{seq}"),
                "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/ci/job-{seq}"),
                    "sessionContext": {"sessionIssuer": {"arn": format!("arn:aws:iam::{ACCOUNT}:role/ci")}}},
                "requestParameters": {"instancesSet": {"items": [{"minCount": 1, "maxCount": 1 + seq % 3}]}, "instanceType": "m5.large"},
                "responseElements": null})
            .to_string()
        })
        .collect()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn dispatcher() -> Dispatcher {
    let backend = Backend::memory().expect("backend");
    let now = Utc::now();
    backend
        .stores
        .tenants
        .add_tenant(&Tenant {
            name: TENANT.into(),
            created_at: now,
        })
        .await
        .expect("tenant");
    backend
        .stores
        .tenants
        .add_account(&Account {
            tenant: TENANT.into(),
            account_id: ACCOUNT.into(),
            name: None,
            created_at: now,
            role_arn: Some(format!("arn:aws:iam::{ACCOUNT}:role/dd0c-reader")),
            external_id: Some("bench".into()),
            access_key_id: None,
            remediation_role_arn: None,
            remediation_access_key_id: None,
        })
        .await
        .expect("account");
    backend
        .stores
        .tokens
        .add_token(
            &IngestGrant {
                tenant: TENANT.into(),
                account_id: ACCOUNT.into(),
            },
            &token_sha256(TOKEN),
        )
        .await
        .expect("token");
    let config = ServeConfig::defaults(parse_roles("api").expect("roles"), "bench");
    Dispatcher::new(backend, config, PriceCatalog::bundled()).expect("dispatcher")
}

async fn http(address: &str, records: &[String]) -> f64 {
    let client = reqwest::Client::new();
    let bodies: Vec<String> = records.chunks(BATCH).map(|c| c.join("\n")).collect();
    let started = Instant::now();
    for body in bodies {
        let response = client
            .post(format!("{address}/v1/events"))
            .bearer_auth(TOKEN)
            .body(body)
            .send()
            .await
            .expect("pushed");
        assert_eq!(response.status(), 202);
    }
    records.len() as f64 / started.elapsed().as_secs_f64()
}

async fn grpc(address: &str, records: &[String]) -> f64 {
    let batches: Vec<Batch> = records
        .chunks(BATCH)
        .enumerate()
        .map(|(seq, c)| Batch {
            seq: seq as u64,
            records: c.join("\n").into(),
        })
        .collect();
    let count = batches.len();
    let channel = tonic::transport::Endpoint::from_shared(address.to_owned())
        .expect("address")
        .tcp_nodelay(true)
        .initial_stream_window_size(dd0c_grpc::STREAM_WINDOW)
        .initial_connection_window_size(dd0c_grpc::CONNECTION_WINDOW)
        .connect()
        .await
        .expect("connects");
    let mut client = IngestClient::new(channel);
    let started = Instant::now();
    let mut request = tonic::Request::new(tokio_stream::iter(batches));
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {TOKEN}").parse().expect("header"),
    );
    let mut acks = client.forward(request).await.expect("stream").into_inner();
    let mut acked = 0;
    while let Some(ack) = acks.message().await.expect("ack") {
        assert_eq!(ack.rejected, 0);
        acked += 1;
    }
    assert_eq!(acked, count);
    records.len() as f64 / started.elapsed().as_secs_f64()
}

async fn poller(dispatcher: &Dispatcher, endpoint: &str, records: &[String], round: usize) -> f64 {
    let config = dd0c_tests::estate::account_config(endpoint, ACCOUNT, "bench").await;
    let bucket = format!("bench-trail-{}-{round}", std::process::id());
    let writer = dd0c_adapters_aws::S3Archive::new(&config, &bucket);
    writer.create_bucket().await.expect("bucket");
    let now = Utc::now();
    for (n, chunk) in records.chunks(BATCH).enumerate() {
        use std::io::Write;
        let body = format!("{{\"Records\":[{}]}}", chunk.join(","));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(body.as_bytes()).expect("gzip");
        let key = format!(
            "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{}/{ACCOUNT}_CloudTrail_us-east-1_{}_{n:04}.json.gz",
            now.format("%Y/%m/%d"),
            now.format("%Y%m%dT%H%MZ")
        );
        writer
            .put(&key, &gz.finish().expect("gzip"))
            .await
            .expect("file");
    }
    let backend = &dispatcher.backend;
    let poller = Poller::new(
        backend.sources.clone(),
        Arc::new(AccountTrails {
            tenants: backend.stores.tenants.clone(),
            cloud: dd0c_cost::cloud::cloud_access(),
            credentials: Credentials::new(backend.stores.tenants.clone(), None),
        }),
        dispatcher.admitter() as Arc<dyn Deliver>,
    );
    let trail = Trail {
        tenant: TENANT.into(),
        account_id: ACCOUNT.into(),
        location: format!("s3://{bucket}").parse().expect("location"),
    };
    backend.sources.put_trail(&trail).await.expect("trail");
    let started = Instant::now();
    let pass = poller.poll(&trail, Utc::now()).await.expect("pass");
    assert_eq!(pass.records, records.len());
    backend
        .sources
        .remove_trail(TENANT, ACCOUNT)
        .await
        .expect("removed");
    records.len() as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let endpoint = std::env::var("DD0C_TEST_AWS_ENDPOINT")
        .expect("DD0C_TEST_AWS_ENDPOINT: moto, as scripts/test.sh starts it");
    std::env::set_var("AWS_ENDPOINT_URL", &endpoint);
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_REGION", "us-east-1");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let dispatcher = dispatcher().await;
        let stop = CancellationToken::new();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
        let http_address = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(dispatcher.clone().run(Some(listener), stop.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
        let grpc_address = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(dd0c_cost::grpc::serve(dispatcher.clone(), listener, None, stop.clone()));

        let (mut pushed, mut streamed, mut polled) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            pushed.push(http(&http_address, &records("http", round)).await);
            streamed.push(grpc(&grpc_address, &records("grpc", round)).await);
            polled.push(poller(&dispatcher, &endpoint, &records("s3", round), round).await);
        }
        let (http, grpc, s3) = (median(&mut pushed), median(&mut streamed), median(&mut polled));
        println!("ingestion of {RECORDS} records (1 in {LAUNCH_EVERY} a launch), median of {ROUNDS} rounds, records/s:");
        println!("  HTTP push (POST /v1/events, {BATCH} a body)   {http:>10.0}");
        println!("  gRPC (agent Forward stream, {BATCH} a batch)  {grpc:>10.0}   {:.2}× HTTP push (target ≥ 1)", grpc / http);
        println!("  trail poller (moto S3, {BATCH} a gzip file)   {s3:>10.0}   {:.2}× HTTP push", s3 / http);

        let mix = records("bytes", 0);
        let all: usize = mix.iter().map(String::len).sum();
        let filter = dd0c_agent::Filter::new(dd0c_agent::Forward::Cost);
        let kept: usize = mix.iter().filter(|r| filter.keeps(r)).map(|r| r.len()).sum();
        println!(
            "agent bytes on the same mix: default filter {kept} vs --forward all {all}: {:.3}× ({:.1}× fewer)",
            kept as f64 / all as f64,
            all as f64 / kept.max(1) as f64
        );
        stop.cancel();
    });
}
