//! The findings store's contract: findings replace by id, list by waste and filter, stay within
//! their tenant, and are forgotten on request.

use chrono::{Duration, TimeZone, Utc};

use super::fixtures::{unique, unique_account_id};
use crate::store::Stores;
use crate::zombie::{Evidence, Finding, FindingFilter, FindingStatus, ZombieKind, ZombieState};

/// A finding of `kind` on `resource_id` with `waste` USD/month.
pub fn finding(
    tenant: &str,
    account_id: &str,
    kind: ZombieKind,
    resource_id: &str,
    waste: f64,
) -> Finding {
    let seen = Utc
        .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .expect("a valid fixed date");
    Finding {
        finding_id: Finding::id_for(tenant, account_id, "us-east-1", kind, resource_id),
        tenant: tenant.to_owned(),
        account_id: account_id.to_owned(),
        region: "us-east-1".to_owned(),
        kind,
        resource_id: resource_id.to_owned(),
        resource_arn: format!("arn:aws:ec2:us-east-1:{account_id}:thing/{resource_id}"),
        resource_type: "gp3".to_owned(),
        state: ZombieState::Idle,
        monthly_waste_usd: waste,
        evidence: vec![Evidence {
            metric: "attachments".to_owned(),
            statistic: "describe".to_owned(),
            period_seconds: 0,
            unit: String::new(),
            days_evaluated: 7,
            datapoints: 1,
            threshold: Some(0.0),
            observed: Some(0.0),
        }],
        explanation: "unattached for a week".to_owned(),
        first_seen: seen - Duration::days(7),
        last_seen: seen,
        status: FindingStatus::Open,
        ignored_reason: None,
        gone_at: None,
    }
}

/// Runs every findings case against one backend.
pub async fn zombie_store_suite(stores: &Stores) {
    findings_replace_by_id_and_list_by_waste(stores).await;
    findings_filter_and_stay_in_their_tenant(stores).await;
    findings_are_forgotten_on_request(stores).await;
}

async fn findings_replace_by_id_and_list_by_waste(stores: &Stores) {
    let tenant = unique("t");
    let account = unique_account_id();
    let small = finding(&tenant, &account, ZombieKind::EbsUnattached, "vol-1", 8.0);
    let big = finding(&tenant, &account, ZombieKind::NatIdle, "nat-1", 32.85);
    stores
        .zombies
        .put_findings(&[small.clone(), big.clone()])
        .await
        .expect("findings stored");
    let listed = stores
        .zombies
        .findings(&tenant, &FindingFilter::default())
        .await
        .expect("findings listed");
    assert_eq!(listed, vec![big.clone(), small.clone()], "most waste first");

    let mut ignored = small.clone();
    ignored.status = FindingStatus::Ignored;
    ignored.ignored_reason = Some("kept for the audit".to_owned());
    ignored.monthly_waste_usd = 100.0;
    stores
        .zombies
        .put_findings(std::slice::from_ref(&ignored))
        .await
        .expect("finding replaced");
    assert_eq!(
        stores
            .zombies
            .finding(&tenant, &small.finding_id)
            .await
            .expect("finding read"),
        Some(ignored.clone()),
        "a finding with the same id replaces the stored one"
    );
    let listed = stores
        .zombies
        .findings(&tenant, &FindingFilter::default())
        .await
        .expect("findings listed");
    assert_eq!(listed, vec![ignored, big], "one finding per id, reordered");
}

async fn findings_filter_and_stay_in_their_tenant(stores: &Stores) {
    let (ours, theirs) = (unique("t"), unique("t"));
    let (a, b) = (unique_account_id(), unique_account_id());
    let eip = finding(&ours, &a, ZombieKind::EipUnassociated, "eipalloc-1", 3.65);
    let mut gone = finding(&ours, &b, ZombieKind::RdsIdle, "db-1", 120.0);
    gone.status = FindingStatus::Gone;
    let other = finding(&theirs, &a, ZombieKind::EipUnassociated, "eipalloc-1", 3.65);
    stores
        .zombies
        .put_findings(&[eip.clone(), gone.clone(), other.clone()])
        .await
        .expect("findings stored");

    let by = |filter: FindingFilter| {
        let tenant = ours.clone();
        async move {
            stores
                .zombies
                .findings(&tenant, &filter)
                .await
                .expect("findings listed")
        }
    };
    assert_eq!(
        by(FindingFilter {
            account_id: Some(a.clone()),
            ..FindingFilter::default()
        })
        .await,
        vec![eip.clone()],
        "by account"
    );
    assert_eq!(
        by(FindingFilter {
            kinds: vec![ZombieKind::RdsIdle],
            ..FindingFilter::default()
        })
        .await,
        vec![gone.clone()],
        "by kind"
    );
    assert_eq!(
        by(FindingFilter {
            statuses: vec![FindingStatus::Open],
            ..FindingFilter::default()
        })
        .await,
        vec![eip.clone()],
        "by status"
    );
    assert_eq!(
        stores
            .zombies
            .finding(&ours, &other.finding_id)
            .await
            .expect("finding read"),
        None,
        "another tenant's finding is not found"
    );
    assert_eq!(
        stores
            .zombies
            .findings(&theirs, &FindingFilter::default())
            .await
            .expect("findings listed"),
        vec![other],
        "each tenant sees only its own"
    );
}

async fn findings_are_forgotten_on_request(stores: &Stores) {
    let (ours, theirs) = (unique("t"), unique("t"));
    let account = unique_account_id();
    let kept = finding(&ours, &account, ZombieKind::ElbIdle, "lb-1", 16.43);
    let dropped = finding(&ours, &account, ZombieKind::Ec2Idle, "i-1", 60.0);
    let theirs_same_id = Finding {
        tenant: theirs.clone(),
        ..dropped.clone()
    };
    stores
        .zombies
        .put_findings(&[kept.clone(), dropped.clone(), theirs_same_id.clone()])
        .await
        .expect("findings stored");
    stores
        .zombies
        .remove_findings(
            &ours,
            &[
                dropped.finding_id.clone(),
                "zf_000000000000000000000000".to_owned(),
            ],
        )
        .await
        .expect("findings removed, unknown ids skipped");
    assert_eq!(
        stores
            .zombies
            .findings(&ours, &FindingFilter::default())
            .await
            .expect("findings listed"),
        vec![kept]
    );
    assert_eq!(
        stores
            .zombies
            .finding(&theirs, &theirs_same_id.finding_id)
            .await
            .expect("finding read"),
        Some(theirs_same_id),
        "removing touches only the caller's tenant"
    );
}
