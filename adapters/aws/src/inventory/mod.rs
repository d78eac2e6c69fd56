//! The zombie hunter's read ports on a customer account.
//!
//! - [`AwsCloud`] opens an account ([`CloudAccess`]): its role with the ExternalId, or its access
//!   keys; throttled requests are retried by the SDK (standard mode, more attempts than default).
//! - [`AwsInventory`] describes one region ([`Inventory`]): EC2 in [`ec2`], Classic and v2 load
//!   balancers in [`elb`], RDS in [`rds`] — every page, the services side by side.
//! - [`CloudWatchMetrics`] reads statistics with `GetMetricData`, 500 queries a request.
//! - [`crate::S3Trail`] reads the account's CloudTrail bucket for the trail poller.
//!
//! Every request passes a [`Recorder`], which counts it and names its IAM action, so a scan can
//! report its request count and a test can compare the actions with the policy handed out
//! (`dd0c_zombie::READ_ACTIONS`).

mod cloudwatch;
mod ec2;
mod elb;
mod rds;

use std::sync::Arc;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use chrono::{DateTime, Utc};
use dd0c_ports::domain::Account;
use dd0c_ports::remediation::{ActionId, Remediator};
use dd0c_ports::sources::OpenTrail;
use dd0c_ports::zombie::{
    AccessKey, ApiCalls, CloudAccess, CustomerAccount, Inventory, RegionInventory, Tags,
};
use dd0c_ports::PortResult;

use crate::recorder::Recorder;
use crate::remediation::AwsRemediator;
use crate::trail::S3Trail;
pub use cloudwatch::CloudWatchMetrics;

/// Attempts per request: throttling (`RequestLimitExceeded`, `Throttling`) is retried with
/// backoff by the SDK's standard mode; a scan makes bursts of describes, so more than default.
const MAX_ATTEMPTS: u32 = 6;

/// Opens customer accounts from the host's own SDK configuration.
#[derive(Debug, Clone)]
pub struct AwsCloud {
    base: SdkConfig,
}

impl AwsCloud {
    /// Accounts are read with `base`'s HTTP client and endpoint (`AWS_ENDPOINT_URL` for an
    /// emulator); roles are assumed with its credentials.
    pub fn new(base: SdkConfig) -> Self {
        AwsCloud { base }
    }

    /// The configuration that reads `account`: its access key when it has no role, else its
    /// role (with its ExternalId); retries throttled requests.
    async fn account_config(
        &self,
        account: &Account,
        access_key: Option<&AccessKey>,
    ) -> PortResult<SdkConfig> {
        let config = match (account.role_arn.is_some(), access_key) {
            (false, Some(key)) => self.with_key(key),
            // Without a role this fails, naming the account: nothing is read with the host's
            // own credentials by mistake.
            _ => crate::customer_config(&self.base, account).await?,
        };
        Ok(retrying(config))
    }

    /// The base configuration with `key`'s credentials.
    fn with_key(&self, key: &AccessKey) -> SdkConfig {
        self.base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(
                    &key.access_key_id,
                    &key.secret_access_key,
                    None,
                    None,
                    "dd0c-account-keys",
                ),
            ))
            .build()
    }
}

/// `config`, retrying throttled requests.
fn retrying(config: SdkConfig) -> SdkConfig {
    config
        .to_builder()
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .build()
}

#[async_trait]
impl CloudAccess for AwsCloud {
    async fn open(
        &self,
        account: &Account,
        access_key: Option<&AccessKey>,
    ) -> PortResult<CustomerAccount> {
        let config = self.account_config(account, access_key).await?;
        let calls = ApiCalls::default();
        Ok(CustomerAccount {
            inventory: Arc::new(AwsInventory::new(
                config.clone(),
                &account.account_id,
                calls.clone(),
            )),
            metrics: Arc::new(CloudWatchMetrics::new(config, calls.clone())),
            calls,
        })
    }

    async fn act(
        &self,
        account: &Account,
        access_key: Option<&AccessKey>,
        action_id: &ActionId,
    ) -> PortResult<Arc<dyn Remediator>> {
        let config = match (account.remediation_role_arn.is_some(), access_key) {
            (false, Some(key)) => self.with_key(key),
            // Without a remediation role this fails, naming the account.
            _ => crate::remediation_config(&self.base, account, action_id).await?,
        };
        Ok(Arc::new(AwsRemediator::new(retrying(config))))
    }

    async fn trail(
        &self,
        account: &Account,
        access_key: Option<&AccessKey>,
        bucket: &str,
    ) -> PortResult<OpenTrail> {
        let config = self.account_config(account, access_key).await?;
        let calls = ApiCalls::default();
        Ok(OpenTrail {
            bucket: Arc::new(S3Trail::new(&config, bucket, calls.clone())),
            calls,
        })
    }
}

/// Describes the resources of one customer account, region by region.
#[derive(Debug, Clone)]
pub struct AwsInventory {
    config: SdkConfig,
    account_id: String,
    recorder: Recorder,
}

impl AwsInventory {
    /// Reads with `config`'s credentials; `account_id` selects the snapshots the account owns.
    pub fn new(config: SdkConfig, account_id: &str, calls: ApiCalls) -> Self {
        AwsInventory {
            config,
            account_id: account_id.to_owned(),
            recorder: Recorder(calls),
        }
    }
}

#[async_trait]
impl Inventory for AwsInventory {
    async fn region(&self, region: &str) -> PortResult<RegionInventory> {
        let ec2 = ec2::Ec2::new(&self.config, region, &self.recorder);
        let elb = elb::Elb::new(&self.config, region, &self.recorder);
        let rds = rds::Rds::new(&self.config, region, &self.recorder);
        let (instances, volumes, addresses, nat_gateways, routed, snapshots, images, lbs, dbs) = tokio::try_join!(
            ec2.instances(),
            ec2.volumes(),
            ec2.addresses(),
            ec2.nat_gateways(),
            ec2.routed_nat_gateways(),
            ec2.snapshots(&self.account_id),
            ec2.image_snapshots(),
            elb.load_balancers(&self.account_id),
            rds.databases(),
        )?;
        Ok(RegionInventory {
            instances,
            volumes,
            addresses,
            nat_gateways,
            routed_nat_gateways: routed,
            load_balancers: lbs,
            databases: dbs,
            snapshots,
            image_snapshots: images,
        })
    }
}

/// An SDK timestamp as UTC.
fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

/// Tags from any SDK's key/value pairs.
fn tags<'a>(pairs: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>) -> Tags {
    pairs
        .filter_map(|(k, v)| Some((k?.to_owned(), v.unwrap_or_default().to_owned())))
        .collect()
}
