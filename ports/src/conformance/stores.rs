use std::collections::BTreeSet;

use chrono::Duration;

use super::fixtures::{anomaly_for, cost_event, unique, unique_account_id};
use crate::auth::IngestGrant;
use crate::baseline::{Baseline, BaselineKey};
use crate::domain::{
    Account, AnomalyStatus, Feedback, FeedbackAction, OutboxMessage, Settings, Severity, Snooze,
    SnoozeScope, Tenant,
};
use crate::ledger::{Link, ResourceKey};
use crate::store::{
    AnomalyFilter, BaselineWrite, CommitOutcome, KeyUse, ScoreBatch, ScoreCommit, ScoredEvent,
    Stores, TenantLinks,
};
use crate::webhook::SigningSecret;
use crate::PortError;

/// Runs every store case against one backend.
pub async fn store_suite(stores: Stores) {
    commit_is_atomic_and_idempotent(&stores).await;
    stale_version_writes_nothing(&stores).await;
    batches_commit_all_or_nothing(&stores).await;
    concurrent_writers_lose_no_update(&stores).await;
    tenants_never_see_each_other(&stores).await;
    anomalies_page_filter_and_take_feedback(&stores).await;
    snoozes_expire(&stores).await;
    cost_events_by_time_range(&stores).await;
    tenants_and_accounts(&stores).await;
    an_aws_account_names_its_tenant(&stores).await;
    settings_default_and_round_trip(&stores).await;
    webhook_secrets_live_beside_settings(&stores).await;
    outbox_delivers_once(&stores).await;
    a_follow_up_is_enqueued_once(&stores).await;
    ingest_tokens_admit_one_account(&stores).await;
    one_replica_claims_each_tick(&stores).await;
    processed_records_are_forgotten_after_retention(&stores).await;
    users_sign_in_by_email_in_one_tenant(&stores).await;
    learned_facts_are_kept_per_tenant(&stores).await;
    account_secrets_stay_apart_and_go_with_the_account(&stores).await;
    super::zombies::zombie_store_suite(&stores).await;
    super::actions::action_store_suite(&stores).await;
}

/// A follow-up enters the outbox outside any scoring commit; writing it again while it is
/// pending (a redelivered end) leaves one message, claimed and delivered as any other.
async fn a_follow_up_is_enqueued_once(stores: &Stores) {
    let tenant = unique("t");
    let event = cost_event(&tenant, "111122223333", "ev-1", 0, 1.0);
    let resolution = crate::domain::Resolution {
        note: "every resource ended (1): TerminateInstances by alice after 2 h 10 min".to_owned(),
        actual_cost_usd: 2.17,
        avoided_usd: 700.5,
        by_person: None,
    };
    let message = OutboxMessage::follow_up(
        anomaly_for(&event),
        resolution,
        event.event_time + Duration::minutes(130),
    );
    for _ in 0..2 {
        stores.outbox.enqueue(&message).await.expect("enqueue");
    }
    let pending = stores.outbox.pending(10_000).await.expect("pending");
    let ours: Vec<_> = pending
        .iter()
        .filter(|m| m.outbox_id == message.outbox_id)
        .collect();
    assert_eq!(ours, vec![&message], "one pending follow-up, as written");
    let lease = std::time::Duration::from_secs(1);
    let claimed = stores.outbox.claim(10_000, lease).await.expect("claim");
    assert!(
        claimed.iter().any(|c| c.message == message),
        "the follow-up is claimed as an alert is"
    );
    stores
        .outbox
        .mark_delivered(&message.outbox_id)
        .await
        .expect("deliver");
    let pending = stores.outbox.pending(10_000).await.expect("pending");
    assert!(!pending.iter().any(|m| m.outbox_id == message.outbox_id));
}

async fn account_secrets_stay_apart_and_go_with_the_account(stores: &Stores) {
    let (ours, theirs) = (unique("t"), unique("t"));
    // Whole seconds: stores keep times to the microsecond at best.
    let at = chrono::DurationRound::duration_trunc(chrono::Utc::now(), Duration::seconds(1))
        .expect("a time in range");
    for name in [&ours, &theirs] {
        stores
            .tenants
            .add_tenant(&Tenant {
                name: name.clone(),
                created_at: at,
            })
            .await
            .expect("add tenant");
    }
    let account = Account {
        tenant: ours.clone(),
        account_id: unique_account_id(),
        name: None,
        created_at: at,
        role_arn: None,
        external_id: None,
        access_key_id: Some("AKIAEXAMPLEKEY000001".into()),
        remediation_role_arn: None,
        remediation_access_key_id: Some("AKIAEXAMPLEKEY000002".into()),
    };
    stores
        .tenants
        .add_account(&account)
        .await
        .expect("add account");
    assert!(
        matches!(
            stores
                .tenants
                .put_account_secret(&theirs, &account.account_id, KeyUse::Read, "v1:00")
                .await,
            Err(PortError::NotFound(_))
        ),
        "a secret goes only to an account the tenant has"
    );
    stores
        .tenants
        .put_account_secret(&ours, &account.account_id, KeyUse::Read, "v1:sealed")
        .await
        .expect("secret stored");
    let read_key = |tenant: String, key: KeyUse| {
        let id = account.account_id.clone();
        async move {
            stores
                .tenants
                .account_secret(&tenant, &id, key)
                .await
                .expect("secret read")
        }
    };
    let read = |tenant: String| read_key(tenant, KeyUse::Read);
    assert_eq!(read(ours.clone()).await.as_deref(), Some("v1:sealed"));
    assert_eq!(
        read(theirs.clone()).await,
        None,
        "another tenant reads nothing"
    );
    assert_eq!(
        read_key(ours.clone(), KeyUse::Act).await,
        None,
        "the acting key's secret is apart"
    );
    stores
        .tenants
        .put_account_secret(&ours, &account.account_id, KeyUse::Act, "v1:acting")
        .await
        .expect("acting secret stored");
    assert_eq!(
        read_key(ours.clone(), KeyUse::Act).await.as_deref(),
        Some("v1:acting")
    );
    assert_eq!(
        read(ours.clone()).await.as_deref(),
        Some("v1:sealed"),
        "storing one key's secret leaves the other's"
    );
    assert_eq!(
        stores
            .tenants
            .account(&ours, &account.account_id)
            .await
            .expect("account read"),
        Some(account.clone()),
        "the account keeps its key id and carries no secret"
    );
    stores
        .tenants
        .remove_account(&ours, &account.account_id)
        .await
        .expect("account removed");
    assert_eq!(
        read(ours.clone()).await,
        None,
        "the secret goes with its account"
    );
    assert_eq!(read_key(ours.clone(), KeyUse::Act).await, None);
}

async fn learned_facts_are_kept_per_tenant(stores: &Stores) {
    use crate::recall::{Fact, FactKey, FactKind};
    let (ours, theirs) = (unique("t"), unique("t"));
    let instance = FactKey::new("123456789012", FactKind::Instance, &unique("i-"));
    let task = FactKey::new("123456789012", FactKind::TaskDefinition, "arn:x/web:3");
    let absent = FactKey::new("123456789012", FactKind::Function, &unique("f"));
    let p5 = Fact::InstanceType("p5.48xlarge".into());
    stores
        .recall
        .remember(
            &ours,
            &[
                (instance.clone(), Fact::InstanceType("t3.micro".into())),
                (task.clone(), Fact::TaskSize { vcpu: 0.5, gb: 1.0 }),
                (instance.clone(), Fact::InstanceType("m5.large".into())),
            ],
        )
        .await
        .expect("remember");
    stores
        .recall
        .remember(&theirs, &[(instance.clone(), p5.clone())])
        .await
        .expect("remember");
    assert_eq!(
        stores
            .recall
            .facts(&ours, &[instance.clone(), absent.clone(), task.clone()])
            .await
            .expect("facts"),
        vec![
            Some(Fact::InstanceType("m5.large".into())),
            None,
            Some(Fact::TaskSize { vcpu: 0.5, gb: 1.0 }),
        ],
        "in the order asked, the later of two writes to one key, nothing for a key never written"
    );
    assert_eq!(
        stores
            .recall
            .facts(&theirs, &[instance.clone(), task.clone()])
            .await
            .expect("facts"),
        vec![Some(p5), None],
        "another tenant's fact under the same account and name is its own"
    );
    let variants = Fact::Variants(vec![("ml.g5.xlarge".into(), 2)]);
    stores
        .recall
        .remember(&ours, &[(instance.clone(), variants.clone())])
        .await
        .expect("overwrite");
    assert_eq!(
        stores
            .recall
            .facts(&ours, &[instance])
            .await
            .expect("facts"),
        vec![Some(variants)],
        "a later call replaces the fact"
    );
    assert_eq!(
        stores.recall.facts(&ours, &[]).await.expect("facts"),
        Vec::<Option<Fact>>::new()
    );
}

async fn users_sign_in_by_email_in_one_tenant(stores: &Stores) {
    use crate::auth::{Role, User};
    let tenant = unique("t");
    stores
        .tenants
        .add_tenant(&Tenant {
            name: tenant.clone(),
            created_at: chrono::Utc::now(),
        })
        .await
        .expect("tenant");
    let email = format!("{}@Example.com", unique("Maria"));
    let user = User {
        tenant: tenant.clone(),
        email: email.clone(),
        role: Role::Admin,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    };
    stores.users.add_user(&user).await.expect("added");
    let found = stores
        .users
        .user(&email.to_uppercase())
        .await
        .expect("read")
        .expect("found");
    assert_eq!(
        found.email,
        email.to_lowercase(),
        "stored lowercase, found in any case"
    );
    assert_eq!(
        (found.tenant.as_str(), found.role),
        (tenant.as_str(), Role::Admin)
    );
    let elsewhere = User {
        tenant: unique("t"),
        ..user.clone()
    };
    assert!(
        matches!(
            stores.users.add_user(&elsewhere).await,
            Err(PortError::Conflict(_)) | Err(PortError::NotFound(_))
        ),
        "an e-mail belongs to one tenant"
    );
    let taken = User {
        email: email.to_uppercase(),
        ..user.clone()
    };
    assert!(matches!(
        stores.users.add_user(&taken).await,
        Err(PortError::Conflict(_))
    ));
    stores
        .users
        .set_password_hash(&email, "$argon2id$new")
        .await
        .expect("rehash");
    assert_eq!(
        stores
            .users
            .user(&email)
            .await
            .expect("read")
            .map(|u| u.password_hash),
        Some("$argon2id$new".into())
    );
    assert!(matches!(
        stores
            .users
            .set_password_hash("nobody@example.com", "x")
            .await,
        Err(PortError::NotFound(_))
    ));
    assert_eq!(
        stores.users.user("nobody@example.com").await.expect("read"),
        None
    );
}

async fn one_replica_claims_each_tick(stores: &Stores) {
    let job = unique("job");
    let tick = cost_event("t", "1", "x", 0, 1.0).event_time;
    let mut claims = Vec::new();
    for replica in ["a", "b", "c"] {
        let (schedule, job) = (stores.schedule.clone(), job.clone());
        claims.push(tokio::spawn(async move {
            schedule
                .claim_tick(&job, tick, replica)
                .await
                .expect("claim")
        }));
    }
    let mut won = 0;
    for claim in claims {
        won += usize::from(claim.await.expect("task"));
    }
    assert_eq!(won, 1, "exactly one replica runs a tick");
    assert!(
        stores
            .schedule
            .claim_tick(&job, tick + Duration::hours(1), "b")
            .await
            .expect("claim"),
        "the next tick is free"
    );
}

async fn processed_records_are_forgotten_after_retention(stores: &Stores) {
    let tenant = unique("t");
    let event = cost_event(&tenant, "111122223333", "old", 0, 1.0);
    let commit = ScoreCommit {
        event,
        baselines: Vec::new(),
        anomaly: None,
        outbox: None,
        consumed: None,
    };
    assert_eq!(
        stores.score.commit(commit).await.expect("commit"),
        CommitOutcome::Committed
    );
    let before_now = chrono::Utc::now() - Duration::hours(1);
    stores
        .score
        .forget_processed_before(before_now)
        .await
        .expect("forget");
    assert!(
        stores
            .score
            .is_processed(&tenant, "old")
            .await
            .expect("is_processed"),
        "a fresh record is kept"
    );
    let forgotten = stores
        .score
        .forget_processed_before(chrono::Utc::now() + Duration::hours(1))
        .await
        .expect("forget");
    assert!(forgotten >= 1);
    assert!(
        !stores
            .score
            .is_processed(&tenant, "old")
            .await
            .expect("is_processed"),
        "a record past retention is gone"
    );
}

/// Adds the tenant `name`.
async fn add_tenant(stores: &Stores, name: &str, at: chrono::DateTime<chrono::Utc>) {
    stores
        .tenants
        .add_tenant(&Tenant {
            name: name.to_owned(),
            created_at: at,
        })
        .await
        .expect("add tenant");
}

async fn ingest_tokens_admit_one_account(stores: &Stores) {
    let tenant = unique("t");
    let at = cost_event(&tenant, "1", "x", 0, 1.0).event_time;
    add_tenant(stores, &tenant, at).await;
    let account_id = unique_account_id();
    let grant = IngestGrant {
        tenant: tenant.clone(),
        account_id: account_id.clone(),
    };
    assert!(
        matches!(
            stores.tokens.add_token(&grant, "hash-1").await,
            Err(PortError::NotFound(_))
        ),
        "a token needs an existing account"
    );
    let account = Account {
        role_arn: None,
        external_id: None,
        access_key_id: None,
        remediation_role_arn: None,
        remediation_access_key_id: None,
        tenant: tenant.clone(),
        account_id,
        name: None,
        created_at: at,
    };
    stores.tenants.add_account(&account).await.expect("account");
    let hash = unique("hash");
    stores.tokens.add_token(&grant, &hash).await.expect("token");
    assert_eq!(
        stores.tokens.grant(&hash).await.expect("grant"),
        Some(grant.clone())
    );
    assert_eq!(
        stores.tokens.grant(&unique("hash")).await.expect("grant"),
        None
    );
    stores.tokens.revoke_token(&hash).await.expect("revoke");
    assert_eq!(
        stores.tokens.grant(&hash).await.expect("grant"),
        None,
        "a revoked token admits nothing"
    );
    let kept = unique("hash");
    stores.tokens.add_token(&grant, &kept).await.expect("token");
    stores
        .tenants
        .remove_account(&tenant, &grant.account_id)
        .await
        .expect("removed");
    assert_eq!(
        stores.tokens.grant(&kept).await.expect("grant"),
        None,
        "a removed account's token admits nothing"
    );
    assert!(matches!(
        stores.tokens.revoke_token(&unique("hash")).await,
        Err(PortError::NotFound(_))
    ));
}

async fn batches_commit_all_or_nothing(stores: &Stores) {
    let tenant = unique("t");
    let account = "444455556666";
    let key = BaselineKey::new(&tenant, account, "ec2.instance");
    let scored = |id: &str, minute: i64| ScoredEvent {
        event: cost_event(&tenant, account, id, minute, 0.5),
        anomaly: None,
        outbox: None,
        consumed: None,
    };
    let first = scored("b-1", 0);
    let anomalous = ScoredEvent {
        anomaly: Some(anomaly_for(&first.event)),
        ..first.clone()
    };
    // Three events in a row touch one baseline once: its state after the last, version 0 → 1.
    let mut after_three = grown(Baseline::empty(key.clone()), 0.5, "a");
    after_three.baseline.stats.push(0.5);
    after_three.baseline.stats.push(0.5);
    let anomaly_id = &anomalous.anomaly.as_ref().expect("anomaly").anomaly_id;
    // Links ride with the commit where the store writes them there, and only there.
    let linked = |anomaly_id: &str| TenantLinks {
        tenant: tenant.clone(),
        links: vec![Link {
            anomaly_id: anomaly_id.to_owned(),
            keys: vec![ResourceKey::new(
                account,
                "us-east-1",
                &format!("i-{anomaly_id}"),
            )],
        }],
    };
    let links_of = async |anomaly_id: &str| {
        stores
            .ledger
            .of_anomaly(&tenant, anomaly_id)
            .await
            .expect("read links")
            .len()
    };
    let batch = ScoreBatch {
        events: vec![anomalous.clone(), scored("b-2", 1), scored("b-3", 2)],
        baselines: vec![after_three.clone()],
        links: vec![linked(anomaly_id)],
    };
    assert_eq!(
        stores.score.commit_batch(batch).await.expect("commit"),
        CommitOutcome::Committed
    );
    let stored = current(stores, &key).await;
    assert_eq!((stored.version, stored.stats.n), (1, 3));
    for id in ["b-1", "b-2", "b-3"] {
        assert!(stores
            .score
            .is_processed(&tenant, id)
            .await
            .expect("is_processed"));
    }
    assert!(stores
        .anomalies
        .anomaly(&tenant, anomaly_id)
        .await
        .expect("read")
        .is_some());
    let in_commit = stores.score.links_in_commit();
    assert_eq!(
        links_of(anomaly_id).await,
        usize::from(in_commit),
        "links written in the commit exactly when the store says it writes them there"
    );

    // One event processed before, or one id twice, or one stale version: nothing is written.
    let refused = [
        (
            vec![scored("b-4", 3), scored("b-2", 4)],
            CommitOutcome::AlreadyProcessed,
            stored.version,
        ),
        (
            vec![scored("b-5", 5), scored("b-5", 6)],
            CommitOutcome::AlreadyProcessed,
            stored.version,
        ),
        (vec![scored("b-6", 7)], CommitOutcome::VersionConflict, 0),
    ];
    for (events, outcome, read_version) in refused {
        let write = BaselineWrite {
            baseline: stored.clone(),
            expected_version: read_version,
        };
        let batch = ScoreBatch {
            events,
            baselines: vec![write],
            links: vec![linked("refused")],
        };
        assert_eq!(
            stores.score.commit_batch(batch).await.expect("commit"),
            outcome
        );
        assert_eq!(
            links_of("refused").await,
            0,
            "a refused batch links nothing"
        );
        assert_eq!(
            current(stores, &key).await,
            stored,
            "a refused batch writes nothing"
        );
    }
    for id in ["b-4", "b-5", "b-6"] {
        assert!(
            !stores
                .score
                .is_processed(&tenant, id)
                .await
                .expect("is_processed"),
            "{id} of a refused batch is not processed"
        );
    }
}

fn grown(mut baseline: Baseline, hourly: f64, actor: &str) -> BaselineWrite {
    let expected_version = baseline.version;
    baseline.stats.push(hourly);
    baseline.actors.insert(actor.to_owned());
    BaselineWrite {
        baseline,
        expected_version,
    }
}

async fn current(stores: &Stores, key: &BaselineKey) -> Baseline {
    stores
        .score
        .baseline(key)
        .await
        .expect("baseline read")
        .unwrap_or_else(|| Baseline::empty(key.clone()))
}

async fn commit_is_atomic_and_idempotent(stores: &Stores) {
    let tenant = unique("t");
    let event = cost_event(&tenant, "111122223333", "ev-1", 0, 0.5);
    let kind_key = BaselineKey::new(&tenant, "111122223333", "ec2.instance");
    let account_key = BaselineKey::account(&tenant, "111122223333");
    let anomaly = anomaly_for(&event);
    let commit = ScoreCommit {
        event: event.clone(),
        baselines: vec![
            grown(Baseline::empty(kind_key.clone()), 0.5, &event.actor_arn),
            grown(Baseline::empty(account_key.clone()), 0.5, &event.actor_arn),
        ],
        anomaly: Some(anomaly.clone()),
        outbox: Some(OutboxMessage {
            trace: None,
            outbox_id: unique("ob"),
            tenant: tenant.clone(),
            anomaly: anomaly.clone(),
            created_at: event.event_time,
            resolution: None,
        }),
        consumed: None,
    };
    assert!(!stores
        .score
        .is_processed(&tenant, "ev-1")
        .await
        .expect("is_processed"));
    assert_eq!(
        stores.score.commit(commit.clone()).await.expect("commit"),
        CommitOutcome::Committed
    );
    assert!(stores
        .score
        .is_processed(&tenant, "ev-1")
        .await
        .expect("is_processed"));

    let stored = current(stores, &kind_key).await;
    assert_eq!(
        stored.version, 1,
        "a created baseline is stored at version 1"
    );
    assert_eq!(stored.stats.n, 1);
    assert_eq!(stored.actors, BTreeSet::from([event.actor_arn.clone()]));
    assert_eq!(current(stores, &account_key).await.version, 1);
    let listed = stores
        .score
        .baselines(&tenant, Some("111122223333"))
        .await
        .expect("baselines");
    assert_eq!(listed.len(), 2, "both baselines of the commit are listed");
    assert_eq!(
        stores
            .anomalies
            .anomaly(&tenant, &anomaly.anomaly_id)
            .await
            .expect("anomaly read"),
        Some(anomaly.clone()),
        "the anomaly is stored with the commit"
    );

    // The same event again, even with fresh baseline versions, changes nothing.
    let again = ScoreCommit {
        baselines: vec![grown(stored.clone(), 0.5, &event.actor_arn)],
        ..commit
    };
    assert_eq!(
        stores.score.commit(again).await.expect("commit"),
        CommitOutcome::AlreadyProcessed
    );
    assert_eq!(
        current(stores, &kind_key).await,
        stored,
        "a duplicate commit writes nothing"
    );
}

async fn stale_version_writes_nothing(stores: &Stores) {
    let tenant = unique("t");
    let key = BaselineKey::new(&tenant, "111122223333", "ec2.instance");
    let first = cost_event(&tenant, "111122223333", "ev-1", 0, 1.0);
    let write = grown(Baseline::empty(key.clone()), 1.0, "a");
    let commit = ScoreCommit {
        event: first,
        baselines: vec![write.clone()],
        anomaly: None,
        outbox: None,
        consumed: None,
    };
    assert_eq!(
        stores.score.commit(commit).await.expect("commit"),
        CommitOutcome::Committed
    );

    // A second writer that read before the first committed (version 0) must be refused…
    let second = cost_event(&tenant, "111122223333", "ev-2", 1, 2.0);
    let anomaly = anomaly_for(&second);
    let stale = ScoreCommit {
        event: second.clone(),
        baselines: vec![write],
        anomaly: Some(anomaly.clone()),
        outbox: None,
        consumed: None,
    };
    assert_eq!(
        stores.score.commit(stale).await.expect("commit"),
        CommitOutcome::VersionConflict
    );
    // …and leave no trace: not processed, no anomaly, baseline as the first writer left it.
    assert!(!stores
        .score
        .is_processed(&tenant, "ev-2")
        .await
        .expect("is_processed"));
    assert_eq!(
        stores
            .anomalies
            .anomaly(&tenant, &anomaly.anomaly_id)
            .await
            .expect("read"),
        None
    );
    assert_eq!(current(stores, &key).await.stats.n, 1);

    // Baseline-only updates take the same version check.
    let stored = current(stores, &key).await;
    let teach = grown(stored.clone(), 1.0, "teacher");
    assert_eq!(
        stores
            .score
            .update_baselines(vec![teach.clone()])
            .await
            .expect("update"),
        CommitOutcome::Committed
    );
    assert_eq!(current(stores, &key).await.version, stored.version + 1);
    assert_eq!(
        stores
            .score
            .update_baselines(vec![teach])
            .await
            .expect("update"),
        CommitOutcome::VersionConflict
    );
    assert_eq!(
        current(stores, &key).await.stats.n,
        2,
        "a refused update writes nothing"
    );

    // A writer expecting a version that was never stored is refused too.
    let ahead = ScoreCommit {
        event: second,
        baselines: vec![BaselineWrite {
            baseline: Baseline::empty(key.clone()),
            expected_version: 7,
        }],
        anomaly: None,
        outbox: None,
        consumed: None,
    };
    assert_eq!(
        stores.score.commit(ahead).await.expect("commit"),
        CommitOutcome::VersionConflict
    );
}

async fn concurrent_writers_lose_no_update(stores: &Stores) {
    const WRITERS: usize = 6;
    const EVENTS_EACH: usize = 15;
    let tenant = unique("t");
    let key = BaselineKey::new(&tenant, "111122223333", "ec2.instance");
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let (stores, tenant, key) = (stores.clone(), tenant.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..EVENTS_EACH {
                let event = cost_event(
                    &tenant,
                    "111122223333",
                    &format!("w{writer}-{i}"),
                    i as i64,
                    1.0,
                );
                loop {
                    let base = current(&stores, &key).await;
                    let commit = ScoreCommit {
                        event: event.clone(),
                        baselines: vec![grown(base, 1.0, &format!("actor-{writer}"))],
                        anomaly: None,
                        outbox: None,
                        consumed: None,
                    };
                    match stores.score.commit(commit).await.expect("commit") {
                        CommitOutcome::Committed => break,
                        CommitOutcome::VersionConflict => tokio::task::yield_now().await,
                        CommitOutcome::AlreadyProcessed => {
                            panic!("event {} reported processed before commit", event.event_id)
                        }
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer task");
    }
    let end = current(stores, &key).await;
    let total = (WRITERS * EVENTS_EACH) as u64;
    assert_eq!(end.stats.n, total, "every concurrent update survives");
    assert_eq!(end.version, total, "one version per committed update");
    assert_eq!(end.actors.len(), WRITERS);
}

async fn tenants_never_see_each_other(stores: &Stores) {
    let (a, b) = (unique("ta"), unique("tb"));
    let event = cost_event(&a, "111122223333", "shared-id", 0, 3.0);
    let anomaly = anomaly_for(&event);
    let key_a = BaselineKey::new(&a, "111122223333", "ec2.instance");
    let commit = ScoreCommit {
        event: event.clone(),
        baselines: vec![grown(Baseline::empty(key_a.clone()), 3.0, "x")],
        anomaly: Some(anomaly.clone()),
        outbox: None,
        consumed: None,
    };
    assert_eq!(
        stores.score.commit(commit).await.expect("commit"),
        CommitOutcome::Committed
    );

    let key_b = BaselineKey::new(&b, "111122223333", "ec2.instance");
    assert_eq!(stores.score.baseline(&key_b).await.expect("read"), None);
    assert!(stores
        .score
        .baselines(&b, None)
        .await
        .expect("list")
        .is_empty());
    assert!(!stores
        .score
        .is_processed(&b, "shared-id")
        .await
        .expect("is_processed"));
    assert_eq!(
        stores
            .anomalies
            .anomaly(&b, &anomaly.anomaly_id)
            .await
            .expect("read"),
        None
    );
    let page = stores
        .anomalies
        .anomalies(&b, &AnomalyFilter::default(), None, 50)
        .await
        .expect("list");
    assert!(
        page.items.is_empty(),
        "tenant b lists none of tenant a's anomalies"
    );
    let far = event.event_time + Duration::days(1);
    let events = stores
        .events
        .cost_events(&b, event.event_time, far, 50)
        .await
        .expect("events");
    assert!(
        events.is_empty(),
        "tenant b lists none of tenant a's cost events"
    );
    let feedback = Feedback {
        anomaly_id: anomaly.anomaly_id.clone(),
        action: FeedbackAction::Resolve,
        by: "mallory".into(),
        at: far,
        note: None,
    };
    assert!(
        matches!(
            stores
                .anomalies
                .record_feedback(&b, &feedback, AnomalyStatus::Resolved)
                .await,
            Err(PortError::NotFound(_))
        ),
        "feedback through another tenant is NotFound"
    );
    let still = stores
        .anomalies
        .anomaly(&a, &anomaly.anomaly_id)
        .await
        .expect("read");
    assert_eq!(still.map(|x| x.status), Some(AnomalyStatus::Open));

    // The same event id is a different event in another tenant.
    let event_b = cost_event(&b, "111122223333", "shared-id", 0, 3.0);
    let commit_b = ScoreCommit {
        event: event_b,
        baselines: vec![grown(Baseline::empty(key_b), 3.0, "x")],
        anomaly: None,
        outbox: None,
        consumed: None,
    };
    assert_eq!(
        stores.score.commit(commit_b).await.expect("commit"),
        CommitOutcome::Committed
    );
}

async fn commit_anomalies(
    stores: &Stores,
    tenant: &str,
    count: usize,
) -> Vec<crate::domain::Anomaly> {
    let mut out = Vec::new();
    for i in 0..count {
        let account = if i % 2 == 0 {
            "111111111111"
        } else {
            "222222222222"
        };
        let event = cost_event(tenant, account, &format!("ev-{i:03}"), i as i64, 1.0);
        let mut anomaly = anomaly_for(&event);
        anomaly.severity = if i % 3 == 0 {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let commit = ScoreCommit {
            event,
            baselines: Vec::new(),
            anomaly: Some(anomaly.clone()),
            outbox: None,
            consumed: None,
        };
        assert_eq!(
            stores.score.commit(commit).await.expect("commit"),
            CommitOutcome::Committed
        );
        out.push(anomaly);
    }
    out
}

async fn anomalies_page_filter_and_take_feedback(stores: &Stores) {
    let tenant = unique("t");
    let all = commit_anomalies(stores, &tenant, 25).await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let page = stores
            .anomalies
            .anomalies(&tenant, &AnomalyFilter::default(), cursor.as_deref(), 10)
            .await
            .expect("list");
        assert!(page.items.len() <= 10);
        seen.extend(page.items.into_iter().map(|a| a.anomaly_id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let mut expected: Vec<String> = all.iter().map(|a| a.anomaly_id.clone()).collect();
    expected.reverse();
    assert_eq!(
        seen, expected,
        "pages cover every anomaly once, newest first"
    );

    let critical = AnomalyFilter {
        severities: vec![Severity::Critical],
        ..Default::default()
    };
    let page = stores
        .anomalies
        .anomalies(&tenant, &critical, None, 100)
        .await
        .expect("list");
    assert_eq!(page.items.len(), 9);
    assert!(page.items.iter().all(|a| a.severity == Severity::Critical));

    let one_account = AnomalyFilter {
        account_id: Some("222222222222".into()),
        from: Some(all[4].event_time),
        to: Some(all[10].event_time),
        ..Default::default()
    };
    let page = stores
        .anomalies
        .anomalies(&tenant, &one_account, None, 100)
        .await
        .expect("list");
    let ids: Vec<&str> = page.items.iter().map(|a| a.anomaly_id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["an-ev-009", "an-ev-007", "an-ev-005"],
        "account and [from, to) filters"
    );

    let target = &all[3];
    let ack = Feedback {
        anomaly_id: target.anomaly_id.clone(),
        action: FeedbackAction::Acknowledge,
        by: "ana@example.com".into(),
        at: target.event_time,
        note: None,
    };
    stores
        .anomalies
        .record_feedback(&tenant, &ack, AnomalyStatus::Acknowledged)
        .await
        .expect("feedback");
    let resolve = Feedback {
        action: FeedbackAction::Resolve,
        at: target.event_time + Duration::hours(1),
        by: "dd0c".into(),
        note: Some("every resource ended: TerminateInstances by user/alice".into()),
        ..ack.clone()
    };
    stores
        .anomalies
        .record_feedback(&tenant, &resolve, AnomalyStatus::Resolved)
        .await
        .expect("feedback");
    let status = stores
        .anomalies
        .anomaly(&tenant, &target.anomaly_id)
        .await
        .expect("read")
        .map(|a| a.status);
    assert_eq!(status, Some(AnomalyStatus::Resolved));
    assert_eq!(
        stores
            .anomalies
            .feedback(&tenant, &target.anomaly_id)
            .await
            .expect("feedback"),
        vec![ack.clone(), resolve]
    );
    let resolved = AnomalyFilter {
        statuses: vec![AnomalyStatus::Resolved],
        ..Default::default()
    };
    assert_eq!(
        stores
            .anomalies
            .anomalies(&tenant, &resolved, None, 100)
            .await
            .expect("list")
            .items
            .len(),
        1
    );

    let missing = Feedback {
        anomaly_id: "an-nope".into(),
        ..ack
    };
    assert!(matches!(
        stores
            .anomalies
            .record_feedback(&tenant, &missing, AnomalyStatus::Acknowledged)
            .await,
        Err(PortError::NotFound(_))
    ));
}

async fn snoozes_expire(stores: &Stores) {
    let tenant = unique("t");
    let start = cost_event(&tenant, "111122223333", "x", 0, 1.0).event_time;
    let snooze = Snooze {
        tenant: tenant.clone(),
        scope: SnoozeScope::Actor("arn:aws:iam::111122223333:user/ana".into()),
        until: start + Duration::hours(24),
        by: "ana@example.com".into(),
    };
    stores.anomalies.add_snooze(&snooze).await.expect("snooze");
    assert_eq!(
        stores
            .anomalies
            .active_snoozes(&tenant, start)
            .await
            .expect("snoozes"),
        vec![snooze.clone()]
    );
    assert!(
        stores
            .anomalies
            .active_snoozes(&tenant, snooze.until)
            .await
            .expect("snoozes")
            .is_empty(),
        "until is exclusive"
    );
    assert!(stores
        .anomalies
        .active_snoozes(&unique("t"), start)
        .await
        .expect("snoozes")
        .is_empty());
}

async fn cost_events_by_time_range(stores: &Stores) {
    let tenant = unique("t");
    for i in 0..5 {
        let event = cost_event(
            &tenant,
            "111122223333",
            &format!("ev-{i}"),
            i * 60,
            1.0 + i as f64,
        );
        let commit = ScoreCommit {
            event,
            baselines: Vec::new(),
            anomaly: None,
            outbox: None,
            consumed: None,
        };
        assert_eq!(
            stores.score.commit(commit).await.expect("commit"),
            CommitOutcome::Committed
        );
    }
    let t0 = cost_event(&tenant, "111122223333", "x", 0, 1.0).event_time;
    let events = stores
        .events
        .cost_events(
            &tenant,
            t0 + Duration::hours(1),
            t0 + Duration::hours(4),
            100,
        )
        .await
        .expect("events");
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["ev-1", "ev-2", "ev-3"],
        "[from, to), oldest first"
    );
    assert_eq!(events[0].hourly_usd, 2.0, "the payload round-trips");
    let limited = stores
        .events
        .cost_events(&tenant, t0, t0 + Duration::days(1), 2)
        .await
        .expect("events");
    assert_eq!(limited.len(), 2);
}

async fn tenants_and_accounts(stores: &Stores) {
    let name = unique("acme");
    let at = cost_event(&name, "1", "x", 0, 1.0).event_time;
    let tenant = Tenant {
        name: name.clone(),
        created_at: at,
    };
    stores
        .tenants
        .add_tenant(&tenant)
        .await
        .expect("add tenant");
    assert!(matches!(
        stores.tenants.add_tenant(&tenant).await,
        Err(PortError::Conflict(_))
    ));
    assert_eq!(
        stores.tenants.tenant(&name).await.expect("tenant"),
        Some(tenant.clone())
    );
    assert!(stores
        .tenants
        .tenants()
        .await
        .expect("tenants")
        .contains(&tenant));

    let (first_id, second_id) = (unique_account_id(), unique_account_id());
    let role = format!("arn:aws:iam::{first_id}:role/{}", unique("dd0c-reader"));
    let account = Account {
        role_arn: Some(role.clone()),
        external_id: Some(unique("ext")),
        access_key_id: None,
        remediation_role_arn: None,
        remediation_access_key_id: None,
        tenant: name.clone(),
        account_id: first_id.clone(),
        name: Some("prod".into()),
        created_at: at,
    };
    let other = Account {
        role_arn: None,
        external_id: None,
        access_key_id: None,
        remediation_role_arn: None,
        remediation_access_key_id: None,
        account_id: second_id.clone(),
        name: None,
        ..account.clone()
    };
    stores
        .tenants
        .add_account(&account)
        .await
        .expect("add account");
    stores
        .tenants
        .add_account(&other)
        .await
        .expect("add account");
    assert!(matches!(
        stores.tenants.add_account(&account).await,
        Err(PortError::Conflict(_))
    ));
    let rival = unique("rival");
    stores
        .tenants
        .add_tenant(&Tenant {
            name: rival.clone(),
            created_at: at,
        })
        .await
        .expect("add tenant");
    let same_role = Account {
        tenant: rival.clone(),
        account_id: unique_account_id(),
        ..account.clone()
    };
    assert!(
        matches!(
            stores.tenants.add_account(&same_role).await,
            Err(PortError::Conflict(_))
        ),
        "a role belongs to one tenant"
    );
    let same_account = Account {
        tenant: rival.clone(),
        role_arn: None,
        external_id: None,
        access_key_id: None,
        remediation_role_arn: None,
        remediation_access_key_id: None,
        ..account.clone()
    };
    assert!(
        matches!(
            stores.tenants.add_account(&same_account).await,
            Err(PortError::Conflict(_))
        ),
        "an AWS account belongs to one tenant"
    );
    assert_eq!(
        stores.tenants.accounts(&rival).await.expect("accounts"),
        vec![],
        "a refused claim adds nothing"
    );
    let mut by_id = vec![other.clone(), account.clone()];
    by_id.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    assert_eq!(
        stores.tenants.accounts(&name).await.expect("accounts"),
        by_id,
        "by id"
    );
    assert_eq!(
        stores
            .tenants
            .account(&name, &first_id)
            .await
            .expect("account"),
        Some(account)
    );
    assert_eq!(
        stores
            .tenants
            .account(&unique("x"), &first_id)
            .await
            .expect("account"),
        None
    );
    stores
        .tenants
        .remove_account(&name, &first_id)
        .await
        .expect("remove");
    assert!(matches!(
        stores.tenants.remove_account(&name, &first_id).await,
        Err(PortError::NotFound(_))
    ));
    assert_eq!(
        stores.tenants.accounts(&name).await.expect("accounts"),
        vec![other]
    );
}

async fn an_aws_account_names_its_tenant(stores: &Stores) {
    let (name, rival) = (unique("acme"), unique("rival"));
    let at = cost_event(&name, "1", "x", 0, 1.0).event_time;
    for tenant in [&name, &rival] {
        add_tenant(stores, tenant, at).await;
    }
    let (ours, theirs) = (unique_account_id(), unique_account_id());
    for (tenant, account_id) in [(&name, &ours), (&rival, &theirs)] {
        stores
            .tenants
            .add_account(&Account::new(tenant, account_id, at))
            .await
            .expect("add account");
    }
    let owner = |id: String| async move { stores.tenants.owner(&id).await.expect("owner") };
    assert_eq!(owner(ours.clone()).await, Some(name.clone()));
    assert_eq!(owner(theirs.clone()).await, Some(rival));
    assert_eq!(
        owner(unique_account_id()).await,
        None,
        "an account nobody watches"
    );
    stores
        .tenants
        .remove_account(&name, &ours)
        .await
        .expect("remove");
    assert_eq!(owner(ours).await, None, "a removed account has no owner");
}

async fn settings_default_and_round_trip(stores: &Stores) {
    let tenant = unique("t");
    assert_eq!(
        stores.settings.settings(&tenant).await.expect("settings"),
        Settings::default()
    );
    let mut settings = Settings::default();
    settings.thresholds.critical_monthly_usd = 12_345.0;
    settings
        .account_thresholds
        .insert("111122223333".into(), settings.thresholds.clone());
    settings.slack_webhook_url = Some("https://hooks.slack.example/T/B/x".into());
    settings.email_to = vec!["ops@example.com".into()];
    stores
        .settings
        .put_settings(&tenant, &settings)
        .await
        .expect("put");
    assert_eq!(
        stores.settings.settings(&tenant).await.expect("settings"),
        settings
    );
    assert_eq!(
        stores
            .settings
            .settings(&unique("t"))
            .await
            .expect("settings"),
        Settings::default()
    );
}

async fn webhook_secrets_live_beside_settings(stores: &Stores) {
    let tenant = unique("t");
    let secret = |t: String| async move { stores.settings.webhook_secret(&t).await.expect("read") };
    assert_eq!(secret(tenant.clone()).await, None, "none until made");
    let first = SigningSecret::generate();
    stores
        .settings
        .put_webhook_secret(&tenant, &first)
        .await
        .expect("put");
    assert_eq!(
        stores.settings.settings(&tenant).await.expect("settings"),
        Settings::default(),
        "a secret alone leaves default settings"
    );
    let settings = Settings {
        webhook_url: Some("https://hooks.example.com/dd0c".into()),
        ..Settings::default()
    };
    stores
        .settings
        .put_settings(&tenant, &settings)
        .await
        .expect("put");
    assert_eq!(
        secret(tenant.clone()).await,
        Some(first),
        "settings keep the secret"
    );
    let second = SigningSecret::generate();
    stores
        .settings
        .put_webhook_secret(&tenant, &second)
        .await
        .expect("put");
    assert_eq!(secret(tenant.clone()).await, Some(second), "replaced");
    assert_eq!(
        stores.settings.settings(&tenant).await.expect("settings"),
        settings,
        "a secret keeps the settings"
    );
    assert_eq!(
        secret(unique("t")).await,
        None,
        "another tenant's is not read"
    );
}

async fn outbox_delivers_once(stores: &Stores) {
    let tenant = unique("t");
    let event = cost_event(&tenant, "111122223333", "ev-1", 0, 1.0);
    let anomaly = anomaly_for(&event);
    let message = OutboxMessage {
        trace: None,
        outbox_id: unique("ob"),
        tenant: tenant.clone(),
        anomaly: anomaly.clone(),
        created_at: event.event_time,
        resolution: None,
    };
    let commit = ScoreCommit {
        event,
        baselines: Vec::new(),
        anomaly: Some(anomaly),
        outbox: Some(message.clone()),
        consumed: None,
    };
    assert_eq!(
        stores.score.commit(commit).await.expect("commit"),
        CommitOutcome::Committed
    );
    let pending = stores.outbox.pending(10_000).await.expect("pending");
    assert!(
        pending.contains(&message),
        "the committed message is pending"
    );

    // Two notifiers claiming at once: one of them gets the message.
    let lease = std::time::Duration::from_secs(1);
    let (a, b) = tokio::join!(
        stores.outbox.claim(10_000, lease),
        stores.outbox.claim(10_000, lease)
    );
    let ours = |claims: &[crate::store::Claimed]| {
        claims
            .iter()
            .filter(|c| c.message.outbox_id == message.outbox_id)
            .count()
    };
    let (a, b) = (a.expect("claim"), b.expect("claim"));
    assert_eq!(ours(&a) + ours(&b), 1, "claimed exactly once");
    let claimed = a
        .iter()
        .chain(&b)
        .find(|c| c.message.outbox_id == message.outbox_id);
    assert_eq!(claimed.map(|c| c.delivered.len()), Some(0));
    assert_eq!(
        ours(&stores.outbox.claim(10_000, lease).await.expect("claim")),
        0,
        "held while claimed"
    );

    // A channel's delivery survives the claim; the next claim, once the lease lapses, sees it.
    for _ in 0..2 {
        stores
            .outbox
            .mark_channel_delivered(&message.outbox_id, "slack")
            .await
            .expect("channel delivered");
    }
    tokio::time::sleep(lease + std::time::Duration::from_millis(100)).await;
    let again = stores.outbox.claim(10_000, lease).await.expect("claim");
    let again = again
        .iter()
        .find(|c| c.message.outbox_id == message.outbox_id);
    assert_eq!(
        again.map(|c| c.delivered.iter().cloned().collect::<Vec<_>>()),
        Some(vec!["slack".to_owned()])
    );
    assert_eq!(again.map(|c| &c.message), Some(&message));

    stores
        .outbox
        .mark_delivered(&message.outbox_id)
        .await
        .expect("deliver");
    stores
        .outbox
        .mark_delivered(&message.outbox_id)
        .await
        .expect("delivering twice is not an error");
    let pending = stores.outbox.pending(10_000).await.expect("pending");
    assert!(
        !pending.iter().any(|m| m.outbox_id == message.outbox_id),
        "a delivered message is no longer pending"
    );
    tokio::time::sleep(lease + std::time::Duration::from_millis(100)).await;
    assert_eq!(
        ours(&stores.outbox.claim(10_000, lease).await.expect("claim")),
        0,
        "a delivered message is never claimed again"
    );
}
