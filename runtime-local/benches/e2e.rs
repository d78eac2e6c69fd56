//! The self-hosted pipeline against a local Postgres, measured side by side in one run:
//! 1. raw pgmq: send → read → archive, messages/s, on the same database;
//! 2. end to end: CloudTrail pushed over HTTP → anomaly committed, events/s, 100 accounts;
//! 3. each stage alone on a backlog of 10,000 (HTTP ingress, ingest, score): where the time goes;
//! 4. latency ingest → committed at a paced 500 events/s: p50 and p99.
//!
//! `DATABASE_URL=postgres://… cargo bench -p dd0c-cost --bench e2e` (scripts/test.sh's server
//! works: it prints the URL it starts). Targets on 2 cores: ≥ 2,000 events/s end to end,
//! ≥ 0.5× the raw pgmq rate, p99 ≤ 250 ms.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dd0c_cost::backend::Backend;
use dd0c_cost::consumer::ConsumerConfig;
use dd0c_cost::serve::{parse_roles, Dispatcher, ServeConfig};
use dd0c_ingest::PriceCatalog;
use dd0c_ports::auth::IngestGrant;
use dd0c_ports::domain::{Account, Tenant};
use tokio_util::sync::CancellationToken;

const ACCOUNTS: usize = 100;
const TENANT: &str = "bench";

async fn fresh(server: &str, name: &str) -> String {
    let name = format!("{name}_{}", std::process::id());
    dd0c_adapters_postgres::create_database(server, &name)
        .await
        .expect("a database")
}

fn launch(account: usize, seq: usize) -> serde_json::Value {
    let account_id = format!("{:012}", 100_000_000_000usize + account);
    let instance_type = ["t3.medium", "m5.large", "c5.xlarge", "r5.large"][seq % 4];
    serde_json::json!({"eventVersion": "1.09", "eventTime": format!("2026-03-01T{:02}:{:02}:{:02}Z", (seq / 3600) % 24, (seq / 60) % 60, seq % 60),
        "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "awsRegion": "us-east-1", "recipientAccountId": account_id,
        "eventID": format!("bench-{account}-{seq}"),
        "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::{account_id}:assumed-role/ci/job-{seq}"),
            "sessionContext": {"sessionIssuer": {"arn": format!("arn:aws:iam::{account_id}:role/ci")}}},
        "requestParameters": {"instancesSet": {"items": [{"minCount": 1, "maxCount": 1 + seq % 3}]}, "instanceType": instance_type},
        "responseElements": null})
}

async fn raw_pgmq(url: &str, messages: usize) -> f64 {
    let pool = dd0c_adapters_postgres::connect(url, 4)
        .await
        .expect("connects");
    dd0c_adapters_postgres::migrate(&pool)
        .await
        .expect("migrates");
    sqlx::query("SELECT pgmq.create('raw')")
        .execute(&pool)
        .await
        .expect("queue");
    let body = launch(1, 1);
    let started = Instant::now();
    for _ in 0..messages / 100 {
        let batch: Vec<serde_json::Value> = (0..100).map(|_| body.clone()).collect();
        sqlx::query("SELECT pgmq.send_batch('raw', $1::jsonb[])")
            .bind(batch)
            .execute(&pool)
            .await
            .expect("sent");
    }
    let mut done = 0;
    while done < messages {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT msg_id FROM pgmq.read('raw', 30, 100)")
            .fetch_all(&pool)
            .await
            .expect("read");
        sqlx::query("SELECT pgmq.archive('raw', $1::bigint[])")
            .bind(&ids)
            .execute(&pool)
            .await
            .expect("archived");
        done += ids.len();
    }
    messages as f64 / started.elapsed().as_secs_f64()
}

struct Pipeline {
    backend: Backend,
    tokens: Vec<String>,
    pool: dd0c_adapters_postgres::PgPool,
    address: String,
}

/// A fresh database with one tenant of `ACCOUNTS` accounts, each with an ingest token.
async fn onboarded(url: &str) -> Pipeline {
    let backend = Backend::postgres(url, 32).await.expect("backend");
    backend
        .stores
        .tenants
        .add_tenant(&Tenant {
            name: TENANT.into(),
            created_at: Utc::now(),
        })
        .await
        .expect("tenant");
    let mut tokens = Vec::new();
    for a in 0..ACCOUNTS {
        let account_id = format!("{:012}", 100_000_000_000usize + a);
        backend
            .stores
            .tenants
            .add_account(&Account {
                role_arn: None,
                external_id: None,
                tenant: TENANT.into(),
                account_id: account_id.clone(),
                name: None,
                created_at: Utc::now(),
            })
            .await
            .expect("account");
        let token = format!("dd0c_ing_bench_{a}");
        let hash = dd0c_ports::auth::token_sha256(&token);
        backend
            .stores
            .tokens
            .add_token(
                &IngestGrant {
                    tenant: TENANT.into(),
                    account_id,
                },
                &hash,
            )
            .await
            .expect("token");
        tokens.push(token);
    }
    let pool = backend.pool.clone().expect("postgres");
    Pipeline {
        backend,
        tokens,
        pool,
        address: String::new(),
    }
}

impl Pipeline {
    /// Starts a dispatcher with `roles`; cancel the token to stop it.
    async fn start(&mut self, roles: &str) -> CancellationToken {
        let config = ServeConfig {
            roles: parse_roles(roles).expect("roles"),
            consumer: ConsumerConfig {
                idle: Duration::from_millis(10),
                ..ConsumerConfig::default()
            },
            max_body: 5 << 20,
            retention_every: Duration::from_secs(3600),
            replica: "bench".into(),
            slack_signing_secret: None,
            jwt_secret: None,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("port");
        self.address = format!("http://{}", listener.local_addr().expect("address"));
        let shutdown = CancellationToken::new();
        tokio::spawn(
            Dispatcher::new(self.backend.clone(), config, PriceCatalog::bundled())
                .expect("dispatcher")
                .run(Some(listener), shutdown.clone()),
        );
        shutdown
    }
}

async fn committed(pool: &dd0c_adapters_postgres::PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM cost_events")
        .fetch_one(pool)
        .await
        .expect("count")
}

/// Pushes `per_account` launches per account (sequence numbers from `offset`) over HTTP, 100
/// records per request, every account at once.
async fn push(p: &Pipeline, per_account: usize, offset: usize) {
    let client = reqwest::Client::new();
    let mut pushes = tokio::task::JoinSet::new();
    for (a, token) in p.tokens.iter().enumerate() {
        let records: Vec<serde_json::Value> = (offset..offset + per_account)
            .map(|s| launch(a, s))
            .collect();
        let (client, url, token) = (
            client.clone(),
            format!("{}/v1/events", p.address),
            token.clone(),
        );
        pushes.spawn(async move {
            for chunk in records.chunks(100) {
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"Records": chunk}))
                    .send()
                    .await
                    .expect("pushed");
                assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
            }
        });
    }
    while pushes.join_next().await.is_some() {}
}

async fn until_committed(p: &Pipeline, total: i64) {
    while committed(&p.pool).await < total {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn until_drained(queue: &dyn dd0c_ports::queue::Queue) {
    loop {
        let depth = queue.depth().await.expect("depth");
        if depth.visible + depth.in_flight == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Events/s of the whole pipeline: pushed over HTTP until the last cost event is committed.
async fn throughput(p: &Pipeline, per_account: usize) -> f64 {
    let started = Instant::now();
    push(p, per_account, 0).await;
    let total = (ACCOUNTS * per_account) as i64;
    until_committed(p, total).await;
    total as f64 / started.elapsed().as_secs_f64()
}

/// Events/s of each stage alone on a backlog: HTTP ingress, ingest, score.
async fn stages(p: &mut Pipeline, per_account: usize) -> [f64; 3] {
    let total = (ACCOUNTS * per_account) as f64;
    let api = p.start("api").await;
    let started = Instant::now();
    push(p, per_account, 0).await;
    let http = total / started.elapsed().as_secs_f64();
    api.cancel();
    let ingest = p.start("ingest").await;
    let started = Instant::now();
    until_drained(p.backend.ingest_queue.as_ref()).await;
    let normalized = total / started.elapsed().as_secs_f64();
    ingest.cancel();
    let score = p.start("score").await;
    let started = Instant::now();
    until_committed(p, total as i64).await;
    let scored = total / started.elapsed().as_secs_f64();
    score.cancel();
    [http, normalized, scored]
}

async fn latency(p: &Pipeline, rate: u64, seconds: u64, offset: usize) -> (f64, f64) {
    let client = reqwest::Client::new();
    let url = format!("{}/v1/events", p.address);
    let total = (rate * seconds) as usize;
    let before = committed(&p.pool).await;
    let mut sent: Vec<(String, DateTime<Utc>)> = Vec::with_capacity(total);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = start + Duration::from_micros(i as u64 * 1_000_000 / rate);
        tokio::time::sleep_until(due.into()).await;
        let account = i % ACCOUNTS;
        let record = launch(account, offset + i);
        sent.push((
            record["eventID"].as_str().expect("id").to_owned(),
            Utc::now(),
        ));
        let (client, url, token) = (client.clone(), url.clone(), p.tokens[account].clone());
        tasks.spawn(async move {
            client
                .post(&url)
                .bearer_auth(&token)
                .json(&record)
                .send()
                .await
                .expect("pushed")
        });
    }
    while tasks.join_next().await.is_some() {}
    until_committed(p, before + total as i64).await;
    let rows: Vec<(String, DateTime<Utc>)> =
        sqlx::query_as("SELECT event_id, created_at FROM cost_events")
            .fetch_all(&p.pool)
            .await
            .expect("rows");
    let committed_at: std::collections::HashMap<String, DateTime<Utc>> = rows.into_iter().collect();
    let mut millis: Vec<f64> = sent
        .iter()
        .filter_map(|(id, at)| {
            committed_at
                .get(id)
                .map(|c| (*c - *at).num_microseconds().unwrap_or(0) as f64 / 1000.0)
        })
        .collect();
    millis.sort_by(f64::total_cmp);
    let pick = |q: f64| millis[((millis.len() as f64 - 1.0) * q).round() as usize];
    (pick(0.5), pick(0.99))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let Some(server) = std::env::var("DATABASE_URL").ok() else {
        eprintln!(
            "e2e bench: set DATABASE_URL to a Postgres server (it creates its own databases)"
        );
        return;
    };
    let raw = raw_pgmq(&fresh(&server, "bench_raw").await, 20_000).await;
    let [http, ingest, score] = stages(
        &mut onboarded(&fresh(&server, "bench_stages").await).await,
        100,
    )
    .await;
    let mut p = onboarded(&fresh(&server, "bench_e2e").await).await;
    let running = p.start("api,ingest,score").await;
    let e2e = throughput(&p, 100).await;
    let (p50, p99) = latency(&p, 500, 10, 100).await;
    running.cancel();
    println!("raw pgmq send→read→archive: {raw:>8.0} messages/s");
    println!(
        "end to end HTTP → anomaly:  {e2e:>8.0} events/s ({ACCOUNTS} accounts, 10,000 events)"
    );
    println!("ratio end-to-end / raw:     {:>8.2}", e2e / raw);
    println!(
        "each stage alone, events/s:  HTTP → ingest queue {http:.0}, ingest {ingest:.0}, score {score:.0}"
    );
    println!("latency at 500 events/s:    p50 {p50:.1} ms, p99 {p99:.1} ms (5,000 events)");
}
