//! Shared by the dispatcher's integration tests: a migrated database per test, a dispatcher on
//! it, tenants with ingest tokens, and the expected outcome computed offline.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use dd0c_adapters_memory::MemoryStore;
use dd0c_cost::backend::{default_connections, Backend};
use dd0c_cost::consumer::ConsumerConfig;
use dd0c_cost::serve::{parse_roles, Dispatcher, ServeConfig};
use dd0c_ingest::{Item, Normalizer, PriceCatalog};
use dd0c_ports::auth::{token_sha256, IngestGrant};
use dd0c_ports::baseline::Welford;
use dd0c_ports::conformance::unique;
use dd0c_ports::domain::{Account, Anomaly, CostEvent, PriceSource, Tenant};
use dd0c_score::{Scored, Scorer, Verdict};

pub const TENANT: &str = "acme";

/// Runs the `dd0c-cost` binary (`binary`: the test's `env!("CARGO_BIN_EXE_dd0c-cost")`) on
/// `database_url` with `args`, `stdin` written to it and `env` added; quiet logs.
pub fn dd0c_cost(
    binary: &str,
    database_url: &str,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(binary)
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("DD0C_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dd0c-cost runs");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).expect("stdin");
    }
    child.wait_with_output().expect("finished")
}

/// A fresh, migrated database; its URL.
pub async fn fresh_database() -> String {
    let server = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL: run the tests with scripts/test.sh, which starts Postgres");
    dd0c_adapters_postgres::create_database(&server, &unique("t").replace('-', "_"))
        .await
        .expect("a fresh database")
}

/// A login role for the database at `owner_url` that belongs to `dd0c_app` only — what the
/// application connects as in production (row-level security applies to it) — and its URL.
/// Migrates the database first: the migrations create `dd0c_app`.
pub async fn application_role_url(owner_url: &str) -> String {
    let owner = dd0c_adapters_postgres::connect(owner_url, 1)
        .await
        .expect("connects");
    dd0c_adapters_postgres::migrate(&owner)
        .await
        .expect("migrates");
    let login = unique("app").replace('-', "_");
    let url = dd0c_adapters_postgres::add_application_login(&owner, owner_url, &login)
        .await
        .expect("a login role");
    owner.close().await;
    url
}

pub fn config(roles: &str) -> ServeConfig {
    ServeConfig {
        consumer: ConsumerConfig {
            batch: 20,
            visibility: Duration::from_secs(2),
            max_receives: 5,
            idle: Duration::from_millis(20),
            concurrency: 2,
        },
        max_body: 1 << 20,
        // The tests scrape /metrics without a token; one checks that it is closed by default.
        metrics_public: true,
        ..ServeConfig::defaults(parse_roles(roles).expect("roles"), &unique("replica"))
    }
}

/// Adds `account` to its tenant, creating the tenant when it is new.
pub async fn add_account(backend: &Backend, account: &Account) {
    let _ = backend
        .stores
        .tenants
        .add_tenant(&Tenant {
            name: account.tenant.clone(),
            created_at: account.created_at,
        })
        .await;
    backend
        .stores
        .tenants
        .add_account(account)
        .await
        .expect("account");
}

/// Creates the tenant and account and returns a working ingest token.
pub async fn onboard(backend: &Backend, account_id: &str) -> String {
    onboard_as(backend, TENANT, account_id).await
}

/// Creates `tenant` and its account and returns a working ingest token.
pub async fn onboard_as(backend: &Backend, tenant: &str, account_id: &str) -> String {
    let account = Account {
        role_arn: None,
        external_id: None,
        access_key_id: None,
        remediation_role_arn: None,
        remediation_access_key_id: None,
        tenant: tenant.into(),
        account_id: account_id.into(),
        name: None,
        created_at: chrono::Utc::now(),
    };
    add_account(backend, &account).await;
    let token = format!("dd0c_ing_{}", unique("tok"));
    let hash = token_sha256(&token);
    backend
        .stores
        .tokens
        .add_token(
            &IngestGrant {
                tenant: tenant.into(),
                account_id: account_id.into(),
            },
            &hash,
        )
        .await
        .expect("token");
    token
}

pub async fn dispatcher(database_url: &str, roles: &str) -> Dispatcher {
    let backend = Backend::postgres(database_url, default_connections())
        .await
        .expect("backend");
    Dispatcher::new(backend, config(roles), PriceCatalog::bundled()).expect("dispatcher")
}

/// Steps both consumers until neither finds work twice in a row.
pub async fn drain(dispatcher: &Dispatcher) {
    let (ingest, score) = (dispatcher.ingest_consumer(), dispatcher.score_consumer());
    let mut quiet = 0;
    while quiet < 2 {
        let n = ingest.try_execute_batch().await.expect("ingest batch")
            + score.try_execute_batch().await.expect("score batch");
        quiet = if n == 0 { quiet + 1 } else { 0 };
    }
}

/// A story's records in time order, and the production account's id.
pub fn story(seed: u64, days: u32) -> (Vec<serde_json::Value>, String, dd0c_tests::Story) {
    let story = dd0c_tests::story(
        seed,
        NaiveDate::from_ymd_opt(2026, 2, 1).expect("date"),
        days,
    );
    let prod = story
        .records
        .iter()
        .find(|r| r["eventName"] == "RunInstances")
        .expect("a launch")["recipientAccountId"]
        .as_str()
        .expect("account")
        .to_owned();
    (story.records.clone(), prod, story)
}

/// The records of one account.
pub fn of_account(records: Vec<serde_json::Value>, account: &str) -> Vec<serde_json::Value> {
    records
        .into_iter()
        .filter(|r| r["recipientAccountId"] == account)
        .collect()
}

/// `records` as ingest-queue messages of `account`'s group, as the HTTP ingress queues them.
pub fn ingest_messages(
    records: &[serde_json::Value],
    account: &str,
) -> Vec<dd0c_ports::queue::OutgoingMessage> {
    records
        .iter()
        .map(|r| dd0c_ports::queue::OutgoingMessage {
            trace: None,
            group_key: format!("{TENANT}#{account}"),
            dedup_key: r["eventID"].as_str().expect("id").to_owned(),
            body: serde_json::json!({"tenant": TENANT, "record": r}).to_string(),
        })
        .collect()
}

/// What scoring `records` must leave behind, computed offline in one pass: the cost events, the
/// Welford state of every baseline, and the anomalies.
pub struct Expected {
    pub events: Vec<CostEvent>,
    pub baselines: BTreeMap<(String, String), Welford>,
    pub anomalies: Vec<Anomaly>,
}

pub async fn expected(records: &[serde_json::Value]) -> Expected {
    let mut normalizer = Normalizer::new(PriceCatalog::bundled(), TENANT);
    let mut events = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if let Item::Cost(batch) = normalizer.normalize_record(&r.to_string(), "expected", i) {
            events.extend(batch);
        }
    }
    let mut baselines: BTreeMap<(String, String), Welford> = BTreeMap::new();
    for e in &events {
        if e.change.is_priced() && e.price_source != PriceSource::Unknown && e.hourly_usd > 0.0 {
            for kind in [e.resource_kind.as_str(), "*"] {
                baselines
                    .entry((e.account_id.clone(), kind.to_owned()))
                    .or_default()
                    .push(e.hourly_usd);
            }
        }
    }
    let store = Arc::new(MemoryStore::new());
    let scorer = Scorer::new(store.clone(), store.clone(), store);
    let mut anomalies = Vec::new();
    for e in &events {
        if let Scored::New(Verdict {
            anomaly: Some(a), ..
        }) = scorer.score(e).await.expect("scores")
        {
            anomalies.push(a);
        }
    }
    Expected {
        events,
        baselines,
        anomalies,
    }
}

/// How many events the database has recorded as processed.
pub async fn processed_count(pool: &dd0c_adapters_postgres::PgPool) -> Result<usize, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM processed_events")
        .fetch_one(pool)
        .await?;
    Ok(n as usize)
}

/// Asserts the database holds exactly `expected`: every event once, every baseline equal to the
/// single-pass computation (n, mean and M2 bit for bit), every anomaly once.
pub async fn assert_matches(database_url: &str, expected: &Expected) {
    let pool = dd0c_adapters_postgres::connect(database_url, 2)
        .await
        .expect("connects");
    let processed = processed_count(&pool).await.expect("count");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM cost_events")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(processed, expected.events.len(), "events lost or doubled");
    assert_eq!(stored as usize, expected.events.len());
    let rows: Vec<(String, String, i64, f64, f64)> =
        sqlx::query_as("SELECT account_id, resource_kind, n, mean, m2 FROM baselines")
            .fetch_all(&pool)
            .await
            .expect("baselines");
    let priced: BTreeMap<(String, String), Welford> = rows
        .into_iter()
        .filter(|r| r.2 > 0)
        .map(|(account, kind, n, mean, m2)| {
            (
                (account, kind),
                Welford {
                    n: n as u64,
                    mean,
                    m2,
                },
            )
        })
        .collect();
    assert_eq!(
        priced, expected.baselines,
        "every baseline equals the offline single pass"
    );
    let mut ids: Vec<String> = sqlx::query_scalar("SELECT anomaly_id FROM anomalies")
        .fetch_all(&pool)
        .await
        .expect("anomalies");
    ids.sort();
    let mut want: Vec<String> = expected
        .anomalies
        .iter()
        .map(|a| a.anomaly_id.clone())
        .collect();
    want.sort();
    assert_eq!(ids, want, "every expected anomaly, once");
}

/// `records` as a gzipped CloudTrail S3 log file.
pub fn log_file(records: &[serde_json::Value]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(
        serde_json::json!({ "Records": records })
            .to_string()
            .as_bytes(),
    )
    .expect("gzip");
    gz.finish().expect("gzip")
}

/// Whether the server closes `stream` (end of stream or an error) within `within`.
pub async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buffer = [0u8; 1024];
    let read = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(within, read).await.is_ok()
}

/// Cancels its token when dropped: a test's app stops with the test.
pub struct StopOnDrop(pub tokio_util::sync::CancellationToken);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// A CloudTrail record of `account` by `actor` at `at`.
pub fn trail(
    account: &str,
    actor: &str,
    name: &str,
    at: chrono::DateTime<chrono::Utc>,
    request: serde_json::Value,
    response: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{account}:user/{actor}"), "accountId": account},
        "eventTime": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "requestParameters": request,
        "responseElements": response,
        "eventID": format!("{name}-{}", at.timestamp()),
        "readOnly": false,
        "recipientAccountId": account,
    })
}

/// `actor`'s `RunInstances` of the instances `ids`, each an `instance_type`, at `at`, as
/// CloudTrail records it.
pub fn run_instances(
    account: &str,
    actor: &str,
    at: chrono::DateTime<chrono::Utc>,
    instance_type: &str,
    ids: &[impl AsRef<str>],
) -> serde_json::Value {
    let count = ids.len();
    let items: Vec<serde_json::Value> = ids
        .iter()
        .map(|i| serde_json::json!({"instanceId": i.as_ref(), "instanceType": instance_type}))
        .collect();
    trail(
        account,
        actor,
        "RunInstances",
        at,
        serde_json::json!({"instanceType": instance_type, "instancesSet": {"items": [{"minCount": count, "maxCount": count}]}}),
        serde_json::json!({"instancesSet": {"items": items}}),
    )
}

/// `actor`'s `TerminateInstances` of the running instances `ids` at `at`, as CloudTrail
/// records it (each from running to shutting down).
pub fn terminate_instances(
    account: &str,
    actor: &str,
    at: chrono::DateTime<chrono::Utc>,
    ids: &[impl AsRef<str>],
) -> serde_json::Value {
    let asked: Vec<serde_json::Value> = ids
        .iter()
        .map(|i| serde_json::json!({"instanceId": i.as_ref()}))
        .collect();
    let changed: Vec<serde_json::Value> = ids
        .iter()
        .map(|i| serde_json::json!({"instanceId": i.as_ref(), "previousState": {"code": 16, "name": "running"}, "currentState": {"code": 32, "name": "shutting-down"}}))
        .collect();
    trail(
        account,
        actor,
        "TerminateInstances",
        at,
        serde_json::json!({"instancesSet": {"items": asked}}),
        serde_json::json!({"instancesSet": {"items": changed}}),
    )
}

/// A dispatcher's edges on loopback: its HTTP server (`address`) and gRPC listener (`grpc`),
/// stopped when dropped.
pub struct App {
    pub address: String,
    pub grpc: String,
    pub dispatcher: Dispatcher,
    pub _stop: StopOnDrop,
}

/// Serves `dispatcher`'s HTTP and gRPC edges on ports of their own.
pub async fn serve_edges(dispatcher: Dispatcher) -> App {
    let stop = tokio_util::sync::CancellationToken::new();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let address = format!("http://{}", http.local_addr().expect("address"));
    tokio::spawn(dispatcher.clone().run(Some(http), stop.clone()));
    let agents = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("port");
    let grpc = format!("http://{}", agents.local_addr().expect("address"));
    tokio::spawn(dd0c_cost::grpc::serve(
        dispatcher.clone(),
        agents,
        None,
        stop.clone(),
    ));
    App {
        address,
        grpc,
        dispatcher,
        _stop: StopOnDrop(stop),
    }
}

/// Cost events waiting for the score function, visible or in flight.
pub async fn queued(app: &App) -> u64 {
    let depth = app
        .dispatcher
        .backend
        .score_queue
        .depth()
        .await
        .expect("depth");
    depth.visible + depth.in_flight
}

/// `POST /v1/events` of `body` (with `encoding`) under `token`: the status and the JSON body.
pub async fn push(
    app: &App,
    token: &str,
    body: Vec<u8>,
    encoding: Option<&str>,
) -> (reqwest::StatusCode, serde_json::Value) {
    let response = pushed(app, token, body, encoding).await;
    (
        response.status(),
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// The answer to `POST /v1/events` of `body` (with `encoding`) under `token`.
pub async fn pushed(
    app: &App,
    token: &str,
    body: Vec<u8>,
    encoding: Option<&str>,
) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{}/v1/events", app.address))
        .bearer_auth(token)
        .body(body);
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    request.send().await.expect("answered")
}

/// An agent's client of the gRPC listener at `url`.
pub async fn client(
    url: &str,
) -> dd0c_grpc::proto::ingest_client::IngestClient<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
        .expect("a URL")
        .connect()
        .await
        .expect("connects");
    dd0c_grpc::proto::ingest_client::IngestClient::new(channel)
}

/// `message` with `token` as its bearer.
pub fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("a header"),
    );
    request
}
