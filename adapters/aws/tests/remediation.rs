//! [`AwsRemediator`] against moto: each action dry-runs without changing anything, runs with
//! its way back made first, refuses what is tagged `dd0c:protect`, missing or in the wrong
//! state, and calls only the IAM actions its kind lists (what the customer's role will grant).
//! Each test plants its resources in an account of its own.

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
    let (config, remediator) = account_with_config().await;
    (Client::new(&config), remediator)
}

/// An account of its own: its configuration, to plant with other services.
async fn account_with_config() -> (aws_config::SdkConfig, AwsRemediator) {
    let config = account_config(&endpoint(), &unique_account_id(), "external").await;
    (config.clone(), AwsRemediator::new(config))
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
    assert_eq!(made(remediator), listed(action));
    changes_are_listed(action, ran);
}

/// The IAM actions `action`'s kind lists.
fn listed(action: &Action) -> BTreeSet<String> {
    action
        .kind()
        .calls()
        .iter()
        .map(|c| c.to_string())
        .collect()
}

/// The IAM actions of the requests made so far.
fn made(remediator: &AwsRemediator) -> BTreeSet<String> {
    remediator.calls().by_action().into_keys().collect()
}

/// Each change a run reports is a call its kind lists, with the request id the service gave.
fn changes_are_listed(action: &Action, ran: &Ran) {
    let listed: BTreeSet<&str> = action.kind().calls().iter().copied().collect();
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

/// A NAT gateway in the account's default VPC, with a new address: its id and the address's
/// allocation id.
async fn nat_gateway(ec2: &Client) -> (String, String) {
    let subnet = default_subnets(ec2).await.remove(0);
    let allocation = ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .send()
        .await
        .expect("an address")
        .allocation_id()
        .expect("an allocation")
        .to_owned();
    let id = ec2
        .create_nat_gateway()
        .subnet_id(subnet)
        .allocation_id(&allocation)
        .send()
        .await
        .expect("moto creates a NAT gateway")
        .nat_gateway()
        .and_then(|n| n.nat_gateway_id())
        .expect("an id")
        .to_owned();
    (id, allocation)
}

async fn default_subnets(ec2: &Client) -> Vec<String> {
    let subnets = ec2.describe_subnets().send().await.expect("subnets");
    let mut ids: Vec<String> = subnets
        .subnets()
        .iter()
        .filter(|s| s.default_for_az() == Some(true))
        .filter_map(|s| s.subnet_id().map(str::to_owned))
        .collect();
    ids.sort();
    assert!(ids.len() >= 2, "moto's default VPC has a subnet per zone");
    ids
}

async fn nat_state(ec2: &Client, id: &str) -> String {
    ec2.describe_nat_gateways()
        .nat_gateway_ids(id)
        .send()
        .await
        .expect("NAT gateways")
        .nat_gateways()
        .first()
        .and_then(|n| n.state())
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_nat_gateway_is_deleted_with_its_address_kept() {
    let (ec2, remediator) = account().await;
    let (id, allocation) = nat_gateway(&ec2).await;
    let action = Action::DeleteNatGateway {
        nat_gateway_id: id.clone(),
    };

    remediator
        .dry_run(REGION, &action)
        .await
        .expect("the dry run passes");
    assert_eq!(
        nat_state(&ec2, &id).await,
        "available",
        "a dry run deletes nothing"
    );
    let ran = remediator
        .run(REGION, &action, "act-6")
        .await
        .expect("runs");

    assert_eq!(nat_state(&ec2, &id).await, "deleted");
    calls_are_listed(&remediator, &action, &ran);
    let WayBack::NatGateway {
        subnet_id,
        allocation_id,
    } = &ran.way_back
    else {
        panic!("a NAT gateway as the way back: {:?}", ran.way_back);
    };
    assert_eq!(subnet_id, &default_subnets(&ec2).await[0]);
    assert_eq!(allocation_id.as_deref(), Some(allocation.as_str()));
    let addresses = ec2.describe_addresses().send().await.expect("addresses");
    assert!(
        addresses
            .addresses()
            .iter()
            .any(|a| a.allocation_id() == Some(allocation.as_str())),
        "the address stays allocated"
    );
    let again = remediator
        .dry_run(REGION, &action)
        .await
        .expect_err("a deleted NAT gateway is not acted on again");
    assert!(
        matches!(&again, PortError::Invalid(m) if m.contains("deleted")),
        "{again}"
    );
}

/// An Application Load Balancer over two default subnets with a listener forwarding to a
/// target group, tagged `dd0c:protect` if asked: its ARN.
async fn application_load_balancer(
    config: &aws_config::SdkConfig,
    ec2: &Client,
    protect: bool,
) -> String {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(config);
    let subnets = default_subnets(ec2).await;
    let mut create = elb
        .create_load_balancer()
        .name("idle-alb")
        .set_subnets(Some(subnets[..2].to_vec()));
    if protect {
        create = create.tags(
            aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                .key(PROTECT_TAG)
                .value("yes")
                .build(),
        );
    }
    let arn = create
        .send()
        .await
        .expect("moto creates a load balancer")
        .load_balancers()[0]
        .load_balancer_arn()
        .expect("an ARN")
        .to_owned();
    let vpc = ec2
        .describe_subnets()
        .subnet_ids(&subnets[0])
        .send()
        .await
        .expect("a subnet")
        .subnets()[0]
        .vpc_id()
        .expect("a VPC")
        .to_owned();
    let group = elb
        .create_target_group()
        .name("idle-targets")
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .vpc_id(vpc)
        .send()
        .await
        .expect("a target group")
        .target_groups()[0]
        .target_group_arn()
        .expect("an ARN")
        .to_owned();
    elb.create_listener()
        .load_balancer_arn(&arn)
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(80)
        .default_actions(
            aws_sdk_elasticloadbalancingv2::types::Action::builder()
                .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
                .target_group_arn(group)
                .build(),
        )
        .send()
        .await
        .expect("a listener");
    arn
}

#[tokio::test]
async fn an_application_load_balancer_is_deleted_with_its_configuration_kept() {
    let (config, remediator) = account_with_config().await;
    let ec2 = Client::new(&config);
    let arn = application_load_balancer(&config, &ec2, false).await;
    let action = Action::DeleteLoadBalancer {
        load_balancer: arn.clone(),
    };

    let ran = dry_run_then_run(&remediator, &action, "act-7").await;

    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let left = elb
        .describe_load_balancers()
        .send()
        .await
        .expect("load balancers");
    assert!(left.load_balancers().is_empty(), "deleted: {left:?}");
    calls_are_listed(&remediator, &action, &ran);
    let WayBack::LoadBalancer { configuration } = &ran.way_back else {
        panic!("its configuration as the way back: {:?}", ran.way_back);
    };
    assert_eq!(configuration["name"], "idle-alb");
    assert_eq!(configuration["subnets"].as_array().map(Vec::len), Some(2));
    assert_eq!(configuration["listeners"][0]["port"], 80, "{configuration}");
    assert!(
        configuration["listeners"][0]["default_target_groups"][0]
            .as_str()
            .is_some_and(|g| g.contains("idle-targets")),
        "{configuration}"
    );
}

#[tokio::test]
async fn a_protected_load_balancer_is_refused() {
    let (config, remediator) = account_with_config().await;
    let ec2 = Client::new(&config);
    let arn = application_load_balancer(&config, &ec2, true).await;
    let action = Action::DeleteLoadBalancer {
        load_balancer: arn.clone(),
    };

    let refusal = remediator
        .run(REGION, &action, "act-8")
        .await
        .expect_err("refused");

    assert!(
        matches!(&refusal, PortError::Invalid(m) if m.contains(PROTECT_TAG)),
        "{refusal}"
    );
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config);
    let left = elb
        .describe_load_balancers()
        .send()
        .await
        .expect("load balancers");
    assert_eq!(left.load_balancers().len(), 1, "still there");
}

#[tokio::test]
async fn a_classic_load_balancer_is_deleted_by_its_name() {
    let (config, remediator) = account_with_config().await;
    let elb = aws_sdk_elasticloadbalancing::Client::new(&config);
    elb.create_load_balancer()
        .load_balancer_name("idle-classic")
        .availability_zones(format!("{REGION}a"))
        .listeners(
            aws_sdk_elasticloadbalancing::types::Listener::builder()
                .protocol("HTTP")
                .load_balancer_port(80)
                .instance_port(8080)
                .build()
                .expect("a listener"),
        )
        .send()
        .await
        .expect("moto creates a classic load balancer");
    let action = Action::DeleteLoadBalancer {
        load_balancer: "idle-classic".into(),
    };

    let ran = dry_run_then_run(&remediator, &action, "act-9").await;

    let left = elb
        .describe_load_balancers()
        .send()
        .await
        .expect("load balancers");
    assert!(
        left.load_balancer_descriptions().is_empty(),
        "deleted: {left:?}"
    );
    let made = made(&remediator);
    assert!(made.is_subset(&listed(&action)), "{made:?}");
    changes_are_listed(&action, &ran);
    let WayBack::LoadBalancer { configuration } = &ran.way_back else {
        panic!("its configuration as the way back: {:?}", ran.way_back);
    };
    assert_eq!(configuration["api"], "elb");
    assert_eq!(
        configuration["listeners"][0]["instance_port"], 8080,
        "{configuration}"
    );
}

/// A MySQL DB instance, with deletion protection if asked: its identifier.
async fn database(config: &aws_config::SdkConfig, name: &str, deletion_protection: bool) -> String {
    aws_sdk_rds::Client::new(config)
        .create_db_instance()
        .db_instance_identifier(name)
        .db_instance_class("db.t3.micro")
        .engine("mysql")
        .allocated_storage(20)
        .master_username("admin")
        .master_user_password("password123")
        .deletion_protection(deletion_protection)
        .send()
        .await
        .expect("moto creates a DB instance");
    // moto reports a new instance as creating once.
    database_status(config, name).await;
    name.to_owned()
}

/// The status of DB instance `id`, `None` when it is gone.
async fn database_status(config: &aws_config::SdkConfig, id: &str) -> Option<String> {
    let out = aws_sdk_rds::Client::new(config)
        .describe_db_instances()
        .send()
        .await
        .expect("DB instances");
    out.db_instances()
        .iter()
        .find(|d| d.db_instance_identifier() == Some(id))
        .and_then(|d| d.db_instance_status().map(str::to_owned))
}

#[tokio::test]
async fn a_database_is_stopped_and_can_be_started_again() {
    let (config, remediator) = account_with_config().await;
    let id = database(&config, "idle-db", false).await;
    let action = Action::StopDbInstance {
        db_instance_identifier: id.clone(),
    };

    let ran = dry_run_then_run(&remediator, &action, "act_000000000000000000000010").await;

    assert_eq!(
        database_status(&config, &id).await.as_deref(),
        Some("stopped")
    );
    calls_are_listed(&remediator, &action, &ran);
    assert_eq!(
        ran.way_back,
        WayBack::StartDb {
            db_instance_identifier: id.clone()
        }
    );
    let again = remediator
        .dry_run(REGION, &action)
        .await
        .expect_err("a stopped database is not stopped again");
    assert!(
        matches!(&again, PortError::Invalid(m) if m.contains("stopped")),
        "{again}"
    );
}

#[tokio::test]
async fn a_database_is_deleted_after_a_final_snapshot() {
    let (config, remediator) = account_with_config().await;
    let id = database(&config, "old-db", false).await;
    let action = Action::DeleteDbInstance {
        db_instance_identifier: id.clone(),
    };

    let ran = dry_run_then_run(&remediator, &action, "act_000000000000000000000011").await;

    assert_eq!(database_status(&config, &id).await, None, "deleted");
    calls_are_listed(&remediator, &action, &ran);
    let WayBack::DbSnapshot {
        db_snapshot_identifier,
    } = &ran.way_back
    else {
        panic!("a final snapshot as the way back: {:?}", ran.way_back);
    };
    assert_eq!(db_snapshot_identifier, "dd0c-act-000000000000000000000011");
    let snapshots = aws_sdk_rds::Client::new(&config)
        .describe_db_snapshots()
        .db_snapshot_identifier(db_snapshot_identifier)
        .send()
        .await
        .expect("the final snapshot");
    assert_eq!(
        snapshots.db_snapshots()[0].db_instance_identifier(),
        Some(id.as_str())
    );
}

#[tokio::test]
async fn a_database_with_deletion_protection_is_not_deleted() {
    let (config, remediator) = account_with_config().await;
    let id = database(&config, "kept-db", true).await;
    let action = Action::DeleteDbInstance {
        db_instance_identifier: id.clone(),
    };

    let refusal = remediator
        .dry_run(REGION, &action)
        .await
        .expect_err("refused");

    assert!(
        matches!(&refusal, PortError::Invalid(m) if m.contains("deletion protection")),
        "{refusal}"
    );
    assert_eq!(
        database_status(&config, &id).await.as_deref(),
        Some("available")
    );
}

#[tokio::test]
async fn an_orphaned_snapshot_is_archived_and_kept() {
    let (ec2, remediator) = account().await;
    let volume_id = volume(&ec2, false).await;
    let snapshot_id = ec2
        .create_snapshot()
        .volume_id(&volume_id)
        .send()
        .await
        .expect("moto takes a snapshot")
        .snapshot_id()
        .expect("an id")
        .to_owned();
    ec2.delete_volume()
        .volume_id(&volume_id)
        .send()
        .await
        .expect("its volume deleted");
    let tier = || async {
        ec2.describe_snapshots()
            .snapshot_ids(&snapshot_id)
            .send()
            .await
            .expect("the snapshot")
            .snapshots()[0]
            .storage_tier()
            .map(|t| t.as_str().to_owned())
    };
    let action = Action::ArchiveSnapshot {
        snapshot_id: snapshot_id.clone(),
    };

    remediator
        .dry_run(REGION, &action)
        .await
        .expect("the dry run passes");
    assert_ne!(
        tier().await.as_deref(),
        Some("archive"),
        "a dry run moves nothing"
    );
    let ran = remediator
        .run(REGION, &action, "act-12")
        .await
        .expect("runs");

    assert_eq!(tier().await.as_deref(), Some("archive"));
    calls_are_listed(&remediator, &action, &ran);
    assert_eq!(ran.way_back, WayBack::Archived { snapshot_id });
    let again = remediator
        .dry_run(REGION, &action)
        .await
        .expect_err("an archived snapshot is not archived again");
    assert!(
        matches!(&again, PortError::Invalid(m) if m.contains("archive")),
        "{again}"
    );
}
