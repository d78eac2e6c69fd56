//! The [`SourceStore`] suite: trails, checkpoints, files read, heartbeats and ingest status.

use chrono::{Duration, TimeZone, Utc};

use super::fixtures::{unique, unique_account_id};
use crate::sources::{AgentBeat, SourceKind, SourceStore, Trail, TrailObject};

/// Runs every case against `store`.
pub async fn source_store_suite(store: &dyn SourceStore) {
    trails_are_replaced_per_account_and_removed(store).await;
    a_file_read_is_remembered_by_key_and_etag(store).await;
    the_checkpoint_only_moves_forward(store).await;
    files_read_before_a_time_are_forgotten(store).await;
    heartbeats_replace_and_stay_in_their_tenant(store).await;
    ingest_status_keeps_the_newest_event(store).await;
}

fn object(key: &str, etag: &str) -> TrailObject {
    TrailObject {
        key: key.to_owned(),
        etag: etag.to_owned(),
        size: 100,
        last_modified: Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap(),
    }
}

/// Reads a day apart, long ago (no other suite's reads are older): forgetting before the second
/// forgets only the first.
async fn files_read_before_a_time_are_forgotten(store: &dyn SourceStore) {
    let (tenant, account_id) = (unique("t"), unique_account_id());
    let day = Utc.with_ymd_and_hms(2001, 1, 1, 0, 0, 0).unwrap();
    let (old, new) = (
        object("AWSLogs/a/old.json.gz", "e1"),
        object("AWSLogs/a/new.json.gz", "e2"),
    );
    for (file, at) in [(&old, day), (&new, day + Duration::days(1))] {
        store
            .mark_read(&tenant, &account_id, "AWSLogs/a/", file, None, at)
            .await
            .expect("mark read");
    }
    let forgotten = store
        .forget_reads_before(day + Duration::hours(12))
        .await
        .expect("forget");
    assert!(forgotten >= 1, "the older read is forgotten: {forgotten}");
    assert_eq!(
        store
            .already_read(&tenant, &account_id, &[old, new])
            .await
            .expect("already read"),
        [false, true]
    );
}

fn beat(tenant: &str, account_id: &str, agent_id: &str) -> AgentBeat {
    AgentBeat {
        tenant: tenant.to_owned(),
        account_id: account_id.to_owned(),
        agent_id: agent_id.to_owned(),
        version: "1.0.0".to_owned(),
        hostname: "ip-10-0-0-1".to_owned(),
        source: "sqs".to_owned(),
        last_seen: Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap(),
        newest_event_time: Some(Utc.with_ymd_and_hms(2026, 11, 1, 11, 59, 0).unwrap()),
        spooled: 0,
        forwarded: 10,
    }
}

async fn trails_are_replaced_per_account_and_removed(store: &dyn SourceStore) {
    let tenant = unique("t");
    let account_id = unique_account_id();
    let mut trail = Trail {
        tenant: tenant.clone(),
        account_id: account_id.clone(),
        location: "s3://trail-one".parse().unwrap(),
    };
    store.put_trail(&trail).await.expect("trail stored");
    trail.location = "s3://trail-two/org".parse().unwrap();
    store.put_trail(&trail).await.expect("trail replaced");
    let other = Trail {
        tenant: unique("t"),
        ..trail.clone()
    };
    store
        .put_trail(&other)
        .await
        .expect("another tenant's trail");
    let mine = store.trails(Some(&tenant)).await.expect("trails listed");
    assert_eq!(
        mine,
        vec![trail.clone()],
        "one trail per account, the latest, and only the tenant's"
    );
    let every = store.trails(None).await.expect("every trail");
    assert!(
        every.contains(&trail) && every.contains(&other),
        "{every:?}"
    );
    assert!(store.remove_trail(&tenant, &account_id).await.unwrap());
    assert!(!store.remove_trail(&tenant, &account_id).await.unwrap());
    assert!(store.trails(Some(&tenant)).await.unwrap().is_empty());
}

async fn a_file_read_is_remembered_by_key_and_etag(store: &dyn SourceStore) {
    let tenant = unique("t");
    let account_id = unique_account_id();
    let folder = "AWSLogs/1/CloudTrail/us-east-1/";
    let first = object("AWSLogs/1/CloudTrail/us-east-1/2026/11/01/a.json.gz", "e1");
    let rewritten = object(&first.key, "e2");
    let now = Utc::now();
    store
        .mark_read(&tenant, &account_id, folder, &first, None, now)
        .await
        .expect("file marked read");
    let read = store
        .already_read(&tenant, &account_id, &[first.clone(), rewritten.clone()])
        .await
        .expect("files looked up");
    assert_eq!(read, vec![true, false], "a rewritten file is read again");
    let other_tenant = store
        .already_read(&unique("t"), &account_id, &[first])
        .await
        .unwrap();
    assert_eq!(other_tenant, vec![false], "files read are per tenant");
}

async fn the_checkpoint_only_moves_forward(store: &dyn SourceStore) {
    let tenant = unique("t");
    let account_id = unique_account_id();
    let folder = "AWSLogs/1/CloudTrail/eu-west-1/";
    assert_eq!(
        store
            .checkpoint(&tenant, &account_id, folder)
            .await
            .unwrap(),
        None
    );
    let now = Utc::now();
    for key in ["b", "c", "a"] {
        store
            .mark_read(
                &tenant,
                &account_id,
                folder,
                &object(&format!("{folder}{key}"), "e"),
                None,
                now,
            )
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .checkpoint(&tenant, &account_id, folder)
            .await
            .unwrap(),
        Some(format!("{folder}c")),
        "a late file with an earlier key does not move the checkpoint back"
    );
    assert_eq!(
        store
            .checkpoint(&tenant, &account_id, "AWSLogs/1/CloudTrail/us-west-2/")
            .await
            .unwrap(),
        None,
        "checkpoints are per folder"
    );
}

async fn heartbeats_replace_and_stay_in_their_tenant(store: &dyn SourceStore) {
    let tenant = unique("t");
    let account_id = unique_account_id();
    let mut first = beat(&tenant, &account_id, "agent-b");
    store.heartbeat(&first).await.expect("heartbeat stored");
    first.forwarded = 99;
    first.last_seen += Duration::seconds(30);
    store.heartbeat(&first).await.expect("heartbeat replaced");
    let second = beat(&tenant, &account_id, "agent-a");
    store.heartbeat(&second).await.unwrap();
    store
        .heartbeat(&beat(&unique("t"), &account_id, "agent-c"))
        .await
        .unwrap();
    let agents = store.agents(&tenant).await.expect("agents listed");
    assert_eq!(agents, vec![second, first], "by account and agent id");
}

async fn ingest_status_keeps_the_newest_event(store: &dyn SourceStore) {
    let tenant = unique("t");
    let account_id = unique_account_id();
    let folder = "AWSLogs/1/CloudTrail/us-east-1/";
    let newer = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
    let older = newer - Duration::minutes(10);
    let at = Utc.with_ymd_and_hms(2026, 11, 1, 12, 5, 0).unwrap();
    store
        .mark_read(
            &tenant,
            &account_id,
            folder,
            &object("k1", "e"),
            Some(newer),
            at,
        )
        .await
        .unwrap();
    store
        .mark_read(
            &tenant,
            &account_id,
            folder,
            &object("k2", "e"),
            Some(older),
            at,
        )
        .await
        .unwrap();
    store
        .heartbeat(&beat(&tenant, &account_id, "agent-a"))
        .await
        .unwrap();
    let status = store
        .ingest_status(Some(&tenant))
        .await
        .expect("status listed");
    let s3 = status
        .iter()
        .find(|s| s.source == SourceKind::S3)
        .expect("an S3 status");
    assert_eq!(
        (s3.newest_event_time, s3.last_seen),
        (Some(newer), at),
        "an older file does not move the newest event back"
    );
    assert_eq!(s3.lag_seconds(at), Some(300.0));
    assert!(
        status.iter().any(|s| s.source == SourceKind::Agent),
        "{status:?}"
    );
    assert!(store
        .ingest_status(None)
        .await
        .unwrap()
        .iter()
        .any(|s| s.tenant == tenant));
}
