//! The database restarts (`pg_ctl restart -m immediate`, a crash) mid-run: the dispatcher
//! reconnects by itself and no acknowledged event is lost. Alone in its test binary, because it
//! restarts the server every other test uses.

mod support;

use std::time::{Duration, Instant};

use support::{assert_matches, dispatcher, expected, fresh_database, story};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dispatcher_survives_a_database_crash_and_loses_nothing() {
    let pg_ctl = std::env::var("DD0C_TEST_PG_CTL")
        .expect("DD0C_TEST_PG_CTL: run the tests with scripts/test.sh");
    let database_url = fresh_database().await;
    let dispatcher = dispatcher(&database_url, "ingest,score").await;
    let (records, prod, _) = story(21, 120);
    let ours = support::of_account(records, &prod);
    let want = expected(&ours).await;
    let messages = support::ingest_messages(&ours, &prod);
    dispatcher
        .backend
        .ingest_queue
        .send_batch(messages)
        .await
        .expect("queued: acknowledged before the crash");

    let shutdown = CancellationToken::new();
    let run = tokio::spawn(dispatcher.clone().run(None, shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut words = pg_ctl.split_whitespace();
    let program = words.next().expect("a command");
    // Null stdio: the restarted server inherits pg_ctl's, and would hold a pipe open forever.
    let status = std::process::Command::new(program)
        .args(words)
        .args(["restart", "-m", "immediate", "-w"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("pg_ctl runs");
    assert!(status.success(), "pg_ctl restart failed: {status:?}");

    let pool = dd0c_adapters_postgres::connect(&database_url, 1)
        .await
        .expect("reconnects");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let processed = support::processed_count(&pool).await;
        if processed
            .as_ref()
            .is_ok_and(|n| *n as usize >= want.events.len())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dispatcher did not recover: {processed:?} of {}",
            want.events.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    shutdown.cancel();
    run.await.expect("joined").expect("ran");
    assert_matches(&database_url, &want).await;
}
