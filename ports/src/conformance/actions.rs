//! The decision log's contract: an action is added with its first step, moves only from the
//! status a step expects (so a replay writes nothing), keeps every step in order, pages newest
//! first, stays within its tenant, and is forgotten once final and old.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::fixtures::{unique, unique_account_id};
use crate::remediation::{
    Action, ActionFilter, ActionId, ActionRecord, ActionStatus, Call, Decision, Step, Subject,
    WayBack,
};
use crate::store::Stores;
use crate::PortError;

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .expect("a valid fixed date")
}

/// A requested `delete_volume` of `volume_id`, `minute` minutes after a fixed epoch.
pub fn requested_action(
    tenant: &str,
    account_id: &str,
    volume_id: &str,
    minute: i64,
) -> ActionRecord {
    let at = epoch() + Duration::minutes(minute);
    ActionRecord {
        action_id: ActionId::new(),
        tenant: tenant.to_owned(),
        account_id: account_id.to_owned(),
        region: "us-east-1".to_owned(),
        subject: Subject::Finding(format!("zf_{volume_id}")),
        action: Action::DeleteVolume {
            volume_id: volume_id.to_owned(),
        },
        monthly_usd: 8.0,
        requested_by: "member@example.com".to_owned(),
        requested_at: at,
        status: ActionStatus::Requested,
        updated_at: at,
        way_back: None,
    }
}

fn step(action: &ActionRecord, minute: i64, actor: &str, step: Step) -> Decision {
    Decision::new(
        action.requested_at + Duration::minutes(minute),
        actor,
        step,
        "mode=approve",
        format!("{step}"),
    )
}

/// Runs every decision-log case against one backend.
pub async fn action_store_suite(stores: &Stores) {
    an_action_is_added_with_its_first_step(stores).await;
    a_step_moves_only_from_the_status_it_expects(stores).await;
    a_run_records_its_calls_and_way_back(stores).await;
    actions_page_newest_first_and_filter(stores).await;
    actions_stay_in_their_tenant(stores).await;
    final_actions_are_forgotten_after_retention(stores).await;
}

async fn an_action_is_added_with_its_first_step(stores: &Stores) {
    let tenant = unique("t");
    let action = requested_action(&tenant, &unique_account_id(), "vol-1", 0);
    let first = step(&action, 0, &action.requested_by, Step::Requested);
    stores
        .actions
        .add_action(&action, &first)
        .await
        .expect("add");
    assert_eq!(
        stores
            .actions
            .action(&tenant, &action.action_id)
            .await
            .expect("read"),
        Some(action.clone())
    );
    assert_eq!(
        stores
            .actions
            .decisions(&tenant, &action.action_id)
            .await
            .expect("log"),
        vec![first.clone()]
    );
    assert!(
        matches!(
            stores.actions.add_action(&action, &first).await,
            Err(PortError::Conflict(_))
        ),
        "an id is taken once"
    );
    assert_eq!(
        stores
            .actions
            .decisions(&tenant, &action.action_id)
            .await
            .expect("log")
            .len(),
        1,
        "a refused add appends nothing"
    );
}

/// Adds `action` with its first step: requested by a member.
async fn add_requested(stores: &Stores, action: &ActionRecord) {
    stores
        .actions
        .add_action(
            action,
            &step(action, 0, "member@example.com", Step::Requested),
        )
        .await
        .expect("add");
}

async fn a_step_moves_only_from_the_status_it_expects(stores: &Stores) {
    let tenant = unique("t");
    let action = requested_action(&tenant, &unique_account_id(), "vol-2", 0);
    let id = &action.action_id;
    add_requested(stores, &action).await;
    let approval = step(&action, 5, "admin@example.com", Step::Approved);
    let approved = stores
        .actions
        .decide(
            &tenant,
            id,
            &[ActionStatus::Requested],
            ActionStatus::Approved,
            &approval,
        )
        .await
        .expect("approve")
        .expect("moved from requested");
    assert_eq!(approved.status, ActionStatus::Approved);
    assert_eq!(approved.updated_at, approval.at);
    assert_eq!(approved.requested_at, action.requested_at);

    let replay = stores
        .actions
        .decide(
            &tenant,
            id,
            &[ActionStatus::Requested],
            ActionStatus::Approved,
            &approval,
        )
        .await
        .expect("replay");
    assert_eq!(replay, None, "a replayed approval moves nothing");
    let rejection = step(&action, 6, "admin@example.com", Step::Rejected);
    assert_eq!(
        stores
            .actions
            .decide(
                &tenant,
                id,
                &[ActionStatus::Requested],
                ActionStatus::Rejected,
                &rejection
            )
            .await
            .expect("late rejection"),
        None
    );
    let log = stores.actions.decisions(&tenant, id).await.expect("log");
    let steps: Vec<Step> = log.iter().map(|d| d.step).collect();
    assert_eq!(
        steps,
        [Step::Requested, Step::Approved],
        "nothing appended by a refused step"
    );

    assert!(matches!(
        stores
            .actions
            .decide(
                &tenant,
                &ActionId::new(),
                &[ActionStatus::Requested],
                ActionStatus::Approved,
                &approval
            )
            .await,
        Err(PortError::NotFound(_))
    ));
}

async fn a_run_records_its_calls_and_way_back(stores: &Stores) {
    let tenant = unique("t");
    let action = requested_action(&tenant, &unique_account_id(), "vol-3", 0);
    let id = &action.action_id;
    add_requested(stores, &action).await;
    stores
        .actions
        .decide(
            &tenant,
            id,
            &[ActionStatus::Requested],
            ActionStatus::Approved,
            &step(&action, 1, "admin@example.com", Step::Approved),
        )
        .await
        .expect("approve")
        .expect("approved");
    let way_back = WayBack::Snapshot {
        snapshot_id: "snap-0123".to_owned(),
    };
    let ran = Decision {
        calls: vec![
            Call {
                action: "ec2:CreateSnapshot".to_owned(),
                request_id: Some("req-1".to_owned()),
            },
            Call {
                action: "ec2:DeleteVolume".to_owned(),
                request_id: Some("req-2".to_owned()),
            },
        ],
        way_back: Some(way_back.clone()),
        ..step(&action, 2, "dd0c:worker", Step::Executed)
    };
    let done = stores
        .actions
        .decide(
            &tenant,
            id,
            &[ActionStatus::Approved],
            ActionStatus::Done,
            &ran,
        )
        .await
        .expect("run")
        .expect("moved");
    assert_eq!(done.status, ActionStatus::Done);
    assert_eq!(
        done.way_back,
        Some(way_back),
        "the record keeps its way back"
    );
    let log = stores.actions.decisions(&tenant, id).await.expect("log");
    assert_eq!(
        log.last(),
        Some(&ran),
        "the step keeps its calls and request ids"
    );
    assert_eq!(log.len(), 3);
}

async fn actions_page_newest_first_and_filter(stores: &Stores) {
    let tenant = unique("t");
    let (one, other) = (unique_account_id(), unique_account_id());
    let mut added = Vec::new();
    for minute in 0..5 {
        let account = if minute % 2 == 0 { &one } else { &other };
        let action = requested_action(&tenant, account, &format!("vol-p{minute}"), minute);
        add_requested(stores, &action).await;
        added.push(action);
    }
    stores
        .actions
        .decide(
            &tenant,
            &added[1].action_id,
            &[ActionStatus::Requested],
            ActionStatus::Rejected,
            &step(&added[1], 1, "admin@example.com", Step::Rejected),
        )
        .await
        .expect("reject")
        .expect("rejected");

    let all = ActionFilter::default();
    let first = stores
        .actions
        .actions(&tenant, &all, None, 2)
        .await
        .expect("page 1");
    let ids = |page: &[ActionRecord]| page.iter().map(|a| a.action_id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(&first.items),
        [added[4].action_id.clone(), added[3].action_id.clone()]
    );
    let cursor = first.next_cursor.expect("more follow");
    let second = stores
        .actions
        .actions(&tenant, &all, Some(&cursor), 10)
        .await
        .expect("page 2");
    assert_eq!(
        ids(&second.items),
        [
            added[2].action_id.clone(),
            added[1].action_id.clone(),
            added[0].action_id.clone()
        ]
    );
    assert_eq!(second.next_cursor, None);

    let pending = ActionFilter {
        statuses: vec![ActionStatus::Requested],
        account_id: Some(other.clone()),
    };
    let page = stores
        .actions
        .actions(&tenant, &pending, None, 10)
        .await
        .expect("filtered");
    assert_eq!(
        ids(&page.items),
        [added[3].action_id.clone()],
        "account and status filter"
    );
    assert!(matches!(
        stores
            .actions
            .actions(&tenant, &all, Some("not a cursor"), 10)
            .await,
        Err(PortError::Invalid(_))
    ));
}

async fn actions_stay_in_their_tenant(stores: &Stores) {
    let (a, b) = (unique("t"), unique("t"));
    let action = requested_action(&a, &unique_account_id(), "vol-4", 0);
    let id = &action.action_id;
    add_requested(stores, &action).await;
    assert_eq!(stores.actions.action(&b, id).await.expect("read"), None);
    assert!(stores
        .actions
        .decisions(&b, id)
        .await
        .expect("log")
        .is_empty());
    assert!(stores
        .actions
        .actions(&b, &ActionFilter::default(), None, 10)
        .await
        .expect("list")
        .items
        .is_empty());
    assert!(matches!(
        stores
            .actions
            .decide(
                &b,
                id,
                &[ActionStatus::Requested],
                ActionStatus::Approved,
                &step(&action, 1, "admin@example.com", Step::Approved),
            )
            .await,
        Err(PortError::NotFound(_))
    ));
    assert_eq!(
        stores
            .actions
            .action(&a, id)
            .await
            .expect("read")
            .map(|a| a.status),
        Some(ActionStatus::Requested),
        "another tenant's approval moved nothing"
    );
}

async fn final_actions_are_forgotten_after_retention(stores: &Stores) {
    let tenant = unique("t");
    let account = unique_account_id();
    // Far in the past, so that no other test's actions are old enough to be forgotten here.
    let old = -60 * 24 * 365 * 20;
    let rejected = requested_action(&tenant, &account, "vol-old1", old);
    let pending = requested_action(&tenant, &account, "vol-old2", old);
    let recent = requested_action(&tenant, &account, "vol-new", 0);
    for action in [&rejected, &pending, &recent] {
        add_requested(stores, action).await;
    }
    for action in [&rejected, &recent] {
        stores
            .actions
            .decide(
                &tenant,
                &action.action_id,
                &[ActionStatus::Requested],
                ActionStatus::Rejected,
                &step(action, 1, "admin@example.com", Step::Rejected),
            )
            .await
            .expect("reject")
            .expect("rejected");
    }
    let forgotten = stores
        .actions
        .forget_actions_before(rejected.requested_at + Duration::days(1))
        .await
        .expect("forget");
    assert!(forgotten >= 1, "the old final action is forgotten");
    let kept = |a: &ActionRecord| {
        let id = a.action_id.clone();
        let tenant = tenant.clone();
        async move {
            stores
                .actions
                .action(&tenant, &id)
                .await
                .expect("read")
                .is_some()
        }
    };
    assert!(!kept(&rejected).await);
    assert!(
        stores
            .actions
            .decisions(&tenant, &rejected.action_id)
            .await
            .expect("log")
            .is_empty(),
        "its log goes with it"
    );
    assert!(kept(&pending).await, "an old action still pending is kept");
    assert!(kept(&recent).await, "a recent final action is kept");
}
