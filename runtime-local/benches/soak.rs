//! Soak: the self-hosted pipeline as separate `dd0c-cost serve` processes under steady load,
//! with failures, for half an hour:
//! - a front process (`--role api,ingest,notify`) takes pushes of [`RATE`] launches a second
//!   from [`ACCOUNTS`] accounts over HTTP, and sends alerts to a Slack stand-in;
//! - two `--role score` replicas score them; the second is `SIGKILL`ed and started again every
//!   [`KILL_EVERY`]; halfway, Postgres is restarted as by a crash (`pg_ctl restart -m
//!   immediate`, the command in `DD0C_TEST_PG_CTL`, which scripts/test.sh exports).
//!
//! A push refused while the database is away is sent again until accepted, as an agent would.
//! When the load stops and the queues drain, the bench checks (and panics otherwise) that every
//! acknowledged record is one committed cost event, processed once and counted once in its
//! account's baseline, and that no anomaly reached Slack twice; it prints those counts, push →
//! committed p50/p99 per ten minutes, and the RSS of the two processes that are never killed
//! with its slope after a warm-up.
//!
//! `DATABASE_URL=postgres://… DD0C_TEST_PG_CTL="…/pg_ctl -D DIR" cargo bench -p dd0c-cost --bench
//! soak` (`DD0C_SOAK_MINUTES` shortens it; without `DD0C_TEST_PG_CTL` nothing is restarted).

mod support;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dd0c_ports::domain::Settings;
use dd0c_ports::keys::ActionValue;
use dd0c_tests::free_port;
use dd0c_tests::CaptureServer;
use serde_json::Value;
use support::{account_id, fresh, quantile, ready, rss_of, Serve};

/// Launches pushed a second.
const RATE: usize = 500;
/// Records per push: one account's, so that each account's records arrive in order.
const PER_PUSH: usize = 10;
const ACCOUNTS: usize = 100;
const TENANT: &str = "soak";
/// How often the second scorer is killed.
const KILL_EVERY: Duration = Duration::from_secs(120);
/// RSS before this much time has passed is start-up, not growth.
const WARM_UP: Duration = Duration::from_secs(120);
/// Latency is reported per window of this much load.
const WINDOW: Duration = Duration::from_secs(600);

/// The `seq`-th launch of `account`, made now.
fn launch(account: usize, seq: usize) -> Value {
    let mut record = support::launch(account, seq);
    record["eventID"] = format!("soak-{account}-{seq}").into();
    record["eventTime"] = Utc::now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        .into();
    record
}

/// What the load generator saw.
#[derive(Default)]
struct Pushed {
    /// Every acknowledged record: its event id, account and when it was first sent.
    records: Vec<(String, usize, DateTime<Utc>)>,
    /// Pushes sent again after a refusal or a broken connection.
    retries: usize,
    /// The longest time one push took to be accepted.
    longest: Duration,
}

/// Pushes [`RATE`] launches a second for `load`, one account's [`PER_PUSH`] at a time, each
/// push sent again until accepted.
async fn generate(base: &str, tokens: &[String], load: Duration) -> Pushed {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let url = format!("{base}/v1/events");
    let pushes = (load.as_secs_f64() * (RATE / PER_PUSH) as f64) as usize;
    let mut pushed = Pushed::default();
    let mut seq = vec![0usize; ACCOUNTS];
    let start = Instant::now();
    for n in 0..pushes {
        let due = start + Duration::from_micros((n * PER_PUSH * 1_000_000 / RATE) as u64);
        tokio::time::sleep_until(due.into()).await;
        let account = n % ACCOUNTS;
        let records: Vec<Value> = (0..PER_PUSH)
            .map(|i| launch(account, seq[account] + i))
            .collect();
        seq[account] += PER_PUSH;
        let body = serde_json::to_vec(&serde_json::json!({ "Records": records })).expect("JSON");
        let sent_at = Utc::now();
        let first = Instant::now();
        loop {
            let response = client
                .post(&url)
                .bearer_auth(&tokens[account])
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            match response {
                Ok(r) if r.status() == reqwest::StatusCode::ACCEPTED => break,
                Ok(r) if r.status().is_client_error() => {
                    panic!(
                        "push refused: {} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    )
                }
                _ => {
                    pushed.retries += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        pushed.longest = pushed.longest.max(first.elapsed());
        for r in &records {
            let id = r["eventID"].as_str().expect("id").to_owned();
            pushed.records.push((id, account, sent_at));
        }
    }
    pushed
}

/// Kills and restarts `victim` every [`KILL_EVERY`], and restarts Postgres once halfway, until
/// `load` has passed; answers the kills and how long the restart took.
async fn chaos(
    database_url: String,
    mut victim: Serve,
    load: Duration,
    pg_ctl: Option<String>,
) -> (Serve, usize, Option<Duration>) {
    let start = Instant::now();
    let mut kills = 0;
    let mut restart = pg_ctl.map(|c| (start + load / 2, c));
    let mut restarted = None;
    loop {
        let next_kill = start + KILL_EVERY * (kills as u32 + 1);
        if next_kill >= start + load {
            break;
        }
        if let Some((at, command)) = restart.take_if(|(at, _)| *at < next_kill) {
            tokio::time::sleep_until(at.into()).await;
            restarted = Some(
                tokio::task::spawn_blocking(move || restart_postgres(&command))
                    .await
                    .expect("restarted"),
            );
        }
        tokio::time::sleep_until(next_kill.into()).await;
        drop(victim);
        victim = Serve::start(&database_url, "score", None);
        kills += 1;
    }
    tokio::time::sleep_until((start + load).into()).await;
    (victim, kills, restarted)
}

/// `pg_ctl restart -m immediate`: the server stops as by a crash and starts again.
fn restart_postgres(pg_ctl: &str) -> Duration {
    let started = Instant::now();
    let mut words = pg_ctl.split_whitespace();
    let program = words.next().expect("a command");
    // Null stdio: the restarted server inherits pg_ctl's, and would hold a pipe open forever.
    let status = Command::new(program)
        .args(words)
        .args(["restart", "-m", "immediate", "-w"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("pg_ctl runs");
    assert!(status.success(), "pg_ctl restart failed: {status:?}");
    started.elapsed()
}

/// Samples the RSS of the processes `pids` every ten seconds until `stop`: (seconds since start, MB)
/// per process.
async fn sample_rss(
    pids: Vec<u32>,
    stop: tokio_util::sync::CancellationToken,
) -> Vec<Vec<(f64, f64)>> {
    let start = Instant::now();
    let mut samples = vec![Vec::new(); pids.len()];
    while !stop.is_cancelled() {
        for (pid, series) in pids.iter().zip(&mut samples) {
            if let Some(mb) = rss_of(*pid) {
                series.push((start.elapsed().as_secs_f64(), mb));
            }
        }
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
    }
    samples
}

/// The least-squares slope of `samples` (seconds, MB) taken after [`WARM_UP`], in MB an hour.
fn slope_per_hour(samples: &[(f64, f64)]) -> f64 {
    let warm: Vec<(f64, f64)> = samples
        .iter()
        .copied()
        .filter(|(t, _)| *t >= WARM_UP.as_secs_f64())
        .collect();
    let n = warm.len() as f64;
    if n < 2.0 {
        return f64::NAN;
    }
    let (mean_t, mean_m) = (
        warm.iter().map(|s| s.0).sum::<f64>() / n,
        warm.iter().map(|s| s.1).sum::<f64>() / n,
    );
    let covariance: f64 = warm.iter().map(|(t, m)| (t - mean_t) * (m - mean_m)).sum();
    let variance: f64 = warm.iter().map(|(t, _)| (t - mean_t).powi(2)).sum();
    covariance / variance * 3600.0
}

/// Waits until the queues are empty and Slack has had nothing new for ten seconds; answers
/// how long that took.
async fn drain(backend: &dd0c_cost::backend::Backend, slack: &CaptureServer) -> Duration {
    let started = Instant::now();
    let queues = [backend.ingest_queue.clone(), backend.score_queue.clone()];
    let mut quiet_since = (Instant::now(), slack.posts("/hook").len());
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the queues never drained"
        );
        let mut busy = false;
        for queue in &queues {
            // Right after the restart a pooled connection may be broken: not yet drained.
            busy |= queue
                .depth()
                .await
                .map_or(true, |d| d.visible + d.in_flight > 0);
        }
        let posts = slack.posts("/hook").len();
        if posts != quiet_since.1 || busy {
            quiet_since = (Instant::now(), posts);
        } else if quiet_since.0.elapsed() >= Duration::from_secs(10) {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// How many Slack alerts named each anomaly (an alert's buttons carry its anomalies).
fn alerts_per_anomaly(posts: &[Value]) -> HashMap<String, usize> {
    fn action_values(value: &Value, found: &mut Vec<ActionValue>) {
        match value {
            Value::Object(map) => {
                if let Some(v) = map.get("value").and_then(Value::as_str) {
                    found.extend(ActionValue::from_str(v).ok());
                }
                map.values().for_each(|v| action_values(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| action_values(v, found)),
            _ => {}
        }
    }
    let mut per_anomaly = HashMap::new();
    for post in posts {
        let mut found = Vec::new();
        action_values(post, &mut found);
        let mut ids: Vec<String> = found.into_iter().flat_map(|v| v.anomaly_ids).collect();
        ids.sort();
        ids.dedup();
        for id in ids {
            *per_anomaly.entry(id).or_insert(0) += 1;
        }
    }
    per_anomaly
}

/// Every acknowledged record is one committed cost event, processed once, counted once in its
/// account's baseline; answers the anomalies recorded.
async fn assert_exactly_once(pool: &dd0c_adapters_postgres::PgPool, pushed: &Pushed) -> i64 {
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await
            .expect("count")
    };
    let acked = pushed.records.len() as i64;
    assert_eq!(
        count("SELECT count(*) FROM cost_events").await,
        acked,
        "committed"
    );
    assert_eq!(
        count("SELECT count(*) FROM processed_events").await,
        acked,
        "processed"
    );
    let baselines: Vec<(String, i64)> =
        sqlx::query_as("SELECT account_id, n FROM baselines WHERE resource_kind = '*'")
            .fetch_all(pool)
            .await
            .expect("baselines");
    let mut want: HashMap<String, i64> = HashMap::new();
    for (_, account, _) in &pushed.records {
        *want.entry(account_id(*account)).or_insert(0) += 1;
    }
    assert_eq!(
        baselines.into_iter().collect::<HashMap<_, _>>(),
        want,
        "each account's baseline counts each of its launches once"
    );
    count("SELECT count(*) FROM anomalies").await
}

/// Push → committed p50 and p99 per [`WINDOW`] of load, by when the record was first sent.
async fn latency_windows(
    pool: &dd0c_adapters_postgres::PgPool,
    pushed: &Pushed,
) -> Vec<(f64, f64, usize)> {
    let Some(first) = pushed.records.first().map(|r| r.2) else {
        return Vec::new();
    };
    let window = chrono::Duration::from_std(WINDOW).expect("window");
    let mut windows: Vec<Vec<(String, DateTime<Utc>)>> = Vec::new();
    for (id, _, at) in &pushed.records {
        let w = ((*at - first).num_milliseconds() / window.num_milliseconds()) as usize;
        windows.resize_with(windows.len().max(w + 1), Vec::new);
        windows[w].push((id.clone(), *at));
    }
    let mut out = Vec::new();
    for sent in windows.iter().filter(|w| !w.is_empty()) {
        let millis = support::commit_latencies(pool, sent).await;
        out.push((quantile(&millis, 0.5), quantile(&millis, 0.99), sent.len()));
    }
    out
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let Some(server) = std::env::var("DATABASE_URL").ok() else {
        eprintln!(
            "soak bench: set DATABASE_URL to a Postgres server (it creates its own database)"
        );
        return;
    };
    let minutes: u64 = std::env::var("DD0C_SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(30);
    let load = Duration::from_secs(minutes * 60);
    let pg_ctl = std::env::var("DD0C_TEST_PG_CTL").ok();
    if pg_ctl.is_none() {
        eprintln!("soak bench: DD0C_TEST_PG_CTL unset, so Postgres is not restarted");
    }

    let url = fresh(&server, "bench_soak").await;
    let backend = dd0c_cost::backend::Backend::postgres(&url, 4)
        .await
        .expect("backend");
    let tokens = support::onboard(&backend, TENANT, 0..ACCOUNTS).await;
    let slack = CaptureServer::start().await.expect("Slack stand-in");
    backend
        .stores
        .settings
        .put_settings(
            TENANT,
            &Settings {
                slack_webhook_url: Some(slack.url("/hook")),
                ..Settings::default()
            },
        )
        .await
        .expect("settings");
    let address = format!("127.0.0.1:{}", free_port());
    let front = Serve::start(&url, "api,ingest,notify", Some(&address));
    let base = format!("http://{address}");
    ready(&base).await;
    let steady = Serve::start(&url, "score", None);
    let victim = Serve::start(&url, "score", None);

    let stop = tokio_util::sync::CancellationToken::new();
    let rss = tokio::spawn(sample_rss(vec![front.pid(), steady.pid()], stop.clone()));
    println!(
        "soak: {minutes} min at {RATE} launches/s from {ACCOUNTS} accounts; a scorer killed every {} s{}",
        KILL_EVERY.as_secs(),
        if pg_ctl.is_some() { "; Postgres restarted halfway" } else { "" }
    );
    // Its own task: the load must go on while a kill or the restart is under way.
    let chaos = tokio::spawn(chaos(url.clone(), victim, load, pg_ctl.clone()));
    let pushed = generate(&base, &tokens, load).await;
    let (_victim, kills, restarted) = chaos.await.expect("chaos");
    let drained = drain(&backend, &slack).await;
    stop.cancel();
    let rss = rss.await.expect("sampled");

    let pool = backend.pool.clone().expect("postgres");
    let anomalies = assert_exactly_once(&pool, &pushed).await;
    let per_anomaly = alerts_per_anomaly(&slack.posts("/hook"));
    let twice = per_anomaly.values().filter(|n| **n > 1).count();
    assert_eq!(twice, 0, "no anomaly alerted twice: {per_anomaly:?}");
    let windows = latency_windows(&pool, &pushed).await;

    println!(
        "pushed and acknowledged: {} records; pushes sent again after a refusal: {}; the longest push took {:.1} s",
        pushed.records.len(),
        pushed.retries,
        pushed.longest.as_secs_f64()
    );
    println!(
        "scorer killed {kills} times; Postgres restart {}; drained {:.1} s after the load stopped",
        restarted.map_or("skipped".to_owned(), |d| format!(
            "took {:.1} s",
            d.as_secs_f64()
        )),
        drained.as_secs_f64()
    );
    println!(
        "exactly once: {n} cost events committed, {n} processed, every account's baseline counts its launches once",
        n = pushed.records.len()
    );
    println!(
        "alerts: {} anomalies recorded, {} alerted on Slack, none twice",
        anomalies,
        per_anomaly.len()
    );
    for (i, (p50, p99, n)) in windows.iter().enumerate() {
        println!(
            "push → committed, minutes {:>2}–{:<2}: p50 {p50:.1} ms, p99 {p99:.1} ms ({n} records)",
            i as u64 * WINDOW.as_secs() / 60,
            (i as u64 + 1) * WINDOW.as_secs() / 60
        );
    }
    for (name, samples) in ["api,ingest,notify", "score (never killed)"]
        .iter()
        .zip(&rss)
    {
        let warm: Vec<f64> = samples
            .iter()
            .filter(|s| s.0 >= WARM_UP.as_secs_f64())
            .map(|s| s.1)
            .collect();
        println!(
            "RSS of {name} after {} s: first {:.1} MB, last {:.1} MB, max {:.1} MB; slope {:+.2} MB/hour ({} samples)",
            WARM_UP.as_secs(),
            warm.first().copied().unwrap_or(f64::NAN),
            warm.last().copied().unwrap_or(f64::NAN),
            warm.iter().copied().fold(f64::NAN, f64::max),
            slope_per_hour(samples),
            warm.len()
        );
    }
    drop(front);
    drop(steady);
}
