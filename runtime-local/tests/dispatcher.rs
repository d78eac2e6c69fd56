//! The local dispatcher on a real Postgres: HTTP ingress to committed anomalies, bad requests,
//! poison messages, and two dispatchers sharing one database.

mod support;

use std::time::Duration;

use dd0c_ports::queue::OutgoingMessage;
use reqwest::StatusCode;
use support::{
    assert_matches, dispatcher, drain, expected, fresh_database, onboard, run_instances, story,
    terminate_instances, TENANT,
};
use tokio_util::sync::CancellationToken;

struct TestApp {
    address: String,
    database_url: String,
    dispatcher: dd0c_cost::serve::Dispatcher,
    token: String,
    account: String,
    shutdown: CancellationToken,
}

/// The API on a random port over a fresh database; consumers are stepped by the test.
async fn spawn_app(account: &str) -> TestApp {
    let database_url = fresh_database().await;
    let dispatcher = dispatcher(&database_url, "api").await;
    let token = onboard(&dispatcher.backend, account).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let shutdown = CancellationToken::new();
    tokio::spawn(dispatcher.clone().run(Some(listener), shutdown.clone()));
    TestApp {
        address,
        database_url,
        dispatcher,
        token,
        account: account.into(),
        shutdown,
    }
}

impl TestApp {
    async fn push(
        &self,
        token: Option<&str>,
        body: Vec<u8>,
        gzip: bool,
    ) -> (StatusCode, serde_json::Value) {
        let mut request = reqwest::Client::new()
            .post(format!("{}/v1/events", self.address))
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if gzip {
            request = request.header("Content-Encoding", "gzip");
        }
        let response = request.send().await.expect("a response");
        let status = response.status();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    /// Cost events waiting for the score function: the HTTP edge prices what it admits.
    async fn score_depth(&self) -> u64 {
        self.dispatcher
            .backend
            .score_queue
            .depth()
            .await
            .expect("depth")
            .visible
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pushed_cloudtrail_becomes_scored_anomalies_in_postgres() {
    let (records, prod, story) = story(3, 14);
    let ours = support::of_account(records, &prod);
    let app = spawn_app(&prod).await;
    let (status, body) = app
        .push(Some(&app.token), support::log_file(&ours), true)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["accepted"], ours.len());
    assert_eq!(body["rejected"], 0);
    let priced = body["priced"].as_u64().expect("priced");
    let queued = priced + body["ends"].as_u64().expect("ends");
    assert!(
        priced > 0 && body["skipped"].as_u64() > Some(0),
        "the story has reads and creations: {body}"
    );
    assert_eq!(app.score_depth().await, queued);
    drain(&app.dispatcher).await;

    let want = expected(&ours).await;
    assert_matches(&app.database_url, &want).await;
    let criticals: Vec<&dd0c_ports::domain::Anomaly> = want
        .anomalies
        .iter()
        .filter(|a| a.severity == dd0c_ports::domain::Severity::Critical)
        .collect();
    assert!(
        criticals.len() >= 3,
        "the production account's mistakes are flagged: {criticals:#?}"
    );
    let first_gpu = &story.mistakes[0].event_ids[0];
    let stored = app
        .dispatcher
        .backend
        .stores
        .anomalies
        .anomalies(TENANT, &Default::default(), None, 100)
        .await
        .expect("list");
    assert!(stored
        .items
        .iter()
        .any(|a| &a.event_id == first_gpu && a.severity == dd0c_ports::domain::Severity::Critical));

    let (status, body) = app
        .push(Some(&app.token), support::log_file(&ours), true)
        .await;
    assert_eq!(
        (status, body["priced"].as_u64(), body["duplicates"].as_u64()),
        (StatusCode::ACCEPTED, Some(0), Some(queued)),
        "a re-push is deduplicated"
    );
    app.shutdown.cancel();
}

#[tokio::test]
async fn bad_requests_are_refused_and_write_nothing() {
    let app = spawn_app("111122223333").await;
    let own = serde_json::json!({"eventVersion": "1.09", "eventTime": "2026-03-01T10:00:00Z", "eventSource": "ec2.amazonaws.com",
        "eventName": "AllocateAddress", "awsRegion": "us-east-1", "recipientAccountId": app.account, "eventID": "own-1",
        "responseElements": {"allocationId": "eipalloc-1"}});
    let mut foreign = own.clone();
    foreign["recipientAccountId"] = serde_json::json!("999999999999");
    foreign["eventID"] = serde_json::json!("foreign-1");

    let (status, body) = app.push(None, own.to_string().into_bytes(), false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = app
        .push(Some("dd0c_ing_forged"), own.to_string().into_bytes(), false)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = app
        .push(Some(&app.token), vec![b' '; (1 << 20) + 1], false)
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let (status, body) = app
        .push(Some(&app.token), b"this is not json".to_vec(), false)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not valid JSON") && d.contains("line 1 column")),
        "{body}"
    );
    let (status, body) = app
        .push(Some(&app.token), b"\x1f\x8b\x08garbage".to_vec(), true)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = app
        .push(Some(&app.token), foreign.to_string().into_bytes(), false)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&app.account)),
        "{body}"
    );
    assert_eq!(
        app.score_depth().await,
        0,
        "nothing from a refused request is queued"
    );
    let mut read = own.clone();
    read["eventName"] = serde_json::json!("DescribeAddresses");
    read["eventID"] = serde_json::json!("read-1");
    let mut unpriceable = own.clone();
    unpriceable["eventName"] = serde_json::json!("RunInstances");
    unpriceable["eventID"] = serde_json::json!("bad-count-1");
    unpriceable["requestParameters"] = serde_json::json!({"instanceType": "m5.large", "instancesSet": {"items": [{"maxCount": "lots"}]}});

    let (status, body) = app
        .push(
            Some(&app.token),
            serde_json::json!([own, foreign, read, unpriceable])
                .to_string()
                .into_bytes(),
            false,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(
        (
            body["accepted"].as_u64(),
            body["priced"].as_u64(),
            body["skipped"].as_u64(),
            body["rejected"].as_u64()
        ),
        (Some(2), Some(1), Some(1), Some(2)),
        "{body}"
    );
    assert!(
        body["rejections"][1].as_str().is_some_and(
            |r| r.starts_with("record 3: field requestParameters.instancesSet[0].maxCount")
        ),
        "the normalizer's refusal reaches the pusher, naming the field: {body}"
    );
    assert_eq!(
        app.score_depth().await,
        1,
        "the address is priced, the read is not queued"
    );

    let metrics = reqwest::get(format!("{}/metrics", app.address))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("dd0c_ingest_rejected_total{reason=\"other_account\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("dd0c_queue_depth{queue=\"score\",state=\"visible\"} 1"),
        "{metrics}"
    );
    let ready = reqwest::get(format!("{}/readyz", app.address))
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    app.shutdown.cancel();
}

#[tokio::test]
async fn a_poison_message_is_dead_lettered_after_exactly_max_receives() {
    let database_url = fresh_database().await;
    let mut dispatcher = dispatcher(&database_url, "score").await;
    dispatcher.config.consumer.max_receives = 3;
    dispatcher.config.consumer.visibility = Duration::from_secs(1);
    let (records, prod, _) = story(4, 10);
    let events = expected(
        &records
            .into_iter()
            .filter(|r| r["recipientAccountId"] == prod.as_str())
            .take(200)
            .collect::<Vec<_>>(),
    )
    .await
    .events;
    let queue = dispatcher.backend.score_queue.clone();
    let group = format!("{TENANT}#{prod}");
    let mut messages: Vec<OutgoingMessage> = events
        .iter()
        .map(|e| dd0c_ingest::handler::score_message(e).expect("message"))
        .collect();
    messages.insert(
        5,
        OutgoingMessage {
            trace: None,
            group_key: group.clone(),
            dedup_key: "poison".into(),
            body: "{\"event_id\": 42".into(),
        },
    );
    queue.send_batch(messages).await.expect("sent");

    let consumer = dispatcher.score_consumer();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let depth = queue.depth().await.expect("depth");
        if depth.visible + depth.in_flight == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the queue never drained: {depth:?}"
        );
        if consumer.try_execute_batch().await.expect("batch") == 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let dead = queue.dead_letters(10).await.expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].receive_count, 3,
        "dead-lettered after exactly max receives"
    );
    assert!(
        dead[0].error.contains("not a cost event"),
        "{}",
        dead[0].error
    );
    assert_eq!(dead[0].body, "{\"event_id\": 42");
    let pool = dd0c_adapters_postgres::connect(&database_url, 1)
        .await
        .expect("connects");
    let processed = support::processed_count(&pool).await.expect("count");
    assert_eq!(
        processed,
        events.len(),
        "every other message processed exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_dispatchers_share_the_work_and_each_tick() {
    let database_url = fresh_database().await;
    let (records, prod, _) = story(5, 20);
    let mut first = dispatcher(&database_url, "ingest,score,scheduler").await;
    let mut second = dispatcher(&database_url, "ingest,score,scheduler").await;
    for d in [&mut first, &mut second] {
        d.config.retention_every = Duration::from_secs(1);
    }
    let token = onboard(&first.backend, &prod).await;
    drop(token);
    let ours = support::of_account(records, &prod);
    let messages = support::ingest_messages(&ours, &prod);
    first
        .backend
        .ingest_queue
        .send_batch(messages)
        .await
        .expect("queued");

    let shutdown = CancellationToken::new();
    let runs = [
        tokio::spawn(first.clone().run(None, shutdown.clone())),
        tokio::spawn(second.clone().run(None, shutdown.clone())),
    ];
    let want = expected(&ours).await;
    let pool = dd0c_adapters_postgres::connect(&database_url, 1)
        .await
        .expect("connects");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let processed = support::processed_count(&pool).await.expect("count");
        if processed >= want.events.len() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {processed} of {} events processed",
            want.events.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    shutdown.cancel();
    for run in runs {
        run.await.expect("joined").expect("ran");
    }
    assert_matches(&database_url, &want).await;
    let busy = |d: &dd0c_cost::serve::Dispatcher| {
        d.metrics
            .value(dd0c_api::metrics::Counter::Processed, "score")
    };
    assert!(
        busy(&first) > 0 && busy(&second) > 0,
        "both dispatchers did work: {} / {}",
        busy(&first),
        busy(&second)
    );
    let ticks: i64 = sqlx::query_scalar("SELECT count(*) FROM job_runs WHERE job = 'retention'")
        .fetch_one(&pool)
        .await
        .expect("count");
    let ran = first
        .metrics
        .value(dd0c_api::metrics::Counter::JobRuns, "retention")
        + second
            .metrics
            .value(dd0c_api::metrics::Counter::JobRuns, "retention");
    assert!(ticks >= 2, "the job ticked: {ticks}");
    assert_eq!(
        ran, ticks as u64,
        "each tick ran exactly once across both replicas"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_launch_and_its_termination_leave_ended_resources_linked_to_the_anomaly() {
    let account = dd0c_ports::conformance::unique_account_id();
    let app = spawn_app(&account).await;
    let ids = ["i-0a", "i-0b", "i-0c", "i-0d"];
    let now = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).expect("now");
    let launched_at = now - chrono::TimeDelta::hours(3);
    let ended_at = launched_at + chrono::TimeDelta::minutes(130);
    let launch = run_instances(&account, "intern", launched_at, "p4d.24xlarge", &ids);
    let terminate = terminate_instances(&account, "alice", ended_at, &ids);
    let (status, body) = app
        .push(
            Some(&app.token),
            support::log_file(&[launch, terminate]),
            true,
        )
        .await;
    assert_eq!(
        (status, body["priced"].as_u64(), body["ends"].as_u64()),
        (StatusCode::ACCEPTED, Some(1), Some(1)),
        "{body}"
    );
    drain(&app.dispatcher).await;

    let stores = &app.dispatcher.backend.stores;
    let anomalies = stores
        .anomalies
        .anomalies(TENANT, &Default::default(), None, 10)
        .await
        .expect("list");
    let anomaly = anomalies.items.first().expect("the launch is an anomaly");
    let mut linked = stores
        .ledger
        .of_anomaly(TENANT, &anomaly.anomaly_id)
        .await
        .expect("read");
    linked.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(
        linked
            .iter()
            .map(|r| r.key.resource_id.as_str())
            .collect::<Vec<_>>(),
        ids
    );
    let unit = anomaly.hourly_usd / 4.0;
    for record in &linked {
        let life = record.life(chrono::Utc::now());
        let ended = life.ended.as_ref().expect("ended");
        let by = ended.by.as_ref().expect("by a call");
        assert!(
            by.actor_arn.ends_with("user/alice") && ended.at == ended_at,
            "{ended:?}"
        );
        let actual = life.actual_cost().expect("an actual cost");
        let want = unit * 130.0 / 60.0;
        assert!(
            (actual - want).abs() <= want * 0.01,
            "{actual} against {want}"
        );
    }
    let resolved = stores
        .anomalies
        .anomaly(TENANT, &anomaly.anomaly_id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(resolved.status, dd0c_ports::domain::AnomalyStatus::Resolved);
    let history = stores
        .anomalies
        .feedback(TENANT, &anomaly.anomaly_id)
        .await
        .expect("history");
    assert_eq!(history.len(), 1, "resolved once: {history:?}");
    let note = history[0].note.as_deref().expect("a note");
    assert!(
        note.contains("TerminateInstances by user/alice after 2 h 10 min")
            && note.starts_with("every resource ended (4)"),
        "{note}"
    );

    // The retention job forgets ended resources past the ledger's retention, not before.
    use dd0c_function::job::Job;
    let retention = dd0c_ingest::retention::Retention {
        stores: stores.clone(),
        sources: app.dispatcher.backend.sources.clone(),
        queues: Vec::new(),
        archive: None,
        ledger_days: 400,
        every: Duration::from_secs(3600),
    };
    let keys: Vec<_> = linked.iter().map(|r| r.key.clone()).collect();
    for (days, left) in [(399, 4), (401, 0)] {
        retention
            .run(ended_at + chrono::TimeDelta::days(days), "test")
            .await
            .expect("retention");
        let found = stores.ledger.resources(TENANT, &keys).await.expect("read");
        let kept = found.iter().filter(|r| r.is_some()).count();
        assert_eq!(kept, left, "{days} days after the end");
    }
    app.shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_anomaly_stays_open_while_one_of_its_resources_runs_and_resolves_at_the_last_end() {
    let account = dd0c_ports::conformance::unique_account_id();
    let app = spawn_app(&account).await;
    let now = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).expect("now");
    let ids = ["i-1", "i-2"];
    let terminate = |id: &str, actor: &str, at| terminate_instances(&account, actor, at, &[id]);
    let launch = run_instances(
        &account,
        "intern",
        now - chrono::TimeDelta::hours(5),
        "p5.48xlarge",
        &ids,
    );
    let first_end = terminate("i-1", "alice", now - chrono::TimeDelta::hours(4));
    app.push(
        Some(&app.token),
        support::log_file(&[launch, first_end]),
        true,
    )
    .await;
    drain(&app.dispatcher).await;
    let stores = &app.dispatcher.backend.stores;
    let first = |page: dd0c_ports::store::Page<dd0c_ports::domain::Anomaly>| {
        page.items.into_iter().next().expect("an anomaly")
    };
    let anomaly = first(
        stores
            .anomalies
            .anomalies(TENANT, &Default::default(), None, 10)
            .await
            .expect("list"),
    );
    assert_eq!(
        anomaly.status,
        dd0c_ports::domain::AnomalyStatus::Open,
        "one still runs"
    );

    // A person acknowledges it; the last end resolves it all the same, recorded.
    dd0c_score::feedback::apply(
        stores.score.as_ref(),
        stores.anomalies.as_ref(),
        TENANT,
        &anomaly.anomaly_id,
        dd0c_ports::domain::FeedbackAction::Acknowledge,
        "ana@example.com",
        now,
    )
    .await
    .expect("acknowledged");
    let last_end = terminate("i-2", "bob", now - chrono::TimeDelta::hours(1));
    app.push(Some(&app.token), support::log_file(&[last_end]), true)
        .await;
    drain(&app.dispatcher).await;
    let after = stores
        .anomalies
        .anomaly(TENANT, &anomaly.anomaly_id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(after.status, dd0c_ports::domain::AnomalyStatus::Resolved);
    let history = stores
        .anomalies
        .feedback(TENANT, &anomaly.anomaly_id)
        .await
        .expect("history");
    assert_eq!(history.len(), 2, "{history:?}");
    let note = history[1].note.as_deref().expect("a note");
    assert!(note.contains("by user/bob after 4 h 0 min"), "{note}");
    app.shutdown.cancel();
}
