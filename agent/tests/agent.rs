//! `dd0c-agent` end to end: the real binary reads an SQS queue in moto, forwards over TLS (a CA
//! made here) to the dispatcher's gRPC service on Postgres; the dispatcher goes away for 30 s
//! while events arrive, and every cost event is still scored exactly once after it returns. A
//! wrong token is refused. Read from a trail bucket, every record arrives once too, also when
//! the tenant's intake rate refuses batches until the agent has waited.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use dd0c_adapters_aws::EventQueue;
use dd0c_cost::backend::Backend;
use dd0c_cost::serve::{parse_roles, Dispatcher, ServeConfig};
use dd0c_grpc::proto::ingest_client::IngestClient;
use dd0c_grpc::proto::Beat;
use dd0c_ingest::{Item, Normalizer, PriceCatalog};
use dd0c_ports::auth::{token_sha256, IngestGrant};
use dd0c_ports::conformance::unique;
use dd0c_ports::domain::{Account, Tenant};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use dd0c_adapters_memory::MemoryBuckets;
use dd0c_agent::{Filter, Forward};
use dd0c_ingest::limit::IntakeLimit;

const TENANT: &str = "acme";

fn endpoint() -> String {
    std::env::var("DD0C_TEST_AWS_ENDPOINT")
        .expect("DD0C_TEST_AWS_ENDPOINT: run the tests with scripts/test.sh, which starts moto")
}

async fn moto() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

/// A CA, and a server certificate for `localhost` it signed: (CA PEM, cert PEM, key PEM).
fn certificates() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca = rcgen::CertificateParams::new(Vec::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("CA");
    let key = rcgen::KeyPair::generate().expect("key");
    let server = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .signed_by(&key, &ca_cert, &ca_key)
        .expect("server certificate");
    (ca_cert.pem(), server.pem(), key.serialize_pem())
}

/// The records of one account of a generated story, and the cost events they make.
fn records() -> (String, Vec<Value>, usize) {
    let story = dd0c_tests::story(5, NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(), 3);
    let account = story
        .records
        .iter()
        .find(|r| r["eventName"] == "RunInstances")
        .expect("a launch")["recipientAccountId"]
        .as_str()
        .expect("account")
        .to_owned();
    let records: Vec<Value> = story
        .records
        .iter()
        .filter(|r| r["recipientAccountId"] == account)
        .cloned()
        .collect();
    let cost_events = cost_events_of(&records);
    (account, records, cost_events)
}

/// The cost events `records` make, priced in order as the dispatcher prices them.
fn cost_events_of(records: &[Value]) -> usize {
    let mut normalizer = Normalizer::new(PriceCatalog::bundled(), TENANT);
    records
        .iter()
        .map(
            |r| match normalizer.normalize_record(&r.to_string(), "test", 0) {
                Item::Cost(events) => events.len(),
                _ => 0,
            },
        )
        .sum()
}

fn envelope(record: &Value) -> String {
    json!({
        "version": "0",
        "id": unique("ev"),
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2",
        "account": record["recipientAccountId"],
        "time": record["eventTime"],
        "region": record["awsRegion"],
        "resources": [],
        "detail": record,
    })
    .to_string()
}

async fn scored(database_url: &str) -> usize {
    let pool = dd0c_adapters_postgres::connect(database_url, 1)
        .await
        .expect("connects");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM processed_events")
        .fetch_one(&pool)
        .await
        .expect("count");
    pool.close().await;
    n as usize
}

/// The agent binary with `env`, its warnings to `log`.
fn agent(env: &[(&str, String)], log: Stdio) -> Killed {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dd0c-agent"));
    command
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("DD0C_AGENT_HEARTBEAT_SECONDS", "1")
        .env("DD0C_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log);
    for (key, value) in env {
        command.env(key, value);
    }
    Killed(command.spawn().expect("dd0c-agent starts"))
}

/// Scores what arrives until `want` cost events are scored (or a minute passes).
async fn score_until(dispatcher: &Dispatcher, database_url: &str, want: usize) -> usize {
    let score = dispatcher.score_consumer();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        while score.try_execute_batch().await.expect("score") > 0 {}
        let n = scored(database_url).await;
        if n >= want || std::time::Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A dispatcher on a fresh database with the story's account onboarded: the database URL,
/// the dispatcher, the account, its records, the cost events they make and its ingest token.
async fn setup() -> (String, Dispatcher, String, Vec<Value>, usize, String) {
    setup_limited(None).await
}

/// [`setup`], its tenant held to `intake`.
async fn setup_limited(
    intake: Option<IntakeLimit>,
) -> (String, Dispatcher, String, Vec<Value>, usize, String) {
    let server = std::env::var("DATABASE_URL").expect("DATABASE_URL: run scripts/test.sh");
    let database_url =
        dd0c_adapters_postgres::create_database(&server, &unique("t").replace('-', "_"))
            .await
            .expect("database");
    let mut backend = Backend::postgres(&database_url, 4).await.expect("backend");
    backend.intake = intake;
    let config = ServeConfig::defaults(parse_roles("ingest,score").unwrap(), &unique("r"));
    let dispatcher = Dispatcher::new(backend, config, PriceCatalog::bundled()).expect("dispatcher");
    let (account, records, cost_events) = records();
    let stores = &dispatcher.backend.stores;
    stores
        .tenants
        .add_tenant(&Tenant {
            name: TENANT.into(),
            created_at: Utc::now(),
        })
        .await
        .expect("tenant");
    stores
        .tenants
        .add_account(&Account {
            tenant: TENANT.into(),
            account_id: account.clone(),
            name: None,
            created_at: Utc::now(),
            role_arn: None,
            external_id: None,
            access_key_id: None,
            remediation_role_arn: None,
            remediation_access_key_id: None,
        })
        .await
        .expect("account");
    let token = format!("dd0c_ing_{}", unique("tok"));
    stores
        .tokens
        .add_token(
            &IngestGrant {
                tenant: TENANT.into(),
                account_id: account.clone(),
            },
            &token_sha256(&token),
        )
        .await
        .expect("token");

    (
        database_url,
        dispatcher,
        account,
        records,
        cost_events,
        token,
    )
}

/// Every one of `want` cost events arrives and is scored, and, a while later, none twice.
async fn assert_scored_exactly(
    dispatcher: &Dispatcher,
    database_url: &str,
    want: usize,
    how: &str,
) {
    assert_eq!(
        score_until(dispatcher, database_url, want).await,
        want,
        "every cost event scored {how}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    while dispatcher
        .score_consumer()
        .try_execute_batch()
        .await
        .expect("score")
        > 0
    {}
    assert_eq!(scored(database_url).await, want, "and none twice {how}");
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_agent_forwards_over_tls_exactly_once_across_a_dispatcher_outage() {
    let (database_url, dispatcher, account, records, cost_events, token) = setup().await;

    let dir = std::env::temp_dir().join(unique("dd0c-agent"));
    std::fs::create_dir_all(&dir).unwrap();
    let (ca, cert, key) = certificates();
    std::fs::write(dir.join("ca.pem"), &ca).unwrap();
    let tls = || dd0c_cost::grpc::Tls {
        cert: cert.clone().into_bytes(),
        key: key.clone().into_bytes(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let grpc = tokio::spawn(dd0c_cost::grpc::serve(
        dispatcher.clone(),
        listener,
        Some(tls()),
        stop.clone(),
    ));

    let aws = moto().await;
    let url = EventQueue::create(&aws, &unique("cloudtrail"))
        .await
        .expect("queue");
    let queue = EventQueue::new(&aws, &url);
    let (first, second) = records.split_at(records.len() / 2);
    for record in first {
        queue.send(&envelope(record)).await.expect("sent");
    }
    let spool = dir.join("spool");
    let log = dir.join("agent.log");
    let _agent = agent(
        &[
            (
                "DD0C_AGENT_ENDPOINT",
                format!("https://localhost:{}", address.port()),
            ),
            ("DD0C_AGENT_TOKEN", token.clone()),
            (
                "DD0C_AGENT_CA_CERT",
                dir.join("ca.pem").display().to_string(),
            ),
            ("DD0C_AGENT_SQS_QUEUE_URL", url.clone()),
            ("DD0C_AGENT_SPOOL_DIR", spool.display().to_string()),
        ],
        Stdio::from(std::fs::File::create(&log).expect("a log file")),
    );
    let first_events = cost_events_of(first);
    assert_eq!(
        score_until(&dispatcher, &database_url, first_events).await,
        first_events,
        "the first half arrives through the agent"
    );

    // The dispatcher goes away for 30 s while the rest arrives: the agent spools it.
    stop.cancel();
    grpc.await.expect("joined").expect("served");
    for record in second {
        queue.send(&envelope(record)).await.expect("sent");
    }
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        scored(&database_url).await,
        first_events,
        "nothing arrives meanwhile"
    );
    let spooled = std::fs::read_dir(&spool)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".json"))
        })
        .count();
    assert!(spooled > 0, "the agent keeps what it read on disk");
    // Backing off to MAX_BACKOFF, the agent tries a few times a minute, not once per
    // record it reads.
    let attempts = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .matches("the dispatcher is unreachable")
        .count();
    assert!(
        (1..=20).contains(&attempts),
        "the agent backs off while the dispatcher is away: {attempts} attempts in 30 s"
    );

    let listener = tokio::net::TcpListener::bind(address)
        .await
        .expect("the same port");
    let again = CancellationToken::new();
    let grpc = tokio::spawn(dd0c_cost::grpc::serve(
        dispatcher.clone(),
        listener,
        Some(tls()),
        again.clone(),
    ));
    assert_scored_exactly(
        &dispatcher,
        &database_url,
        cost_events,
        "after the dispatcher returns",
    )
    .await;

    let agents = dispatcher
        .backend
        .sources
        .agents(TENANT)
        .await
        .expect("agents");
    assert_eq!(agents.len(), 1, "{agents:?}");
    assert_eq!(agents[0].account_id, account);
    assert!(agents[0].newest_event_time.is_some(), "{agents:?}");

    // A token that admits nothing is refused.
    dd0c_grpc::install_crypto();
    let channel =
        tonic::transport::Endpoint::from_shared(format!("https://localhost:{}", address.port()))
            .unwrap()
            .tls_config(
                tonic::transport::ClientTlsConfig::new()
                    .ca_certificate(tonic::transport::Certificate::from_pem(&ca)),
            )
            .unwrap()
            .connect()
            .await
            .expect("connects");
    let mut request = tonic::Request::new(Beat {
        agent_id: "intruder".into(),
        version: "1".into(),
        hostname: "h".into(),
        source: "sqs".into(),
        ..Beat::default()
    });
    request
        .metadata_mut()
        .insert("authorization", "Bearer dd0c_ing_wrong".parse().unwrap());
    let refused = IngestClient::new(channel)
        .heartbeat(request)
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");

    again.cancel();
    grpc.await.expect("joined").expect("served");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_agent_reads_the_trail_bucket_with_the_pollers_code_and_forwards_over_h2c() {
    forward_the_trail_bucket(setup().await, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_agent_waits_out_its_tenants_intake_rate_and_forwards_every_record_once() {
    // Two log files, each one batch, and a bucket of one record refilled at a tenth of the
    // records forwarded a second: the first batch is granted whole and leaves the bucket
    // seconds in debt, so the second is refused with RESOURCE_EXHAUSTED however quickly or
    // slowly the agent reads, and sent again after the wait the dispatcher names.
    let filter = Filter::new(Forward::Cost);
    let forwarded = records()
        .1
        .iter()
        .filter(|r| filter.keeps(&r.to_string()))
        .count();
    let per_second = (forwarded as f64 / 10.0).max(1.0);
    let intake = IntakeLimit::new(Arc::new(MemoryBuckets::new()), per_second, 1.0);
    let log = forward_the_trail_bucket(setup_limited(Some(intake)).await, 2).await;
    assert!(
        log.contains("over the tenant's intake rate; batches stay spooled")
            && log.contains("ResourceExhausted"),
        "the agent was refused and waited: {log}"
    );
}

/// The agent forwards the trail bucket of `setup`'s account, written as `files` log files,
/// over h2c: every cost event is scored once, and the agent says it reads the bucket.
/// Answers what the agent logged.
async fn forward_the_trail_bucket(
    (database_url, dispatcher, account, records, cost_events, token): (
        String,
        Dispatcher,
        String,
        Vec<Value>,
        usize,
        String,
    ),
    files: usize,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let grpc = tokio::spawn(dd0c_cost::grpc::serve(
        dispatcher.clone(),
        listener,
        None,
        stop.clone(),
    ));
    let aws = moto().await;
    let bucket = unique("trail");
    let writer = dd0c_adapters_aws::S3Archive::new(&aws, &bucket);
    writer.create_bucket().await.expect("bucket");
    let day = Utc::now();
    for (n, chunk) in records.chunks(records.len().div_ceil(files)).enumerate() {
        let key = format!(
            "AWSLogs/{account}/CloudTrail/us-east-1/{}/{account}_CloudTrail_us-east-1_{}_{n}.json.gz",
            day.format("%Y/%m/%d"),
            day.format("%Y%m%dT%H%MZ")
        );
        let file = serde_json::to_vec(&json!({ "Records": chunk })).unwrap();
        dd0c_ports::archive::Archive::put(&writer, &key, &file)
            .await
            .expect("log file");
    }
    let dir = std::env::temp_dir().join(unique("dd0c-agent"));
    let log = std::env::temp_dir().join(unique("dd0c-agent-log"));
    let _agent = agent(
        &[
            (
                "DD0C_AGENT_ENDPOINT",
                format!("http://127.0.0.1:{}", address.port()),
            ),
            ("DD0C_AGENT_TOKEN", token),
            ("DD0C_AGENT_CLOUDTRAIL_S3", format!("s3://{bucket}")),
            ("DD0C_AGENT_ACCOUNT_ID", account.clone()),
            ("DD0C_AGENT_POLL_SECONDS", "1".to_owned()),
            ("DD0C_AGENT_SPOOL_DIR", dir.display().to_string()),
        ],
        Stdio::from(std::fs::File::create(&log).expect("a log file")),
    );
    assert_scored_exactly(&dispatcher, &database_url, cost_events, "from the bucket").await;
    let agents = dispatcher
        .backend
        .sources
        .agents(TENANT)
        .await
        .expect("agents");
    assert_eq!(
        agents.first().map(|a| a.source.as_str()),
        Some("s3"),
        "{agents:?}"
    );
    stop.cancel();
    grpc.await.expect("joined").expect("served");
    std::fs::remove_dir_all(&dir).unwrap();
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    logged
}
