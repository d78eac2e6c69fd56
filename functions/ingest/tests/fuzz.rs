//! Mutates valid records at random: the normalizer returns a rejection, a skip or cost events,
//! and never panics.

mod common;

use common::record;
use dd0c_ingest::{Item, Normalizer, PriceCatalog};
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

fn nasty() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!("")),
        Just(json!("-1")),
        Just(json!("1e400")),
        Just(json!("ℵ\u{0}\u{202e}")),
        Just(json!(-5)),
        Just(json!(1.5)),
        Just(json!(u64::MAX)),
        Just(json!(f64::MAX)),
        Just(json!([])),
        Just(json!({})),
        Just(json!({"value": {"value": {}}})),
        Just(json!({"items": "x"})),
        Just(json!({"item": [null, 1]})),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(|s| json!(s)),
    ]
}

/// Every (path, value) position of a JSON tree, so a mutation can target any of them.
fn positions(value: &Value, path: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(path.clone());
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            let mut p = path.clone();
            p.push(k.clone());
            positions(v, p, out);
        }),
        Value::Array(list) => list.iter().enumerate().for_each(|(i, v)| {
            let mut p = path.clone();
            p.push(i.to_string());
            positions(v, p, out);
        }),
        _ => {}
    }
}

fn replace(value: &mut Value, path: &[String], with: Value) {
    let Some((last, parents)) = path.split_last() else {
        *value = with;
        return;
    };
    let mut target = value;
    for key in parents {
        target = match target {
            Value::Object(map) => map.get_mut(key).expect("path exists"),
            Value::Array(list) => &mut list[key.parse::<usize>().expect("index")],
            _ => return,
        };
    }
    match target {
        Value::Object(map) => {
            map.insert(last.clone(), with);
        }
        Value::Array(list) => list[last.parse::<usize>().expect("index")] = with,
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, .. ProptestConfig::default() })]

    #[test]
    fn mutated_records_never_panic(seed in 0usize..9, picks in proptest::collection::vec((any::<prop::sample::Index>(), nasty()), 1..4), truncate in proptest::option::of(any::<prop::sample::Index>())) {
        let seeds = seeds();
        let mut value = seeds[seed].clone();
        for (at, with) in picks {
            let mut all = Vec::new();
            positions(&value, Vec::new(), &mut all);
            let path = at.get(&all).clone();
            replace(&mut value, &path, with);
        }
        let mut text = value.to_string();
        if let Some(cut) = truncate {
            let mut end = cut.index(text.len() + 1);
            while !text.is_char_boundary(end) { end -= 1; }
            text.truncate(end);
        }
        let mut normalizer = Normalizer::new(PriceCatalog::bundled(), "default");
        let mut items = Vec::new();
        normalizer.normalize_document(text.as_bytes(), "fuzz", &mut |i| items.push(i));
        for item in items {
            if let Item::Cost(events) = item {
                for e in events {
                    prop_assert!(e.hourly_usd.is_finite() && e.hourly_usd >= 0.0, "{e:?}");
                    prop_assert!(e.monthly_usd.is_finite() && e.monthly_usd >= 0.0);
                }
            }
        }
    }
}
