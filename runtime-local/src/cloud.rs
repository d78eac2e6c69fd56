//! How this process reads and acts on customer AWS accounts (the zombie hunter, the trail poller,
//! remediation): the AWS
//! adapter when built with the `aws` feature (its SDK configuration loaded on first use, so
//! commands that never read an account never look for credentials), else a stand-in that says
//! how to get one.

use std::sync::Arc;

use async_trait::async_trait;
use dd0c_ports::domain::Account;
use dd0c_ports::remediation::{ActionId, Remediator};
use dd0c_ports::sources::OpenTrail;
use dd0c_ports::zombie::{AccessKey, CloudAccess, CustomerAccount};
use dd0c_ports::{PortError, PortResult};

/// The cloud access of this build.
pub fn cloud_access() -> Arc<dyn CloudAccess> {
    #[cfg(feature = "aws")]
    {
        Arc::new(aws::LazyAws::default())
    }
    #[cfg(not(feature = "aws"))]
    {
        Arc::new(NoAws)
    }
}

/// A build without the AWS SDK.
#[derive(Debug, Clone, Copy)]
pub struct NoAws;

impl NoAws {
    fn refuse(account: &Account) -> PortError {
        PortError::Unavailable(format!(
            "cannot read account {}: this dd0c-cost was built without AWS access (build it with \
             `cargo build --release -p dd0c-cost --features aws`, as the compose image is)",
            account.account_id
        ))
    }
}

#[async_trait]
impl CloudAccess for NoAws {
    async fn open(&self, account: &Account, _: Option<&AccessKey>) -> PortResult<CustomerAccount> {
        Err(Self::refuse(account))
    }

    async fn act(
        &self,
        account: &Account,
        _: Option<&AccessKey>,
        _: &ActionId,
    ) -> PortResult<Arc<dyn Remediator>> {
        Err(Self::refuse(account))
    }

    async fn trail(
        &self,
        account: &Account,
        _: Option<&AccessKey>,
        _: &str,
    ) -> PortResult<OpenTrail> {
        Err(Self::refuse(account))
    }
}

#[cfg(feature = "aws")]
mod aws {
    use super::*;
    use dd0c_adapters_aws::AwsCloud;
    use tokio::sync::OnceCell;

    /// The host's SDK configuration (environment, profile, instance role; `AWS_ENDPOINT_URL`),
    /// with `us-east-1` where no region is configured (STS and the scanner name their regions).
    #[derive(Debug, Default)]
    pub struct LazyAws(OnceCell<AwsCloud>);

    impl LazyAws {
        async fn cloud(&self) -> &AwsCloud {
            self.0
                .get_or_init(|| async {
                    let region = aws_config::meta::region::RegionProviderChain::default_provider()
                        .or_else("us-east-1");
                    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                        .region(region)
                        .load()
                        .await;
                    AwsCloud::new(config)
                })
                .await
        }
    }

    #[async_trait]
    impl CloudAccess for LazyAws {
        async fn open(
            &self,
            account: &Account,
            key: Option<&AccessKey>,
        ) -> PortResult<CustomerAccount> {
            self.cloud().await.open(account, key).await
        }

        async fn act(
            &self,
            account: &Account,
            key: Option<&AccessKey>,
            action_id: &ActionId,
        ) -> PortResult<Arc<dyn Remediator>> {
            self.cloud().await.act(account, key, action_id).await
        }

        async fn trail(
            &self,
            account: &Account,
            key: Option<&AccessKey>,
            bucket: &str,
        ) -> PortResult<OpenTrail> {
            self.cloud().await.trail(account, key, bucket).await
        }
    }
}
