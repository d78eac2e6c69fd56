//! What makes a candidate, one rule per test: the judgement of a region's inventory is a pure
//! function, so each rule is shown on the smallest inventory that exercises it.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use dd0c_ingest::PriceCatalog;
use dd0c_ports::zombie::{
    Instance, NatGateway, RegionInventory, Snapshot, Tags, Volume, ZombieKind, ZombieSettings,
};
use dd0c_zombie::judge::{candidates, Region};
use dd0c_zombie::waste::Waste;

fn judged(inventory: &RegionInventory) -> Vec<(ZombieKind, String)> {
    let catalog = PriceCatalog::bundled();
    let settings = ZombieSettings::default();
    let at = Region {
        account_id: "123456789012",
        region: "us-east-1",
        settings: &settings,
        waste: Waste::new(&catalog, "us-east-1"),
        now: Utc::now(),
    };
    candidates(inventory, &at)
        .into_iter()
        .map(|c| (c.kind, c.resource_id))
        .collect()
}

fn running(id: &str, days_old: i64) -> Instance {
    Instance {
        id: id.into(),
        instance_type: "t3.large".into(),
        state: "running".into(),
        launched: Some(Utc::now() - Duration::days(days_old)),
        ..Instance::default()
    }
}

#[test]
fn an_instance_younger_than_its_lookback_is_not_judged() {
    let inventory = RegionInventory {
        instances: vec![running("i-young", 3), running("i-old", 30)],
        ..RegionInventory::default()
    };
    assert_eq!(judged(&inventory), [(ZombieKind::Ec2Idle, "i-old".into())]);
}

#[test]
fn a_resource_tagged_dd0c_ignore_is_skipped() {
    let mut tags = Tags::new();
    tags.insert("dd0c:ignore".into(), String::new());
    let inventory = RegionInventory {
        instances: vec![Instance {
            tags: tags.clone(),
            ..running("i-kept", 30)
        }],
        volumes: vec![Volume {
            id: "vol-kept".into(),
            tags,
            ..Volume::default()
        }],
        ..RegionInventory::default()
    };
    assert_eq!(judged(&inventory), []);
}

#[test]
fn a_nat_gateway_a_route_table_uses_is_never_waste() {
    let gateway = |id: &str| NatGateway {
        id: id.into(),
        state: "available".into(),
        created: Some(Utc::now() - Duration::days(60)),
        ..NatGateway::default()
    };
    let inventory = RegionInventory {
        nat_gateways: vec![gateway("nat-standby"), gateway("nat-lonely")],
        routed_nat_gateways: BTreeSet::from(["nat-standby".to_owned()]),
        ..RegionInventory::default()
    };
    assert_eq!(
        judged(&inventory),
        [(ZombieKind::NatIdle, "nat-lonely".into())]
    );
}

#[test]
fn a_snapshot_an_image_uses_or_whose_volume_lives_is_no_orphan() {
    let snapshot = |id: &str, volume: &str| Snapshot {
        id: id.into(),
        volume_id: Some(volume.into()),
        size_gib: 8.0,
        started: Some(Utc::now() - Duration::days(90)),
        ..Snapshot::default()
    };
    let inventory = RegionInventory {
        volumes: vec![Volume {
            id: "vol-live".into(),
            attached: true,
            ..Volume::default()
        }],
        snapshots: vec![
            snapshot("snap-ami", "vol-gone"),
            snapshot("snap-live", "vol-live"),
            snapshot("snap-orphan", "vol-gone"),
        ],
        image_snapshots: BTreeSet::from(["snap-ami".to_owned()]),
        ..RegionInventory::default()
    };
    assert_eq!(
        judged(&inventory),
        [(ZombieKind::SnapshotOrphaned, "snap-orphan".into())]
    );
}

#[test]
fn a_stopped_instance_counts_from_its_stop_time_and_is_waste_only_with_storage_attached() {
    let stopped = |id: &str, days: Option<i64>, volume: &str| Instance {
        state: "stopped".into(),
        stopped_since: days.map(|d| Utc::now() - Duration::days(d)),
        volume_ids: vec![volume.into()],
        ..running(id, 400)
    };
    let root = |id: &str| Volume {
        id: id.into(),
        volume_type: "gp3".into(),
        size_gib: 8.0,
        attached: true,
        ..Volume::default()
    };
    let inventory = RegionInventory {
        instances: vec![
            stopped("i-lately", Some(5), "vol-1"),
            stopped("i-long", Some(45), "vol-2"),
            stopped("i-unknown", None, "vol-3"),
            stopped("i-bare", Some(45), "vol-none"),
        ],
        volumes: vec![root("vol-1"), root("vol-2"), root("vol-3")],
        ..RegionInventory::default()
    };
    assert_eq!(
        judged(&inventory),
        [(ZombieKind::Ec2Stopped, "i-long".into())],
        "a stopped instance with nothing attached costs nothing"
    );
}
