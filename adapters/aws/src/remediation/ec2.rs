//! [`AwsRemediator`]: the actions of [`dd0c_ports::remediation`] on EC2, in one customer
//! account. Each resource is described first (it must exist and not be tagged
//! `dd0c:protect`); a dry run asks EC2 with `DryRun=true`, whose `DryRunOperation` answer means
//! the call would succeed; a run makes the way back (a snapshot, an image) before the change.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::operation::RequestId;
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use aws_sdk_ec2::Client;
use dd0c_ports::remediation::{Action, Call, Ran, Remediator, WayBack, KEPT_BY_TAG, PROTECT_TAG};
use dd0c_ports::zombie::ApiCalls;
use dd0c_ports::{PortError, PortResult};

use crate::error::{is_code, sdk};
use crate::recorder::Recorder;

/// EC2's answer to a dry run that would have succeeded.
const DRY_RUN_PASSED: &str = "DryRunOperation";

/// Acts on one account's EC2 resources, with the credentials of `config` (the account's
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

    fn ec2(&self, region: &str) -> Client {
        let conf = aws_sdk_ec2::config::Builder::from(&self.config)
            .region(aws_sdk_ec2::config::Region::new(region.to_owned()))
            .interceptor(self.recorder.clone())
            .build();
        Client::from_conf(conf)
    }
}

/// A describe's failure: `NotFound` when the service says the id does not exist.
fn not_found<E>(call: &str, error: SdkError<E>) -> PortError
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

/// The answer to a call made with `DryRun=true`: passed, or the service's refusal.
fn dry_run_answer<O, E>(call: &str, answer: Result<O, SdkError<E>>) -> PortResult<()>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match answer {
        Err(error) if is_code(&error, DRY_RUN_PASSED) => Ok(()),
        Err(error) => Err(sdk(call, error)),
        // A service that ignored DryRun has made the change: never taken for a check.
        Ok(_) => Err(PortError::Invalid(format!(
            "{call}: answered a dry run as a real call"
        ))),
    }
}

/// Refuses a resource tagged [`PROTECT_TAG`].
fn unprotected(id: &str, tags: &[Tag]) -> PortResult<()> {
    if tags.iter().any(|t| t.key() == Some(PROTECT_TAG)) {
        return Err(PortError::Invalid(format!(
            "{id} is tagged {PROTECT_TAG}: no action may touch it"
        )));
    }
    Ok(())
}

/// Tags what a run keeps as its way back with the action's id.
fn kept_by(resource: ResourceType, action_id: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .tags(Tag::builder().key(KEPT_BY_TAG).value(action_id).build())
        .build()
}

fn call(action: &str, request_id: Option<&str>) -> Call {
    Call {
        action: action.to_owned(),
        request_id: request_id.map(str::to_owned),
    }
}

/// The resources an action names, as described: their ids checked and found.
struct Described {
    /// Elastic IP: the public address, for the way back.
    public_ip: Option<String>,
}

impl AwsRemediator {
    /// Describes the resources of `action`: each must exist and be unprotected.
    async fn describe(&self, ec2: &Client, action: &Action) -> PortResult<Described> {
        let mut described = Described { public_ip: None };
        match action {
            Action::StopInstances { instance_ids }
            | Action::TerminateInstances { instance_ids } => {
                let out = ec2
                    .describe_instances()
                    .set_instance_ids(Some(instance_ids.clone()))
                    .send()
                    .await
                    .map_err(|e| not_found("EC2 DescribeInstances", e))?;
                let instances: Vec<_> = out
                    .reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .collect();
                for id in instance_ids {
                    let Some(instance) = instances.iter().find(|i| i.instance_id() == Some(id))
                    else {
                        return Err(PortError::NotFound(format!("instance {id}")));
                    };
                    unprotected(id, instance.tags())?;
                }
            }
            Action::DeleteVolume { volume_id } => {
                let out = ec2
                    .describe_volumes()
                    .volume_ids(volume_id)
                    .send()
                    .await
                    .map_err(|e| not_found("EC2 DescribeVolumes", e))?;
                let volume = out
                    .volumes()
                    .first()
                    .ok_or_else(|| PortError::NotFound(format!("volume {volume_id}")))?;
                unprotected(volume_id, volume.tags())?;
            }
            Action::ReleaseAddress { allocation_id } => {
                let out = ec2
                    .describe_addresses()
                    .allocation_ids(allocation_id)
                    .send()
                    .await
                    .map_err(|e| not_found("EC2 DescribeAddresses", e))?;
                let address = out
                    .addresses()
                    .first()
                    .ok_or_else(|| PortError::NotFound(format!("address {allocation_id}")))?;
                unprotected(allocation_id, address.tags())?;
                described.public_ip = address.public_ip().map(str::to_owned);
            }
        }
        Ok(described)
    }

    /// Each change `action` makes, with `DryRun=true`.
    async fn dry_run_calls(&self, ec2: &Client, action: &Action) -> PortResult<()> {
        match action {
            Action::StopInstances { instance_ids } => dry_run_answer(
                "EC2 StopInstances",
                ec2.stop_instances()
                    .set_instance_ids(Some(instance_ids.clone()))
                    .dry_run(true)
                    .send()
                    .await,
            ),
            Action::TerminateInstances { instance_ids } => {
                for id in instance_ids {
                    dry_run_answer(
                        "EC2 CreateImage",
                        ec2.create_image()
                            .instance_id(id)
                            .name(format!("dd0c-dry-run-{id}"))
                            .no_reboot(true)
                            .dry_run(true)
                            .send()
                            .await,
                    )?;
                }
                dry_run_answer(
                    "EC2 TerminateInstances",
                    ec2.terminate_instances()
                        .set_instance_ids(Some(instance_ids.clone()))
                        .dry_run(true)
                        .send()
                        .await,
                )
            }
            Action::DeleteVolume { volume_id } => {
                dry_run_answer(
                    "EC2 CreateSnapshot",
                    ec2.create_snapshot()
                        .volume_id(volume_id)
                        .dry_run(true)
                        .send()
                        .await,
                )?;
                dry_run_answer(
                    "EC2 DeleteVolume",
                    ec2.delete_volume()
                        .volume_id(volume_id)
                        .dry_run(true)
                        .send()
                        .await,
                )
            }
            Action::ReleaseAddress { allocation_id } => dry_run_answer(
                "EC2 ReleaseAddress",
                ec2.release_address()
                    .allocation_id(allocation_id)
                    .dry_run(true)
                    .send()
                    .await,
            ),
        }
    }

    async fn stop(&self, ec2: &Client, instance_ids: &[String]) -> PortResult<Ran> {
        let out = ec2
            .stop_instances()
            .set_instance_ids(Some(instance_ids.to_vec()))
            .send()
            .await
            .map_err(|e| sdk("EC2 StopInstances", e))?;
        Ok(Ran {
            calls: vec![call("ec2:StopInstances", out.request_id())],
            way_back: WayBack::Start {
                instance_ids: instance_ids.to_vec(),
            },
        })
    }

    async fn terminate(
        &self,
        ec2: &Client,
        instance_ids: &[String],
        action_id: &str,
    ) -> PortResult<Ran> {
        let mut calls = Vec::new();
        let mut image_ids = Vec::new();
        for id in instance_ids {
            let out = ec2
                .create_image()
                .instance_id(id)
                .name(format!("dd0c-{action_id}-{id}"))
                .description(format!(
                    "dd0c/cost: {id} before action {action_id} terminated it"
                ))
                .no_reboot(true)
                .tag_specifications(kept_by(ResourceType::Image, action_id))
                .send()
                .await
                .map_err(|e| sdk("EC2 CreateImage", e))?;
            calls.push(call("ec2:CreateImage", out.request_id()));
            image_ids.push(out.image_id().unwrap_or_default().to_owned());
        }
        let out = ec2
            .terminate_instances()
            .set_instance_ids(Some(instance_ids.to_vec()))
            .send()
            .await
            .map_err(|e| sdk("EC2 TerminateInstances", e))?;
        calls.push(call("ec2:TerminateInstances", out.request_id()));
        Ok(Ran {
            calls,
            way_back: WayBack::Images { image_ids },
        })
    }

    async fn delete_volume(
        &self,
        ec2: &Client,
        volume_id: &str,
        action_id: &str,
    ) -> PortResult<Ran> {
        let snapshot = ec2
            .create_snapshot()
            .volume_id(volume_id)
            .description(format!(
                "dd0c/cost: {volume_id} before action {action_id} deleted it"
            ))
            .tag_specifications(kept_by(ResourceType::Snapshot, action_id))
            .send()
            .await
            .map_err(|e| sdk("EC2 CreateSnapshot", e))?;
        let snapshot_id = snapshot.snapshot_id().unwrap_or_default().to_owned();
        let deleted = ec2
            .delete_volume()
            .volume_id(volume_id)
            .send()
            .await
            .map_err(|e| sdk("EC2 DeleteVolume", e))?;
        Ok(Ran {
            calls: vec![
                call("ec2:CreateSnapshot", snapshot.request_id()),
                call("ec2:DeleteVolume", deleted.request_id()),
            ],
            way_back: WayBack::Snapshot { snapshot_id },
        })
    }

    async fn release(
        &self,
        ec2: &Client,
        allocation_id: &str,
        public_ip: Option<String>,
    ) -> PortResult<Ran> {
        let out = ec2
            .release_address()
            .allocation_id(allocation_id)
            .send()
            .await
            .map_err(|e| sdk("EC2 ReleaseAddress", e))?;
        Ok(Ran {
            calls: vec![call("ec2:ReleaseAddress", out.request_id())],
            way_back: WayBack::Address {
                public_ip: public_ip.unwrap_or_default(),
            },
        })
    }
}

#[async_trait]
impl Remediator for AwsRemediator {
    async fn dry_run(&self, region: &str, action: &Action) -> PortResult<()> {
        let ec2 = self.ec2(region);
        self.describe(&ec2, action).await?;
        self.dry_run_calls(&ec2, action).await
    }

    async fn run(&self, region: &str, action: &Action, action_id: &str) -> PortResult<Ran> {
        let ec2 = self.ec2(region);
        let described = self.describe(&ec2, action).await?;
        match action {
            Action::StopInstances { instance_ids } => self.stop(&ec2, instance_ids).await,
            Action::TerminateInstances { instance_ids } => {
                self.terminate(&ec2, instance_ids, action_id).await
            }
            Action::DeleteVolume { volume_id } => {
                self.delete_volume(&ec2, volume_id, action_id).await
            }
            Action::ReleaseAddress { allocation_id } => {
                self.release(&ec2, allocation_id, described.public_ip).await
            }
        }
    }
}
