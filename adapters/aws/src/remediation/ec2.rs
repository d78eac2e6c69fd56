//! EC2: stop or terminate instances, snapshot and delete a volume, release an Elastic IP,
//! delete a NAT gateway, move a snapshot to the archive tier.

use aws_config::SdkConfig;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::operation::RequestId;
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification, TargetStorageTier};
use aws_sdk_ec2::Client;
use dd0c_ports::remediation::{Action, Ran, WayBack, KEPT_BY_TAG};
use dd0c_ports::{PortError, PortResult};

use super::{call, in_state, not_found, unprotected};
use crate::error::{is_code, sdk};
use crate::recorder::regional_client;
use crate::recorder::Recorder;

/// EC2's answer to a dry run that would have succeeded.
const DRY_RUN_PASSED: &str = "DryRunOperation";

/// EC2 in one region.
pub(super) struct Ec2 {
    client: Client,
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

/// Refuses a resource tagged `dd0c:protect`.
fn unprotected_by(id: &str, tags: &[Tag]) -> PortResult<()> {
    unprotected(id, tags.iter().map(Tag::key))
}

/// Tags what a run keeps as its way back with the action's id.
fn kept_by(resource: ResourceType, action_id: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .tags(Tag::builder().key(KEPT_BY_TAG).value(action_id).build())
        .build()
}

/// The resources an action names, as described: their ids checked and found.
#[derive(Default)]
struct Described {
    /// Elastic IP: the public address, for the way back.
    public_ip: Option<String>,
    /// NAT gateway: where it was and with which address, for the way back.
    nat: Option<WayBack>,
}

impl Ec2 {
    pub(super) fn new(config: &SdkConfig, region: &str, recorder: &Recorder) -> Self {
        Ec2 {
            client: regional_client!(aws_sdk_ec2, config, region, recorder),
        }
    }

    /// Describes the resources of `action`, then dry-runs each change it makes.
    pub(super) async fn dry_run(&self, action: &Action) -> PortResult<()> {
        self.describe(action).await?;
        self.dry_run_calls(action).await
    }

    /// Describes the resources of `action`, then makes its way back and its change.
    pub(super) async fn run(&self, action: &Action, action_id: &str) -> PortResult<Ran> {
        let described = self.describe(action).await?;
        match action {
            Action::StopInstances { instance_ids } => self.stop(instance_ids).await,
            Action::TerminateInstances { instance_ids } => {
                self.terminate(instance_ids, action_id).await
            }
            Action::DeleteVolume { volume_id } => self.delete_volume(volume_id, action_id).await,
            Action::ReleaseAddress { allocation_id } => {
                self.release(allocation_id, described.public_ip).await
            }
            Action::ArchiveSnapshot { snapshot_id } => self.archive(snapshot_id).await,
            Action::DeleteNatGateway { nat_gateway_id } => match described.nat {
                Some(way_back) => self.delete_nat_gateway(nat_gateway_id, way_back).await,
                None => Err(PortError::NotFound(format!("NAT gateway {nat_gateway_id}"))),
            },
            other => Err(PortError::Invalid(format!(
                "{} is not an EC2 action",
                other.kind()
            ))),
        }
    }

    /// Describes the resources of `action`: each must exist and be unprotected.
    async fn describe(&self, action: &Action) -> PortResult<Described> {
        let ec2 = &self.client;
        let mut described = Described::default();
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
                    unprotected_by(id, instance.tags())?;
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
                unprotected_by(volume_id, volume.tags())?;
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
                unprotected_by(allocation_id, address.tags())?;
                described.public_ip = address.public_ip().map(str::to_owned);
            }
            Action::DeleteNatGateway { nat_gateway_id } => {
                let out = ec2
                    .describe_nat_gateways()
                    .nat_gateway_ids(nat_gateway_id)
                    .send()
                    .await
                    .map_err(|e| not_found("EC2 DescribeNatGateways", e))?;
                let nat = out
                    .nat_gateways()
                    .first()
                    .ok_or_else(|| PortError::NotFound(format!("NAT gateway {nat_gateway_id}")))?;
                unprotected_by(nat_gateway_id, nat.tags())?;
                let state = nat.state().map_or("unknown", |s| s.as_str());
                in_state(nat_gateway_id, state, &["available"], "DeleteNatGateway")?;
                described.nat = Some(WayBack::NatGateway {
                    subnet_id: nat.subnet_id().unwrap_or_default().to_owned(),
                    allocation_id: nat
                        .nat_gateway_addresses()
                        .iter()
                        .find_map(|a| a.allocation_id())
                        .map(str::to_owned),
                });
            }
            Action::ArchiveSnapshot { snapshot_id } => {
                let out = ec2
                    .describe_snapshots()
                    .snapshot_ids(snapshot_id)
                    .send()
                    .await
                    .map_err(|e| not_found("EC2 DescribeSnapshots", e))?;
                let snapshot = out
                    .snapshots()
                    .first()
                    .ok_or_else(|| PortError::NotFound(format!("snapshot {snapshot_id}")))?;
                unprotected_by(snapshot_id, snapshot.tags())?;
                let tier = snapshot.storage_tier().map_or("standard", |t| t.as_str());
                in_state(snapshot_id, tier, &["standard"], "ModifySnapshotTier")?;
            }
            other => {
                return Err(PortError::Invalid(format!(
                    "{} is not an EC2 action",
                    other.kind()
                )))
            }
        }
        Ok(described)
    }

    /// Each change `action` makes, with `DryRun=true`.
    async fn dry_run_calls(&self, action: &Action) -> PortResult<()> {
        let ec2 = &self.client;
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
            Action::ArchiveSnapshot { snapshot_id } => dry_run_answer(
                "EC2 ModifySnapshotTier",
                ec2.modify_snapshot_tier()
                    .snapshot_id(snapshot_id)
                    .storage_tier(TargetStorageTier::Archive)
                    .dry_run(true)
                    .send()
                    .await,
            ),
            // Described as available and unprotected: the check (see the module's map).
            _ => Ok(()),
        }
    }

    async fn stop(&self, instance_ids: &[String]) -> PortResult<Ran> {
        let out = self
            .client
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

    async fn terminate(&self, instance_ids: &[String], action_id: &str) -> PortResult<Ran> {
        let ec2 = &self.client;
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

    async fn delete_volume(&self, volume_id: &str, action_id: &str) -> PortResult<Ran> {
        let ec2 = &self.client;
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

    async fn release(&self, allocation_id: &str, public_ip: Option<String>) -> PortResult<Ran> {
        let out = self
            .client
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

    async fn archive(&self, snapshot_id: &str) -> PortResult<Ran> {
        let out = self
            .client
            .modify_snapshot_tier()
            .snapshot_id(snapshot_id)
            .storage_tier(TargetStorageTier::Archive)
            .send()
            .await
            .map_err(|e| sdk("EC2 ModifySnapshotTier", e))?;
        Ok(Ran {
            calls: vec![call("ec2:ModifySnapshotTier", out.request_id())],
            way_back: WayBack::Archived {
                snapshot_id: snapshot_id.to_owned(),
            },
        })
    }

    async fn delete_nat_gateway(&self, nat_gateway_id: &str, way_back: WayBack) -> PortResult<Ran> {
        let out = self
            .client
            .delete_nat_gateway()
            .nat_gateway_id(nat_gateway_id)
            .send()
            .await
            .map_err(|e| sdk("EC2 DeleteNatGateway", e))?;
        Ok(Ran {
            calls: vec![call("ec2:DeleteNatGateway", out.request_id())],
            way_back,
        })
    }
}
