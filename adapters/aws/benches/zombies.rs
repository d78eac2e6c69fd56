//! The zombie hunter against moto, side by side in one run: a scan of about 1,000 resources in 3
//! regions as the hunter reads metrics (staged, up to 500 queries a `GetMetricData` request)
//! against the same scan asking one query a request, as per-metric tools do. Prints
//! `GetMetricData` requests per 1,000 resources (target ≤ 5; the API's batch limit makes 2
//! possible), every request made, the scan time, and the ratios.
//!
//! `DD0C_TEST_AWS_ENDPOINT=http://127.0.0.1:55500 cargo bench -p dd0c-adapters-aws --bench zombies`
//! (scripts/test.sh starts moto; or `python scripts/moto_serial.py 127.0.0.1 55500`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use chrono::{DateTime, Utc};
use dd0c_adapters_aws::AwsCloud;
use dd0c_adapters_memory::MemoryStore;
use dd0c_ports::clock::FixedClock;
use dd0c_ports::domain::{Account, Tenant};
use dd0c_ports::secrets::Credentials;
use dd0c_ports::store::Stores;
use dd0c_ports::zombie::{
    AccessKey, CloudAccess, CustomerAccount, MetricQuery, MetricSeries, Metrics,
};
use dd0c_ports::PortResult;
use dd0c_tests::estate::datum;
use dd0c_zombie::{Hunter, ScanReport, ScanRequest};

const REGIONS: [&str; 3] = ["us-east-1", "eu-west-1", "ap-southeast-2"];
/// Per region: instances (each with its root volume), of which busy and idle; the rest report
/// no metrics.
const INSTANCES: i32 = 150;
const BUSY: usize = 110;
const IDLE: usize = 30;
const LOOSE_VOLUMES: usize = 20;
const ADDRESSES: usize = 10;
const DATABASES: usize = 3;
const GET_METRIC_DATA: &str = "cloudwatch:GetMetricData";

fn endpoint() -> String {
    std::env::var("DD0C_TEST_AWS_ENDPOINT")
        .expect("DD0C_TEST_AWS_ENDPOINT: start moto (scripts/moto_serial.py) and point here")
}

async fn host() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}

/// One region's share of the estate in the account `config` reaches.
async fn plant_region(config: &SdkConfig, region: &str, now: DateTime<Utc>) {
    let config = config
        .to_builder()
        .region(Region::new(region.to_owned()))
        .build();
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let run = ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .min_count(INSTANCES)
        .max_count(INSTANCES)
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Medium)
        .send()
        .await
        .expect("moto runs instances");
    let ids: Vec<String> = run
        .instances()
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_owned))
        .collect();
    let day = chrono::Duration::days(1);
    let mut data = Vec::new();
    for id in &ids[..BUSY] {
        data.push(datum("CPUUtilization", ("InstanceId", id), now - day, 55.0));
    }
    for id in &ids[BUSY..BUSY + IDLE] {
        data.push(datum("CPUUtilization", ("InstanceId", id), now - day, 1.0));
        data.push(datum("NetworkIn", ("InstanceId", id), now - day, 1e5));
        data.push(datum("NetworkOut", ("InstanceId", id), now - day, 1e5));
    }
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
    for chunk in data.chunks(1000) {
        cloudwatch
            .put_metric_data()
            .namespace("AWS/EC2")
            .set_metric_data(Some(chunk.to_vec()))
            .send()
            .await
            .expect("moto stores metrics");
    }
    for _ in 0..LOOSE_VOLUMES {
        ec2.create_volume()
            .size(20)
            .availability_zone(format!("{region}a"))
            .send()
            .await
            .expect("moto creates a volume");
    }
    for _ in 0..ADDRESSES {
        ec2.allocate_address()
            .send()
            .await
            .expect("moto allocates an address");
    }
    let rds = aws_sdk_rds::Client::new(&config);
    for n in 0..DATABASES {
        let id = format!("db{n}");
        rds.create_db_instance()
            .db_instance_identifier(&id)
            .db_instance_class("db.t3.medium")
            .engine("postgres")
            .allocated_storage(20)
            .master_username("dd0c")
            .master_user_password("not-a-secret-1")
            .send()
            .await
            .expect("moto creates a database");
        let connections = if n == 0 { 0.0 } else { 4.0 };
        cloudwatch
            .put_metric_data()
            .namespace("AWS/RDS")
            .metric_data(datum(
                "DatabaseConnections",
                ("DBInstanceIdentifier", &id),
                now - day,
                connections,
            ))
            .send()
            .await
            .expect("moto stores metrics");
    }
}

/// Reads metrics one query a request: what the batching is measured against.
struct OneQueryPerRequest(Arc<dyn Metrics>);

#[async_trait]
impl Metrics for OneQueryPerRequest {
    async fn series(
        &self,
        region: &str,
        queries: &[MetricQuery],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> PortResult<Vec<MetricSeries>> {
        let mut all = Vec::with_capacity(queries.len());
        for query in queries {
            all.extend(
                self.0
                    .series(region, std::slice::from_ref(query), from, to)
                    .await?,
            );
        }
        Ok(all)
    }
}

struct Unbatched(AwsCloud);

#[async_trait]
impl CloudAccess for Unbatched {
    async fn open(
        &self,
        account: &Account,
        key: Option<&AccessKey>,
    ) -> PortResult<CustomerAccount> {
        let mut opened = self.0.open(account, key).await?;
        opened.metrics = Arc::new(OneQueryPerRequest(opened.metrics));
        Ok(opened)
    }

    async fn act(
        &self,
        account: &Account,
        key: Option<&AccessKey>,
        action_id: &dd0c_ports::remediation::ActionId,
    ) -> PortResult<Arc<dyn dd0c_ports::remediation::Remediator>> {
        self.0.act(account, key, action_id).await
    }

    async fn trail(
        &self,
        account: &Account,
        key: Option<&AccessKey>,
        bucket: &str,
    ) -> PortResult<dd0c_ports::sources::OpenTrail> {
        self.0.trail(account, key, bucket).await
    }
}

/// A fresh tenant's scan of the account through `cloud`, timed.
async fn scan(
    cloud: Arc<dyn CloudAccess>,
    account: &Account,
    now: DateTime<Utc>,
) -> (ScanReport, Duration) {
    let stores = Stores::of(Arc::new(MemoryStore::new()));
    stores
        .tenants
        .add_tenant(&Tenant {
            name: account.tenant.clone(),
            created_at: now,
        })
        .await
        .expect("tenant");
    stores.tenants.add_account(account).await.expect("account");
    let hunter = Hunter::new(
        stores.clone(),
        cloud,
        Credentials::new(stores.tenants.clone(), None),
        dd0c_ingest::PriceCatalog::bundled(),
        Arc::new(FixedClock(now)),
    );
    let request = ScanRequest {
        tenant: account.tenant.clone(),
        account_id: Some(account.account_id.clone()),
        regions: REGIONS.iter().map(|r| (*r).to_owned()).collect(),
    };
    let started = Instant::now();
    let report = hunter.scan(&request).await.expect("the scan runs");
    (report, started.elapsed())
}

fn line(name: &str, report: &ScanReport, took: Duration) {
    let metric_requests = report.actions.get(GET_METRIC_DATA).copied().unwrap_or(0);
    println!(
        "{name:<22} resources={} findings={} GetMetricData={} ({:.1} per 1,000 resources) \
         requests={} scan={:.2} s",
        report.resources,
        report.findings.len(),
        metric_requests,
        metric_requests as f64 * 1000.0 / report.resources.max(1) as f64,
        report.api_calls,
        took.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let account_id = format!(
        "{:012}",
        900_000_000_000u64 + u64::from(std::process::id()) * 1000 + 7
    );
    let external_id = "bench-external-id";
    let now = Utc::now() + chrono::Duration::days(dd0c_tests::estate::JUDGED_AFTER_DAYS);
    let inside = dd0c_tests::estate::account_config(&endpoint(), &account_id, external_id).await;
    let planting = Instant::now();
    for region in REGIONS {
        plant_region(&inside, region, now).await;
    }
    println!(
        "planted {} regions in account {account_id} in {:.1} s",
        REGIONS.len(),
        planting.elapsed().as_secs_f64()
    );
    let account = Account {
        tenant: "bench".into(),
        account_id: account_id.clone(),
        name: None,
        created_at: now,
        role_arn: Some(format!("arn:aws:iam::{account_id}:role/dd0c-reader")),
        external_id: Some(external_id.into()),
        access_key_id: None,
        remediation_role_arn: None,
        remediation_access_key_id: None,
    };
    let cloud = AwsCloud::new(host().await);
    let (batched, batched_took) = scan(Arc::new(cloud.clone()), &account, now).await;
    let (single, single_took) = scan(Arc::new(Unbatched(cloud)), &account, now).await;
    line("staged, 500 a request", &batched, batched_took);
    line("one query a request", &single, single_took);
    assert_eq!(
        batched.findings, single.findings,
        "both ways find the same zombies"
    );
    let requests = |r: &ScanReport| r.actions.get(GET_METRIC_DATA).copied().unwrap_or(0) as f64;
    println!(
        "ratio: {:.0}x fewer GetMetricData requests, {:.1}x the speed; per 1,000 resources {:.1} \
         (target ≤ 5)",
        requests(&single) / requests(&batched).max(1.0),
        single_took.as_secs_f64() / batched_took.as_secs_f64().max(1e-9),
        requests(&batched) * 1000.0 / batched.resources.max(1) as f64
    );
}
