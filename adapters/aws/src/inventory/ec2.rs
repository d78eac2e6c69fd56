//! EC2: instances, volumes, Elastic IPs, NAT gateways and the route tables that use them,
//! snapshots the account owns and the images built from them.

use std::collections::BTreeSet;

use aws_config::SdkConfig;
use aws_sdk_ec2::types::{Filter, Tag};
use aws_sdk_ec2::Client;
use chrono::{DateTime, NaiveDateTime, Utc};
use dd0c_ports::zombie::{Address, Instance, NatGateway, Snapshot, Tags, Volume};
use dd0c_ports::PortResult;

use super::{time, Recorder};
use crate::error::sdk;
use crate::recorder::regional_client;

/// EC2 in one region.
pub(super) struct Ec2 {
    client: Client,
}

fn ec2_tags(pairs: &[Tag]) -> Tags {
    super::tags(pairs.iter().map(|t| (t.key(), t.value())))
}

/// An id the API gave, treating an empty one (some emulators send `""`) as none.
fn present(id: Option<&str>) -> Option<String> {
    id.filter(|id| !id.is_empty()).map(str::to_owned)
}

fn filter(name: &str, values: &[&str]) -> Filter {
    values
        .iter()
        .fold(Filter::builder().name(name), |f, v| f.values(*v))
        .build()
}

/// When an instance stopped, from its state transition reason: `User initiated (2026-01-31
/// 12:00:00 GMT)`. Other reasons carry no time.
pub(crate) fn stopped_since(reason: &str) -> Option<DateTime<Utc>> {
    let inside = reason.split_once('(')?.1.split_once(')')?.0;
    let stamp = inside
        .trim_end_matches(" GMT")
        .trim_end_matches(" UTC")
        .trim();
    NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
}

impl Ec2 {
    pub(super) fn new(config: &SdkConfig, region: &str, recorder: &Recorder) -> Self {
        Ec2 {
            client: regional_client!(aws_sdk_ec2, config, region, recorder),
        }
    }

    /// Instances in every state but terminated (shutting down ones are on their way out).
    pub(super) async fn instances(&self) -> PortResult<Vec<Instance>> {
        let mut pages = self
            .client
            .describe_instances()
            .filters(filter(
                "instance-state-name",
                &["pending", "running", "stopping", "stopped"],
            ))
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk("EC2 DescribeInstances", e))?;
            for i in page.reservations().iter().flat_map(|r| r.instances()) {
                let Some(id) = i.instance_id() else { continue };
                let state = i
                    .state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_owned())
                    .unwrap_or_default();
                found.push(Instance {
                    id: id.to_owned(),
                    instance_type: i
                        .instance_type()
                        .map(|t| t.as_str().to_owned())
                        .unwrap_or_default(),
                    stopped_since: (state == "stopped")
                        .then(|| i.state_transition_reason().and_then(stopped_since))
                        .flatten(),
                    state,
                    launched: time(i.launch_time()),
                    volume_ids: i
                        .block_device_mappings()
                        .iter()
                        .filter_map(|m| m.ebs()?.volume_id().map(str::to_owned))
                        .collect(),
                    tags: ec2_tags(i.tags()),
                });
            }
        }
        Ok(found)
    }

    pub(super) async fn volumes(&self) -> PortResult<Vec<Volume>> {
        let mut pages = self.client.describe_volumes().into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk("EC2 DescribeVolumes", e))?;
            for v in page.volumes() {
                let Some(id) = v.volume_id() else { continue };
                found.push(Volume {
                    id: id.to_owned(),
                    volume_type: v
                        .volume_type()
                        .map(|t| t.as_str().to_owned())
                        .unwrap_or_default(),
                    size_gib: f64::from(v.size().unwrap_or(0)),
                    iops: v.iops().map(f64::from),
                    throughput_mibps: v.throughput().map(f64::from),
                    attached: v.state().is_some_and(|s| s.as_str() != "available"),
                    created: time(v.create_time()),
                    tags: ec2_tags(v.tags()),
                });
            }
        }
        Ok(found)
    }

    pub(super) async fn addresses(&self) -> PortResult<Vec<Address>> {
        let output = self
            .client
            .describe_addresses()
            .send()
            .await
            .map_err(|e| sdk("EC2 DescribeAddresses", e))?;
        Ok(output
            .addresses()
            .iter()
            .map(|a| Address {
                allocation_id: a
                    .allocation_id()
                    .or(a.public_ip())
                    .unwrap_or_default()
                    .to_owned(),
                public_ip: a.public_ip().unwrap_or_default().to_owned(),
                instance_id: present(a.instance_id()),
                associated: [
                    a.association_id(),
                    a.instance_id(),
                    a.network_interface_id(),
                ]
                .into_iter()
                .any(|id| present(id).is_some()),
                tags: ec2_tags(a.tags()),
            })
            .collect())
    }

    pub(super) async fn nat_gateways(&self) -> PortResult<Vec<NatGateway>> {
        let mut pages = self
            .client
            .describe_nat_gateways()
            .filter(filter("state", &["pending", "available"]))
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk("EC2 DescribeNatGateways", e))?;
            for n in page.nat_gateways() {
                let Some(id) = n.nat_gateway_id() else {
                    continue;
                };
                found.push(NatGateway {
                    id: id.to_owned(),
                    state: n.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    created: time(n.create_time()),
                    tags: ec2_tags(n.tags()),
                });
            }
        }
        Ok(found)
    }

    /// NAT gateways some route table routes to.
    pub(super) async fn routed_nat_gateways(&self) -> PortResult<BTreeSet<String>> {
        let mut pages = self.client.describe_route_tables().into_paginator().send();
        let mut routed = BTreeSet::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk("EC2 DescribeRouteTables", e))?;
            routed.extend(
                page.route_tables()
                    .iter()
                    .flat_map(|t| t.routes())
                    .filter_map(|r| r.nat_gateway_id().map(str::to_owned)),
            );
        }
        Ok(routed)
    }

    /// Snapshots `account_id` owns. The `owner-id` filter, not `OwnerIds`: some emulators
    /// ignore the latter and would list public snapshots as the account's.
    pub(super) async fn snapshots(&self, account_id: &str) -> PortResult<Vec<Snapshot>> {
        let mut pages = self
            .client
            .describe_snapshots()
            .filters(filter("owner-id", &[account_id]))
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk("EC2 DescribeSnapshots", e))?;
            for s in page.snapshots() {
                let Some(id) = s.snapshot_id() else { continue };
                found.push(Snapshot {
                    id: id.to_owned(),
                    volume_id: s.volume_id().map(str::to_owned),
                    size_gib: f64::from(s.volume_size().unwrap_or(0)),
                    started: time(s.start_time()),
                    tags: ec2_tags(s.tags()),
                });
            }
        }
        Ok(found)
    }

    /// Snapshots the account's own images are built from.
    pub(super) async fn image_snapshots(&self) -> PortResult<BTreeSet<String>> {
        let mut pages = self
            .client
            .describe_images()
            .owners("self")
            .into_paginator()
            .send();
        let mut used = BTreeSet::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk("EC2 DescribeImages", e))?;
            used.extend(
                page.images()
                    .iter()
                    .flat_map(|i| i.block_device_mappings())
                    .filter_map(|m| m.ebs()?.snapshot_id().map(str::to_owned)),
            );
        }
        Ok(used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_stop_reason_gives_the_stop_time() {
        let at = stopped_since("User initiated (2026-01-31 12:30:00 GMT)").expect("a time");
        assert_eq!(at.to_rfc3339(), "2026-01-31T12:30:00+00:00");
        assert!(stopped_since("Server.SpotInstanceTermination").is_none());
        assert!(stopped_since("User initiated (soon)").is_none());
    }
}
