//! The calls that start, resize, stop or end what a creating call priced: one test per call,
//! each on a record shaped as CloudTrail writes it (request parameters and response elements
//! as the API documents them, in CloudTrail's dialects).

mod common;

use common::{close, costs, record, run};
use dd0c_ingest::{Item, SkipReason, Summary};
use dd0c_ports::domain::{Change, CostEvent, PriceSource};
use serde_json::{json, Value};

/// The one event of the last record, asserting its change, kind and ids.
fn changed(records: &[Value], change: Change, kind: &str, ids: &[&str]) -> CostEvent {
    let mut events = costs(records);
    assert_eq!(events.len(), 1, "expected one event: {events:?}");
    let event = events.remove(0);
    assert_eq!(
        (event.change, event.resource_kind.as_str()),
        (change, kind),
        "{event:?}"
    );
    assert_eq!(event.resource_ids, ids, "{event:?}");
    event
}

/// A test per call that names what it changes and tells nothing more: the event carries the
/// ids, no type and no price (the ledger holds them from the creation).
macro_rules! named {
    ($test:ident, $source:expr, $call:expr, $request:expr, $response:expr, $change:expr, $kind:expr, $ids:expr) => {
        #[test]
        fn $test() {
            let r = record($source, $call, $request, $response);
            let event = changed(&[r], $change, $kind, $ids);
            assert_eq!(event.quantity as usize, $ids.len());
            assert_eq!(event.price_source, PriceSource::Unknown);
            assert_eq!(event.hourly_usd, 0.0);
        }
    };
}

fn launch(ids: &[&str], instance_type: &str) -> Value {
    let items: Vec<Value> = ids
        .iter()
        .map(|id| json!({"instanceId": id, "instanceType": instance_type, "currentState": {"code": 0, "name": "pending"}}))
        .collect();
    record(
        "ec2.amazonaws.com",
        "RunInstances",
        json!({"instancesSet": {"items": [{"imageId": "ami-0abc", "minCount": ids.len(), "maxCount": ids.len()}]}, "instanceType": instance_type}),
        json!({"reservationId": "r-1", "instancesSet": {"items": items}}),
    )
}

/// `TerminateInstances`, `StopInstances` or `StartInstances` of `ids`, each moving from `from`.
fn moved(call: &str, ids: &[&str], from: &str, to: &str) -> Value {
    let request: Vec<Value> = ids.iter().map(|id| json!({"instanceId": id})).collect();
    let response: Vec<Value> = ids
        .iter()
        .map(|id| json!({"instanceId": id, "currentState": {"code": 32, "name": to}, "previousState": {"code": 16, "name": from}}))
        .collect();
    record(
        "ec2.amazonaws.com",
        call,
        json!({"instancesSet": {"items": request}}),
        json!({"requestId": "req-1", "instancesSet": {"items": response}}),
    )
}

#[test]
fn terminate_instances_ends_them_at_the_type_they_were_launched_with() {
    let ids = ["i-0a", "i-0b", "i-0c", "i-0d"];
    let records = [
        launch(&ids, "p4d.24xlarge"),
        moved("TerminateInstances", &ids, "running", "shutting-down"),
    ];
    let event = changed(&records, Change::End, "ec2.instance", &ids);
    assert_eq!(
        (event.resource_type.as_str(), event.quantity),
        ("p4d.24xlarge", 4)
    );
    assert_eq!(event.price_source, PriceSource::Catalog);
    assert!(close(event.hourly_usd, 4.0 * event.unit_hourly_usd) && event.hourly_usd > 0.0);
}

#[test]
fn terminate_instances_of_unknown_type_names_them_unpriced() {
    let r = moved("TerminateInstances", &["i-9"], "running", "shutting-down");
    let event = changed(&[r], Change::End, "ec2.instance", &["i-9"]);
    assert_eq!(event.resource_type, "unknown");
    assert_eq!(event.price_source, PriceSource::Unknown);
}

#[test]
fn terminate_instances_skips_those_already_terminated() {
    let mut r = moved(
        "TerminateInstances",
        &["i-1", "i-2"],
        "running",
        "shutting-down",
    );
    r["responseElements"]["instancesSet"]["items"][1]["previousState"]["name"] =
        json!("terminated");
    changed(&[r], Change::End, "ec2.instance", &["i-1"]);
}

#[test]
fn stop_instances_stops_running_ones() {
    let records = [
        launch(&["i-1"], "m5.xlarge"),
        moved("StopInstances", &["i-1"], "running", "stopping"),
    ];
    let event = changed(&records, Change::Stop, "ec2.instance", &["i-1"]);
    assert_eq!(event.resource_type, "m5.xlarge");
}

#[test]
fn stop_instances_of_stopped_ones_changes_nothing() {
    let r = moved("StopInstances", &["i-1"], "stopped", "stopped");
    assert_eq!(run(&[r]), vec![Item::Skipped(SkipReason::NotCost)]);
}

#[test]
fn start_instances_restarts_at_the_recalled_type() {
    let records = [
        launch(&["i-1"], "m5.xlarge"),
        moved("StopInstances", &["i-1"], "running", "stopping"),
        moved("StartInstances", &["i-1"], "stopped", "pending"),
    ];
    let event = changed(&records, Change::Start, "ec2.instance", &["i-1"]);
    assert_eq!(event.resource_type, "m5.xlarge");
    assert!(close(event.unit_hourly_usd, 0.192));
}

#[test]
fn modify_instance_attribute_resizes_at_the_new_type() {
    let r = record(
        "ec2.amazonaws.com",
        "ModifyInstanceAttribute",
        json!({"instanceId": "i-1", "instanceType": {"value": "m5.2xlarge"}}),
        json!({"requestId": "req-1", "_return": true}),
    );
    let event = changed(&[r], Change::Resize, "ec2.instance", &["i-1"]);
    assert!(close(event.unit_hourly_usd, 0.384));
}

#[test]
fn modify_instance_attribute_without_a_type_changes_no_rate() {
    let r = record(
        "ec2.amazonaws.com",
        "ModifyInstanceAttribute",
        json!({"instanceId": "i-1", "disableApiTermination": {"value": true}}),
        json!({"_return": true}),
    );
    assert_eq!(run(&[r]), vec![Item::Skipped(SkipReason::NotCost)]);
}

#[test]
fn a_failed_termination_counts_for_nothing() {
    let mut r = moved("TerminateInstances", &["i-1"], "running", "shutting-down");
    r["errorCode"] = json!("Client.UnauthorizedOperation");
    r["responseElements"] = Value::Null;
    assert_eq!(run(&[r]), vec![Item::Skipped(SkipReason::FailedCall)]);
}

named!(
    delete_volume_ends_it,
    "ec2.amazonaws.com",
    "DeleteVolume",
    json!({"volumeId": "vol-0123"}),
    json!({"requestId": "req-1", "_return": true}),
    Change::End,
    "ec2.volume",
    &["vol-0123"]
);

named!(
    release_address_ends_it_by_allocation_id,
    "ec2.amazonaws.com",
    "ReleaseAddress",
    json!({"allocationId": "eipalloc-0123"}),
    json!({"requestId": "req-1", "_return": true}),
    Change::End,
    "ec2.elastic-ip",
    &["eipalloc-0123"]
);

named!(
    release_address_of_a_classic_address_ends_it_by_ip,
    "ec2.amazonaws.com",
    "ReleaseAddress",
    json!({"publicIp": "198.51.100.7"}),
    json!({"_return": true}),
    Change::End,
    "ec2.elastic-ip",
    &["198.51.100.7"]
);

named!(
    delete_nat_gateway_ends_it,
    "ec2.amazonaws.com",
    "DeleteNatGateway",
    json!({"DeleteNatGatewayRequest": {"NatGatewayId": "nat-0123"}}),
    json!({"DeleteNatGatewayResponse": {"requestId": "req-1", "natGatewayId": "nat-0123"}}),
    Change::End,
    "ec2.nat-gateway",
    &["nat-0123"]
);

named!(
    delete_vpc_endpoints_ends_each,
    "ec2.amazonaws.com",
    "DeleteVpcEndpoints",
    json!({"DeleteVpcEndpointsRequest": {"VpcEndpointId": [{"tag": 1, "content": "vpce-01"}, {"tag": 2, "content": "vpce-02"}]}}),
    json!({"DeleteVpcEndpointsResponse": {"unsuccessful": ""}}),
    Change::End,
    "ec2.vpc-endpoint",
    &["vpce-01", "vpce-02"]
);

named!(
    delete_transit_gateway_ends_it,
    "ec2.amazonaws.com",
    "DeleteTransitGateway",
    json!({"DeleteTransitGatewayRequest": {"TransitGatewayId": "tgw-0123"}}),
    json!({"DeleteTransitGatewayResponse": {"transitGateway": {"transitGatewayId": "tgw-0123", "state": "deleting"}}}),
    Change::End,
    "ec2.transit-gateway",
    &["tgw-0123"]
);

named!(
    delete_transit_gateway_vpc_attachment_ends_it,
    "ec2.amazonaws.com",
    "DeleteTransitGatewayVpcAttachment",
    json!({"DeleteTransitGatewayVpcAttachmentRequest": {"TransitGatewayAttachmentId": "tgw-attach-0123"}}),
    json!({}),
    Change::End,
    "ec2.transit-gateway",
    &["tgw-attach-0123"]
);

named!(
    cancel_spot_instance_requests_ends_each_request,
    "ec2.amazonaws.com",
    "CancelSpotInstanceRequests",
    json!({"spotInstanceRequestIdSet": {"items": [{"spotInstanceRequestId": "sir-1"}, {"spotInstanceRequestId": "sir-2"}]}}),
    json!({"spotInstanceRequestSet": {"items": [{"spotInstanceRequestId": "sir-1", "state": "cancelled"}]}}),
    Change::End,
    "ec2.instance",
    &["sir-1", "sir-2"]
);

#[test]
fn delete_fleets_with_their_instances_ends_them() {
    let r = record(
        "ec2.amazonaws.com",
        "DeleteFleets",
        json!({"DeleteFleetsRequest": {"FleetId": {"tag": 1, "content": "fleet-0123"}, "TerminateInstances": true}}),
        json!({"DeleteFleetsResponse": {"successfulFleetDeletionSet": {"item": {"fleetId": "fleet-0123"}}}}),
    );
    changed(&[r], Change::End, "ec2.instance", &["fleet-0123"]);
}

#[test]
fn delete_fleets_that_keeps_its_instances_ends_nothing() {
    let r = record(
        "ec2.amazonaws.com",
        "DeleteFleets",
        json!({"DeleteFleetsRequest": {"FleetId": {"tag": 1, "content": "fleet-0123"}, "TerminateInstances": false}}),
        json!({}),
    );
    assert_eq!(run(&[r]), vec![Item::Skipped(SkipReason::NotCost)]);
}

fn group(name: &str, request: Value) -> Value {
    record("autoscaling.amazonaws.com", name, request, Value::Null)
}

#[test]
fn an_auto_scaling_group_scaled_down_is_resized_to_its_new_capacity() {
    let records = [
        group(
            "CreateAutoScalingGroup",
            json!({"autoScalingGroupName": "web", "instanceType": "c5.large", "minSize": 2, "maxSize": 10, "desiredCapacity": 8}),
        ),
        group(
            "SetDesiredCapacity",
            json!({"autoScalingGroupName": "web", "desiredCapacity": 3}),
        ),
    ];
    let event = changed(&records, Change::Resize, "autoscaling.group", &["web"]);
    assert_eq!(
        (event.resource_type.as_str(), event.quantity),
        ("c5.large", 3)
    );
}

#[test]
fn an_auto_scaling_group_scaled_to_zero_is_stopped() {
    let r = group(
        "UpdateAutoScalingGroup",
        json!({"autoScalingGroupName": "web", "minSize": 0, "maxSize": 0, "desiredCapacity": 0}),
    );
    changed(&[r], Change::Stop, "autoscaling.group", &["web"]);
}

#[test]
fn an_auto_scaling_update_without_capacity_changes_no_rate() {
    let r = group(
        "UpdateAutoScalingGroup",
        json!({"autoScalingGroupName": "web", "launchTemplate": {"launchTemplateName": "web-v2"}}),
    );
    assert_eq!(run(&[r]), vec![Item::Skipped(SkipReason::NotCost)]);
}

named!(
    delete_auto_scaling_group_ends_it,
    "autoscaling.amazonaws.com",
    "DeleteAutoScalingGroup",
    json!({"autoScalingGroupName": "web", "forceDelete": true}),
    Value::Null,
    Change::End,
    "autoscaling.group",
    &["web"]
);

/// The `RunInstances` Auto Scaling makes for a group, as CloudTrail records it.
fn launched_by_auto_scaling(group_name: &str) -> Value {
    let mut r = launch(&["i-as1", "i-as2"], "c5.large");
    r["userIdentity"] = json!({
        "type": "AssumedRole",
        "arn": "arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling",
        "accountId": "111122223333",
        "invokedBy": "autoscaling.amazonaws.com"
    });
    r["userAgent"] = json!("autoscaling.amazonaws.com");
    r["requestParameters"]["tagSpecificationSet"] = json!({"items": [{"resourceType": "instance", "tags": [{"key": "aws:autoscaling:groupName", "value": group_name}]}]});
    r
}

#[test]
fn auto_scaling_launches_for_a_priced_group_are_not_priced_again() {
    let records = [
        group(
            "CreateAutoScalingGroup",
            json!({"autoScalingGroupName": "web", "instanceType": "c5.large", "minSize": 2, "maxSize": 2, "desiredCapacity": 2}),
        ),
        launched_by_auto_scaling("web"),
    ];
    let items = run(&records);
    assert!(matches!(items[0], Item::Cost(_)), "{items:?}");
    assert_eq!(items[1], Item::Skipped(SkipReason::NotCost));
    let mut summary = Summary::default();
    items.iter().for_each(|item| summary.add(item));
    assert_eq!(summary.cost_events, 1, "the group's capacity, once");
}

#[test]
fn auto_scaling_launches_for_a_group_never_seen_are_priced() {
    let event = changed(
        &[launched_by_auto_scaling("older-than-dd0c")],
        Change::Create,
        "ec2.instance",
        &["i-as1", "i-as2"],
    );
    assert_eq!(event.quantity, 2);
}

#[test]
fn auto_scaling_launched_instances_keep_their_type_for_their_end() {
    let records = [
        group(
            "CreateAutoScalingGroup",
            json!({"autoScalingGroupName": "web", "instanceType": "c5.large", "desiredCapacity": 2}),
        ),
        launched_by_auto_scaling("web"),
        moved("TerminateInstances", &["i-as1"], "running", "shutting-down"),
    ];
    let event = changed(&records, Change::End, "ec2.instance", &["i-as1"]);
    assert_eq!(event.resource_type, "c5.large");
}

named!(
    delete_load_balancer_v2_ends_it_by_arn,
    "elasticloadbalancing.amazonaws.com",
    "DeleteLoadBalancer",
    json!({"loadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/web/50dc6c495c0c9188"}),
    Value::Null,
    Change::End,
    "elb.load-balancer",
    &["arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/web/50dc6c495c0c9188"]
);

named!(
    delete_load_balancer_classic_ends_it_by_name,
    "elasticloadbalancing.amazonaws.com",
    "DeleteLoadBalancer",
    json!({"loadBalancerName": "legacy-web"}),
    Value::Null,
    Change::End,
    "elb.load-balancer",
    &["legacy-web"]
);

fn rds(name: &str, request: Value, response: Value) -> Value {
    record("rds.amazonaws.com", name, request, response)
}

named!(
    delete_db_instance_ends_it,
    "rds.amazonaws.com",
    "DeleteDBInstance",
    json!({"dBInstanceIdentifier": "orders", "skipFinalSnapshot": false, "finalDBSnapshotIdentifier": "orders-final"}),
    json!({"dBInstanceIdentifier": "orders", "dBInstanceStatus": "deleting"}),
    Change::End,
    "rds.instance",
    &["orders"]
);

named!(
    stop_db_instance_stops_it,
    "rds.amazonaws.com",
    "StopDBInstance",
    json!({"dBInstanceIdentifier": "orders"}),
    json!({"dBInstanceIdentifier": "orders", "dBInstanceStatus": "stopping"}),
    Change::Stop,
    "rds.instance",
    &["orders"]
);

named!(
    start_db_instance_starts_it,
    "rds.amazonaws.com",
    "StartDBInstance",
    json!({"dBInstanceIdentifier": "orders"}),
    json!({"dBInstanceIdentifier": "orders", "dBInstanceStatus": "starting"}),
    Change::Start,
    "rds.instance",
    &["orders"]
);

#[test]
fn modify_db_instance_class_resizes_it() {
    let r = rds(
        "ModifyDBInstance",
        json!({"dBInstanceIdentifier": "orders", "dBInstanceClass": "db.r6g.2xlarge", "applyImmediately": true}),
        json!({"dBInstanceIdentifier": "orders", "dBInstanceClass": "db.r6g.large", "engine": "postgres", "allocatedStorage": 100, "multiAZ": false}),
    );
    let event = changed(&[r], Change::Resize, "rds.instance", &["orders"]);
    assert_eq!(event.resource_type, "db.r6g.2xlarge");
    assert!(event.hourly_usd > 0.0);
}

#[test]
fn modify_db_instance_without_a_class_changes_no_rate() {
    let r = rds(
        "ModifyDBInstance",
        json!({"dBInstanceIdentifier": "orders", "backupRetentionPeriod": 14}),
        json!({"dBInstanceIdentifier": "orders", "dBInstanceClass": "db.r6g.large"}),
    );
    assert_eq!(run(&[r]), vec![Item::Skipped(SkipReason::NotCost)]);
}

named!(
    delete_db_cluster_ends_it,
    "rds.amazonaws.com",
    "DeleteDBCluster",
    json!({"dBClusterIdentifier": "analytics", "skipFinalSnapshot": true}),
    json!({"dBClusterIdentifier": "analytics", "status": "deleting"}),
    Change::End,
    "rds.cluster",
    &["analytics"]
);

named!(
    stop_db_cluster_stops_it,
    "rds.amazonaws.com",
    "StopDBCluster",
    json!({"dBClusterIdentifier": "analytics"}),
    json!({"dBClusterIdentifier": "analytics", "status": "stopping"}),
    Change::Stop,
    "rds.cluster",
    &["analytics"]
);

named!(
    delete_cache_cluster_ends_it,
    "elasticache.amazonaws.com",
    "DeleteCacheCluster",
    json!({"cacheClusterId": "sessions"}),
    json!({"cacheClusterId": "sessions", "cacheClusterStatus": "deleting"}),
    Change::End,
    "elasticache.node",
    &["sessions"]
);

named!(
    delete_replication_group_ends_it,
    "elasticache.amazonaws.com",
    "DeleteReplicationGroup",
    json!({"replicationGroupId": "sessions-rg", "retainPrimaryCluster": false}),
    json!({"replicationGroupId": "sessions-rg", "status": "deleting"}),
    Change::End,
    "elasticache.node",
    &["sessions-rg"]
);

named!(
    delete_redshift_cluster_ends_it,
    "redshift.amazonaws.com",
    "DeleteCluster",
    json!({"clusterIdentifier": "warehouse", "skipFinalClusterSnapshot": true}),
    json!({"clusterIdentifier": "warehouse", "clusterStatus": "deleting"}),
    Change::End,
    "redshift.node",
    &["warehouse"]
);

named!(
    pause_redshift_cluster_stops_it,
    "redshift.amazonaws.com",
    "PauseCluster",
    json!({"clusterIdentifier": "warehouse"}),
    json!({"clusterIdentifier": "warehouse", "clusterStatus": "pausing"}),
    Change::Stop,
    "redshift.node",
    &["warehouse"]
);

named!(
    resume_redshift_cluster_starts_it,
    "redshift.amazonaws.com",
    "ResumeCluster",
    json!({"clusterIdentifier": "warehouse"}),
    json!({"clusterIdentifier": "warehouse", "clusterStatus": "resuming"}),
    Change::Start,
    "redshift.node",
    &["warehouse"]
);

#[test]
fn resize_redshift_cluster_resizes_to_its_new_nodes() {
    let r = record(
        "redshift.amazonaws.com",
        "ResizeCluster",
        json!({"clusterIdentifier": "warehouse", "nodeType": "ra3.4xlarge", "numberOfNodes": 4, "classic": false}),
        json!({"clusterIdentifier": "warehouse"}),
    );
    let event = changed(&[r], Change::Resize, "redshift.node", &["warehouse"]);
    assert_eq!(
        (event.resource_type.as_str(), event.quantity),
        ("ra3.4xlarge", 4)
    );
}

named!(
    delete_opensearch_domain_ends_it,
    "es.amazonaws.com",
    "DeleteDomain",
    json!({"domainName": "logs"}),
    json!({"domainStatus": {"domainName": "logs", "deleted": true}}),
    Change::End,
    "opensearch.node",
    &["logs"]
);

named!(
    delete_elasticsearch_domain_ends_it,
    "es.amazonaws.com",
    "DeleteElasticsearchDomain",
    json!({"domainName": "old-logs"}),
    json!({"domainStatus": {"domainName": "old-logs", "deleted": true}}),
    Change::End,
    "opensearch.node",
    &["old-logs"]
);

named!(
    delete_msk_cluster_ends_it,
    "kafka.amazonaws.com",
    "DeleteCluster",
    json!({"clusterArn": "arn:aws:kafka:us-east-1:111122223333:cluster/events/abcd-1234"}),
    json!({"clusterArn": "arn:aws:kafka:us-east-1:111122223333:cluster/events/abcd-1234", "state": "DELETING"}),
    Change::End,
    "msk.broker",
    &["arn:aws:kafka:us-east-1:111122223333:cluster/events/abcd-1234"]
);

named!(
    delete_eks_cluster_ends_it,
    "eks.amazonaws.com",
    "DeleteCluster",
    json!({"name": "platform"}),
    json!({"cluster": {"name": "platform", "status": "DELETING"}}),
    Change::End,
    "eks.cluster",
    &["platform"]
);

named!(
    delete_eks_nodegroup_ends_it,
    "eks.amazonaws.com",
    "DeleteNodegroup",
    json!({"clusterName": "platform", "nodegroupName": "gpu"}),
    json!({"nodegroup": {"nodegroupName": "gpu", "status": "DELETING"}}),
    Change::End,
    "eks.nodegroup",
    &["gpu"]
);

named!(
    terminate_job_flows_ends_each,
    "elasticmapreduce.amazonaws.com",
    "TerminateJobFlows",
    json!({"jobFlowIds": ["j-1ABC", "j-2DEF"]}),
    Value::Null,
    Change::End,
    "emr.instance",
    &["j-1ABC", "j-2DEF"]
);

named!(
    delete_sagemaker_endpoint_ends_it,
    "sagemaker.amazonaws.com",
    "DeleteEndpoint",
    json!({"endpointName": "ranker"}),
    Value::Null,
    Change::End,
    "sagemaker.endpoint",
    &["ranker"]
);

named!(
    stop_notebook_instance_stops_it,
    "sagemaker.amazonaws.com",
    "StopNotebookInstance",
    json!({"notebookInstanceName": "research"}),
    Value::Null,
    Change::Stop,
    "sagemaker.notebook",
    &["research"]
);

named!(
    start_notebook_instance_starts_it,
    "sagemaker.amazonaws.com",
    "StartNotebookInstance",
    json!({"notebookInstanceName": "research"}),
    Value::Null,
    Change::Start,
    "sagemaker.notebook",
    &["research"]
);

named!(
    delete_notebook_instance_ends_it,
    "sagemaker.amazonaws.com",
    "DeleteNotebookInstance",
    json!({"notebookInstanceName": "research"}),
    Value::Null,
    Change::End,
    "sagemaker.notebook",
    &["research"]
);

named!(
    stop_training_job_ends_it,
    "sagemaker.amazonaws.com",
    "StopTrainingJob",
    json!({"trainingJobName": "ranker-2026-12"}),
    Value::Null,
    Change::End,
    "sagemaker.training",
    &["ranker-2026-12"]
);

named!(
    delete_ecs_service_ends_it,
    "ecs.amazonaws.com",
    "DeleteService",
    json!({"cluster": "prod", "service": "api", "force": true}),
    json!({"service": {"serviceName": "api", "status": "DRAINING"}}),
    Change::End,
    "ecs.service",
    &["api"]
);

named!(
    delete_dynamodb_table_ends_it,
    "dynamodb.amazonaws.com",
    "DeleteTable",
    json!({"tableName": "orders"}),
    json!({"tableDescription": {"tableName": "orders", "tableStatus": "DELETING"}}),
    Change::End,
    "dynamodb.table",
    &["orders"]
);

named!(
    delete_kinesis_stream_ends_it,
    "kinesis.amazonaws.com",
    "DeleteStream",
    json!({"streamName": "clicks", "enforceConsumerDeletion": true}),
    Value::Null,
    Change::End,
    "kinesis.stream",
    &["clicks"]
);

named!(
    delete_provisioned_concurrency_ends_it,
    "lambda.amazonaws.com",
    "DeleteProvisionedConcurrencyConfig",
    json!({"functionName": "checkout", "qualifier": "live"}),
    Value::Null,
    Change::End,
    "lambda.provisioned-concurrency",
    &["checkout"]
);

#[test]
fn an_end_naming_nothing_is_not_a_change() {
    let r = record(
        "ec2.amazonaws.com",
        "DeleteVolume",
        json!({}),
        json!({"_return": true}),
    );
    assert_eq!(run(&[r]), vec![Item::Skipped(SkipReason::NotCost)]);
}

#[test]
fn the_summary_counts_ends_apart_from_priced_events() {
    let ids = ["i-1", "i-2"];
    let items = run(&[
        launch(&ids, "m5.large"),
        moved("TerminateInstances", &ids, "running", "shutting-down"),
    ]);
    let mut summary = Summary::default();
    items.iter().for_each(|item| summary.add(item));
    assert_eq!((summary.cost_events, summary.ends), (1, 1));
    assert!(
        summary.to_string().contains("cost_events=1 ends=1"),
        "{summary}"
    );
}

#[test]
fn a_creation_serializes_as_before_and_a_change_names_itself() {
    let ids = ["i-1"];
    let created = changed(
        &[launch(&ids, "m5.large")],
        Change::Create,
        "ec2.instance",
        &ids,
    );
    let json = serde_json::to_value(&created).unwrap();
    assert!(json.get("change").is_none(), "{json}");
    let ended = changed(
        &[moved(
            "TerminateInstances",
            &ids,
            "running",
            "shutting-down",
        )],
        Change::End,
        "ec2.instance",
        &ids,
    );
    let json = serde_json::to_value(&ended).unwrap();
    assert_eq!(json["change"], "end");
    let back: CostEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back.change, Change::End);
}
