//! The dispatcher's edges against a client that means harm: gzip bombs on every path that
//! inflates (peak memory measured), the gRPC listener's connection cap and timeouts, and an open
//! agent stream whose token is revoked or whose account is removed.

mod support;

use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use dd0c_cost::serve::{Dispatcher, ServeConfig};
use dd0c_grpc::proto::ingest_client::IngestClient;
use dd0c_grpc::proto::{Batch, Beat};
use dd0c_ingest::inflate::InflateLimit;
use dd0c_ingest::trail::Deliver;
use dd0c_ingest::PriceCatalog;
use dd0c_ports::auth::token_sha256;
use dd0c_ports::conformance::unique_account_id;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{
    authorized, client, closed_within, config, fresh_database, onboard, push, queued, serve_edges,
    App, TENANT,
};

/// What a bomb inflates to: far past the bound the tests set, so memory shows which won.
const BOMB_INFLATES_TO: usize = 512 << 20;

/// The bound the tests set.
const LIMIT: usize = 16 << 20;

/// How much the process's peak memory may grow while a bomb is refused: room for the bound
/// and the buffer growing to it, far below what the bomb holds.
const PEAK_GROWTH: u64 = 128 << 20;

/// One record of `BOMB_INFLATES_TO` bytes (a parameter of padding), gzip-compressed.
fn bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let mut gzip =
            flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gzip.write_all(
            br#"{"Records":[{"eventTime":"2026-03-01T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"us-east-1","recipientAccountId":"123456789012","requestParameters":{"pad":""#,
        )
        .expect("compressed");
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..BOMB_INFLATES_TO >> 20 {
            gzip.write_all(&chunk).expect("compressed");
        }
        gzip.write_all(br#""}}]}"#).expect("compressed");
        gzip.finish().expect("compressed")
    })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(bytes).expect("compressed");
    gzip.finish().expect("compressed")
}

/// Peak resident memory (kB) of this process since [`reset_peak`].
fn peak_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("resets the peak");
}

/// Runs `refuse` with the peak memory reset first, and asserts the peak grew by less than
/// [`PEAK_GROWTH`]. One measurement at a time: tests of this binary run in parallel.
async fn within_memory<T>(refuse: impl std::future::Future<Output = T>) -> T {
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    bomb();
    reset_peak();
    let before = peak_kb();
    let outcome = refuse.await;
    let grown = (peak_kb() - before) * 1024;
    eprintln!(
        "refusing a bomb of {} MiB grew peak memory by {} MiB (bound {} MiB)",
        BOMB_INFLATES_TO >> 20,
        grown >> 20,
        LIMIT >> 20
    );
    assert!(
        grown < PEAK_GROWTH,
        "peak memory grew by {} MiB refusing a bomb of {} MiB",
        grown >> 20,
        BOMB_INFLATES_TO >> 20
    );
    outcome
}

/// The API and the gRPC listener on a fresh database, the bound at [`LIMIT`].
async fn spawn_app_with(change: impl FnOnce(&mut ServeConfig)) -> App {
    let url = fresh_database().await;
    let backend = dd0c_cost::backend::Backend::postgres(&url, 10)
        .await
        .expect("backend");
    let mut serve = config("api,ingest");
    serve.max_body = 4 << 20;
    serve.inflate = InflateLimit(LIMIT);
    change(&mut serve);
    serve_edges(Dispatcher::new(backend, serve, PriceCatalog::bundled()).expect("dispatcher")).await
}

async fn spawn_app() -> App {
    spawn_app_with(|_| {}).await
}

fn assert_refused_as_too_large((status, problem): (StatusCode, Value)) {
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{problem}");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("DD0C_MAX_INFLATED_BYTES") && detail.contains("nothing was queued"),
        "{problem}"
    );
}

/// Pushes `body` (with `encoding`) to a new app within memory: refused as too large, nothing
/// queued.
async fn assert_bomb_push_refused(body: Vec<u8>, encoding: Option<&str>) {
    let app = spawn_app().await;
    let token = onboard(&app.dispatcher.backend, &unique_account_id()).await;
    let answer = within_memory(push(&app, &token, body, encoding)).await;
    assert_refused_as_too_large(answer);
    assert_eq!(queued(&app).await, 0);
}

#[tokio::test]
async fn a_gzip_bomb_pushed_without_content_encoding_is_refused_within_memory() {
    assert_bomb_push_refused(bomb().to_vec(), None).await;
}

#[tokio::test]
async fn a_gzip_bomb_gzipped_again_with_content_encoding_is_refused_within_memory() {
    assert_bomb_push_refused(gzip(bomb()), Some("gzip")).await;
}

#[tokio::test]
async fn a_bomb_as_the_content_encoding_itself_is_refused_within_memory() {
    assert_bomb_push_refused(bomb().to_vec(), Some("gzip")).await;
}

#[tokio::test]
async fn a_push_within_the_bound_is_still_inflated_and_priced() {
    let app = spawn_app().await;
    let account = unique_account_id();
    let token = onboard(&app.dispatcher.backend, &account).await;
    let record = json!({"eventTime": "2026-03-01T10:00:00Z", "eventSource": "ec2.amazonaws.com",
        "eventName": "RunInstances", "awsRegion": "us-east-1", "recipientAccountId": account,
        "eventID": "e-1", "requestParameters": {"instanceType": "m5.large",
        "instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]}}});
    let file = gzip(json!({ "Records": [record] }).to_string().as_bytes());
    let (status, accepted) = push(&app, &token, gzip(&file), Some("gzip")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["priced"], 1, "{accepted}");
}

#[tokio::test]
async fn a_gzip_bomb_in_an_agents_batch_is_resource_exhausted_within_memory() {
    let app = spawn_app().await;
    let token = onboard(&app.dispatcher.backend, &unique_account_id()).await;
    let mut client = client(&app.grpc).await;
    let batch = Batch {
        seq: 7,
        records: bomb().to_vec().into(),
    };
    let status = within_memory(async {
        let mut acks = client
            .forward(authorized(tokio_stream::iter([batch]), &token))
            .await
            .expect("stream opened")
            .into_inner();
        acks.message().await.expect_err("the batch is refused")
    })
    .await;
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("batch 7"), "{status:?}");
    assert_eq!(queued(&app).await, 0);
}

#[tokio::test]
async fn a_gzip_bomb_in_a_trail_bucket_is_skipped_as_read_within_memory() {
    let app = spawn_app().await;
    let account = unique_account_id();
    onboard(&app.dispatcher.backend, &account).await;
    let admitter = app.dispatcher.admitter();
    let delivered =
        within_memory(admitter.deliver(TENANT, &account, "AWSLogs/bomb.json.gz", bomb().to_vec()))
            .await
            .expect("the file counts as read: reading it again would refuse it again");
    assert_eq!(delivered.records, 0);
    assert_eq!(queued(&app).await, 0);
}

fn beat() -> Beat {
    Beat {
        agent_id: "agent-1".into(),
        version: "1".into(),
        hostname: "host".into(),
        source: "sqs".into(),
        newest_event_unix_ms: 0,
        spooled: 0,
        forwarded: 0,
    }
}

#[tokio::test]
async fn silent_grpc_connections_are_capped_and_closed_after_the_handshake_timeout() {
    let app = spawn_app_with(|serve| {
        serve.grpc.max_connections = 2;
        serve.grpc.handshake_timeout = Duration::from_secs(2);
    })
    .await;
    let token = onboard(&app.dispatcher.backend, &unique_account_id()).await;
    let address = app.grpc.trim_start_matches("http://").to_owned();
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(
            tokio::net::TcpStream::connect(&address)
                .await
                .expect("connects"),
        );
    }
    // Both permits are held by connections that say nothing: an agent's call waits…
    let call = tokio::spawn(async move {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))?
            .connect()
            .await?;
        let mut client = IngestClient::new(channel);
        client.heartbeat(authorized(beat(), &token)).await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        !call.is_finished(),
        "a third connection is served past the cap of two"
    );
    // …until the silent ones are closed at the handshake timeout.
    for stream in &mut silent {
        assert!(
            closed_within(stream, Duration::from_secs(5)).await,
            "a connection that sent nothing is still open"
        );
    }
    tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the waiting call is served once a permit frees")
        .expect("joined")
        .expect("the heartbeat is accepted");
}

#[tokio::test]
async fn an_idle_grpc_connection_is_closed_after_the_idle_timeout() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_with(|serve| {
        serve.grpc.idle_timeout = Duration::from_secs(1);
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(app.grpc.trim_start_matches("http://"))
        .await
        .expect("connects");
    // The HTTP/2 preface arrives in time; then nothing more.
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .expect("sent");
    assert!(
        closed_within(&mut stream, Duration::from_secs(5)).await,
        "an idle connection is still open"
    );
}

/// A launch record of `account` with `id`, as NDJSON.
fn launch(account: &str, id: &str) -> Vec<u8> {
    json!({"eventTime": "2026-03-01T10:00:00Z", "eventSource": "ec2.amazonaws.com",
        "eventName": "RunInstances", "awsRegion": "us-east-1", "recipientAccountId": account,
        "eventID": id, "requestParameters": {"instanceType": "m5.large",
        "instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]}}})
    .to_string()
    .into_bytes()
}

/// Opens a Forward stream, sends one batch (acknowledged), lets `revoke` run, waits past the
/// grant's recheck, sends another: its answer.
async fn second_batch_after(
    app: &App,
    account: &str,
    token: &str,
    revoke: impl std::future::Future<Output = ()>,
) -> Result<Option<dd0c_grpc::proto::Ack>, tonic::Status> {
    let mut client = client(&app.grpc).await;
    let (batches, receiver) = tokio::sync::mpsc::channel(4);
    let mut acks = client
        .forward(authorized(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
            token,
        ))
        .await
        .expect("stream opened")
        .into_inner();
    let batch = |seq: u64| Batch {
        seq,
        records: launch(account, &format!("e-{seq}")).into(),
    };
    batches.send(batch(1)).await.expect("sent");
    let first = acks.message().await.expect("acknowledged").expect("an ack");
    assert_eq!(first.priced, 1);
    revoke.await;
    tokio::time::sleep(dd0c_grpc::GRANT_RECHECK + Duration::from_millis(500)).await;
    batches.send(batch(2)).await.expect("sent");
    acks.message().await
}

/// The second batch was refused as unauthenticated, the stream ended, and only the first
/// batch's launch is queued.
async fn assert_the_stream_ended_after_the_first_batch(
    app: &App,
    answer: Result<Option<dd0c_grpc::proto::Ack>, tonic::Status>,
) {
    let status = answer.expect_err("the stream ends");
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    assert_eq!(
        queued(app).await,
        1,
        "only the first batch's launch is queued"
    );
}

#[tokio::test]
async fn revoking_a_token_ends_its_open_stream_and_later_batches_are_not_queued() {
    let app = spawn_app().await;
    let account = unique_account_id();
    let token = onboard(&app.dispatcher.backend, &account).await;
    let tokens = app.dispatcher.backend.stores.tokens.clone();
    let answer = second_batch_after(&app, &account, &token, async {
        tokens
            .revoke_token(&token_sha256(&token))
            .await
            .expect("revoked");
    })
    .await;
    assert_the_stream_ended_after_the_first_batch(&app, answer).await;
}

#[tokio::test]
async fn removing_an_account_ends_its_open_stream_and_later_batches_are_not_queued() {
    let app = spawn_app().await;
    let account = unique_account_id();
    let token = onboard(&app.dispatcher.backend, &account).await;
    let tenants = app.dispatcher.backend.stores.tenants.clone();
    let answer = second_batch_after(&app, &account, &token, async {
        tenants
            .remove_account(TENANT, &account)
            .await
            .expect("removed");
    })
    .await;
    assert_the_stream_ended_after_the_first_batch(&app, answer).await;
}
