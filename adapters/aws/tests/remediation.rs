//! [`AwsRemediator`] against moto: each action dry-runs without changing anything, runs with
//! its way back made first, refuses what is tagged `dd0c:protect` or missing, and calls only the
//! IAM actions its kind lists (what the customer's role will grant). Each test plants its
//! resources in an account of its own.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{DomainType, ResourceType, Tag, TagSpecification, VolumeType};
use aws_sdk_ec2::Client;
use dd0c_adapters_aws::AwsRemediator;
use dd0c_ports::conformance::unique_account_id;
use dd0c_ports::remediation::{Action, Ran, Remediator, WayBack, KEPT_BY_TAG, PROTECT_TAG};
use dd0c_ports::PortError;
use dd0c_tests::estate::{account_config, REGION};

fn endpoint() -> String {
    std::env::var("DD0C_TEST_AWS_ENDPOINT")
        .expect("DD0C_TEST_AWS_ENDPOINT: run the tests with scripts/test.sh, which starts moto")
}

/// An account of its own: EC2 to plant with, and the remediator acting in it.
async fn account() -> (Client, AwsRemediator) {
    let config = account_config(&endpoint(), &unique_account_id(), "external").await;
    (Client::new(&config), AwsRemediator::new(config))
}

fn tagged(kind: ResourceType, key: &str) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .tags(Tag::builder().key(key).value("yes").build())
        .build()
}

async fn volume(ec2: &Client, protect: bool) -> String {
    let mut create = ec2
        .create_volume()
        .size(50)
        .availability_zone(format!("{REGION}a"))
        .volume_type(VolumeType::Gp3);
    if protect {
        create = create.tag_specifications(tagged(ResourceType::Volume, PROTECT_TAG));
    }
    create
        .send()
        .await
        .expect("moto creates a volume")
        .volume_id()
        .expect("an id")
        .to_owned()
}

async fn instances(ec2: &Client, count: i32) -> Vec<String> {
    let out = ec2
        .run_instances()
        .image_id("ami-12c6146b")
        .min_count(count)
        .max_count(count)
        .send()
        .await
        .expect("moto runs instances");
    out.instances()
        .iter()
        .map(|i| i.instance_id().expect("an id").to_owned())
        .collect()
}

async fn volume_exists(ec2: &Client, id: &str) -> bool {
    ec2.describe_volumes()
        .send()
        .await
        .expect("volumes")
        .volumes()
        .iter()
        .any(|v| v.volume_id() == Some(id))
}

async fn snapshots_of(ec2: &Client, volume_id: &str) -> Vec<aws_sdk_ec2::types::Snapshot> {
    ec2.describe_snapshots()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("volume-id")
                .values(volume_id)
                .build(),
        )
        .send()
        .await
        .expect("snapshots")
        .snapshots()
        .to_vec()
}

async fn instance_state(ec2: &Client, id: &str) -> String {
    let out = ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .expect("instances");
    out.reservations()[0].instances()[0]
        .state()
        .and_then(|s| s.name())
        .expect("a state")
        .as_str()
        .to_owned()
}

/// The requests of a dry run and a run (describes included) are exactly the calls the kind
/// lists — from which the customer's remediation role is generated —, and each change the run
/// reports has the request id EC2 gave.
fn calls_are_listed(remediator: &AwsRemediator, action: &Action, ran: &Ran) {
    let listed: BTreeSet<&str> = action.kind().calls().iter().copied().collect();
    let made = remediator.calls().by_action();
    let made: BTreeSet<&str> = made.keys().map(String::as_str).collect();
    assert_eq!(made, listed);
    for call in &ran.calls {
        assert!(
            listed.contains(call.action.as_str()),
            "{call:?} not in {listed:?}"
        );
        assert!(call.request_id.is_some(), "{call:?}");
    }
}

/// A dry run that passes, then the run.
async fn dry_run_then_run(remediator: &AwsRemediator, action: &Action, action_id: &str) -> Ran {
    remediator
        .dry_run(REGION, action)
        .await
        .expect("the dry run passes");
    remediator
        .run(REGION, action, action_id)
        .await
        .expect("runs")
}

#[tokio::test]
async fn a_volume_is_snapshotted_then_deleted() {
    let (ec2, remediator) = account().await;
    let volume_id = volume(&ec2, false).await;
    let action = Action::DeleteVolume {
        volume_id: volume_id.clone(),
    };

    let ran = dry_run_then_run(&remediator, &action, "act-1").await;

    assert!(!volume_exists(&ec2, &volume_id).await, "the volume is gone");
    let actions: Vec<&str> = ran.calls.iter().map(|c| c.action.as_str()).collect();
    assert_eq!(actions, ["ec2:CreateSnapshot", "ec2:DeleteVolume"]);
    calls_are_listed(&remediator, &action, &ran);
    let snapshots = snapshots_of(&ec2, &volume_id).await;
    assert_eq!(snapshots.len(), 1, "one snapshot kept");
    let WayBack::Snapshot { snapshot_id } = &ran.way_back else {
        panic!("a snapshot as the way back: {:?}", ran.way_back);
    };
    assert_eq!(snapshots[0].snapshot_id(), Some(snapshot_id.as_str()));
    assert!(
        snapshots[0]
            .tags()
            .iter()
            .any(|t| t.key() == Some(KEPT_BY_TAG) && t.value() == Some("act-1")),
        "tagged with the action: {:?}",
        snapshots[0].tags()
    );
}

#[tokio::test]
async fn a_dry_run_changes_nothing() {
    let (ec2, remediator) = account().await;
    let volume_id = volume(&ec2, false).await;

    let action = Action::DeleteVolume {
        volume_id: volume_id.clone(),
    };
    remediator
        .dry_run(REGION, &action)
        .await
        .expect("the dry run passes");

    assert!(volume_exists(&ec2, &volume_id).await);
    assert!(
        snapshots_of(&ec2, &volume_id).await.is_empty(),
        "no snapshot taken"
    );
}

#[tokio::test]
async fn a_protected_resource_is_refused_by_dry_run_and_run() {
    let (ec2, remediator) = account().await;
    let volume_id = volume(&ec2, true).await;
    let action = Action::DeleteVolume {
        volume_id: volume_id.clone(),
    };

    for refusal in [
        remediator
            .dry_run(REGION, &action)
            .await
            .expect_err("refused"),
        remediator
            .run(REGION, &action, "act-2")
            .await
            .expect_err("refused"),
    ] {
        assert!(
            matches!(&refusal, PortError::Invalid(m) if m.contains(PROTECT_TAG)),
            "{refusal}"
        );
    }
    assert!(volume_exists(&ec2, &volume_id).await);
    assert!(snapshots_of(&ec2, &volume_id).await.is_empty());
}

#[tokio::test]
async fn a_missing_resource_is_not_found() {
    let (_, remediator) = account().await;
    let action = Action::DeleteVolume {
        volume_id: "vol-0123456789abcdef0".into(),
    };
    let error = remediator
        .dry_run(REGION, &action)
        .await
        .expect_err("missing");
    assert!(matches!(error, PortError::NotFound(_)), "{error}");
}

#[tokio::test]
async fn instances_are_stopped_and_can_be_started_again() {
    let (ec2, remediator) = account().await;
    let ids = instances(&ec2, 2).await;
    let action = Action::StopInstances {
        instance_ids: ids.clone(),
    };

    remediator
        .dry_run(REGION, &action)
        .await
        .expect("the dry run passes");
    assert_eq!(
        instance_state(&ec2, &ids[0]).await,
        "running",
        "a dry run stops nothing"
    );
    let ran = remediator
        .run(REGION, &action, "act-3")
        .await
        .expect("runs");

    for id in &ids {
        assert_eq!(instance_state(&ec2, id).await, "stopped");
    }
    calls_are_listed(&remediator, &action, &ran);
    assert_eq!(ran.way_back, WayBack::Start { instance_ids: ids });
}

#[tokio::test]
async fn instances_are_imaged_then_terminated() {
    let (ec2, remediator) = account().await;
    let ids = instances(&ec2, 2).await;
    let action = Action::TerminateInstances {
        instance_ids: ids.clone(),
    };

    let ran = dry_run_then_run(&remediator, &action, "act-4").await;

    for id in &ids {
        assert_eq!(instance_state(&ec2, id).await, "terminated");
    }
    calls_are_listed(&remediator, &action, &ran);
    let WayBack::Images { image_ids } = &ran.way_back else {
        panic!("images as the way back: {:?}", ran.way_back);
    };
    assert_eq!(image_ids.len(), ids.len(), "one image per instance");
    let images = ec2
        .describe_images()
        .set_image_ids(Some(image_ids.clone()))
        .send()
        .await
        .expect("images");
    assert_eq!(images.images().len(), ids.len(), "{images:?}");
}

#[tokio::test]
async fn an_address_is_released_with_its_ip_kept_as_the_way_back() {
    let (ec2, remediator) = account().await;
    let allocated = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .send()
        .await
        .expect("an address");
    let allocation_id = allocated.allocation_id().expect("an allocation").to_owned();
    let action = Action::ReleaseAddress {
        allocation_id: allocation_id.clone(),
    };

    let ran = dry_run_then_run(&remediator, &action, "act-5").await;

    let left = ec2.describe_addresses().send().await.expect("addresses");
    assert!(
        !left
            .addresses()
            .iter()
            .any(|a| a.allocation_id() == Some(allocation_id.as_str())),
        "released"
    );
    calls_are_listed(&remediator, &action, &ran);
    assert_eq!(
        ran.way_back,
        WayBack::Address {
            public_ip: allocated.public_ip().expect("an ip").to_owned()
        }
    );
}
