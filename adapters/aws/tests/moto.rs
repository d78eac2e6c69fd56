//! The AWS adapters against moto (`moto_server` on loopback; `scripts/test.sh` starts it and
//! sets `DD0C_TEST_AWS_ENDPOINT`).

use async_trait::async_trait;
use aws_sdk_dynamodb::config::{Credentials, Region};
use std::sync::Arc;

use dd0c_adapters_aws::{
    create_table, customer_config, DynamoFlags, DynamoStore, S3Archive, SesMail, SqsQueue,
};
use dd0c_ports::archive::Archive;
use dd0c_ports::conformance::{self, email_from_mime, unique, MailSink};
use dd0c_ports::domain::Account;
use dd0c_ports::mail::Email;
use dd0c_ports::queue::Queue;
use dd0c_ports::store::Stores;
use serde_json::Value;

const SENDER: &str = "alerts@dd0c.test";

fn endpoint() -> String {
    std::env::var("DD0C_TEST_AWS_ENDPOINT")
        .expect("DD0C_TEST_AWS_ENDPOINT: run the tests with scripts/test.sh, which starts moto")
}

async fn config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .load()
        .await
}

/// What moto recorded as sent (`GET /moto-api/data.json`): the raw MIME of each message, parsed.
struct Sent;

#[async_trait]
impl MailSink for Sent {
    async fn delivered_to(&self, to: &str) -> Vec<Email> {
        let data: Value = reqwest::get(format!("{}/moto-api/data.json", endpoint()))
            .await
            .expect("moto answers")
            .json()
            .await
            .expect("json");
        let raws = data["ses"]["RawMessage"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut found = Vec::new();
        for raw in raws {
            let text = raw["raw_data"].as_str().unwrap_or_default();
            if let Some((_, email)) = email_from_mime(text.as_bytes()) {
                if email.to.iter().any(|r| r == to) {
                    found.push(email);
                }
            }
        }
        found
    }
}

#[tokio::test]
async fn ses_mail_passes_the_mail_suite_against_moto() {
    let config = config().await;
    aws_sdk_sesv2::Client::new(&config)
        .create_email_identity()
        .email_identity(SENDER)
        .send()
        .await
        .expect("the sender is verified");
    let mail = SesMail::new(&config, SENDER).expect("a mailbox");
    conformance::mail_suite(&mail, &Sent).await;
}

#[tokio::test]
async fn a_sender_that_is_not_a_mailbox_names_the_setting() {
    let error = SesMail::new(&config().await, "not a mailbox").expect_err("refused");
    assert!(error.to_string().contains("DD0C_MAIL_FROM"), "{error}");
}

/// A fresh table in moto, made by the adapters' own definition.
async fn fresh_table(config: &aws_config::SdkConfig) -> String {
    let table = unique("dd0c").replace('-', "_");
    create_table(&aws_sdk_dynamodb::Client::new(config), &table)
        .await
        .expect("table");
    table
}

#[tokio::test]
async fn dynamo_flags_pass_the_flags_suite_against_moto() {
    let config = config().await;
    let table = fresh_table(&config).await;
    conformance::flags_suite(&DynamoFlags::new(&config, &table)).await;
}

#[tokio::test]
async fn dynamo_store_passes_the_store_suite_against_moto() {
    let config = config().await;
    let table = fresh_table(&config).await;
    conformance::store_suite(Stores::of(Arc::new(DynamoStore::new(&config, &table)))).await;
}

#[tokio::test]
async fn dynamo_store_passes_the_ledger_suite_against_moto() {
    let config = config().await;
    let table = fresh_table(&config).await;
    conformance::ledger_suite(&DynamoStore::new(&config, &table)).await;
}

#[tokio::test]
async fn sqs_queue_passes_the_queue_suite_against_moto() {
    let config = config().await;
    conformance::queue_suite(|| async {
        let url = SqsQueue::create(&config, &unique("q"), 5)
            .await
            .expect("queues");
        Arc::new(SqsQueue::new(&config, &url)) as Arc<dyn Queue>
    })
    .await;
}

#[tokio::test]
async fn a_queue_without_a_dead_letter_queue_is_refused_by_name() {
    let config = config().await;
    let url = aws_sdk_sqs::Client::new(&config)
        .create_queue()
        .queue_name(format!("{}.fifo", unique("bare")))
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    let error = SqsQueue::new(&config, &url)
        .dead_letters(10)
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("RedrivePolicy"), "{error}");
}

#[tokio::test]
async fn s3_archive_passes_the_archive_suite_against_moto() {
    let config = config().await;
    let archive = S3Archive::new(&config, &unique("raw"));
    archive.create_bucket().await.expect("bucket");
    conformance::archive_suite(&archive).await;
}

#[tokio::test]
async fn s3_archive_under_a_prefix_passes_the_archive_suite_and_writes_there() {
    let config = config().await;
    let bucket = unique("raw");
    let root = S3Archive::new(&config, &bucket);
    root.create_bucket().await.expect("bucket");
    let archive = S3Archive::new(&config, &bucket).under("dd0c/raw/");
    conformance::archive_suite(&archive).await;
    archive.put("kept/a.jsonl.gz", b"x").await.expect("put");
    assert_eq!(
        root.list("dd0c/raw/kept/", 10).await.expect("list"),
        vec!["dd0c/raw/kept/a.jsonl.gz".to_owned()]
    );
}

#[tokio::test]
async fn customer_accounts_are_read_through_their_role_and_external_id() {
    let config = config().await;
    let role_name = unique("dd0c-read");
    let account = Account {
        tenant: "acme".into(),
        account_id: "123456789012".into(),
        name: None,
        role_arn: Some(format!("arn:aws:iam::123456789012:role/{role_name}")),
        external_id: Some("9b2f7f3c-6a51-4d8e-9d53-0c1f2e3a4b5c".into()),
        access_key_id: None,
        remediation_role_arn: None,
        remediation_access_key_id: None,
        created_at: chrono::Utc::now(),
    };
    let customer = customer_config(&config, &account).await.expect("config");
    let caller = aws_sdk_sts::Client::new(&customer)
        .get_caller_identity()
        .send()
        .await
        .expect("the assumed role answers");
    let arn = caller.arn().unwrap_or_default();
    assert!(
        arn.contains(&format!("assumed-role/{role_name}/dd0c-cost-acme")),
        "calls run as the customer's role: {arn}"
    );

    let without = Account {
        external_id: None,
        access_key_id: None,
        remediation_role_arn: None,
        remediation_access_key_id: None,
        ..account
    };
    let error = customer_config(&config, &without)
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("external_id"), "{error}");
}

#[tokio::test]
async fn processed_event_records_expire_after_at_least_fifteen_days() {
    use dd0c_ports::store::{ScoreCommit, ScoreStore};
    let config = config().await;
    let table = fresh_table(&config).await;
    let store = DynamoStore::new(&config, &table);
    let event = conformance::cost_event("acme", "111122223333", "ev-ttl", 0, 1.0);
    // The clock before the commit: a slow emulator must not make the record look short-lived.
    let committed_from = chrono::Utc::now().timestamp();
    store
        .commit(ScoreCommit {
            event,
            baselines: Vec::new(),
            anomaly: None,
            outbox: None,
            consumed: None,
        })
        .await
        .expect("committed");
    let item = aws_sdk_dynamodb::Client::new(&config)
        .get_item()
        .table_name(&table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("TENANT#acme".into()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("PROCESSED#ev-ttl".into()),
        )
        .send()
        .await
        .expect("read")
        .item
        .expect("the processed record");
    let expires: i64 = item[dd0c_adapters_aws::table::TTL_ATTRIBUTE]
        .as_n()
        .expect("a TTL number")
        .parse()
        .expect("epoch seconds");
    let fifteen_days = 15 * 24 * 3600;
    assert!(
        expires >= committed_from + fifteen_days,
        "EventBridge retries for 24 h and a DLQ redrive can come 14 days later"
    );
    let ttl = aws_sdk_dynamodb::Client::new(&config)
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .expect("ttl");
    assert_eq!(
        ttl.time_to_live_description()
            .and_then(|d| d.attribute_name()),
        Some(dd0c_adapters_aws::table::TTL_ATTRIBUTE)
    );
}

/// A trail bucket in another region than the configuration's is read in its own region (S3
/// would answer the wrong region with a redirect), found with one `GetBucketLocation`.
#[tokio::test]
async fn a_trail_bucket_in_another_region_is_read_in_its_region() {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    use dd0c_ports::sources::TrailBucket;
    let config = config().await;
    let bucket = unique("trail-eu");
    let eu = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .region(Region::new("eu-west-1"))
            .force_path_style(true)
            .build(),
    );
    eu.create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .expect("bucket");
    eu.put_object()
        .bucket(&bucket)
        .key("AWSLogs/111122223333/CloudTrail/eu-west-1/x.json.gz")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"records"))
        .send()
        .await
        .expect("object");
    let calls = dd0c_ports::zombie::ApiCalls::default();
    let trail = dd0c_adapters_aws::S3Trail::new(&config, &bucket, calls.clone());
    assert_eq!(trail.region().await.expect("region"), "eu-west-1");
    let read = trail
        .read("AWSLogs/111122223333/CloudTrail/eu-west-1/x.json.gz")
        .await
        .expect("read");
    assert_eq!(read, b"records");
    let by_action = calls.by_action();
    assert_eq!(
        by_action.get("s3:GetBucketLocation"),
        Some(&1),
        "{by_action:?}"
    );
    assert_eq!(by_action.get("s3:GetObject"), Some(&1), "{by_action:?}");

    let home = unique("trail-home");
    dd0c_adapters_aws::S3Archive::new(&config, &home)
        .create_bucket()
        .await
        .expect("bucket");
    let trail = dd0c_adapters_aws::S3Trail::new(&config, &home, Default::default());
    assert_eq!(trail.region().await.expect("region"), "us-east-1");
}

/// The TTL attribute of one ledger item, if it has one (epoch seconds).
async fn ledger_ttl(config: &aws_config::SdkConfig, table: &str, sk: &str) -> Option<i64> {
    let item = aws_sdk_dynamodb::Client::new(config)
        .get_item()
        .table_name(table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("TENANT#acme".into()),
        )
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk.into()))
        .send()
        .await
        .expect("read")
        .item
        .expect("the resource's item");
    item.get(dd0c_adapters_aws::table::TTL_ATTRIBUTE).map(|v| {
        v.as_n()
            .expect("a TTL number")
            .parse()
            .expect("epoch seconds")
    })
}

#[tokio::test]
async fn ended_resources_expire_the_ledger_retention_after_their_end_and_live_again_when_recreated()
{
    use dd0c_ports::domain::Change;
    use dd0c_ports::ledger::{Mark, ResourceChange, ResourceKey, ResourceLedger};
    let config = config().await;
    let table = fresh_table(&config).await;
    let store = DynamoStore::new(&config, &table).with_ledger_retention(30);
    let key = ResourceKey::new("111122223333", "us-east-1", "db-orders");
    let now = chrono::Utc::now();
    let at = |hours: i64| now - chrono::Duration::hours(100 - hours);
    let change = |change: Change, hours: i64| ResourceChange {
        key: key.clone(),
        change,
        resource_kind: "rds.instance".into(),
        resource_type: "db.r6g.large".into(),
        quantity: 1,
        unit_hourly_usd: 0.5,
        priced: change == Change::Create,
        mark: Mark {
            at: at(hours),
            actor_arn: "arn:aws:iam::111122223333:user/ops".into(),
            event_id: format!("ev-{hours}"),
            call: String::new(),
        },
    };
    let sk = format!("RES#{key}");
    store
        .record("acme", &[change(Change::Create, 0)])
        .await
        .expect("created");
    assert_eq!(
        ledger_ttl(&config, &table, &sk).await,
        None,
        "a running resource stays"
    );
    store
        .record("acme", &[change(Change::End, 10)])
        .await
        .expect("ended");
    assert_eq!(
        ledger_ttl(&config, &table, &sk).await,
        Some(at(10).timestamp() + 30 * 24 * 3600),
        "forgotten the retention after its end"
    );
    // Deleted and created again under the same name (an RDS identifier): a new life.
    store
        .record("acme", &[change(Change::Create, 20)])
        .await
        .expect("created again");
    assert_eq!(ledger_ttl(&config, &table, &sk).await, None);
}
