//! Scale: the self-hosted pipeline at the size of a real service — [`TENANTS`] tenants ×
//! [`ACCOUNTS_PER_TENANT`] accounts, each with two weeks of history — in one `dd0c-cost serve`
//! process (`--role api,ingest,score,notify`) on a local Postgres:
//! 1. history: every account's [`HISTORY`] launches, spread over the fourteen days before now,
//!    pushed over HTTP ([`PUSHERS`] pushes in flight, one account's history a push) until every
//!    cost event is scored and committed: events/s;
//! 2. Postgres size per million cost events (what the history added, queue tables included as
//!    the run leaves them), and the largest relations;
//! 3. live traffic on the grown database: [`LIVE_RATE`] launches a second to random accounts for
//!    [`LIVE_SECONDS`] s, push → committed p50/p99 — first right after the history, while
//!    autovacuum works through what it left, then after a `VACUUM (ANALYZE)`, as two weeks of
//!    autovacuum would have left the database;
//! 4. the dispatcher's RSS after the history and after the live traffic.
//!
//! The history's records are made while the clock runs (one account's at a time, by the pushers):
//! building every body first would hold about a gigabyte.
//!
//! `DATABASE_URL=postgres://… cargo bench -p dd0c-cost --bench scale` (`DD0C_SCALE_TENANTS`
//! shrinks it for a quick look).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dd0c_tests::free_port;
use support::{fresh, launch, quantile, ready, rss_of, Serve};

const TENANTS: usize = 1_000;
const ACCOUNTS_PER_TENANT: usize = 10;
/// Launches per account over its two weeks: one every three hours.
const HISTORY: usize = 112;
const PUSHERS: usize = 16;
const LIVE_RATE: u64 = 500;
const LIVE_SECONDS: u64 = 60;
const LIVE_TOTAL: usize = (LIVE_RATE * LIVE_SECONDS) as usize;

fn tenant(n: usize) -> String {
    format!("t{n:04}")
}

/// The `seq`-th of `account`'s history, `seq` of [`HISTORY`] evenly over the fourteen days
/// before `now`.
fn historical(account: usize, seq: usize, now: DateTime<Utc>) -> serde_json::Value {
    let mut record = launch(account, seq);
    let at = now - chrono::Duration::days(14)
        + chrono::Duration::seconds((seq * 14 * 86_400 / HISTORY) as i64);
    record["eventTime"] = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into();
    record
}

/// Onboards `tenants` tenants of [`ACCOUNTS_PER_TENANT`] accounts; answers every account's
/// ingest token, account number order.
async fn onboard(backend: &dd0c_cost::backend::Backend, tenants: usize) -> Vec<String> {
    let mut tokens = Vec::with_capacity(tenants * ACCOUNTS_PER_TENANT);
    for t in 0..tenants {
        let first = t * ACCOUNTS_PER_TENANT;
        tokens.extend(
            support::onboard(backend, &tenant(t), first..first + ACCOUNTS_PER_TENANT).await,
        );
    }
    tokens
}

/// Pushes every account's history, [`PUSHERS`] at a time.
async fn push_history(base: &str, tokens: Arc<Vec<String>>) {
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/events");
    let next = Arc::new(AtomicUsize::new(0));
    let now = Utc::now();
    let mut pushers = tokio::task::JoinSet::new();
    for _ in 0..PUSHERS {
        let (client, url, next, tokens) =
            (client.clone(), url.clone(), next.clone(), tokens.clone());
        pushers.spawn(async move {
            loop {
                let account = next.fetch_add(1, Ordering::Relaxed);
                let Some(token) = tokens.get(account) else {
                    return;
                };
                let records: Vec<serde_json::Value> =
                    (0..HISTORY).map(|s| historical(account, s, now)).collect();
                let response = client
                    .post(&url)
                    .bearer_auth(token)
                    .json(&serde_json::json!({ "Records": records }))
                    .send()
                    .await
                    .expect("pushed");
                assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
            }
        });
    }
    while let Some(done) = pushers.join_next().await {
        done.expect("pusher");
    }
}

/// Waits until `total` cost events are committed and the score queue is empty.
async fn until_committed(pool: &dd0c_adapters_postgres::PgPool, total: i64) {
    loop {
        let queued: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pgmq.q_score)")
            .fetch_one(pool)
            .await
            .expect("queue");
        if !queued && support::committed(pool).await >= total {
            assert_eq!(
                support::committed(pool).await,
                total,
                "every event committed once"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Pushes [`LIVE_RATE`] single launches a second to random accounts for [`LIVE_SECONDS`];
/// answers each one's event id and when it was sent.
/// Sends [`live`] traffic and waits until it is committed: each record's push → committed, ms.
async fn measure_live(
    base: &str,
    pool: &dd0c_adapters_postgres::PgPool,
    tokens: &[String],
    first_seq: usize,
) -> Vec<f64> {
    let before = support::committed(pool).await;
    let sent = live(base, tokens, first_seq).await;
    until_committed(pool, before + sent.len() as i64).await;
    support::commit_latencies(pool, &sent).await
}

async fn live(base: &str, tokens: &[String], first_seq: usize) -> Vec<(String, DateTime<Utc>)> {
    let client = reqwest::Client::new();
    let url = format!("{base}/v1/events");
    let total = LIVE_TOTAL;
    let mut rng = dd0c_tests::Rng::new(42);
    let mut sent = Vec::with_capacity(total);
    let mut tasks = tokio::task::JoinSet::new();
    let start = Instant::now();
    for i in 0..total {
        let due = start + Duration::from_micros(i as u64 * 1_000_000 / LIVE_RATE);
        tokio::time::sleep_until(due.into()).await;
        let account = rng.below(tokens.len() as u64) as usize;
        let mut record = launch(account, first_seq + i);
        record["eventTime"] = Utc::now()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            .into();
        sent.push((
            record["eventID"].as_str().expect("id").to_owned(),
            Utc::now(),
        ));
        let (client, url, token) = (client.clone(), url.clone(), tokens[account].clone());
        tasks.spawn(async move {
            let response = client
                .post(&url)
                .bearer_auth(&token)
                .json(&record)
                .send()
                .await
                .expect("pushed");
            assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("push");
    }
    sent
}

/// The database's size, and its largest relations (with indexes and TOAST), in MB.
async fn sizes(pool: &dd0c_adapters_postgres::PgPool) -> (f64, Vec<(String, f64)>) {
    let database: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
        .fetch_one(pool)
        .await
        .expect("size");
    let largest: Vec<(String, i64)> = sqlx::query_as(
        "SELECT n.nspname || '.' || c.relname, pg_total_relation_size(c.oid)
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'r' AND n.nspname IN ('public', 'pgmq')
         ORDER BY 2 DESC LIMIT 6",
    )
    .fetch_all(pool)
    .await
    .expect("relations");
    let mb = |bytes: i64| bytes as f64 / 1_048_576.0;
    (
        mb(database),
        largest.into_iter().map(|(name, b)| (name, mb(b))).collect(),
    )
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let Some(server) = std::env::var("DATABASE_URL").ok() else {
        eprintln!(
            "scale bench: set DATABASE_URL to a Postgres server (it creates its own database)"
        );
        return;
    };
    let tenants: usize = std::env::var("DD0C_SCALE_TENANTS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(TENANTS);
    let url = fresh(&server, "bench_scale").await;
    let backend = dd0c_cost::backend::Backend::postgres(&url, 4)
        .await
        .expect("backend");
    let pool = backend.pool.clone().expect("postgres");
    let started = Instant::now();
    let tokens = Arc::new(onboard(&backend, tenants).await);
    let onboarding = started.elapsed();
    let address = format!("127.0.0.1:{}", free_port());
    let dispatcher = Serve::start(&url, "api,ingest,score,notify", Some(&address));
    let base = format!("http://{address}");
    ready(&base).await;

    let history = (tokens.len() * HISTORY) as i64;
    let (empty_mb, _) = sizes(&pool).await;
    let started = Instant::now();
    push_history(&base, tokens.clone()).await;
    until_committed(&pool, history).await;
    let loading = started.elapsed();
    let rss_history = rss_of(dispatcher.pid());
    let (database_mb, largest) = sizes(&pool).await;

    let right_after = measure_live(&base, &pool, &tokens, HISTORY).await;
    let started = Instant::now();
    sqlx::raw_sql("VACUUM (ANALYZE)")
        .execute(&pool)
        .await
        .expect("vacuumed");
    let vacuuming = started.elapsed();
    let vacuumed = measure_live(&base, &pool, &tokens, HISTORY + LIVE_TOTAL).await;
    let rss_live = rss_of(dispatcher.pid());

    println!(
        "scale: {tenants} tenants × {ACCOUNTS_PER_TENANT} accounts (onboarded in {:.1} s), {HISTORY} launches of history each",
        onboarding.as_secs_f64()
    );
    println!(
        "history: {history} cost events pushed and committed in {:.1} s: {:.0} events/s",
        loading.as_secs_f64(),
        history as f64 / loading.as_secs_f64()
    );
    println!(
        "Postgres: {database_mb:.0} MB, {:.0} MB more than before the history's {history} cost events: {:.0} MB per million",
        database_mb - empty_mb,
        (database_mb - empty_mb) / (history as f64 / 1e6)
    );
    for (name, mb) in &largest {
        println!("  {name:<32} {mb:>8.1} MB");
    }
    for (when, millis) in [
        ("right after the history", &right_after),
        (
            &*format!("after VACUUM ({:.0} s)", vacuuming.as_secs_f64()),
            &vacuumed,
        ),
    ] {
        println!(
            "live, {LIVE_RATE} launches/s to random accounts for {LIVE_SECONDS} s, {when}: push → committed p50 {:.1} ms, p99 {:.1} ms",
            quantile(millis, 0.5),
            quantile(millis, 0.99)
        );
    }
    println!(
        "dispatcher RSS: {:.1} MB after the history, {:.1} MB after the live traffic",
        rss_history.unwrap_or(f64::NAN),
        rss_live.unwrap_or(f64::NAN)
    );
}
