use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::domain::{Anomaly, AnomalyStatus, CostEvent, PriceSource, Severity};
use crate::store::{CommitOutcome, ScoreCommit, ScoreStore};

/// A name no other test run will use: `prefix-<pid>-<nanos>-<counter>`.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A 12-digit AWS account id no other test run will use: an AWS account belongs to one tenant,
/// so suites sharing a database cannot each connect the same one.
pub fn unique_account_id() -> String {
    let seed = unique("");
    let digest = <sha2::Sha256 as sha2::Digest>::digest(seed.as_bytes());
    let n = digest[..8]
        .iter()
        .fold(0u64, |n, b| (n << 8) | u64::from(*b));
    format!("{:012}", n % 1_000_000_000_000)
}

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .expect("a valid fixed date")
}

/// A priced `ec2.instance` cost event `minute` minutes after a fixed epoch.
pub fn cost_event(
    tenant: &str,
    account_id: &str,
    event_id: &str,
    minute: i64,
    hourly_usd: f64,
) -> CostEvent {
    CostEvent {
        event_id: event_id.to_owned(),
        event_time: epoch() + Duration::minutes(minute),
        tenant: tenant.to_owned(),
        account_id: account_id.to_owned(),
        region: "us-east-1".into(),
        event_source: "ec2.amazonaws.com".into(),
        event_name: "RunInstances".into(),
        actor_arn: "arn:aws:iam::111122223333:role/ci".into(),
        actor_session: Some("build-1".into()),
        actor_type: "AssumedRole".into(),
        resource_kind: "ec2.instance".into(),
        resource_type: "m5.large".into(),
        resource_ids: vec![format!("i-{event_id}")],
        quantity: 1,
        unit_hourly_usd: hourly_usd,
        hourly_usd,
        monthly_usd: hourly_usd * crate::domain::HOURS_PER_MONTH,
        price_source: PriceSource::Catalog,
        change: Default::default(),
    }
}

/// A warning anomaly raised by `event`.
pub fn anomaly_for(event: &CostEvent) -> Anomaly {
    Anomaly {
        anomaly_id: format!("an-{}", event.event_id),
        event_id: event.event_id.clone(),
        event_time: event.event_time,
        tenant: event.tenant.clone(),
        account_id: event.account_id.clone(),
        region: event.region.clone(),
        actor_arn: event.actor_arn.clone(),
        resource_kind: event.resource_kind.clone(),
        resource_type: event.resource_type.clone(),
        resource_ids: event.resource_ids.clone(),
        quantity: event.quantity,
        hourly_usd: event.hourly_usd,
        monthly_usd: event.monthly_usd,
        severity: Severity::Warning,
        score: 50.0,
        reasons: Vec::new(),
        explanation: "a test anomaly".into(),
        status: AnomalyStatus::Open,
    }
}

/// Commits `count` anomalies of `account_id` for `tenant` through `store`, their events a
/// minute apart, and returns the anomaly ids sorted.
pub async fn commit_anomalies(
    store: &dyn ScoreStore,
    tenant: &str,
    account_id: &str,
    count: i64,
) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..count {
        let event = cost_event(tenant, account_id, &format!("{tenant}-ev{i}"), i, 10.0);
        let anomaly = anomaly_for(&event);
        ids.push(anomaly.anomaly_id.clone());
        commit_anomaly(store, event, anomaly).await;
    }
    ids.sort();
    ids
}

/// Commits `event` with the `anomaly` it raised through `store` (no baselines, no outbox).
pub async fn commit_anomaly(store: &dyn ScoreStore, event: CostEvent, anomaly: Anomaly) {
    let commit = ScoreCommit {
        event,
        baselines: Vec::new(),
        anomaly: Some(anomaly),
        outbox: None,
        consumed: None,
    };
    assert_eq!(
        store.commit(commit).await.expect("commit"),
        CommitOutcome::Committed
    );
}
