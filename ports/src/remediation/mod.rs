//! Acting on a customer's resources: the actions dd0c/cost can take on an anomaly's or a
//! finding's resources, each checked by the cloud's own dry run before it runs, and what each
//! leaves behind to go back to.
//!
//! - [`Action`] names what to do to which resources; its [`ActionKind`] is the wire value
//!   (`delete_volume`), and lists the IAM actions it calls ([`ActionKind::iam_actions`]) so the
//!   role a customer grants can be generated from it.
//! - [`Remediator`] dry-runs and runs actions in one account's region.
//! - [`WayBack`] is what a run leaves to undo it: the snapshot a volume was deleted after, the
//!   image an instance was terminated after, the address released.

mod decisions;
mod governance;

pub use decisions::{
    action_cursor, ActionFilter, ActionId, ActionRecord, ActionStatus, ActionStore, Decision, Step,
    Subject,
};
pub use governance::{is_slack_user, RemediationMode, RemediationSettings};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::Change;
use crate::PortResult;

/// Tag key on a resource that no action may touch.
pub const PROTECT_TAG: &str = "dd0c:protect";

/// Tag key on what an action keeps as its way back (a snapshot, an image): the action's id.
pub const KEPT_BY_TAG: &str = "dd0c:kept-by";

/// What to do to which resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Stop instances (their volumes stay; start them to go back).
    StopInstances {
        /// `i-…`.
        instance_ids: Vec<String>,
    },
    /// Image each instance (without rebooting it), then terminate them.
    TerminateInstances {
        /// `i-…`.
        instance_ids: Vec<String>,
    },
    /// Snapshot a volume, then delete it.
    DeleteVolume {
        /// `vol-…`.
        volume_id: String,
    },
    /// Release an Elastic IP.
    ReleaseAddress {
        /// `eipalloc-…`.
        allocation_id: String,
    },
    /// Delete a NAT gateway; its Elastic IP stays allocated to the account.
    DeleteNatGateway {
        /// `nat-…`.
        nat_gateway_id: String,
    },
    /// Delete a load balancer, its configuration kept in the action's record.
    DeleteLoadBalancer {
        /// An Application, Network or Gateway Load Balancer's ARN, or a Classic Load
        /// Balancer's name (or ARN).
        load_balancer: String,
    },
    /// Stop an RDS DB instance (AWS starts it again by itself after seven days).
    StopDbInstance {
        /// The DB instance identifier.
        db_instance_identifier: String,
    },
    /// Delete an RDS DB instance after a final snapshot.
    DeleteDbInstance {
        /// The DB instance identifier.
        db_instance_identifier: String,
    },
    /// Move an EBS snapshot to the archive tier.
    ArchiveSnapshot {
        /// `snap-…`.
        snapshot_id: String,
    },
}

wire_enum! {
    /// The kind of an action: its wire value.
    ActionKind {
        /// Stop instances.
        StopInstances = "stop_instances",
        /// Image, then terminate instances.
        TerminateInstances = "terminate_instances",
        /// Snapshot, then delete a volume.
        DeleteVolume = "delete_volume",
        /// Release an Elastic IP.
        ReleaseAddress = "release_address",
        /// Delete a NAT gateway, keeping its address.
        DeleteNatGateway = "delete_nat_gateway",
        /// Delete a load balancer, keeping its configuration.
        DeleteLoadBalancer = "delete_load_balancer",
        /// Stop an RDS DB instance.
        StopDbInstance = "stop_db_instance",
        /// Snapshot, then delete an RDS DB instance.
        DeleteDbInstance = "delete_db_instance",
        /// Move an EBS snapshot to the archive tier.
        ArchiveSnapshot = "archive_snapshot",
    }
}

impl ActionKind {
    /// The requests a dry run or a run of this kind makes, as IAM names them: a describe that
    /// finds the resources and their tags, then the changes (a dry run is authorized as the
    /// call itself).
    pub fn calls(self) -> &'static [&'static str] {
        match self {
            ActionKind::StopInstances => &["ec2:DescribeInstances", "ec2:StopInstances"],
            ActionKind::TerminateInstances => &[
                "ec2:DescribeInstances",
                "ec2:CreateImage",
                "ec2:TerminateInstances",
            ],
            ActionKind::DeleteVolume => &[
                "ec2:DescribeVolumes",
                "ec2:CreateSnapshot",
                "ec2:DeleteVolume",
            ],
            ActionKind::ReleaseAddress => &["ec2:DescribeAddresses", "ec2:ReleaseAddress"],
            ActionKind::DeleteNatGateway => &["ec2:DescribeNatGateways", "ec2:DeleteNatGateway"],
            ActionKind::DeleteLoadBalancer => &[
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DeleteLoadBalancer",
            ],
            ActionKind::StopDbInstance => &["rds:DescribeDBInstances", "rds:StopDBInstance"],
            ActionKind::DeleteDbInstance => &["rds:DescribeDBInstances", "rds:DeleteDBInstance"],
            ActionKind::ArchiveSnapshot => &["ec2:DescribeSnapshots", "ec2:ModifySnapshotTier"],
        }
    }

    /// The call that creates what a run keeps as its way back, tagged [`KEPT_BY_TAG`] as it is
    /// created (an image, a snapshot); `None` for a kind that creates nothing. Tagging on
    /// creation is authorized as `ec2:CreateTags` besides the call.
    pub fn tagging_call(self) -> Option<&'static str> {
        match self {
            ActionKind::TerminateInstances => Some("ec2:CreateImage"),
            ActionKind::DeleteVolume => Some("ec2:CreateSnapshot"),
            // RDS names the final snapshot after the action instead.
            ActionKind::StopInstances
            | ActionKind::ReleaseAddress
            | ActionKind::DeleteNatGateway
            | ActionKind::DeleteLoadBalancer
            | ActionKind::StopDbInstance
            | ActionKind::DeleteDbInstance
            | ActionKind::ArchiveSnapshot => None,
        }
    }

    /// The IAM actions a role needs for this kind: its [`calls`](Self::calls), `ec2:CreateTags`
    /// when it has a [tagging call](Self::tagging_call), and `rds:CreateDBSnapshot` for the
    /// final snapshot a DB instance's deletion takes (authorized as its own creation).
    pub fn iam_actions(self) -> Vec<&'static str> {
        let mut actions = self.calls().to_vec();
        if self.tagging_call().is_some() {
            actions.push(CREATE_TAGS);
        }
        if self == ActionKind::DeleteDbInstance {
            actions.push(CREATE_DB_SNAPSHOT);
        }
        actions
    }

    /// The kinds that end the waste of a finding of `kind`, the one taken by default first;
    /// empty where dd0c/cost has none yet.
    pub fn for_finding(kind: crate::zombie::ZombieKind) -> &'static [ActionKind] {
        use crate::zombie::ZombieKind;
        match kind {
            ZombieKind::EbsUnattached => &[ActionKind::DeleteVolume],
            ZombieKind::EipUnassociated => &[ActionKind::ReleaseAddress],
            ZombieKind::Ec2Idle => &[ActionKind::StopInstances, ActionKind::TerminateInstances],
            ZombieKind::Ec2Stopped => &[ActionKind::TerminateInstances],
            ZombieKind::ElbIdle => &[ActionKind::DeleteLoadBalancer],
            ZombieKind::NatIdle => &[ActionKind::DeleteNatGateway],
            ZombieKind::RdsIdle => &[ActionKind::StopDbInstance, ActionKind::DeleteDbInstance],
            // Deleting one would leave no way back; archiving keeps it, at a quarter of the
            // price.
            ZombieKind::SnapshotOrphaned => &[ActionKind::ArchiveSnapshot],
        }
    }

    /// The kinds that act on the resources of an anomaly of `resource_kind` (`ec2.instance`),
    /// the one taken by default first.
    pub fn for_resource_kind(resource_kind: &str) -> &'static [ActionKind] {
        match resource_kind {
            "ec2.instance" => &[ActionKind::StopInstances, ActionKind::TerminateInstances],
            "ec2.volume" => &[ActionKind::DeleteVolume],
            "ec2.elastic-ip" => &[ActionKind::ReleaseAddress],
            "ec2.nat-gateway" => &[ActionKind::DeleteNatGateway],
            "elb.load-balancer" => &[ActionKind::DeleteLoadBalancer],
            "rds.instance" => &[ActionKind::StopDbInstance, ActionKind::DeleteDbInstance],
            _ => &[],
        }
    }

    /// The share of a resource's monthly cost a run of this kind saves: all of it, but for
    /// the archive tier, which bills a quarter of the standard tier's GB-month.
    pub fn share_saved(self) -> f64 {
        match self {
            ActionKind::ArchiveSnapshot => 0.75,
            _ => 1.0,
        }
    }

    /// What a run of this kind does to each of its resources, as CloudTrail tells it; `None`
    /// for a kind the ledger does not follow (an archived snapshot).
    pub fn effect(self) -> Option<Effect> {
        let (change, call, resource_kind) = match self {
            ActionKind::StopInstances => (Change::Stop, "StopInstances", "ec2.instance"),
            ActionKind::TerminateInstances => (Change::End, "TerminateInstances", "ec2.instance"),
            ActionKind::DeleteVolume => (Change::End, "DeleteVolume", "ec2.volume"),
            ActionKind::ReleaseAddress => (Change::End, "ReleaseAddress", "ec2.elastic-ip"),
            ActionKind::DeleteNatGateway => (Change::End, "DeleteNatGateway", "ec2.nat-gateway"),
            ActionKind::DeleteLoadBalancer => {
                (Change::End, "DeleteLoadBalancer", "elb.load-balancer")
            }
            ActionKind::StopDbInstance => (Change::Stop, "StopDBInstance", "rds.instance"),
            ActionKind::DeleteDbInstance => (Change::End, "DeleteDBInstance", "rds.instance"),
            ActionKind::ArchiveSnapshot => return None,
        };
        Some(Effect {
            change,
            call,
            resource_kind,
        })
    }

    /// This kind of action on `resource_ids`; `Invalid` when it takes one resource and is
    /// given another number.
    pub fn on(self, resource_ids: &[String]) -> PortResult<Action> {
        let one = || match resource_ids {
            [id] => Ok(id.clone()),
            _ => Err(crate::PortError::Invalid(format!(
                "{self} acts on one resource, not {}",
                resource_ids.len()
            ))),
        };
        if resource_ids.is_empty() {
            return Err(crate::PortError::Invalid(format!(
                "{self} needs a resource to act on"
            )));
        }
        Ok(match self {
            ActionKind::StopInstances => Action::StopInstances {
                instance_ids: resource_ids.to_vec(),
            },
            ActionKind::TerminateInstances => Action::TerminateInstances {
                instance_ids: resource_ids.to_vec(),
            },
            ActionKind::DeleteVolume => Action::DeleteVolume { volume_id: one()? },
            ActionKind::ReleaseAddress => Action::ReleaseAddress {
                allocation_id: one()?,
            },
            ActionKind::DeleteNatGateway => Action::DeleteNatGateway {
                nat_gateway_id: one()?,
            },
            ActionKind::DeleteLoadBalancer => Action::DeleteLoadBalancer {
                load_balancer: one()?,
            },
            ActionKind::StopDbInstance => Action::StopDbInstance {
                db_instance_identifier: one()?,
            },
            ActionKind::DeleteDbInstance => Action::DeleteDbInstance {
                db_instance_identifier: one()?,
            },
            ActionKind::ArchiveSnapshot => Action::ArchiveSnapshot {
                snapshot_id: one()?,
            },
        })
    }

    /// Every IAM action of every kind, sorted, once each: what the customer's remediation role
    /// grants.
    pub fn every_iam_action() -> Vec<&'static str> {
        let every: std::collections::BTreeSet<&str> = ActionKind::ALL
            .iter()
            .flat_map(|k| k.iam_actions())
            .collect();
        every.into_iter().collect()
    }
}

/// What an action does to each of its resources, as CloudTrail tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effect {
    /// The ledger's change: a stop or an end.
    pub change: Change,
    /// The API call's name (`TerminateInstances`).
    pub call: &'static str,
    /// The resources' kind in the ledger (`ec2.instance`).
    pub resource_kind: &'static str,
}

/// The IAM action that authorizes tags given on creation.
pub const CREATE_TAGS: &str = "ec2:CreateTags";

/// The IAM action that authorizes a DB instance's final snapshot.
pub const CREATE_DB_SNAPSHOT: &str = "rds:CreateDBSnapshot";

impl Action {
    /// Its kind.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::StopInstances { .. } => ActionKind::StopInstances,
            Action::TerminateInstances { .. } => ActionKind::TerminateInstances,
            Action::DeleteVolume { .. } => ActionKind::DeleteVolume,
            Action::ReleaseAddress { .. } => ActionKind::ReleaseAddress,
            Action::DeleteNatGateway { .. } => ActionKind::DeleteNatGateway,
            Action::DeleteLoadBalancer { .. } => ActionKind::DeleteLoadBalancer,
            Action::StopDbInstance { .. } => ActionKind::StopDbInstance,
            Action::DeleteDbInstance { .. } => ActionKind::DeleteDbInstance,
            Action::ArchiveSnapshot { .. } => ActionKind::ArchiveSnapshot,
        }
    }

    /// The ids of the resources it acts on.
    pub fn resource_ids(&self) -> Vec<&str> {
        match self {
            Action::StopInstances { instance_ids }
            | Action::TerminateInstances { instance_ids } => {
                instance_ids.iter().map(String::as_str).collect()
            }
            Action::DeleteVolume { volume_id } => vec![volume_id],
            Action::ReleaseAddress { allocation_id } => vec![allocation_id],
            Action::DeleteNatGateway { nat_gateway_id } => vec![nat_gateway_id],
            Action::DeleteLoadBalancer { load_balancer } => vec![load_balancer],
            Action::StopDbInstance {
                db_instance_identifier,
            }
            | Action::DeleteDbInstance {
                db_instance_identifier,
            } => vec![db_instance_identifier],
            Action::ArchiveSnapshot { snapshot_id } => vec![snapshot_id],
        }
    }
}

/// What a run leaves to undo it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "way_back", rename_all = "snake_case")]
pub enum WayBack {
    /// Start the stopped instances.
    Start {
        /// `i-…`.
        instance_ids: Vec<String>,
    },
    /// Launch from the images taken before termination, one per instance in its order.
    Images {
        /// `ami-…`.
        image_ids: Vec<String>,
    },
    /// Create a volume from the snapshot taken before deletion.
    Snapshot {
        /// `snap-…`.
        snapshot_id: String,
    },
    /// Allocate the released address again while no one else holds it.
    Address {
        /// The public IPv4 address.
        public_ip: String,
    },
    /// Create a NAT gateway in the subnet with the address it had (still allocated).
    NatGateway {
        /// `subnet-…`.
        subnet_id: String,
        /// `eipalloc-…` of its public address; `None` for a private NAT gateway.
        allocation_id: Option<String>,
    },
    /// Create the load balancer again from its configuration as described before deletion.
    LoadBalancer {
        /// What the service described: the load balancer and its listeners.
        configuration: serde_json::Value,
    },
    /// Start the stopped DB instance (AWS does so itself after seven days).
    StartDb {
        /// The DB instance identifier.
        db_instance_identifier: String,
    },
    /// Restore the DB instance from its final snapshot.
    DbSnapshot {
        /// The final DB snapshot's identifier.
        db_snapshot_identifier: String,
    },
    /// Restore the snapshot from the archive tier (`RestoreSnapshotTier`, permanently).
    Archived {
        /// `snap-…`.
        snapshot_id: String,
    },
}

/// One request an action made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// The IAM action (`ec2:DeleteVolume`).
    pub action: String,
    /// The cloud's request id, when it gave one.
    pub request_id: Option<String>,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ran {
    /// The requests that changed something, in order.
    pub calls: Vec<Call>,
    /// How to undo it.
    pub way_back: WayBack,
}

/// Acting on the resources of one customer account.
#[async_trait]
pub trait Remediator: Send + Sync {
    /// Asks the cloud whether `action` would succeed in `region`, changing nothing: the
    /// resources are described, then each call the run would make is dry-run by the API. `Ok`
    /// when every one would succeed; `NotFound` for a resource that is not there, `Invalid` for
    /// one tagged [`PROTECT_TAG`], else the cloud's refusal (its error code and message).
    async fn dry_run(&self, region: &str, action: &Action) -> PortResult<()>;

    /// Runs `action` in `region`: the resources described (refused as by [`Remediator::dry_run`]),
    /// what keeps the way back made first (a snapshot, an image, tagged [`KEPT_BY_TAG`] =
    /// `action_id`), then the change.
    async fn run(&self, region: &str, action: &Action, action_id: &str) -> PortResult<Ran>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_from_their_wire_values() {
        for &kind in ActionKind::ALL {
            assert_eq!(
                kind.to_string().parse::<ActionKind>().expect("parses"),
                kind
            );
            let json = serde_json::to_value(kind).expect("serializes");
            assert_eq!(json, kind.as_str());
        }
        let error = "reboot".parse::<ActionKind>().expect_err("unknown");
        assert!(error.to_string().contains("delete_volume"), "{error}");
    }

    #[test]
    fn an_action_carries_its_kind_on_the_wire() {
        let action = Action::DeleteVolume {
            volume_id: "vol-1".into(),
        };
        let json = serde_json::to_value(&action).expect("serializes");
        assert_eq!(json["action"], action.kind().as_str());
        assert_eq!(
            serde_json::from_value::<Action>(json).expect("reads"),
            action
        );
    }
}
