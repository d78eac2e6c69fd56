//! [`AwsRemediator`]: the actions of [`dd0c_ports::remediation`] in one customer account, one
//! file per service:
//! - [`ec2`]: instances, volumes, Elastic IPs and NAT gateways;
//! - [`elb`]: load balancers of both APIs;
//! - [`rds`]: DB instances.
//!
//! Each resource is described first: it must exist, not be tagged `dd0c:protect`, and be in a
//! state the change takes. A dry run then asks the service with `DryRun=true` where its API has
//! one (EC2: a `DryRunOperation` answer means the call would succeed); where it has none (ELB,
//! RDS) or where an emulator would carry the call out (moto deletes a NAT gateway on a
//! `DryRun`), the description is the check. A run makes the way back first (a snapshot, an
//! image, the configuration described, a final DB snapshot), then the change.

mod ec2;
mod elb;
mod rds;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use dd0c_ports::remediation::{Action, Call, Ran, Remediator, PROTECT_TAG};
use dd0c_ports::zombie::ApiCalls;
use dd0c_ports::{PortError, PortResult};

use crate::error::sdk;
use crate::recorder::Recorder;

/// Acts on one account's resources, with the credentials of `config` (the account's
/// remediation role or key); counts and names every request it makes.
#[derive(Debug, Clone)]
pub struct AwsRemediator {
    config: SdkConfig,
    recorder: Recorder,
}

impl AwsRemediator {
    /// Acts with `config`'s credentials and endpoint.
    pub fn new(config: SdkConfig) -> Self {
        AwsRemediator {
            config,
            recorder: Recorder(ApiCalls::default()),
        }
    }

    /// The requests made so far, by IAM action (dry runs and describes included).
    pub fn calls(&self) -> &ApiCalls {
        &self.recorder.0
    }
}

#[async_trait]
impl Remediator for AwsRemediator {
    async fn dry_run(&self, region: &str, action: &Action) -> PortResult<()> {
        match action {
            Action::DeleteLoadBalancer { load_balancer } => {
                elb::Elb::new(&self.config, region, &self.recorder)
                    .check(load_balancer)
                    .await
            }
            Action::StopDbInstance {
                db_instance_identifier,
            }
            | Action::DeleteDbInstance {
                db_instance_identifier,
            } => {
                rds::Rds::new(&self.config, region, &self.recorder)
                    .check(db_instance_identifier, action.kind())
                    .await
            }
            _ => {
                ec2::Ec2::new(&self.config, region, &self.recorder)
                    .dry_run(action)
                    .await
            }
        }
    }

    async fn run(&self, region: &str, action: &Action, action_id: &str) -> PortResult<Ran> {
        match action {
            Action::DeleteLoadBalancer { load_balancer } => {
                elb::Elb::new(&self.config, region, &self.recorder)
                    .delete(load_balancer)
                    .await
            }
            Action::StopDbInstance {
                db_instance_identifier,
            } => {
                rds::Rds::new(&self.config, region, &self.recorder)
                    .stop(db_instance_identifier)
                    .await
            }
            Action::DeleteDbInstance {
                db_instance_identifier,
            } => {
                rds::Rds::new(&self.config, region, &self.recorder)
                    .delete(db_instance_identifier, action_id)
                    .await
            }
            _ => {
                ec2::Ec2::new(&self.config, region, &self.recorder)
                    .run(action, action_id)
                    .await
            }
        }
    }
}

/// A describe's failure: `NotFound` when the service says the resource does not exist.
fn not_found<E>(call: &str, error: SdkError<E, aws_smithy_runtime_api::http::Response>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match error.code() {
        Some(code) if code.contains("NotFound") => {
            PortError::NotFound(format!("{call}: {code}: {}", error.message().unwrap_or("")))
        }
        _ => sdk(call, error),
    }
}

/// Refuses a resource whose tag keys include [`PROTECT_TAG`].
fn unprotected<'a>(id: &str, mut keys: impl Iterator<Item = Option<&'a str>>) -> PortResult<()> {
    if keys.any(|k| k == Some(PROTECT_TAG)) {
        return Err(PortError::Invalid(format!(
            "{id} is tagged {PROTECT_TAG}: no action may touch it"
        )));
    }
    Ok(())
}

/// Refuses a resource not in a state the change takes.
fn in_state(id: &str, state: &str, takes: &[&str], change: &str) -> PortResult<()> {
    if takes.contains(&state) {
        return Ok(());
    }
    Err(PortError::Invalid(format!(
        "{id} is {state}: {change} takes one that is {}",
        takes.join(" or ")
    )))
}

fn call(action: &str, request_id: Option<&str>) -> Call {
    Call {
        action: action.to_owned(),
        request_id: request_id.map(str::to_owned),
    }
}
