//! The trail poller against moto S3 and Postgres: CloudTrail files in the AWSLogs layout (several
//! regions, an organization prefix, a digest file) become anomalies with no HTTP push; a pass
//! stopped part-way and restarted delivers every record once; new files after the restart are
//! found from the checkpoints; a pass with nothing new costs only its listings.

#![cfg(feature = "aws")]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Duration, Utc};
use dd0c_adapters_aws::S3Archive;
use dd0c_ingest::trail::{AccountTrails, Deliver, Delivered, Poller};
use dd0c_ports::archive::Archive;
use dd0c_ports::conformance::unique;
use dd0c_ports::domain::Account;
use dd0c_ports::secrets::Credentials;
use dd0c_ports::sources::Trail;
use dd0c_ports::PortError;
use dd0c_tests::estate::{account_config, REGION};
use serde_json::Value;
use support::{drain, expected, fresh_database, log_file, of_account, Expected, TENANT};

const EXTERNAL_ID: &str = "dd0c-trail-test";
const ORG: &str = "o-a1b2c3d4e5";

fn endpoint() -> String {
    std::env::var("DD0C_TEST_AWS_ENDPOINT")
        .expect("DD0C_TEST_AWS_ENDPOINT: run the tests with scripts/test.sh, which starts moto")
}

/// The host's AWS settings, pointing at moto (the poller reads them on first use; every test
/// here sets the same values).
fn aws_env() {
    std::env::set_var("AWS_ENDPOINT_URL", endpoint());
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_REGION", REGION);
}

/// A trail bucket in the account, written as CloudTrail writes: `records` by region, 40 to a
/// file, every other region under the organization's folder; a digest file beside them.
struct Bucket {
    writer: S3Archive,
    account: String,
    files: Vec<String>,
}

impl Bucket {
    async fn plant(account: &str, records: &[Value]) -> (Bucket, String) {
        let config = account_config(&endpoint(), account, EXTERNAL_ID).await;
        let name = unique("trail");
        let writer = S3Archive::new(&config, &name);
        writer.create_bucket().await.expect("bucket");
        let mut bucket = Bucket {
            writer,
            account: account.to_owned(),
            files: Vec::new(),
        };
        let mut regions: Vec<&str> = records
            .iter()
            .filter_map(|r| r["awsRegion"].as_str())
            .collect();
        regions.sort();
        regions.dedup();
        for (i, region) in regions.iter().enumerate() {
            let of_region: Vec<Value> = records
                .iter()
                .filter(|r| r["awsRegion"] == *region)
                .cloned()
                .collect();
            for (n, chunk) in of_region.chunks(40).enumerate() {
                bucket.put(region, i % 2 == 1, n, chunk).await;
            }
        }
        let digest = format!(
            "AWSLogs/{account}/CloudTrail-Digest/{REGION}/{}/{account}_CloudTrail-Digest_{REGION}_x.json.gz",
            Utc::now().format("%Y/%m/%d")
        );
        bucket.writer.put(&digest, b"{}").await.expect("digest");
        (bucket, format!("s3://{name}"))
    }

    /// Writes one log file of `records` in `region`, named for a window `n` minutes back.
    async fn put(&mut self, region: &str, in_org: bool, n: usize, records: &[Value]) {
        let account = &self.account;
        let window = Utc::now() - Duration::minutes(60 - n as i64);
        let folder = if in_org {
            format!("AWSLogs/{ORG}/{account}/CloudTrail/{region}/")
        } else {
            format!("AWSLogs/{account}/CloudTrail/{region}/")
        };
        let key = format!(
            "{folder}{}/{account}_CloudTrail_{region}_{}_{}.json.gz",
            window.format("%Y/%m/%d"),
            window.format("%Y%m%dT%H%MZ"),
            unique("f")
        );
        self.writer
            .put(&key, &log_file(records))
            .await
            .expect("log file");
        self.files.push(key);
    }
}

/// Delivers `allowed` files, then fails as a process killed mid-pass would stop.
struct StopsAfter {
    inner: Arc<dyn Deliver>,
    allowed: AtomicUsize,
}

#[async_trait]
impl Deliver for StopsAfter {
    async fn deliver(
        &self,
        tenant: &str,
        account_id: &str,
        origin: &str,
        bytes: Vec<u8>,
    ) -> Result<Delivered, PortError> {
        if self.allowed.fetch_sub(1, Ordering::SeqCst) == 0 {
            return Err(PortError::Unavailable("killed".into()));
        }
        self.inner.deliver(tenant, account_id, origin, bytes).await
    }
}

fn poller(dispatcher: &dd0c_cost::serve::Dispatcher, deliver: Arc<dyn Deliver>) -> Poller {
    let backend = &dispatcher.backend;
    Poller::new(
        backend.sources.clone(),
        Arc::new(AccountTrails {
            tenants: backend.stores.tenants.clone(),
            cloud: dd0c_cost::cloud::cloud_access(),
            credentials: Credentials::new(backend.stores.tenants.clone(), None),
        }),
        deliver,
    )
}

/// The tenant, the account (read through its role) and its trail.
async fn watch(dispatcher: &dd0c_cost::serve::Dispatcher, account: &str, location: &str) -> Trail {
    watch_for(dispatcher, TENANT, account, location).await
}

/// [`watch`] for `tenant`.
async fn watch_for(
    dispatcher: &dd0c_cost::serve::Dispatcher,
    tenant: &str,
    account: &str,
    location: &str,
) -> Trail {
    let backend = &dispatcher.backend;
    support::add_account(
        backend,
        &Account {
            tenant: tenant.into(),
            account_id: account.into(),
            name: None,
            created_at: Utc::now(),
            role_arn: Some(format!("arn:aws:iam::{account}:role/dd0c-reader")),
            external_id: Some(EXTERNAL_ID.into()),
            access_key_id: None,
            remediation_role_arn: None,
            remediation_access_key_id: None,
        },
    )
    .await;
    let trail = Trail {
        tenant: tenant.into(),
        account_id: account.into(),
        location: location.parse().expect("location"),
    };
    backend.sources.put_trail(&trail).await.expect("trail");
    trail
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_trail_bucket_alone_is_scored_once_across_a_stopped_pass_and_new_files() {
    aws_env();
    let database_url = fresh_database().await;
    let (records, account, _) = support::story(11, 4);
    let records = of_account(records, &account);
    let (later, first) = records.split_at(records.len() / 10);
    let (mut bucket, location) = Bucket::plant(&account, first).await;
    let dispatcher = support::dispatcher(&database_url, "ingest,score").await;
    let trail = watch(&dispatcher, &account, &location).await;
    let files = bucket.files.len();
    assert!(files >= 6, "several files in several regions: {files}");

    // A pass stopped after three files …
    let stopping = poller(
        &dispatcher,
        Arc::new(StopsAfter {
            inner: dispatcher.admitter(),
            allowed: AtomicUsize::new(3),
        }),
    );
    let stopped = stopping.poll(&trail, Utc::now()).await;
    let error = stopped.expect_err("the pass stops").to_string();
    assert!(
        error.contains("delivering a log file") && error.contains(&account),
        "{error}"
    );

    // … and a restarted one reads the rest: not the three again, not the digest.
    let poller = poller(&dispatcher, dispatcher.admitter());
    let pass = poller.poll(&trail, Utc::now()).await.expect("pass");
    assert_eq!(pass.files, files - 3, "{pass:?}");

    // New files after the restart come from the checkpoints.
    for (n, record) in later.chunks(later.len().div_ceil(2)).enumerate() {
        let region = record[0]["awsRegion"].as_str().expect("region").to_owned();
        bucket.put(&region, n == 1, 50 + n, record).await;
    }
    let pass = poller.poll(&trail, Utc::now()).await.expect("pass");
    assert_eq!(pass.files, 2, "only the new files: {pass:?}");

    // A pass with nothing new lists and reads nothing else: the bucket's region, AWSLogs/, the
    // account's two CloudTrail/ folders (direct and under the organization), one listing per
    // region.
    let idle = poller.poll(&trail, Utc::now()).await.expect("pass");
    assert_eq!(idle.files, 0);
    assert_eq!(idle.requests, 4 + idle.folders as u64, "{idle:?}");

    drain(&dispatcher).await;
    assert_scored_once(&database_url, &expected(&records).await).await;
    let status = dispatcher
        .backend
        .sources
        .ingest_status(Some(TENANT))
        .await
        .expect("status");
    let lag = status[0].lag_seconds(Utc::now()).expect("a lag");
    assert!(
        lag < 3_700.0,
        "the newest file's window is within the hour: {lag}"
    );
}

/// Records which files were delivered, in order.
#[derive(Default)]
struct Recorded(std::sync::Mutex<Vec<(String, String)>>);

#[async_trait]
impl Deliver for Recorded {
    async fn deliver(
        &self,
        tenant: &str,
        _account_id: &str,
        origin: &str,
        _bytes: Vec<u8>,
    ) -> Result<Delivered, PortError> {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.push((tenant.to_owned(), origin.to_owned()));
        Ok(Delivered::default())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_tenants_crowded_bucket_does_not_hold_up_anothers_new_file() {
    use dd0c_ingest::trail::{MAX_ORGANIZATION_FOLDERS, PASS_REQUESTS};
    aws_env();
    let database_url = fresh_database().await;
    let dispatcher = support::dispatcher(&database_url, "ingest").await;
    let (hog, quiet) = (unique("hog"), unique("quiet"));
    let (hog_account, quiet_account) = (
        dd0c_ports::conformance::unique_account_id(),
        dd0c_ports::conformance::unique_account_id(),
    );
    // The crowded bucket: organization folders by the hundred, and a backlog of files.
    let (mut crowded, crowded_at) = Bucket::plant(&hog_account, &[]).await;
    for n in 0..120 {
        let key = format!("AWSLogs/o-{n:010}/placeholder");
        crowded.writer.put(&key, b"{}").await.expect("prefix");
    }
    for n in 0..100 {
        crowded.put(REGION, false, n % 60, &[]).await;
    }
    let (mut fresh, fresh_at) = Bucket::plant(&quiet_account, &[]).await;
    fresh.put(REGION, false, 1, &[]).await;
    let hog_trail = watch_for(&dispatcher, &hog, &hog_account, &crowded_at).await;
    watch_for(&dispatcher, &quiet, &quiet_account, &fresh_at).await;

    let recorded = Arc::new(Recorded::default());
    let poller = poller(&dispatcher, recorded.clone());
    let first = poller.poll_all(Utc::now()).await;
    let pass = |tenant: &str| {
        first
            .iter()
            .find(|(t, _)| t.tenant == tenant)
            .and_then(|(_, p)| p.as_ref().ok())
            .cloned()
            .expect("a pass")
    };
    assert_eq!(
        pass(&quiet).files,
        1,
        "the other tenant's new file is read in the first pass"
    );
    let crowded_pass = pass(&hog);
    let bound = PASS_REQUESTS + MAX_ORGANIZATION_FOLDERS as u64 + 4;
    assert!(
        crowded_pass.requests <= bound && crowded_pass.deferred,
        "one pass over the crowded trail stays within {bound} requests: {crowded_pass:?}"
    );

    // What was deferred is read in later passes, every file once.
    for _ in 0..10 {
        if !poller
            .poll(&hog_trail, Utc::now())
            .await
            .expect("pass")
            .deferred
        {
            break;
        }
    }
    let seen = recorded.0.lock().expect("recorded").clone();
    let mut crowded_files: Vec<&String> = seen
        .iter()
        .filter(|(t, _)| *t == hog)
        .map(|(_, f)| f)
        .collect();
    crowded_files.sort();
    crowded_files.dedup();
    assert_eq!(crowded_files.len(), 100);
    assert_eq!(
        seen.iter().filter(|(t, _)| *t == hog).count(),
        100,
        "none twice"
    );
}

/// Every expected cost event scored exactly once, each baseline over as many events, and
/// anomalies raised. Files arrive region by region, not in event-time order, so the baselines'
/// running sums may differ from the single pass in their last bits, and which events stand out
/// with them: the counts are what a lost or doubled record would change.
async fn assert_scored_once(database_url: &str, expected: &Expected) {
    let pool = dd0c_adapters_postgres::connect(database_url, 2)
        .await
        .expect("connects");
    let mut ids: Vec<String> = sqlx::query_scalar("SELECT event_id FROM cost_events")
        .fetch_all(&pool)
        .await
        .expect("events");
    ids.sort();
    let mut want: Vec<String> = expected.events.iter().map(|e| e.event_id.clone()).collect();
    want.sort();
    assert_eq!(ids, want, "every cost event once");
    let processed = support::processed_count(&pool).await.expect("count");
    assert_eq!(processed, want.len(), "every cost event scored once");
    let counts: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT account_id, resource_kind, n FROM baselines WHERE n > 0 ORDER BY 1, 2",
    )
    .fetch_all(&pool)
    .await
    .expect("baselines");
    let want: Vec<(String, String, i64)> = expected
        .baselines
        .iter()
        .map(|((account, kind), w)| (account.clone(), kind.clone(), w.n as i64))
        .collect();
    assert_eq!(counts, want, "each baseline over every event once");
    let anomalies: i64 = sqlx::query_scalar("SELECT count(*) FROM anomalies")
        .fetch_one(&pool)
        .await
        .expect("anomalies");
    assert!(anomalies > 0, "the story's expensive mistakes are raised");
}

const BINARY: &str = env!("CARGO_BIN_EXE_dd0c-cost");

/// Runs `dd0c-cost` against moto (the host's credentials) with a file archive under `archive`.
fn dd0c(database_url: &str, archive: &std::path::Path, args: &[&str]) -> std::process::Output {
    let endpoint = endpoint();
    let archive = format!("file://{}", archive.display());
    let output = support::dd0c_cost(
        BINARY,
        database_url,
        args,
        "",
        &[
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", REGION),
            ("DD0C_ARCHIVE", archive.as_str()),
        ],
    );
    assert!(
        output.status.success(),
        "dd0c-cost {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Every record kept in the file archive under `root`: gzip JSON lines, read back.
fn archived(root: &std::path::Path) -> Vec<String> {
    let mut ids = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("archive object");
                for line in dd0c_ingest::archive::read_raw(&bytes).expect("gzip JSON lines") {
                    let record: Value = serde_json::from_str(&line).expect("a record");
                    ids.push(record["eventID"].as_str().unwrap_or_default().to_owned());
                }
            }
        }
    }
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_trail_backfill_killed_mid_run_and_run_again_reads_every_file_once_and_archives_it() {
    let database_url = fresh_database().await;
    let (records, account, _) = support::story(13, 3);
    let records = of_account(records, &account);
    let (bucket, location) = Bucket::plant(&account, &records).await;
    let archive = std::env::temp_dir().join(unique("dd0c-archive"));
    dd0c(&database_url, &archive, &["migrate"]);
    dd0c(&database_url, &archive, &["tenant", "add", TENANT]);
    let role = format!("arn:aws:iam::{account}:role/dd0c-reader");
    let added = dd0c(
        &database_url,
        &archive,
        &[
            "account",
            "add",
            "--tenant",
            TENANT,
            "--account-id",
            &account,
            "--role-arn",
            &role,
            "--cloudtrail-s3",
            &location,
        ],
    );
    assert!(
        String::from_utf8_lossy(&added.stdout).contains(&format!("cloudtrail_s3={location}")),
        "{}",
        String::from_utf8_lossy(&added.stdout)
    );
    // The files are named for windows up to an hour back: yesterday's folder shortly after
    // midnight.
    let since = (Utc::now() - Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let backfill = [
        "backfill",
        "--tenant",
        TENANT,
        "--account",
        &account,
        "--since",
        &since,
    ];

    // Killed part-way (wherever it got to), then run again to the end.
    let mut first = std::process::Command::new(BINARY)
        .args(backfill)
        .env("DATABASE_URL", &database_url)
        .env("DD0C_LOG", "warn")
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION)
        .env("DD0C_ARCHIVE", format!("file://{}", archive.display()))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("backfill starts");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let _ = first.kill();
    let _ = first.wait();
    let again = dd0c(&database_url, &archive, &backfill);
    let summary = String::from_utf8_lossy(&again.stderr).to_string();
    assert!(summary.contains("records/s"), "a rate summary: {summary}");
    let nothing = dd0c(&database_url, &archive, &backfill);
    assert!(
        String::from_utf8_lossy(&nothing.stderr).contains("backfill: 0 files"),
        "a third run finds nothing new: {}",
        String::from_utf8_lossy(&nothing.stderr)
    );

    let dispatcher = support::dispatcher(&database_url, "score").await;
    drain(&dispatcher).await;
    assert_scored_once(&database_url, &expected(&records).await).await;
    let mut valid: Vec<String> = records
        .iter()
        .map(|r| r["eventID"].as_str().unwrap_or_default().to_owned())
        .collect();
    valid.sort();
    assert_eq!(archived(&archive), valid, "every record archived, once");
    assert!(bucket.files.len() > 1);
    std::fs::remove_dir_all(&archive).unwrap();
}
