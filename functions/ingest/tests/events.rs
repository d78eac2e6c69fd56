//! One fixture per priced API, written from the AWS API shapes CloudTrail records, with the
//! quirks real accounts produce.

mod common;

use common::{close, cost, costs, record, run, ACCOUNT};
use dd0c_ingest::{Item, SkipReason};
use dd0c_ports::domain::PriceSource;
use serde_json::json;

fn ec2(name: &str, request: serde_json::Value, response: serde_json::Value) -> serde_json::Value {
    record("ec2.amazonaws.com", name, request, response)
}

#[test]
fn run_instances_prices_each_launched_instance() {
    let r = ec2(
        "RunInstances",
        json!({"instancesSet": {"items": [{"imageId": "ami-0abc", "minCount": 1, "maxCount": 3}]}, "instanceType": "m5.xlarge"}),
        json!({"reservationId": "r-1", "instancesSet": {"items": [
            {"instanceId": "i-1", "instanceType": "m5.xlarge", "currentState": {"code": 0, "name": "pending"}},
            {"instanceId": "i-2", "instanceType": "m5.xlarge"},
            {"instanceId": "i-3", "instanceType": "m5.xlarge"}]}}),
    );
    let e = cost(&[r]);
    assert_eq!(
        (
            e.resource_kind.as_str(),
            e.resource_type.as_str(),
            e.quantity
        ),
        ("ec2.instance", "m5.xlarge", 3)
    );
    assert_eq!(e.resource_ids, vec!["i-1", "i-2", "i-3"]);
    assert!(
        close(e.unit_hourly_usd, 0.192)
            && close(e.hourly_usd, 0.576)
            && close(e.monthly_usd, 420.48)
    );
    assert_eq!(e.price_source, PriceSource::Catalog);
    assert_eq!(e.event_id, "evt-RunInstances");
    assert_eq!(e.tenant, "default");
    assert_eq!(e.account_id, ACCOUNT);
    assert_eq!(e.actor_type, "AssumedRole");
    assert_eq!(
        e.actor_arn,
        format!(
            "arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123"
        )
    );
    assert_eq!(e.actor_session.as_deref(), Some("ana@example.com"));
}

#[test]
fn run_instances_from_a_launch_template_takes_the_type_from_the_response() {
    let r = ec2(
        "RunInstances",
        json!({"instancesSet": {"items": [{"minCount": "2", "maxCount": "2"}]}, "launchTemplate": {"launchTemplateId": "lt-1", "version": "$Latest"}}),
        json!({"instancesSet": {"items": [{"instanceId": "i-a", "instanceType": "c6g.2xlarge"}, {"instanceId": "i-b", "instanceType": "c6g.2xlarge"}]}}),
    );
    let e = cost(&[r]);
    assert_eq!((e.resource_type.as_str(), e.quantity), ("c6g.2xlarge", 2));
    assert!(close(e.hourly_usd, 0.544));
}

#[test]
fn run_instances_with_an_omitted_response_counts_from_the_request_and_reads_string_counts() {
    let r = ec2(
        "RunInstances",
        json!({"instancesSet": {"items": [{"minCount": "4", "maxCount": "4"}]}, "instanceType": {"value": "p4d.24xlarge"}}),
        serde_json::Value::Null,
    );
    let e = cost(&[r]);
    assert_eq!((e.resource_type.as_str(), e.quantity), ("p4d.24xlarge", 4));
    assert!(close(e.hourly_usd, 87.8304));
    assert!(e.resource_ids.is_empty());
}

#[test]
fn run_instances_with_mixed_types_yields_one_event_per_type() {
    let r = ec2(
        "RunInstances",
        json!({"instancesSet": {"items": [{"minCount": 2, "maxCount": 2}]}}),
        json!({"instancesSet": {"items": [{"instanceId": "i-1", "instanceType": "t3.micro"}, {"instanceId": "i-2", "instanceType": "t3.large"}]}}),
    );
    let events = costs(&[r]);
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, vec!["evt-RunInstances", "evt-RunInstances#1"]);
    assert_eq!(events[1].resource_type, "t3.large");
}

#[test]
fn previous_generation_and_unknown_types_are_priced_or_estimated() {
    let old = ec2(
        "RunInstances",
        json!({"instancesSet": {"items": [{"maxCount": 1}]}, "instanceType": "t1.micro"}),
        json!(null),
    );
    assert_eq!(cost(&[old]).price_source, PriceSource::Catalog);
    let m1 = ec2(
        "RunInstances",
        json!({"instancesSet": {"items": [{"maxCount": 1}]}, "instanceType": "m1.small"}),
        json!(null),
    );
    assert!(close(cost(&[m1]).hourly_usd, 0.044));
    let future = ec2(
        "RunInstances",
        json!({"instancesSet": {"items": [{"maxCount": 1}]}, "instanceType": "m9gd.8xlarge"}),
        json!(null),
    );
    let e = cost(&[future]);
    assert_eq!(e.price_source, PriceSource::Estimated);
    assert!(
        e.hourly_usd > 1.0,
        "an 8xlarge is not cheap: {}",
        e.hourly_usd
    );
}

#[test]
fn regions_never_heard_of_are_priced_with_the_multiplier_and_marked_estimated() {
    let mut r = ec2(
        "RunInstances",
        json!({"instancesSet": {"items": [{"maxCount": 1}]}, "instanceType": "m5.large"}),
        json!(null),
    );
    r["awsRegion"] = json!("ap-mars-1");
    let e = cost(&[r]);
    assert_eq!(
        (e.region.as_str(), e.price_source),
        ("ap-mars-1", PriceSource::Estimated)
    );
    assert!(close(e.hourly_usd, 0.12));
}

#[test]
fn start_instances_remembers_types_from_earlier_launches() {
    let launch = ec2(
        "RunInstances",
        json!({"instancesSet": {"items": [{"maxCount": 1}]}, "instanceType": "r5.2xlarge"}),
        json!({"instancesSet": {"items": [{"instanceId": "i-9", "instanceType": "r5.2xlarge"}]}}),
    );
    let start = ec2(
        "StartInstances",
        json!({"instancesSet": {"items": [{"instanceId": "i-9"}, {"instanceId": "i-unknown"}]}}),
        json!({"instancesSet": {"items": [
            {"instanceId": "i-9", "currentState": {"code": 0, "name": "pending"}, "previousState": {"code": 80, "name": "stopped"}},
            {"instanceId": "i-unknown", "currentState": {"code": 0, "name": "pending"}, "previousState": {"code": 80, "name": "stopped"}}]}}),
    );
    let events = costs(&[launch, start]);
    assert_eq!(events.len(), 2);
    assert_eq!(
        (events[0].resource_type.as_str(), events[0].price_source),
        ("r5.2xlarge", PriceSource::Catalog)
    );
    assert_eq!(
        (
            events[1].resource_type.as_str(),
            events[1].price_source,
            events[1].hourly_usd
        ),
        ("unknown", PriceSource::Unknown, 0.0)
    );
}

#[test]
fn modify_instance_attribute_prices_the_new_type_and_ignores_other_attributes() {
    let resize = ec2(
        "ModifyInstanceAttribute",
        json!({"instanceId": "i-1", "instanceType": {"value": "m5.4xlarge"}}),
        json!({"_return": true}),
    );
    let e = cost(&[resize]);
    assert_eq!(
        (e.resource_type.as_str(), e.resource_ids.clone()),
        ("m5.4xlarge", vec!["i-1".to_owned()])
    );
    let other = ec2(
        "ModifyInstanceAttribute",
        json!({"instanceId": "i-1", "disableApiTermination": {"value": true}}),
        json!({"_return": true}),
    );
    assert_eq!(run(&[other]), vec![Item::Skipped(SkipReason::NotCost)]);
}

#[test]
fn create_volume_prices_capacity_iops_and_throughput() {
    let gp3 = ec2(
        "CreateVolume",
        json!({"size": 1000, "volumeType": "gp3", "iops": 6000, "throughput": 250, "availabilityZone": "us-east-1a"}),
        json!({"volumeId": "vol-1", "size": "1000", "volumeType": "gp3", "iops": 6000}),
    );
    let e = cost(&[gp3]);
    // 1000 GB × $0.08 + 3000 extra IOPS × $0.005 + 125 extra MiB/s × $0.04 = $100/month.
    assert!(close(e.monthly_usd, 100.0), "{}", e.monthly_usd);
    assert_eq!(
        (e.resource_kind.as_str(), e.resource_type.as_str()),
        ("ec2.volume", "gp3")
    );
    let io2 = ec2(
        "CreateVolume",
        json!({"size": "100", "volumeType": "io2", "iops": "10000"}),
        json!({"volumeId": "vol-2"}),
    );
    assert!(close(cost(&[io2]).monthly_usd, 12.5 + 650.0));
    let from_snapshot = ec2(
        "CreateVolume",
        json!({"snapshotId": "snap-1", "availabilityZone": "us-east-1a"}),
        json!({"volumeId": "vol-3", "size": 50, "volumeType": "gp2"}),
    );
    let e = cost(&[from_snapshot]);
    assert!(close(e.monthly_usd, 5.0));
    assert_eq!(e.price_source, PriceSource::Catalog);
}

#[test]
fn elastic_ips_nat_gateways_and_transit_gateways() {
    let eip = cost(&[ec2(
        "AllocateAddress",
        json!({"domain": "vpc"}),
        json!({"publicIp": "198.51.100.1", "allocationId": "eipalloc-1", "domain": "vpc"}),
    )]);
    assert_eq!(
        (eip.resource_kind.as_str(), eip.resource_ids[0].as_str()),
        ("ec2.elastic-ip", "eipalloc-1")
    );
    assert!(close(eip.hourly_usd, 0.005));

    let nat = cost(&[ec2(
        "CreateNatGateway",
        json!({"CreateNatGatewayRequest": {"SubnetId": "subnet-1", "AllocationId": "eipalloc-1", "ClientToken": "x"}}),
        json!({"CreateNatGatewayResponse": {"natGateway": {"natGatewayId": "nat-0abc", "state": "pending", "subnetId": "subnet-1"}, "requestId": "r"}}),
    )]);
    assert_eq!(
        (nat.resource_kind.as_str(), nat.resource_ids[0].as_str()),
        ("ec2.nat-gateway", "nat-0abc")
    );
    assert!(close(nat.monthly_usd, 32.85));

    let tgw = cost(&[ec2(
        "CreateTransitGateway",
        json!({"CreateTransitGatewayRequest": {"Description": "core"}}),
        json!({"CreateTransitGatewayResponse": {"transitGateway": {"transitGatewayId": "tgw-1"}}}),
    )]);
    assert_eq!(
        (tgw.resource_kind.as_str(), tgw.resource_ids[0].as_str()),
        ("ec2.transit-gateway", "tgw-1")
    );
    assert!(close(tgw.hourly_usd, 0.05));
}

#[test]
fn create_fleet_counts_instances_per_type_or_falls_back_to_target_capacity() {
    let instant = ec2(
        "CreateFleet",
        json!({"CreateFleetRequest": {"Type": "instant", "TargetCapacitySpecification": {"TotalTargetCapacity": 3, "DefaultTargetCapacityType": "on-demand"},
            "LaunchTemplateConfigs": {"tag": 1, "LaunchTemplateSpecification": {"LaunchTemplateId": "lt-1", "Version": "1"},
                "Overrides": [{"tag": 1, "InstanceType": "c5.large"}, {"tag": 2, "InstanceType": "c5a.large"}]}}}),
        json!({"CreateFleetResponse": {"fleetId": "fleet-1", "fleetInstanceSet": {"item": [
            {"instanceIds": {"item": ["i-1", "i-2"]}, "instanceType": "c5.large", "lifecycle": "on-demand"},
            {"instanceIds": {"item": "i-3"}, "instanceType": "c5a.large", "lifecycle": "on-demand"}]}}}),
    );
    let events = costs(&[instant]);
    assert_eq!(
        events
            .iter()
            .map(|e| (e.resource_type.as_str(), e.quantity))
            .collect::<Vec<_>>(),
        vec![("c5.large", 2), ("c5a.large", 1)]
    );

    let maintain = ec2(
        "CreateFleet",
        json!({"CreateFleetRequest": {"Type": "maintain", "TargetCapacitySpecification": {"TotalTargetCapacity": "10"},
            "LaunchTemplateConfigs": [{"Overrides": {"InstanceType": "g5.xlarge"}}]}}),
        json!({"CreateFleetResponse": {"fleetId": "fleet-2"}}),
    );
    let e = cost(&[maintain]);
    assert_eq!((e.resource_type.as_str(), e.quantity), ("g5.xlarge", 10));
}

#[test]
fn spot_requests_are_priced_as_a_spot_estimate_not_on_demand() {
    let r = ec2(
        "RequestSpotInstances",
        json!({"instanceCount": 5, "spotPrice": "0.05", "launchSpecification": {"instanceType": "c5.xlarge", "imageId": "ami-1"}}),
        json!({"spotInstanceRequestSet": {"items": [{"spotInstanceRequestId": "sir-1"}, {"spotInstanceRequestId": "sir-2"}]}}),
    );
    let e = cost(&[r]);
    assert_eq!((e.quantity, e.resource_ids.len()), (5, 2));
    assert!(
        close(e.unit_hourly_usd, 0.17 * 0.35),
        "{}",
        e.unit_hourly_usd
    );
    assert_eq!(e.price_source, PriceSource::Estimated);
}

#[test]
fn a_spot_launch_is_priced_at_its_familys_spot_fraction() {
    let launch = |market: serde_json::Value| {
        ec2(
            "RunInstances",
            json!({"instancesSet": {"items": [{"minCount": 2, "maxCount": 2}]}, "instanceType": "p5.48xlarge",
                "instanceMarketOptions": market}),
            json!({"instancesSet": {"items": [{"instanceId": "i-s1", "instanceType": "p5.48xlarge", "instanceLifecycle": "spot"},
                {"instanceId": "i-s2", "instanceType": "p5.48xlarge", "instanceLifecycle": "spot"}]}}),
        )
    };
    let on_demand = cost(&[ec2(
        "RunInstances",
        json!({"instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]}, "instanceType": "p5.48xlarge"}),
        json!(null),
    )]);
    let spot = cost(&[launch(
        json!({"marketType": "spot", "spotOptions": {"spotInstanceType": "one-time"}}),
    )]);
    assert_eq!(spot.price_source, PriceSource::Estimated);
    assert!(
        close(spot.unit_hourly_usd, on_demand.unit_hourly_usd * 0.5),
        "accelerated capacity at half: {} of {}",
        spot.unit_hourly_usd,
        on_demand.unit_hourly_usd
    );
    let capacity_block = cost(&[launch(json!({"marketType": "capacity-block"}))]);
    assert!(close(
        capacity_block.unit_hourly_usd,
        on_demand.unit_hourly_usd
    ));
}

#[test]
fn a_fleets_spot_capacity_is_priced_as_spot_and_its_on_demand_as_on_demand() {
    let fleet = ec2(
        "CreateFleet",
        json!({"CreateFleetRequest": {"Type": "instant", "TargetCapacitySpecification": {"TotalTargetCapacity": 3, "DefaultTargetCapacityType": "spot"}}}),
        json!({"CreateFleetResponse": {"fleetId": "fleet-9", "fleetInstanceSet": {"item": [
            {"instanceIds": {"item": ["i-1", "i-2"]}, "instanceType": "c5.large", "lifecycle": "spot"},
            {"instanceIds": {"item": "i-3"}, "instanceType": "c5.large", "lifecycle": "on-demand"}]}}}),
    );
    let events = costs(&[fleet]);
    let prices: Vec<(u32, f64, PriceSource)> = events
        .iter()
        .map(|e| (e.quantity, e.unit_hourly_usd, e.price_source))
        .collect();
    assert_eq!(prices.len(), 2, "{prices:?}");
    assert!(
        close(prices[0].1, 0.085 * 0.35) && prices[0].2 == PriceSource::Estimated,
        "{prices:?}"
    );
    assert!(
        close(prices[1].1, 0.085) && prices[1].2 == PriceSource::Catalog,
        "{prices:?}"
    );

    let maintain = ec2(
        "CreateFleet",
        json!({"CreateFleetRequest": {"Type": "maintain", "TargetCapacitySpecification": {"TotalTargetCapacity": 4, "DefaultTargetCapacityType": "spot"},
            "LaunchTemplateConfigs": [{"Overrides": {"InstanceType": "m5.large"}}]}}),
        json!({"CreateFleetResponse": {"fleetId": "fleet-10"}}),
    );
    let e = cost(&[maintain]);
    assert!(
        close(e.unit_hourly_usd, 0.096 * 0.35),
        "{}",
        e.unit_hourly_usd
    );
}

#[test]
fn vpc_endpoints_cost_per_zone_and_gateway_endpoints_are_free() {
    let interface = ec2(
        "CreateVpcEndpoint",
        json!({"CreateVpcEndpointRequest": {"VpcId": "vpc-1", "ServiceName": "com.amazonaws.us-east-1.ssm", "VpcEndpointType": "Interface",
            "SubnetId": [{"tag": 1, "content": "subnet-a"}, {"tag": 2, "content": "subnet-b"}, {"tag": 3, "content": "subnet-c"}]}}),
        json!({"CreateVpcEndpointResponse": {"vpcEndpoint": {"vpcEndpointId": "vpce-1"}}}),
    );
    let e = cost(&[interface]);
    assert_eq!(
        (
            e.resource_type.as_str(),
            e.quantity,
            e.resource_ids[0].as_str()
        ),
        ("interface", 3, "vpce-1")
    );
    let gateway = ec2(
        "CreateVpcEndpoint",
        json!({"CreateVpcEndpointRequest": {"VpcId": "vpc-1", "ServiceName": "com.amazonaws.us-east-1.s3"}}),
        json!(null),
    );
    assert_eq!(run(&[gateway]), vec![Item::Skipped(SkipReason::NotCost)]);
}

#[test]
fn auto_scaling_groups_learn_their_type_and_price_capacity_changes() {
    let create = record(
        "autoscaling.amazonaws.com",
        "CreateAutoScalingGroup",
        json!({"autoScalingGroupName": "web", "minSize": 2, "maxSize": 10, "desiredCapacity": 4,
            "mixedInstancesPolicy": {"launchTemplate": {"launchTemplateSpecification": {"launchTemplateName": "web"}, "overrides": [{"instanceType": "m6i.large"}]}}}),
        json!(null),
    );
    let e = cost(std::slice::from_ref(&create));
    assert_eq!(
        (
            e.resource_kind.as_str(),
            e.resource_type.as_str(),
            e.quantity
        ),
        ("autoscaling.group", "m6i.large", 4)
    );

    let scale = record(
        "autoscaling.amazonaws.com",
        "SetDesiredCapacity",
        json!({"autoScalingGroupName": "web", "desiredCapacity": "40", "honorCooldown": false}),
        json!(null),
    );
    let e = cost(&[create.clone(), scale]);
    assert_eq!((e.resource_type.as_str(), e.quantity), ("m6i.large", 40));

    let from_template = record(
        "autoscaling.amazonaws.com",
        "CreateAutoScalingGroup",
        json!({"autoScalingGroupName": "batch", "minSize": 1, "maxSize": 3, "launchTemplate": {"launchTemplateId": "lt-1"}}),
        json!(null),
    );
    let e = cost(&[from_template]);
    assert_eq!(
        (e.resource_type.as_str(), e.price_source),
        ("unknown", PriceSource::Unknown)
    );

    let empty = record(
        "autoscaling.amazonaws.com",
        "UpdateAutoScalingGroup",
        json!({"autoScalingGroupName": "web", "maxSize": 20}),
        json!(null),
    );
    assert_eq!(run(&[empty]), vec![Item::Skipped(SkipReason::NotCost)]);
}

#[test]
fn load_balancers_classic_and_v2() {
    let alb = cost(&[record(
        "elasticloadbalancing.amazonaws.com",
        "CreateLoadBalancer",
        json!({"name": "web", "subnets": ["subnet-1", "subnet-2"], "scheme": "internet-facing", "type": "application"}),
        json!({"loadBalancers": [{"loadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/web/1", "type": "application"}]}),
    )]);
    assert_eq!(
        (alb.resource_kind.as_str(), alb.resource_type.as_str()),
        ("elb.load-balancer", "application")
    );
    let nlb = cost(&[record(
        "elasticloadbalancing.amazonaws.com",
        "CreateLoadBalancer",
        json!({"name": "tcp", "type": "network"}),
        json!({"loadBalancers": [{"loadBalancerArn": "arn:nlb"}]}),
    )]);
    assert_eq!(nlb.resource_type, "network");
    let classic = cost(&[record(
        "elasticloadbalancing.amazonaws.com",
        "CreateLoadBalancer",
        json!({"loadBalancerName": "legacy", "listeners": [{"protocol": "HTTP", "loadBalancerPort": 80, "instancePort": 80}], "availabilityZones": ["us-east-1a"]}),
        json!({"dNSName": "legacy-1.us-east-1.elb.amazonaws.com"}),
    )]);
    assert_eq!(
        (
            classic.resource_type.as_str(),
            classic.resource_ids[0].as_str()
        ),
        ("classic", "legacy")
    );
    assert!(close(classic.hourly_usd, 0.025));
}

#[test]
fn rds_instances_by_engine_multi_az_and_storage() {
    let pg = cost(&[record(
        "rds.amazonaws.com",
        "CreateDBInstance",
        json!({"dBInstanceIdentifier": "orders", "dBInstanceClass": "db.r6g.large", "engine": "postgres", "allocatedStorage": 100, "multiAZ": true, "storageType": "gp3"}),
        json!({"dBInstanceIdentifier": "orders", "dBInstanceClass": "db.r6g.large", "engine": "postgres", "dbiResourceId": "db-ABC"}),
    )]);
    assert_eq!(
        (
            pg.resource_kind.as_str(),
            pg.resource_type.as_str(),
            pg.resource_ids[0].as_str()
        ),
        ("rds.instance", "db.r6g.large", "orders")
    );
    // 0.215 × 1.045 × 2 (Multi-AZ) per hour + 100 GB × $0.115 × 2 per month.
    assert!(
        close(pg.monthly_usd, 0.215 * 1.045 * 2.0 * 730.0 + 23.0),
        "{}",
        pg.monthly_usd
    );

    let replica = cost(&[record(
        "rds.amazonaws.com",
        "CreateDBInstanceReadReplica",
        json!({"dBInstanceIdentifier": "orders-ro", "sourceDBInstanceIdentifier": "orders", "dBInstanceClass": "db.m1.large"}),
        json!(null),
    )]);
    assert_eq!(
        (replica.resource_type.as_str(), replica.price_source),
        ("db.m1.large", PriceSource::Estimated),
        "engine unknown"
    );

    let restore = cost(&[record(
        "rds.amazonaws.com",
        "RestoreDBInstanceFromDBSnapshot",
        json!({"dBInstanceIdentifier": "copy", "dBSnapshotIdentifier": "snap"}),
        json!({"dBInstanceClass": "db.m5.large", "engine": "mysql", "allocatedStorage": 20}),
    )]);
    assert_eq!(
        (restore.resource_type.as_str(), restore.price_source),
        ("db.m5.large", PriceSource::Catalog)
    );

    let sqlserver = cost(&[record(
        "rds.amazonaws.com",
        "CreateDBInstance",
        json!({"dBInstanceIdentifier": "erp", "dBInstanceClass": "db.m5.xlarge", "engine": "sqlserver-se"}),
        json!(null),
    )]);
    assert_eq!(sqlserver.price_source, PriceSource::Estimated);
}

#[test]
fn rds_clusters_serverless_multi_az_and_plain_aurora() {
    let serverless = cost(&[record(
        "rds.amazonaws.com",
        "CreateDBCluster",
        json!({"dBClusterIdentifier": "api", "engine": "aurora-postgresql", "serverlessV2ScalingConfiguration": {"minCapacity": 2.0, "maxCapacity": 16.0}}),
        json!(null),
    )]);
    assert_eq!(serverless.resource_type, "aurora-serverless-v2");
    assert!(close(serverless.hourly_usd, 0.24));
    let multi_az = cost(&[record(
        "rds.amazonaws.com",
        "CreateDBCluster",
        json!({"dBClusterIdentifier": "ledger", "engine": "postgres", "dBClusterInstanceClass": "db.m6gd.large", "allocatedStorage": 100}),
        json!(null),
    )]);
    assert_eq!(
        (multi_az.quantity, multi_az.resource_type.as_str()),
        (3, "db.m6gd.large")
    );
    let aurora = record(
        "rds.amazonaws.com",
        "CreateDBCluster",
        json!({"dBClusterIdentifier": "plain", "engine": "aurora-mysql"}),
        json!(null),
    );
    assert_eq!(run(&[aurora]), vec![Item::Skipped(SkipReason::NotCost)]);
}

#[test]
fn elasticache_clusters_and_replication_groups() {
    let cluster = cost(&[record(
        "elasticache.amazonaws.com",
        "CreateCacheCluster",
        json!({"cacheClusterId": "sessions", "cacheNodeType": "cache.r6g.large", "engine": "redis", "numCacheNodes": 1}),
        json!(null),
    )]);
    assert_eq!(
        (
            cluster.resource_kind.as_str(),
            cluster.resource_type.as_str(),
            cluster.quantity
        ),
        ("elasticache.node", "cache.r6g.large", 1)
    );
    let group = cost(&[record(
        "elasticache.amazonaws.com",
        "CreateReplicationGroup",
        json!({"replicationGroupId": "cache", "cacheNodeType": "cache.m6g.xlarge", "numNodeGroups": 3, "replicasPerNodeGroup": 2}),
        json!(null),
    )]);
    assert_eq!(group.quantity, 9);
    let simple = cost(&[record(
        "elasticache.amazonaws.com",
        "CreateReplicationGroup",
        json!({"replicationGroupId": "c2", "cacheNodeType": "cache.t4g.micro", "numCacheClusters": "2"}),
        json!(null),
    )]);
    assert_eq!(simple.quantity, 2);
}

#[test]
fn redshift_opensearch_eks_msk() {
    let redshift = cost(&[record(
        "redshift.amazonaws.com",
        "CreateCluster",
        json!({"clusterIdentifier": "dw", "nodeType": "ra3.4xlarge", "numberOfNodes": 4, "clusterType": "multi-node"}),
        json!(null),
    )]);
    assert_eq!(
        (redshift.resource_kind.as_str(), redshift.quantity),
        ("redshift.node", 4)
    );
    assert!(close(redshift.hourly_usd, 13.04));

    let search = costs(&[record(
        "es.amazonaws.com",
        "CreateDomain",
        json!({"domainName": "logs", "clusterConfig": {"instanceType": "r6g.large.search", "instanceCount": 3, "dedicatedMasterEnabled": true,
            "dedicatedMasterType": "m6g.large.search", "dedicatedMasterCount": 3}, "eBSOptions": {"eBSEnabled": true, "volumeType": "gp3", "volumeSize": 100}}),
        json!(null),
    )]);
    assert_eq!(
        search
            .iter()
            .map(|e| (e.resource_type.as_str(), e.quantity))
            .collect::<Vec<_>>(),
        vec![("r6g.large.search", 3), ("m6g.large.search", 3)]
    );
    assert!(close(
        search[0].unit_hourly_usd,
        0.167 + 100.0 * 0.122 / 730.0
    ));

    let eks = cost(&[record(
        "eks.amazonaws.com",
        "CreateCluster",
        json!({"name": "prod", "version": "1.30"}),
        json!(null),
    )]);
    assert_eq!(
        (eks.resource_kind.as_str(), eks.hourly_usd),
        ("eks.cluster", 0.1)
    );
    let nodes = cost(&[record(
        "eks.amazonaws.com",
        "CreateNodegroup",
        json!({"clusterName": "prod", "nodegroupName": "gpu", "instanceTypes": ["g5.2xlarge"], "scalingConfig": {"minSize": 1, "maxSize": 8, "desiredSize": 6}}),
        json!(null),
    )]);
    assert_eq!(
        (
            nodes.resource_kind.as_str(),
            nodes.resource_type.as_str(),
            nodes.quantity
        ),
        ("eks.nodegroup", "g5.2xlarge", 6)
    );
    let defaults = cost(&[record(
        "eks.amazonaws.com",
        "CreateNodegroup",
        json!({"clusterName": "prod", "nodegroupName": "d"}),
        json!(null),
    )]);
    assert_eq!(
        (defaults.resource_type.as_str(), defaults.quantity),
        ("t3.medium", 2)
    );

    let msk = cost(&[record(
        "kafka.amazonaws.com",
        "CreateClusterV2",
        json!({"clusterName": "events", "provisioned": {"numberOfBrokerNodes": 3, "brokerNodeGroupInfo": {"instanceType": "kafka.m5.large",
            "storageInfo": {"ebsStorageInfo": {"volumeSize": 1000}}}}}),
        json!({"clusterArn": "arn:aws:kafka:us-east-1:111122223333:cluster/events/1"}),
    )]);
    assert_eq!(
        (msk.resource_kind.as_str(), msk.quantity),
        ("msk.broker", 3)
    );
    assert!(close(msk.unit_hourly_usd, 0.21 + 100.0 / 730.0));
    let serverless = cost(&[record(
        "kafka.amazonaws.com",
        "CreateClusterV2",
        json!({"clusterName": "s", "serverless": {"vpcConfigs": []}}),
        json!(null),
    )]);
    assert_eq!(serverless.resource_kind, "msk.cluster");
}

#[test]
fn sagemaker_endpoints_are_priced_from_their_endpoint_config() {
    let config = record(
        "sagemaker.amazonaws.com",
        "CreateEndpointConfig",
        json!({"endpointConfigName": "llm-v1", "productionVariants": [{"variantName": "a", "modelName": "m", "instanceType": "ml.g5.12xlarge", "initialInstanceCount": 2}]}),
        json!({"endpointConfigArn": "arn:cfg"}),
    );
    let endpoint = record(
        "sagemaker.amazonaws.com",
        "CreateEndpoint",
        json!({"endpointName": "llm", "endpointConfigName": "llm-v1"}),
        json!({"endpointArn": "arn:ep"}),
    );
    let items = run(&[config.clone(), endpoint.clone()]);
    assert_eq!(
        items[0],
        Item::Skipped(SkipReason::NotCost),
        "a config alone costs nothing"
    );
    let e = cost(&[config, endpoint.clone()]);
    assert_eq!(
        (
            e.resource_kind.as_str(),
            e.resource_type.as_str(),
            e.quantity
        ),
        ("sagemaker.endpoint", "ml.g5.12xlarge", 2)
    );
    assert!(close(e.hourly_usd, 14.18));
    let unknown = cost(&[endpoint]);
    assert_eq!(
        unknown.price_source,
        PriceSource::Unknown,
        "without its config the endpoint is flagged, not zero-and-silent"
    );

    let notebook = cost(&[record(
        "sagemaker.amazonaws.com",
        "CreateNotebookInstance",
        json!({"notebookInstanceName": "nb", "instanceType": "ml.t3.medium", "volumeSizeInGB": 50}),
        json!(null),
    )]);
    assert_eq!(notebook.resource_kind, "sagemaker.notebook");
    let training = cost(&[record(
        "sagemaker.amazonaws.com",
        "CreateTrainingJob",
        json!({"trainingJobName": "t", "resourceConfig": {"instanceType": "ml.p4d.24xlarge", "instanceCount": 2, "volumeSizeInGB": 500}}),
        json!(null),
    )]);
    assert_eq!(
        (training.quantity, training.resource_type.as_str()),
        (2, "ml.p4d.24xlarge")
    );
}

#[test]
fn emr_clusters_price_each_instance_group_with_the_emr_fee() {
    let events = costs(&[record(
        "elasticmapreduce.amazonaws.com",
        "RunJobFlow",
        json!({"name": "etl", "releaseLabel": "emr-7.1.0", "instances": {"instanceGroups": [
            {"instanceRole": "MASTER", "instanceType": "m5.xlarge", "instanceCount": 1},
            {"instanceRole": "CORE", "instanceType": "r5.2xlarge", "instanceCount": 10}]}}),
        json!({"jobFlowId": "j-1"}),
    )]);
    assert_eq!(
        events
            .iter()
            .map(|e| (e.resource_type.as_str(), e.quantity))
            .collect::<Vec<_>>(),
        vec![("m5.xlarge", 1), ("r5.2xlarge", 10)]
    );
    assert!(close(events[0].unit_hourly_usd, 0.192 * 1.25));
    assert_eq!(events[1].resource_ids, vec!["j-1"]);
    let simple = costs(&[record(
        "elasticmapreduce.amazonaws.com",
        "RunJobFlow",
        json!({"name": "s", "instances": {"masterInstanceType": "m5.xlarge", "slaveInstanceType": "m5.2xlarge", "instanceCount": 5}}),
        json!({"jobFlowId": "j-2"}),
    )]);
    assert_eq!(
        simple.iter().map(|e| e.quantity).collect::<Vec<_>>(),
        vec![1, 4]
    );
}

#[test]
fn fargate_services_are_priced_from_the_task_definition() {
    let task = record(
        "ecs.amazonaws.com",
        "RegisterTaskDefinition",
        json!({"family": "api", "cpu": "1 vCPU", "memory": "2048", "requiresCompatibilities": ["FARGATE"]}),
        json!({"taskDefinition": {"taskDefinitionArn": "arn:aws:ecs:us-east-1:111122223333:task-definition/api:7", "family": "api", "revision": 7}}),
    );
    let service = record(
        "ecs.amazonaws.com",
        "CreateService",
        json!({"cluster": "prod", "serviceName": "api", "taskDefinition": "api:7", "desiredCount": 6, "launchType": "FARGATE"}),
        json!(null),
    );
    let e = cost(&[task, service]);
    assert_eq!(
        (
            e.resource_kind.as_str(),
            e.resource_type.as_str(),
            e.quantity
        ),
        ("ecs.service", "fargate-1vcpu-2gb", 6)
    );
    assert!(close(e.unit_hourly_usd, 0.04048 + 2.0 * 0.004445));
    let on_ec2 = record(
        "ecs.amazonaws.com",
        "CreateService",
        json!({"serviceName": "x", "taskDefinition": "api", "desiredCount": 3, "launchType": "EC2"}),
        json!(null),
    );
    assert_eq!(run(&[on_ec2]), vec![Item::Skipped(SkipReason::NotCost)]);
}

#[test]
fn dynamodb_kinesis_and_lambda_provisioned_capacity() {
    let table = cost(&[record(
        "dynamodb.amazonaws.com",
        "CreateTable",
        json!({"tableName": "orders", "billingMode": "PROVISIONED", "provisionedThroughput": {"readCapacityUnits": 1000, "writeCapacityUnits": 500},
            "globalSecondaryIndexes": [{"indexName": "by-user", "provisionedThroughput": {"readCapacityUnits": 100, "writeCapacityUnits": 100}}]}),
        json!(null),
    )]);
    assert!(close(table.hourly_usd, 1100.0 * 0.00013 + 600.0 * 0.00065));
    let on_demand = record(
        "dynamodb.amazonaws.com",
        "CreateTable",
        json!({"tableName": "t", "billingMode": "PAY_PER_REQUEST"}),
        json!(null),
    );
    assert_eq!(run(&[on_demand]), vec![Item::Skipped(SkipReason::NotCost)]);

    let stream = cost(&[record(
        "kinesis.amazonaws.com",
        "CreateStream",
        json!({"streamName": "clicks", "shardCount": 20}),
        json!(null),
    )]);
    assert_eq!(
        (stream.resource_type.as_str(), stream.quantity),
        ("shard", 20)
    );

    let function = record(
        "lambda.amazonaws.com",
        "CreateFunction20150331",
        json!({"functionName": "api", "memorySize": 2048, "runtime": "provided.al2023"}),
        json!(null),
    );
    let provisioned = record(
        "lambda.amazonaws.com",
        "PutProvisionedConcurrencyConfig20170331",
        json!({"functionName": "api", "qualifier": "live", "provisionedConcurrentExecutions": 100}),
        json!(null),
    );
    let e = cost(&[function, provisioned.clone()]);
    assert_eq!(
        (e.event_name.as_str(), e.resource_type.as_str(), e.quantity),
        ("PutProvisionedConcurrencyConfig", "2048mb", 100)
    );
    assert!(close(e.hourly_usd, 100.0 * 2.0 * 0.015));
    assert_eq!(
        cost(&[provisioned]).price_source,
        PriceSource::Estimated,
        "memory not seen: Lambda's default, flagged"
    );
}

#[test]
fn failed_dry_run_and_read_only_calls_price_nothing() {
    let mut failed = ec2(
        "RunInstances",
        json!({"instancesSet": {"items": [{"maxCount": 50}]}, "instanceType": "p5.48xlarge"}),
        json!(null),
    );
    failed["errorCode"] = json!("Client.InsufficientInstanceCapacity");
    failed["errorMessage"] = json!("We currently do not have sufficient p5.48xlarge capacity");
    let mut dry = ec2(
        "RunInstances",
        json!({"instancesSet": {"items": [{"maxCount": 1}]}, "instanceType": "m5.large"}),
        json!(null),
    );
    dry["errorCode"] = json!("Client.DryRunOperation");
    let mut describe = ec2(
        "DescribeInstances",
        json!({"instancesSet": {}}),
        json!(null),
    );
    describe["readOnly"] = json!(true);
    let mut unlabeled_read = ec2("DescribeRegions", json!({}), json!(null));
    unlabeled_read
        .as_object_mut()
        .expect("object")
        .remove("readOnly");
    let tag = ec2(
        "CreateTags",
        json!({"resourcesSet": {"items": [{"resourceId": "i-1"}]}}),
        json!({"_return": true}),
    );
    assert_eq!(
        run(&[failed, dry, describe, unlabeled_read, tag]),
        vec![
            Item::Skipped(SkipReason::FailedCall),
            Item::Skipped(SkipReason::FailedCall),
            Item::Skipped(SkipReason::ReadOnly),
            Item::Skipped(SkipReason::ReadOnly),
            Item::Skipped(SkipReason::NotCost),
        ]
    );
}

#[test]
fn a_missing_event_id_is_derived_stably_from_the_record() {
    let mut r = ec2(
        "AllocateAddress",
        json!({"domain": "vpc"}),
        json!({"allocationId": "eipalloc-9"}),
    );
    r.as_object_mut().expect("object").remove("eventID");
    let first = cost(std::slice::from_ref(&r)).event_id;
    assert!(first.starts_with("sha256:") && first.len() == 39, "{first}");
    let reformatted = serde_json::to_string_pretty(&r).expect("serializes");
    let mut normalizer =
        dd0c_ingest::Normalizer::new(dd0c_ingest::PriceCatalog::bundled(), "default");
    match normalizer.normalize_record(&reformatted, "x", 0) {
        Item::Cost(events) => assert_eq!(
            events[0].event_id, first,
            "same record, other formatting, same id"
        ),
        other => panic!("{other:?}"),
    }
    r["responseElements"]["allocationId"] = json!("eipalloc-10");
    assert_ne!(cost(&[r]).event_id, first);
}

#[test]
fn services_and_roots_are_actors_too() {
    let mut by_service = ec2(
        "RunInstances",
        json!({"instancesSet": {"items": [{"maxCount": 1}]}, "instanceType": "c5.large"}),
        json!(null),
    );
    by_service["userIdentity"] =
        json!({"type": "AWSService", "invokedBy": "autoscaling.amazonaws.com"});
    let e = cost(&[by_service]);
    assert_eq!(
        (e.actor_arn.as_str(), e.actor_type.as_str(), e.actor_session),
        ("autoscaling.amazonaws.com", "AWSService", None)
    );
    let mut root = ec2(
        "AllocateAddress",
        json!({}),
        json!({"allocationId": "eipalloc-1"}),
    );
    root["userIdentity"] = json!({"type": "Root", "principalId": ACCOUNT, "arn": format!("arn:aws:iam::{ACCOUNT}:root"), "accountId": ACCOUNT});
    assert_eq!(
        cost(&[root]).actor_arn,
        format!("arn:aws:iam::{ACCOUNT}:root")
    );
}
