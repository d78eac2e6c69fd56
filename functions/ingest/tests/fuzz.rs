//! Mutates valid records at random: the normalizer returns a rejection, a skip or cost events,
//! and never panics.

mod common;

use common::record;
use dd0c_ingest::{Item, Normalizer, PriceCatalog};
use dd0c_tests::mutate::{mutate, nasty};
use proptest::prelude::*;
use serde_json::{json, Value};

fn seeds() -> Vec<Value> {
    vec![
        record(
            "ec2.amazonaws.com",
            "RunInstances",
            json!({"instancesSet": {"items": [{"minCount": 1, "maxCount": 3}]}, "instanceType": "m5.xlarge"}),
            json!({"instancesSet": {"items": [{"instanceId": "i-1", "instanceType": "m5.xlarge"}]}}),
        ),
        record(
            "ec2.amazonaws.com",
            "CreateFleet",
            json!({"CreateFleetRequest": {"TargetCapacitySpecification": {"TotalTargetCapacity": 3}, "LaunchTemplateConfigs": {"Overrides": [{"InstanceType": "c5.large"}]}}}),
            json!({"CreateFleetResponse": {"fleetInstanceSet": {"item": [{"instanceIds": {"item": ["i-1"]}, "instanceType": "c5.large"}]}}}),
        ),
        record(
            "ec2.amazonaws.com",
            "CreateVolume",
            json!({"size": 100, "volumeType": "gp3", "iops": 4000}),
            json!({"volumeId": "vol-1"}),
        ),
        record(
            "rds.amazonaws.com",
            "CreateDBInstance",
            json!({"dBInstanceClass": "db.r6g.large", "engine": "postgres", "allocatedStorage": 100, "multiAZ": true}),
            json!(null),
        ),
        record(
            "autoscaling.amazonaws.com",
            "CreateAutoScalingGroup",
            json!({"autoScalingGroupName": "g", "desiredCapacity": 4, "mixedInstancesPolicy": {"launchTemplate": {"overrides": [{"instanceType": "m6i.large"}]}}}),
            json!(null),
        ),
        record(
            "es.amazonaws.com",
            "CreateDomain",
            json!({"domainName": "d", "clusterConfig": {"instanceType": "r6g.large.search", "instanceCount": 3, "dedicatedMasterEnabled": true}}),
            json!(null),
        ),
        record(
            "elasticmapreduce.amazonaws.com",
            "RunJobFlow",
            json!({"instances": {"instanceGroups": [{"instanceType": "m5.xlarge", "instanceCount": 2}]}}),
            json!({"jobFlowId": "j"}),
        ),
        record(
            "ecs.amazonaws.com",
            "RegisterTaskDefinition",
            json!({"family": "api", "cpu": "256", "memory": "0.5 GB"}),
            json!(null),
        ),
        record(
            "dynamodb.amazonaws.com",
            "CreateTable",
            json!({"provisionedThroughput": {"readCapacityUnits": 5, "writeCapacityUnits": 5}}),
            json!(null),
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, .. ProptestConfig::default() })]

    #[test]
    fn mutated_records_never_panic(seed in 0usize..9, picks in proptest::collection::vec((any::<prop::sample::Index>(), nasty()), 1..4), truncate in proptest::option::of(any::<prop::sample::Index>())) {
        let text = mutate(seeds()[seed].clone(), picks, truncate);
        let mut normalizer = Normalizer::new(PriceCatalog::bundled(), "default");
        let mut items = Vec::new();
        normalizer.normalize_document(text.as_bytes(), "fuzz", &mut |i| items.push(i));
        for item in items {
            if let Item::Cost(events) = item {
                for e in events {
                    prop_assert!(e.hourly_usd.is_finite() && e.hourly_usd >= 0.0, "{e:?}");
                    prop_assert!(e.monthly_usd.is_finite() && e.monthly_usd >= 0.0);
                    prop_assert!(e.quantity <= dd0c_ingest::bounds::MAX_COUNT, "{e:?}");
                    let texts = [&e.event_id, &e.region, &e.account_id, &e.actor_arn, &e.actor_type, &e.resource_type];
                    prop_assert!(
                        texts.iter().chain(e.resource_ids.iter().collect::<Vec<_>>().iter()).all(|t| !t.chars().any(char::is_control)),
                        "a control character reached a cost event: {e:?}"
                    );
                }
            }
        }
    }
}
