//! What records teach is kept per tenant, in the store: the two-tenant recall attack (write,
//! read, flush) fails, and a restart prices as before.

mod common;

use std::sync::Arc;

use common::{record, ACCOUNT};
use dd0c_adapters_memory::MemoryStore;
use dd0c_ingest::bounds::MAX_COUNT;
use dd0c_ingest::normalizers::Normalizers;
use dd0c_ingest::{Admitted, Item, PriceCatalog, MAX_FACTS_PER_RECORD};
use dd0c_ports::domain::CostEvent;
use dd0c_ports::recall::{Fact, FactKey, FactKind, RecallStore};
use serde_json::{json, Value};

fn launch(instances: &[(&str, &str)]) -> Value {
    let items: Vec<Value> = instances
        .iter()
        .map(|(id, t)| json!({"instanceId": id, "instanceType": t}))
        .collect();
    record(
        "ec2.amazonaws.com",
        "RunInstances",
        json!({"instancesSet": {"items": [{"maxCount": items.len()}]}}),
        json!({"instancesSet": {"items": items}}),
    )
}

fn start(id: &str) -> Value {
    record(
        "ec2.amazonaws.com",
        "StartInstances",
        json!({"instancesSet": {"items": [{"instanceId": id}]}}),
        json!({"instancesSet": {"items": [{"instanceId": id, "previousState": {"name": "stopped"}}]}}),
    )
}

fn resize(id: &str, to: &str) -> Value {
    record(
        "ec2.amazonaws.com",
        "ModifyInstanceAttribute",
        json!({"instanceId": id, "instanceType": {"value": to}}),
        json!({"_return": true}),
    )
}

fn normalizers(store: &Arc<MemoryStore>) -> Normalizers {
    Normalizers::new(PriceCatalog::bundled(), store.clone())
}

/// The cost events of one record pushed by `tenant`.
async fn priced(normalizers: &Normalizers, tenant: &str, r: &Value) -> Vec<CostEvent> {
    match normalizers
        .normalize_record(tenant, r.to_string())
        .await
        .expect("normalized")
    {
        Item::Cost(events) => events,
        other => panic!("expected cost events, got {other:?}"),
    }
}

/// The types `tenant`'s start of `id` is priced as.
async fn started_as(normalizers: &Normalizers, tenant: &str, id: &str) -> String {
    let events = priced(normalizers, tenant, &start(id)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    events[0].resource_type.clone()
}

#[tokio::test]
async fn one_tenants_launch_does_not_price_another_tenants_start_of_the_same_instance_id() {
    let store = Arc::new(MemoryStore::new());
    let n = normalizers(&store);
    priced(&n, "attacker", &launch(&[("i-0001", "p5.48xlarge")])).await;
    assert_eq!(
        started_as(&n, "victim", "i-0001").await,
        "unknown",
        "write: the attacker's fact must not price the victim's record"
    );
    priced(&n, "victim", &launch(&[("i-0001", "t3.micro")])).await;
    assert_eq!(started_as(&n, "victim", "i-0001").await, "t3.micro");
    assert_eq!(
        started_as(&n, "attacker", "i-0001").await,
        "p5.48xlarge",
        "read: the victim's fact must not show in the attacker's events"
    );
}

#[tokio::test]
async fn a_flood_of_instance_ids_neither_evicts_another_tenants_facts_nor_floods_the_store() {
    let store = Arc::new(MemoryStore::new());
    let n = normalizers(&store);
    priced(&n, "victim", &launch(&[("i-kept", "m5.large")])).await;
    let ids: Vec<String> = (0..MAX_COUNT).map(|i| format!("i-{i:08x}")).collect();
    let flood: Vec<(&str, &str)> = ids.iter().map(|i| (i.as_str(), "t3.nano")).collect();
    priced(&n, "attacker", &launch(&flood)).await;
    assert_eq!(started_as(&n, "victim", "i-kept").await, "m5.large");

    let keys: Vec<FactKey> = ids
        .iter()
        .map(|i| FactKey::new(ACCOUNT, FactKind::Instance, i))
        .collect();
    let stored = store.facts("attacker", &keys).await.expect("facts");
    assert_eq!(
        stored.iter().filter(|f| f.is_some()).count(),
        MAX_FACTS_PER_RECORD,
        "one record teaches at most its cap"
    );
}

#[tokio::test]
async fn after_a_restart_the_store_prices_what_the_cache_forgot() {
    let store = Arc::new(MemoryStore::new());
    priced(
        &normalizers(&store),
        "acme",
        &launch(&[("i-77", "r5.2xlarge")]),
    )
    .await;
    let restarted = normalizers(&store);
    assert_eq!(started_as(&restarted, "acme", "i-77").await, "r5.2xlarge");
}

#[tokio::test]
async fn a_document_priced_after_the_store_answered_a_miss_keeps_record_order() {
    // i-2 is known only to the store; within the push, i-1 is resized after its start. The
    // second run, made once the store answered, must price the start as the type before the
    // resize — not the one the first run learned later in the document.
    let store = Arc::new(MemoryStore::new());
    store
        .remember(
            "acme",
            &[(
                FactKey::new(ACCOUNT, FactKind::Instance, "i-2"),
                Fact::InstanceType("c5.large".into()),
            )],
        )
        .await
        .expect("seed");
    let n = normalizers(&store);
    priced(&n, "acme", &launch(&[("i-1", "t3.small")])).await;
    let push: Vec<Value> = vec![start("i-1"), resize("i-1", "m5.4xlarge"), start("i-2")];
    let body = serde_json::to_vec(&json!({ "Records": push })).expect("json");
    let types: Vec<String> = n
        .normalize_account("acme", ACCOUNT, body, "body", usize::MAX, false)
        .await
        .expect("normalized")
        .admitted
        .into_iter()
        .flat_map(|a| match a {
            Admitted::Item(Item::Cost(events)) => events,
            other => panic!("expected cost events, got {other:?}"),
        })
        .map(|e| e.resource_type)
        .collect();
    assert_eq!(types, ["t3.small", "m5.4xlarge", "c5.large"]);
    assert_eq!(
        store
            .facts("acme", &[FactKey::new(ACCOUNT, FactKind::Instance, "i-1")])
            .await
            .expect("facts"),
        vec![Some(Fact::InstanceType("m5.4xlarge".into()))],
        "what the push learned is stored"
    );
}

#[tokio::test]
async fn a_record_launching_more_than_one_call_can_is_refused_and_teaches_nothing() {
    let store = Arc::new(MemoryStore::new());
    let n = normalizers(&store);
    let ids: Vec<String> = (0..=MAX_COUNT).map(|i| format!("i-{i:08x}")).collect();
    let flood: Vec<(&str, &str)> = ids.iter().map(|i| (i.as_str(), "t3.nano")).collect();
    match n
        .normalize_record("attacker", launch(&flood).to_string())
        .await
        .expect("normalized")
    {
        Item::Rejected(r) => assert!(
            r.reason.contains(&format!("more than the {MAX_COUNT}")),
            "{r}"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    let stored = store
        .facts(
            "attacker",
            &[FactKey::new(ACCOUNT, FactKind::Instance, &ids[0])],
        )
        .await
        .expect("facts");
    assert_eq!(stored, vec![None]);
    assert_eq!(started_as(&n, "attacker", &ids[0]).await, "unknown");
}

#[tokio::test]
async fn a_services_normalizers_refuse_an_event_time_past_the_clock() {
    let store = Arc::new(MemoryStore::new());
    let n = normalizers(&store);
    let mut future = launch(&[("i-f", "m5.large")]);
    future["eventTime"] = json!("9999-12-31T23:59:59Z");
    match n
        .normalize_record("acme", future.to_string())
        .await
        .expect("normalized")
    {
        Item::Rejected(r) => assert_eq!(r.field, "eventTime"),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_replaced_catalog_prices_the_next_record_and_what_was_learned_stays() {
    let store = Arc::new(MemoryStore::new());
    let current = dd0c_ingest::Current::new(PriceCatalog::bundled());
    let normalizers = Normalizers::new(current.clone(), store.clone());
    let before = priced(&normalizers, "t1", &launch(&[("i-cat1", "m5.large")])).await;
    assert!((before[0].unit_hourly_usd - 0.096).abs() < 1e-9);

    let mut cheaper: Value =
        serde_json::from_str(&PriceCatalog::bundled().to_json()).expect("the bundled catalog");
    cheaper["hourly"]["ec2.instance"]["m5.large"] = json!(0.05);
    cheaper["as_of"] = json!("2026-12-01");
    current.replace(Arc::new(
        PriceCatalog::parse(&cheaper.to_string(), "cheaper.json").expect("valid"),
    ));
    let after = priced(&normalizers, "t1", &launch(&[("i-cat2", "m5.large")])).await;
    assert!(
        (after[0].unit_hourly_usd - 0.05).abs() < 1e-9,
        "{}",
        after[0].unit_hourly_usd
    );
    let restarted = priced(&normalizers, "t1", &start("i-cat1")).await;
    assert_eq!(
        restarted[0].resource_type, "m5.large",
        "what the tenant taught is kept"
    );
    assert!((restarted[0].unit_hourly_usd - 0.05).abs() < 1e-9);
}
