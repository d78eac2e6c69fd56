//! [`Recorder`]: counts every request a client of a customer account makes (each attempt) and
//! names its IAM action, so a scan or a poll can report its requests and a test can compare the
//! actions with the policy handed out.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use dd0c_ports::zombie::ApiCalls;

/// Counts every request (each attempt) and names its IAM action.
#[derive(Debug, Clone)]
pub(crate) struct Recorder(pub(crate) ApiCalls);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "dd0c-call-recorder"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(metadata) = cfg.load::<Metadata>() {
            self.0
                .record(&iam_action(metadata.service(), metadata.name()));
        }
        Ok(())
    }
}

/// The IAM name of an SDK operation (`ec2:DescribeInstances`; S3's `ListObjectsV2` is
/// authorized as `s3:ListBucket`).
pub(crate) fn iam_action(service: &str, operation: &str) -> String {
    if (service, operation) == ("S3", "ListObjectsV2") {
        return "s3:ListBucket".to_owned();
    }
    let prefix = match service {
        "EC2" => "ec2",
        "Elastic Load Balancing" | "Elastic Load Balancing v2" => "elasticloadbalancing",
        "RDS" => "rds",
        "CloudWatch" => "cloudwatch",
        "S3" => "s3",
        other => other,
    };
    format!("{prefix}:{operation}")
}

/// A client of the SDK crate `$sdk` (`aws_sdk_ec2`) in `region`, with `config`'s credentials
/// and endpoint, each of its requests counted by `recorder`: how every reader and actor in a
/// customer account makes its clients.
macro_rules! regional_client {
    ($sdk:ident, $config:expr, $region:expr, $recorder:expr) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from($config)
                .region($sdk::config::Region::new($region.to_owned()))
                .interceptor($recorder.clone())
                .build(),
        )
    };
}
pub(crate) use regional_client;
