//! The resource ledger's contract: idempotent, order-free recording; lookups by key and by
//! anomaly; lists by filter and cursor; links that wait for their records; resources found
//! gone; retention; tenants apart.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::fixtures::{unique, unique_account_id};
use crate::domain::Change;
use crate::ledger::{
    Link, Mark, ResourceChange, ResourceFilter, ResourceKey, ResourceLedger, ResourceRecord,
    TenantChanges,
};

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0)
        .single()
        .expect("a valid fixed date")
}

fn change(key: &ResourceKey, change: Change, hour: i64, event_id: &str) -> ResourceChange {
    let priced = change.is_priced();
    ResourceChange {
        key: key.clone(),
        change,
        resource_kind: "ec2.instance".into(),
        resource_type: if priced { "p4d.24xlarge" } else { "unknown" }.into(),
        quantity: 1,
        unit_hourly_usd: if priced { 32.77 } else { 0.0 },
        priced,
        mark: Mark {
            at: epoch() + Duration::hours(hour),
            actor_arn: "arn:aws:iam::111122223333:user/alice".into(),
            event_id: event_id.into(),
            call: format!("{change}"),
        },
    }
}

fn link(anomaly_id: &str, keys: &[ResourceKey]) -> Link {
    Link {
        anomaly_id: anomaly_id.into(),
        keys: keys.to_vec(),
    }
}

fn keys(account: &str, ids: &[&str]) -> Vec<ResourceKey> {
    ids.iter()
        .map(|id| ResourceKey::new(account, "us-east-1", id))
        .collect()
}

fn ended(record: &ResourceRecord) -> bool {
    record.life(epoch() + Duration::days(30)).ended.is_some()
}

/// Runs every case against `ledger`.
pub async fn ledger_suite(ledger: &dyn ResourceLedger) {
    redelivery_and_order_give_the_same_record(ledger).await;
    lookups_by_key_and_by_anomaly(ledger).await;
    lists_filter_and_page(ledger).await;
    found_gone_and_retention(ledger).await;
    tenants_stay_apart(ledger).await;
    several_tenants_in_one_recording(ledger).await;
}

async fn redelivery_and_order_give_the_same_record(ledger: &dyn ResourceLedger) {
    let account = unique_account_id();
    let key = &keys(&account, &["i-0a"])[0];
    let create = change(key, Change::Create, 0, "e-create");
    let stop = change(key, Change::Stop, 2, "e-stop");
    let end = change(key, Change::End, 5, "e-end");

    let in_order = unique("ledger-order");
    ledger
        .record(&in_order, &[create.clone(), stop.clone()])
        .await
        .expect("record");
    let touched = ledger
        .record(&in_order, std::slice::from_ref(&end))
        .await
        .expect("record");
    assert_eq!(touched.len(), 1, "one record per resource touched");
    assert!(ended(&touched[0]), "the end applies: {touched:?}");

    let shuffled = unique("ledger-shuffled");
    // The end first, then everything twice, in one call and across calls.
    ledger
        .record(&shuffled, std::slice::from_ref(&end))
        .await
        .expect("record");
    ledger
        .record(&shuffled, &[stop.clone(), create.clone(), stop.clone()])
        .await
        .expect("record");
    ledger
        .record(&shuffled, &[create, end, stop])
        .await
        .expect("record");

    let a = ledger
        .resources(&in_order, std::slice::from_ref(key))
        .await
        .expect("read")
        .remove(0)
        .expect("recorded");
    let b = ledger
        .resources(&shuffled, std::slice::from_ref(key))
        .await
        .expect("read")
        .remove(0)
        .expect("recorded");
    assert_eq!(a.changes, b.changes, "redelivery and order change nothing");
    assert_eq!(a.changes.len(), 3);
    let life = b.life(epoch() + Duration::days(1));
    assert_eq!(life.actual_cost(), Some(2.0 * 32.77));
    assert_eq!(
        life.ended.and_then(|e| e.by).map(|m| m.event_id).as_deref(),
        Some("e-end")
    );
}

async fn lookups_by_key_and_by_anomaly(ledger: &dyn ResourceLedger) {
    let tenant = unique("ledger-lookup");
    let account = unique_account_id();
    let launched = keys(&account, &["i-1", "i-2", "i-3"]);
    let changes: Vec<ResourceChange> = launched
        .iter()
        .map(|k| change(k, Change::Create, 0, "e-launch"))
        .collect();
    let touched = ledger.record(&tenant, &changes).await.expect("record");
    assert_eq!(
        touched.iter().map(|r| r.key.clone()).collect::<Vec<_>>(),
        launched,
        "touched records in first-appearance order"
    );

    // A link to a resource the ledger does not hold yet waits for its changes.
    let mut linked = launched.clone();
    linked.push(ResourceKey::new(&account, "us-east-1", "i-late"));
    ledger
        .link(&tenant, &[link("an-1", &linked)])
        .await
        .expect("link");
    // Neither a later call nor a later link of the same call takes a named resource; a link
    // of the same call names what no earlier link did.
    let own = ResourceKey::new(&account, "us-east-1", "i-own");
    ledger
        .link(
            &tenant,
            &[
                link("an-2", &linked[..1]),
                link("an-3", &[own.clone(), linked[0].clone()]),
            ],
        )
        .await
        .expect("link");
    ledger
        .record(&tenant, &[change(&linked[3], Change::Create, 1, "e-late")])
        .await
        .expect("record");

    let mut of_anomaly = ledger.of_anomaly(&tenant, "an-1").await.expect("read");
    of_anomaly.sort_by(|a, b| a.key.cmp(&b.key));
    let mut expected = linked.clone();
    expected.sort();
    assert_eq!(
        of_anomaly.iter().map(|r| r.key.clone()).collect::<Vec<_>>(),
        expected,
        "the first anomaly to name a resource keeps it"
    );
    assert!(
        of_anomaly.iter().all(|r| r.changes.len() == 1),
        "{of_anomaly:?}"
    );
    assert!(ledger
        .of_anomaly(&tenant, "an-2")
        .await
        .expect("read")
        .is_empty());
    let third = ledger.of_anomaly(&tenant, "an-3").await.expect("read");
    assert_eq!(
        third.iter().map(|r| r.key.clone()).collect::<Vec<_>>(),
        vec![own.clone()],
        "a link names what no earlier link did"
    );
    let mut both: Vec<(ResourceKey, Option<String>)> = ledger
        .of_anomalies(&tenant, &["an-1", "an-3", "an-none"])
        .await
        .expect("read")
        .into_iter()
        .map(|r| (r.key, r.anomaly_id))
        .collect();
    both.sort();
    let mut expected_both: Vec<(ResourceKey, Option<String>)> = linked
        .iter()
        .map(|k| (k.clone(), Some("an-1".to_owned())))
        .chain([(own, Some("an-3".to_owned()))])
        .collect();
    expected_both.sort();
    assert_eq!(both, expected_both, "several anomalies' records at once");

    let mut asked = vec![ResourceKey::new(&account, "us-east-1", "i-none")];
    asked.extend(launched.iter().rev().cloned());
    let found = ledger.resources(&tenant, &asked).await.expect("read");
    assert!(found[0].is_none());
    assert_eq!(
        found[1..]
            .iter()
            .map(|r| r.as_ref().map(|r| r.key.clone()))
            .collect::<Vec<_>>(),
        launched.iter().rev().cloned().map(Some).collect::<Vec<_>>(),
        "in the order asked"
    );
}

async fn lists_filter_and_page(ledger: &dyn ResourceLedger) {
    let tenant = unique("ledger-list");
    let account = unique_account_id();
    let other_account = unique_account_id();
    let mut changes = Vec::new();
    for (i, key) in keys(&account, &["i-1", "i-2", "i-3", "i-4", "i-5"])
        .iter()
        .enumerate()
    {
        changes.push(change(key, Change::Create, i as i64, &format!("e-{i}")));
    }
    for key in keys(&account, &["i-1", "i-2"]) {
        changes.push(change(
            &key,
            Change::End,
            10,
            &format!("e-end-{}", key.resource_id),
        ));
    }
    let mut volume = change(
        &keys(&other_account, &["vol-1"])[0],
        Change::Create,
        7,
        "e-vol",
    );
    volume.resource_kind = "ec2.volume".into();
    changes.push(volume);
    ledger.record(&tenant, &changes).await.expect("record");

    let ids = |page: &[ResourceRecord]| -> Vec<String> {
        page.iter().map(|r| r.key.resource_id.clone()).collect()
    };
    let all = ledger
        .list(&tenant, &ResourceFilter::default(), None, 100)
        .await
        .expect("list");
    assert_eq!(
        ids(&all.items),
        ["vol-1", "i-5", "i-4", "i-3", "i-2", "i-1"],
        "newest first"
    );
    assert!(all.next_cursor.is_none());

    let running = ResourceFilter {
        ended: Some(false),
        account_id: Some(account.clone()),
        ..ResourceFilter::default()
    };
    let first = ledger.list(&tenant, &running, None, 2).await.expect("list");
    assert_eq!(ids(&first.items), ["i-5", "i-4"]);
    let cursor = first.next_cursor.expect("more");
    let second = ledger
        .list(&tenant, &running, Some(&cursor), 2)
        .await
        .expect("list");
    assert_eq!(ids(&second.items), ["i-3"]);
    assert!(second.next_cursor.is_none());

    let ended = ResourceFilter {
        ended: Some(true),
        ..ResourceFilter::default()
    };
    let gone = ledger.list(&tenant, &ended, None, 100).await.expect("list");
    assert_eq!(ids(&gone.items), ["i-2", "i-1"]);
    let volumes = ResourceFilter {
        resource_kind: Some("ec2.volume".into()),
        ..ResourceFilter::default()
    };
    let listed = ledger
        .list(&tenant, &volumes, None, 100)
        .await
        .expect("list");
    assert_eq!(ids(&listed.items), ["vol-1"]);
    let early = ResourceFilter {
        began_by: Some(epoch() + Duration::hours(2)),
        ..ResourceFilter::default()
    };
    let listed = ledger.list(&tenant, &early, None, 100).await.expect("list");
    assert_eq!(
        ids(&listed.items),
        ["i-3", "i-2", "i-1"],
        "only what began by the time, that time included"
    );
    assert!(
        ledger
            .list(&tenant, &ResourceFilter::default(), Some("nonsense"), 10)
            .await
            .is_err(),
        "a cursor the ledger did not give is refused"
    );
}

async fn found_gone_and_retention(ledger: &dyn ResourceLedger) {
    let tenant = unique("ledger-gone");
    let account = unique_account_id();
    let [old, found_gone, running] =
        <[ResourceKey; 3]>::try_from(keys(&account, &["i-old", "i-gone", "i-running"]))
            .expect("three");
    ledger
        .record(
            &tenant,
            &[
                change(&old, Change::Create, 0, "e-1"),
                change(&old, Change::End, 1, "e-2"),
                change(&found_gone, Change::Create, 0, "e-3"),
                change(&running, Change::Create, 0, "e-4"),
            ],
        )
        .await
        .expect("record");
    let gone_at = epoch() + Duration::days(3);
    ledger
        .mark_unseen(&tenant, std::slice::from_ref(&found_gone), gone_at)
        .await
        .expect("mark");
    let read = ledger
        .resources(&tenant, std::slice::from_ref(&found_gone))
        .await
        .expect("read")
        .remove(0)
        .expect("kept");
    let life = read.life(epoch() + Duration::days(10));
    let end = life.ended.expect("ended as gone");
    assert_eq!((end.at, end.by), (gone_at, None));

    // Retention forgets what ended before its cut-off, nothing else.
    let pruned = ledger
        .prune_ended(epoch() + Duration::days(2))
        .await
        .expect("prune");
    assert!(pruned >= 1, "{pruned}");
    let left = ledger
        .resources(&tenant, &[old, found_gone.clone(), running.clone()])
        .await
        .expect("read");
    assert!(left[0].is_none(), "ended before the cut-off: forgotten");
    assert!(left[1].is_some() && left[2].is_some(), "{left:?}");
    ledger
        .prune_ended(epoch() + Duration::days(4))
        .await
        .expect("prune");
    let left = ledger
        .resources(&tenant, &[found_gone, running])
        .await
        .expect("read");
    assert!(left[0].is_none() && left[1].is_some(), "{left:?}");
}

async fn tenants_stay_apart(ledger: &dyn ResourceLedger) {
    let (a, b) = (unique("ledger-a"), unique("ledger-b"));
    let account = unique_account_id();
    let key = &keys(&account, &["i-shared-name"])[0];
    ledger
        .record(&a, &[change(key, Change::Create, 0, "e-a")])
        .await
        .expect("record");
    ledger
        .link(&a, &[link("an-a", std::slice::from_ref(key))])
        .await
        .expect("link");
    assert!(ledger
        .resources(&b, std::slice::from_ref(key))
        .await
        .expect("read")[0]
        .is_none());
    assert!(ledger
        .of_anomaly(&b, "an-a")
        .await
        .expect("read")
        .is_empty());
    assert!(ledger
        .list(&b, &ResourceFilter::default(), None, 10)
        .await
        .expect("list")
        .items
        .is_empty());
    ledger
        .record(&b, &[change(key, Change::End, 1, "e-b")])
        .await
        .expect("record");
    let in_a = ledger
        .resources(&a, std::slice::from_ref(key))
        .await
        .expect("read")
        .remove(0)
        .expect("kept");
    assert_eq!(in_a.changes.len(), 1, "b's end is not a's");
}

async fn several_tenants_in_one_recording(ledger: &dyn ResourceLedger) {
    let (a, b) = (unique("ledger-each-a"), unique("ledger-each-b"));
    let account = unique_account_id();
    let shared = &keys(&account, &["i-shared-name"])[0];
    let later = &keys(&account, &["i-later"])[0];
    ledger
        .record(&a, &[change(shared, Change::Create, 0, "e-a-create")])
        .await
        .expect("record");
    let of = |tenant: &str, changes: Vec<ResourceChange>| TenantChanges {
        tenant: tenant.to_owned(),
        changes,
    };
    // a's held resource ends, b's of the same name begins, and a is named twice.
    let batch = [
        of(&a, vec![change(shared, Change::End, 3, "e-a-end")]),
        of(&b, vec![change(shared, Change::Create, 1, "e-b-create")]),
        of(&a, vec![change(later, Change::Create, 2, "e-a-later")]),
        of(&b, Vec::new()),
    ];
    let touched = ledger.record_each(&batch).await.expect("record each");
    let shape: Vec<Vec<(&str, &str, usize)>> = touched
        .iter()
        .map(|records| {
            records
                .iter()
                .map(|r| {
                    let id = r.key.resource_id.as_str();
                    (r.tenant.as_str(), id, r.changes.len())
                })
                .collect()
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            vec![(a.as_str(), "i-shared-name", 2)],
            vec![(b.as_str(), "i-shared-name", 1)],
            vec![(a.as_str(), "i-later", 1)],
            vec![],
        ],
        "each tenant's touched records, in the batch's order"
    );
    assert!(ended(&touched[0][0]), "a's end applies to a's record");
    assert!(!ended(&touched[1][0]), "and not to b's");

    let again = ledger.record_each(&batch).await.expect("record each again");
    assert_eq!(again, touched, "a redelivered batch changes nothing");
    let in_b = ledger
        .resources(&b, &[shared.clone(), later.clone()])
        .await
        .expect("read");
    assert_eq!(in_b[0].as_ref().map(|r| r.changes.len()), Some(1));
    assert!(in_b[1].is_none(), "a's resource is not b's");
}
