//! Crash safety: the real `dd0c-cost serve` binary is killed with SIGKILL at random moments
//! while it works through more than 5,000 events; afterwards nothing is lost and nothing is
//! counted twice. The seed is printed; `DD0C_CRASH_SEED` replays a run.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dd0c_ports::queue::Queue;
use support::{assert_matches, expected, fresh_database, story};

const KILLS: usize = 20;

fn start(database_url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dd0c-cost"))
        .args(["serve", "--role", "ingest,score"])
        .env("DATABASE_URL", database_url)
        .env("DD0C_VISIBILITY_SECONDS", "1")
        .env("DD0C_BATCH_SIZE", "20")
        // The story runs 500 days from 2026-02-01, past the clock: admit its synthetic future.
        .env("DD0C_MAX_EVENT_SKEW_MINUTES", "2000000")
        .env("DD0C_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dd0c-cost serve starts")
}

async fn remaining(queues: &[std::sync::Arc<dyn Queue>]) -> u64 {
    let mut total = 0;
    for q in queues {
        let d = q.depth().await.expect("depth");
        total += d.visible + d.in_flight;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_nothing_and_doubles_nothing() {
    let seed: u64 = std::env::var("DD0C_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    println!("crash test seed: {seed} (DD0C_CRASH_SEED={seed} replays it)");
    let mut rng = dd0c_tests::Rng::new(seed);

    let database_url = fresh_database().await;
    let backend = dd0c_cost::backend::Backend::postgres(&database_url, 4)
        .await
        .expect("backend");
    let (records, prod, _) = story(seed % 1000, 500);
    let ours = support::of_account(records, &prod);
    let want = expected(&ours).await;
    let priced: Vec<serde_json::Value> = ours
        .iter()
        .filter(|r| r["readOnly"] == false && r["errorCode"].is_null())
        .cloned()
        .collect();
    assert!(
        want.events.len() >= 5_000,
        "replay at least 5,000 events: {}",
        want.events.len()
    );
    let messages = support::ingest_messages(&priced, &prod);
    for chunk in messages.chunks(1000) {
        backend
            .ingest_queue
            .send_batch(chunk.to_vec())
            .await
            .expect("queued");
    }
    let queues = [backend.ingest_queue.clone(), backend.score_queue.clone()];

    let mut kills_mid_work = 0;
    while kills_mid_work < KILLS {
        let mut child = start(&database_url);
        tokio::time::sleep(Duration::from_millis(150 + rng.below(500))).await;
        let busy = remaining(&queues).await > 0;
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        assert!(busy, "the work finished after {kills_mid_work} kills; the test needs more events to kill mid-work");
        kills_mid_work += 1;
    }
    println!("killed {kills_mid_work} times mid-work");

    let mut child = start(&database_url);
    let deadline = Instant::now() + Duration::from_secs(240);
    while remaining(&queues).await > 0 {
        assert!(Instant::now() < deadline, "the queues never drained");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("SIGTERM");
    let status = child.wait().expect("exits");
    assert!(status.success(), "a graceful stop on SIGTERM: {status:?}");
    assert_matches(&database_url, &want).await;
}
