//! Whether liveness waits on pricing: `GET /healthz` latency on an idle dispatcher, and while
//! eight clients push the largest bodies a push may hold (gzip CloudTrail files of
//! `MAX_RECORDS_PER_PUSH` records, every one priced), measured side by side in one run.
//!
//! `DATABASE_URL=postgres://… cargo bench -p dd0c-cost --bench liveness`. Target: p99 of
//! `/healthz` under load below 100 ms (pricing runs on the blocking pool, not the async workers).

use std::io::Write;
use std::time::{Duration, Instant};

use dd0c_cost::backend::Backend;
use dd0c_cost::serve::{parse_roles, Dispatcher, ServeConfig};
use dd0c_ingest::bounds::MAX_RECORDS_PER_PUSH;
use dd0c_ingest::PriceCatalog;
use dd0c_ports::auth::{token_sha256, IngestGrant};
use dd0c_ports::domain::{Account, Tenant};
use tokio_util::sync::CancellationToken;

const PUSHERS: usize = 8;
const PUSHES_EACH: usize = 3;
/// Probes per round; under load, rounds repeat until the last push is answered.
const PROBES: usize = 100;
const ACCOUNT: &str = "100000000042";

/// One gzip body of `MAX_RECORDS_PER_PUSH` launches with realistic padding (tags, user agent).
fn large_body(pusher: usize, push: usize) -> Vec<u8> {
    let records: Vec<serde_json::Value> = (0..MAX_RECORDS_PER_PUSH)
        .map(|i| {
            serde_json::json!({"eventVersion": "1.09", "eventTime": "2026-03-01T10:00:00Z",
                "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "awsRegion": "us-east-1",
                "recipientAccountId": ACCOUNT, "eventID": format!("live-{pusher}-{push}-{i}"),
                "userAgent": "aws-sdk-go-v2/1.30.0 os/linux lang/go#1.22 md/GOOS#linux md/GOARCH#amd64",
                "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/ci")},
                "requestParameters": {"instanceType": "m5.large", "instancesSet": {"items": [{"maxCount": 1}]},
                    "tagSpecificationSet": {"items": [{"resourceType": "instance", "tags": (0..12).map(|t| serde_json::json!({"key": format!("team-{t}"), "value": "platform-engineering-cost-center-4711"})).collect::<Vec<_>>()}]}},
                "responseElements": {"instancesSet": {"items": [{"instanceId": format!("i-{pusher:02x}{push:02x}{i:08x}"), "instanceType": "m5.large"}]}}})
        })
        .collect();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = gzip.write_all(
        serde_json::json!({ "Records": records })
            .to_string()
            .as_bytes(),
    );
    gzip.finish().unwrap_or_default()
}

/// `/healthz` latencies, in milliseconds, sorted.
async fn probe(client: &reqwest::Client, address: &str) -> Vec<f64> {
    let mut latencies = Vec::with_capacity(PROBES);
    for _ in 0..PROBES {
        let started = Instant::now();
        if client
            .get(format!("{address}/healthz"))
            .send()
            .await
            .is_ok()
        {
            latencies.push(started.elapsed().as_secs_f64() * 1e3);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    latencies.sort_by(f64::total_cmp);
    latencies
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() {
    let Ok(server) = std::env::var("DATABASE_URL") else {
        eprintln!("liveness bench: set DATABASE_URL to a Postgres server");
        return;
    };
    let name = format!("liveness_{}", std::process::id());
    let url = dd0c_adapters_postgres::create_database(&server, &name)
        .await
        .expect("a database");
    let backend = Backend::postgres(&url, 8).await.expect("backend");
    let now = chrono::Utc::now();
    let stores = &backend.stores;
    let _ = stores
        .tenants
        .add_tenant(&Tenant {
            name: "bench".into(),
            created_at: now,
        })
        .await;
    stores
        .tenants
        .add_account(&Account {
            tenant: "bench".into(),
            account_id: ACCOUNT.into(),
            name: None,
            created_at: now,
            role_arn: None,
            external_id: None,
            access_key_id: None,
            remediation_role_arn: None,
            remediation_access_key_id: None,
        })
        .await
        .expect("account");
    let token = "dd0c_ing_liveness_bench";
    stores
        .tokens
        .add_token(
            &IngestGrant {
                tenant: "bench".into(),
                account_id: ACCOUNT.into(),
            },
            &token_sha256(token),
        )
        .await
        .expect("token");
    let config = ServeConfig {
        max_body: 50 << 20,
        ..ServeConfig::defaults(parse_roles("api").expect("roles"), "bench")
    };
    let dispatcher = Dispatcher::new(backend, config, PriceCatalog::bundled()).expect("dispatcher");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let stop = CancellationToken::new();
    tokio::spawn(dispatcher.run(Some(listener), stop.clone()));
    let client = reqwest::Client::new();

    let bodies: Vec<Vec<Vec<u8>>> = (0..PUSHERS)
        .map(|p| (0..PUSHES_EACH).map(|n| large_body(p, n)).collect())
        .collect();
    let idle = probe(&client, &address).await;
    let started = Instant::now();
    let pushers: Vec<_> = bodies
        .into_iter()
        .map(|bodies| {
            let (client, address) = (client.clone(), address.clone());
            tokio::spawn(async move {
                let mut accepted = 0;
                for body in bodies {
                    let answer = client
                        .post(format!("{address}/v1/events"))
                        .bearer_auth(token)
                        .header("content-encoding", "gzip")
                        .body(body)
                        .send()
                        .await;
                    if answer.is_ok_and(|a| a.status() == reqwest::StatusCode::ACCEPTED) {
                        accepted += 1;
                    }
                }
                accepted
            })
        })
        .collect();
    // Probe for as long as any push is in flight.
    let mut loaded = Vec::new();
    while pushers.iter().any(|p| !p.is_finished()) {
        loaded.extend(probe(&client, &address).await);
    }
    loaded.sort_by(f64::total_cmp);
    let mut accepted = 0;
    for pusher in pushers {
        accepted += pusher.await.unwrap_or(0);
    }
    let pushing = started.elapsed();
    stop.cancel();
    println!(
        "pushes: {accepted}/{} accepted ({} records each) in {:.1} s",
        PUSHERS * PUSHES_EACH,
        MAX_RECORDS_PER_PUSH,
        pushing.as_secs_f64()
    );
    println!(
        "/healthz idle:        p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        quantile(&idle, 0.5),
        quantile(&idle, 0.99),
        quantile(&idle, 1.0)
    );
    println!(
        "/healthz under load:  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({} probes; target p99 < 100 ms)",
        quantile(&loaded, 0.5),
        quantile(&loaded, 0.99),
        quantile(&loaded, 1.0),
        loaded.len()
    );
    println!(
        "ratio under load / idle: p50 {:.1}×, p99 {:.1}×",
        quantile(&loaded, 0.5) / quantile(&idle, 0.5),
        quantile(&loaded, 0.99) / quantile(&idle, 0.99)
    );
}
