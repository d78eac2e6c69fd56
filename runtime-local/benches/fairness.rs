//! Fairness of the self-hosted queue, measured side by side in one run: tenant alpha pushes a
//! backlog of launches (`ALPHA_RECORDS` over `ALPHA_ACCOUNTS` accounts, as fast as the API
//! takes them) while tenant beta pushes one critical launch (a p4d.24xlarge) a second; beta's
//! push → committed latency (its cost event and anomaly, one commit), p50 / p99 / max, with
//! owners taking turns at receives (the queue as shipped) and in plain send order, and alpha's
//! records/s in each.
//!
//! `DATABASE_URL=postgres://… cargo bench -p dd0c-cost --bench fairness`. Target: beta's p99
//! under 1 s while alpha's backlog drains.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dd0c_adapters_postgres::PgmqQueue;
use dd0c_cost::backend::{Backend, SCORE_QUEUE};
use support::{commit_latencies, committed, fresh, launch, onboard, quantile, start};

const ALPHA_ACCOUNTS: usize = 10;
const ALPHA_RECORDS: usize = 200_000;
/// Beta's account, apart from alpha's.
const BETA_ACCOUNT: usize = 1_000;

struct Measured {
    p50: f64,
    p99: f64,
    max: f64,
    samples: usize,
    alpha_per_second: f64,
}

/// Alpha's records as request bodies of 100, built before the clock starts.
fn alpha_bodies(tokens: &[String]) -> Vec<(String, Vec<Vec<u8>>)> {
    let per_account = ALPHA_RECORDS / ALPHA_ACCOUNTS;
    tokens
        .iter()
        .enumerate()
        .map(|(a, token)| {
            let records: Vec<serde_json::Value> = (0..per_account).map(|s| launch(a, s)).collect();
            let bodies = records
                .chunks(100)
                .map(|c| serde_json::to_vec(&serde_json::json!({ "Records": c })).expect("JSON"))
                .collect();
            (token.clone(), bodies)
        })
        .collect()
}

async fn post(client: &reqwest::Client, url: &str, token: &str, body: Vec<u8>) {
    let response = client
        .post(url)
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .expect("pushed");
    assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
}

/// One round on a fresh database: the score queue taking turns, or in send order.
async fn round(server: &str, send_order: bool) -> Measured {
    let name = if send_order {
        "fair_send_order"
    } else {
        "fair_turns"
    };
    let mut backend = Backend::postgres(
        &fresh(server, name).await,
        dd0c_cost::backend::default_connections(),
    )
    .await
    .expect("backend");
    let pool = backend.pool.clone().expect("postgres");
    if send_order {
        let queue = PgmqQueue::new(pool.clone(), SCORE_QUEUE)
            .await
            .expect("queue");
        backend.score_queue = Arc::new(queue.in_send_order());
    }
    let alpha = onboard(&backend, "alpha", 0..ALPHA_ACCOUNTS).await;
    let beta = onboard(&backend, "beta", BETA_ACCOUNT..BETA_ACCOUNT + 1)
        .await
        .remove(0);
    let (address, running) = start(&backend, "api,ingest,score").await;
    let url = format!("{address}/v1/events");
    let client = reqwest::Client::new();
    let bodies = alpha_bodies(&alpha);

    let started = Instant::now();
    let mut pushers = tokio::task::JoinSet::new();
    for (token, bodies) in bodies {
        let (client, url) = (client.clone(), url.clone());
        pushers.spawn(async move {
            for body in bodies {
                post(&client, &url, &token, body).await;
            }
        });
    }
    // Beta's launches, one a second, until alpha's backlog is scored.
    let mut sent: Vec<(String, DateTime<Utc>)> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        while let Some(pushed) = pushers.try_join_next() {
            pushed.expect("alpha's pushes");
        }
        // Done when alpha's backlog and beta's launches, the last a second ago, are committed.
        if pushers.is_empty() && committed(&pool).await >= (ALPHA_RECORDS + sent.len()) as i64 {
            break;
        }
        let mut record = launch(BETA_ACCOUNT, sent.len());
        record["requestParameters"]["instanceType"] = "p4d.24xlarge".into();
        let id = record["eventID"].as_str().expect("id").to_owned();
        let body = serde_json::to_vec(&serde_json::json!({ "Records": [record] })).expect("JSON");
        sent.push((id, Utc::now()));
        post(&client, &url, &beta, body).await;
    }
    let alpha_per_second = ALPHA_RECORDS as f64 / started.elapsed().as_secs_f64();
    running.cancel();

    let millis = commit_latencies(&pool, &sent).await;
    Measured {
        p50: quantile(&millis, 0.5),
        p99: quantile(&millis, 0.99),
        max: quantile(&millis, 1.0),
        samples: millis.len(),
        alpha_per_second,
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let Some(server) = std::env::var("DATABASE_URL").ok() else {
        eprintln!(
            "fairness bench: set DATABASE_URL to a Postgres server (it creates its own databases)"
        );
        return;
    };
    let turns = round(&server, false).await;
    let send_order = round(&server, true).await;
    println!(
        "alpha: {ALPHA_RECORDS} launches over {ALPHA_ACCOUNTS} accounts pushed at once; beta: one critical launch a second"
    );
    for (name, m) in [
        ("owners take turns", &turns),
        ("plain send order ", &send_order),
    ] {
        println!(
            "{name}: beta push → committed p50 {:>8.0} ms, p99 {:>8.0} ms, max {:>8.0} ms ({} launches); alpha {:>6.0} records/s",
            m.p50, m.p99, m.max, m.samples, m.alpha_per_second
        );
    }
    println!(
        "beta's p99, send order / turns: {:.1}×",
        send_order.p99 / turns.p99.max(0.001)
    );
}
