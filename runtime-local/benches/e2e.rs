//! The self-hosted pipeline against a local Postgres, measured side by side in one run:
//! 1. raw pgmq: send (100 a call, as an HTTP push) → read (the consumers' batch size) →
//!    archive, messages/s, on the same database; and the same round trip through our queue
//!    adapter (deduplication, per-account groups);
//! 2. end to end: CloudTrail pushed over HTTP → cost event scored and committed, events/s,
//!    100 accounts — every record a launch (the worst case: each one reaches the database;
//!    20,000 records, as many as raw pgmq's messages), and a CloudTrail-like mix where 1 record
//!    in 20 creates something billable (the edge prices records on arrival, so the rest never
//!    reach the database). Request bodies are built before the clock starts, as raw pgmq's
//!    messages are: the load generator's JSON work is not the pipeline's;
//! 3. each stage alone on a backlog of 10,000 (HTTP ingress with pricing, score);
//! 4. latency ingest → committed at a paced 500 events/s: p50 and p99.
//!
//! `DATABASE_URL=postgres://… cargo bench -p dd0c-cost --bench e2e` (scripts/test.sh's server
//! works: it prints the URL it starts). Targets on 2 cores: ≥ 2,000 events/s end to end,
//! ≥ 0.5× the raw pgmq rate, p99 ≤ 250 ms.

mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dd0c_cost::backend::Backend;
use dd0c_cost::consumer::ConsumerConfig;
use support::{committed, fresh, launch, quantile};
use tokio_util::sync::CancellationToken;

const ACCOUNTS: usize = 100;
/// Records per account in each end-to-end round: 20,000 in all, as many as raw pgmq's messages.
const E2E_PER_ACCOUNT: usize = 200;
/// Messages of the raw pgmq and queue-adapter rounds.
const RAW_MESSAGES: usize = 20_000;
/// Records per account in the CloudTrail-like mix.
const MIX_PER_ACCOUNT: usize = 400;
/// Side-by-side rounds of raw pgmq and end to end.
const ROUNDS: usize = 5;
const TENANT: &str = "bench";

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A read-only call of the same account: valid CloudTrail that costs nothing.
fn read(account: usize, seq: usize) -> serde_json::Value {
    let mut record = launch(account, seq);
    record["eventName"] = "DescribeInstances".into();
    record["readOnly"] = true.into();
    record
}

/// One record in `LAUNCH_EVERY` of the CloudTrail-like mix is a launch.
const LAUNCH_EVERY: usize = 20;

/// A pool on the migrated database at `url`.
async fn migrated(url: &str) -> dd0c_adapters_postgres::PgPool {
    let pool = dd0c_adapters_postgres::connect(url, 4)
        .await
        .expect("connects");
    dd0c_adapters_postgres::migrate(&pool)
        .await
        .expect("migrates");
    pool
}

async fn raw_pgmq(url: &str, messages: usize) -> f64 {
    let pool = migrated(url).await;
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
        // Read in the consumers' batch size, like for like: pgmq gains from large reads as
        // much as the pipeline does.
        let ids: Vec<i64> = sqlx::query_scalar("SELECT msg_id FROM pgmq.read('raw', 30, $1)")
            .bind(ConsumerConfig::default().batch as i32)
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

/// The same round trip through our queue adapter: deduplication and per-account groups on top of
/// pgmq's tables, received in the consumers' batch size.
async fn our_queue(url: &str, messages: usize) -> f64 {
    use dd0c_ports::queue::{OutgoingMessage, Queue};
    let pool = migrated(url).await;
    let queue = dd0c_adapters_postgres::PgmqQueue::new(pool, "ours")
        .await
        .expect("queue");
    let body = launch(1, 1).to_string();
    let started = Instant::now();
    for chunk in 0..messages / 100 {
        let batch = (0..100)
            .map(|i| OutgoingMessage {
                trace: None,
                group_key: format!("bench#{}", i % ACCOUNTS),
                dedup_key: format!("bench#{chunk}-{i}"),
                body: body.clone(),
            })
            .collect();
        queue.send_batch(batch).await.expect("sent");
    }
    let batch = ConsumerConfig::default().batch;
    let mut done = 0;
    while done < messages {
        let receipts: Vec<String> = queue
            .receive(batch, Duration::from_secs(30))
            .await
            .expect("received")
            .into_iter()
            .map(|d| d.receipt)
            .collect();
        done += queue.ack_all(&receipts).await.expect("acknowledged");
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
    let backend = Backend::postgres(url, dd0c_cost::backend::default_connections())
        .await
        .expect("backend");
    let tokens = support::onboard(&backend, TENANT, 0..ACCOUNTS).await;
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
        let (address, shutdown) = support::start(&self.backend, roles).await;
        self.address = address;
        shutdown
    }
}

/// One account's ingest token and its request bodies.
type Pushes = Vec<(String, Vec<Vec<u8>>)>;

/// `per_account` records per account (sequence numbers from `offset`, made by `record`) as
/// request bodies of 100 records each, built before any clock starts: the load generator's own
/// JSON work is not the pipeline's.
fn bodies(
    p: &Pipeline,
    per_account: usize,
    offset: usize,
    record: fn(usize, usize) -> serde_json::Value,
) -> Pushes {
    p.tokens
        .iter()
        .enumerate()
        .map(|(a, token)| {
            let records: Vec<serde_json::Value> = (offset..offset + per_account)
                .map(|s| record(a, s))
                .collect();
            let bodies = records
                .chunks(100)
                .map(|chunk| {
                    serde_json::to_vec(&serde_json::json!({"Records": chunk})).expect("JSON")
                })
                .collect();
            (token.clone(), bodies)
        })
        .collect()
}

/// Pushes every account's bodies over HTTP, the accounts at once, each one's in order.
async fn push(p: &Pipeline, pushes: Pushes) {
    let client = reqwest::Client::new();
    let url = format!("{}/v1/events", p.address);
    let mut running = tokio::task::JoinSet::new();
    for (token, bodies) in pushes {
        let (client, url) = (client.clone(), url.clone());
        running.spawn(async move {
            for body in bodies {
                let response = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("pushed");
                assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
            }
        });
    }
    while running.join_next().await.is_some() {}
}

/// Waits until the score queue is empty — every queued cost event scored, its message deleted
/// in its scoring commit — then checks that `total` cost events are committed. It polls a query
/// whose cost does not grow with the events committed, so waiting does not slow what it measures.
async fn until_committed(p: &Pipeline, total: i64) {
    while sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM pgmq.q_score)")
        .fetch_one(&p.pool)
        .await
        .expect("queue")
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        committed(&p.pool).await,
        total,
        "every event committed once"
    );
}

/// Records/s of the whole pipeline: pushed over HTTP until the last of the `launches` cost
/// events is committed.
async fn throughput(
    p: &Pipeline,
    per_account: usize,
    record: fn(usize, usize) -> serde_json::Value,
    launches: usize,
) -> f64 {
    let pushes = bodies(p, per_account, 0, record);
    let started = Instant::now();
    push(p, pushes).await;
    until_committed(p, launches as i64).await;
    (ACCOUNTS * per_account) as f64 / started.elapsed().as_secs_f64()
}

/// Every `LAUNCH_EVERY`-th record a launch, the others reads.
fn mixed(account: usize, seq: usize) -> serde_json::Value {
    if seq.is_multiple_of(LAUNCH_EVERY) {
        launch(account, seq)
    } else {
        read(account, seq)
    }
}

/// Events/s of each stage alone on a backlog of launches: HTTP ingress (pricing included) and
/// score.
async fn stages(p: &mut Pipeline, per_account: usize) -> [f64; 2] {
    let total = (ACCOUNTS * per_account) as f64;
    let pushes = bodies(p, per_account, 0, launch);
    let api = p.start("api").await;
    let started = Instant::now();
    push(p, pushes).await;
    let http = total / started.elapsed().as_secs_f64();
    api.cancel();
    let score = p.start("score").await;
    let started = Instant::now();
    until_committed(p, total as i64).await;
    let scored = total / started.elapsed().as_secs_f64();
    score.cancel();
    [http, scored]
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
    let millis = support::commit_latencies(&p.pool, &sent).await;
    (quantile(&millis, 0.5), quantile(&millis, 0.99))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let Some(server) = std::env::var("DATABASE_URL").ok() else {
        eprintln!(
            "e2e bench: set DATABASE_URL to a Postgres server (it creates its own databases)"
        );
        return;
    };
    // Raw and end to end alternate, so a slow spell of the machine touches both alike.
    let (mut raws, mut e2es, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = None;
    for round in 0..ROUNDS {
        let raw = raw_pgmq(
            &fresh(&server, &format!("bench_raw{round}")).await,
            RAW_MESSAGES,
        )
        .await;
        let mut p = onboarded(&fresh(&server, &format!("bench_e2e{round}")).await).await;
        let running = p.start("api,ingest,score").await;
        let e2e = throughput(&p, E2E_PER_ACCOUNT, launch, ACCOUNTS * E2E_PER_ACCOUNT).await;
        raws.push(raw);
        e2es.push(e2e);
        ratios.push(e2e / raw);
        if round + 1 < ROUNDS {
            running.cancel();
        } else {
            last = Some((p, running));
        }
    }
    let (p, running) = last.expect("a round");
    let (p50, p99) = latency(&p, 500, 10, E2E_PER_ACCOUNT).await;
    running.cancel();
    let ours = our_queue(&fresh(&server, "bench_ours").await, RAW_MESSAGES).await;
    let [http, score] = stages(
        &mut onboarded(&fresh(&server, "bench_stages").await).await,
        100,
    )
    .await;
    let mut p = onboarded(&fresh(&server, "bench_mix").await).await;
    let running = p.start("api,ingest,score").await;
    let mix_launches = ACCOUNTS * MIX_PER_ACCOUNT / LAUNCH_EVERY;
    let mix = throughput(&p, MIX_PER_ACCOUNT, mixed, mix_launches).await;
    running.cancel();
    let raw = median(&mut raws);
    println!("raw pgmq send→read→archive:   {raw:>8.0} messages/s (median of {ROUNDS})");
    println!("our queue send→receive→ack:   {ours:>8.0} messages/s (deduplication, groups)");
    println!(
        "end to end, every record a launch: {:>6.0} events/s (median of {ROUNDS}; {ACCOUNTS} accounts × {E2E_PER_ACCOUNT} records)",
        median(&mut e2es)
    );
    println!(
        "ratio end-to-end / raw:       {:>8.2} (median of {ROUNDS}, each round side by side: {})",
        median(&mut ratios.clone()),
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "end to end, 1 launch in {LAUNCH_EVERY}:      {mix:>6.0} records/s, {:.2}× raw ({} records, {mix_launches} launches)",
        mix / raw,
        ACCOUNTS * MIX_PER_ACCOUNT
    );
    println!(
        "each stage alone, events/s:    HTTP with pricing → score queue {http:.0}, score {score:.0}"
    );
    println!("latency at 500 events/s:      p50 {p50:.1} ms, p99 {p99:.1} ms (5,000 events)");
}
