//! The Postgres adapters against every port's conformance suite, on a real server
//! (`scripts/test.sh` starts one and sets `DATABASE_URL`).

use std::sync::Arc;

use dd0c_adapters_postgres::{
    add_application_login, connect, create_database, migrate, PgStore, PgmqQueue,
};
use dd0c_ports::conformance::{self, unique};
use dd0c_ports::queue::Queue;
use dd0c_ports::store::Stores;
use sqlx::PgPool;

/// A migrated database of its own, connected as its owner; and its URL.
async fn fresh_database() -> (PgPool, String) {
    let server = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL: run the tests with scripts/test.sh, which starts Postgres");
    let name = unique("t").replace('-', "_");
    let url = create_database(&server, &name)
        .await
        .expect("a fresh database");
    let pool = connect(&url, 20).await.expect("connects");
    migrate(&pool).await.expect("migrates");
    (pool, url)
}

async fn fresh_pool() -> PgPool {
    fresh_database().await.0
}

/// A pool on the database of `url` as a new login role that is a member of `dd0c_app` only —
/// what the application connects as in production: not the owner, not a superuser, not
/// BYPASSRLS. (The test cluster trusts local logins.)
async fn app_pool(owner: &PgPool, url: &str) -> PgPool {
    let login = unique("app").replace('-', "_");
    let app_url = add_application_login(owner, url, &login)
        .await
        .expect("a login role");
    connect(&app_url, 20)
        .await
        .expect("connects as the application role")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pg_store_passes_the_store_suite_as_the_application_role() {
    let (owner, url) = fresh_database().await;
    let app = app_pool(&owner, &url).await;
    conformance::store_suite(Stores::of(Arc::new(PgStore::new(app)))).await;
}

#[tokio::test]
async fn pg_store_passes_the_source_store_suite_as_the_application_role() {
    let (owner, url) = fresh_database().await;
    let app = app_pool(&owner, &url).await;
    conformance::source_store_suite(&PgStore::new(app)).await;
}

#[tokio::test]
async fn pg_store_passes_the_ledger_suite_as_the_application_role() {
    let (owner, url) = fresh_database().await;
    let app = app_pool(&owner, &url).await;
    conformance::ledger_suite(&PgStore::new(app)).await;
}

/// The decision log is appended to, never edited: the application role may add a step and
/// read it, but an UPDATE of a step is refused by the database itself.
#[tokio::test]
async fn the_application_role_cannot_edit_a_decision_log() {
    use dd0c_ports::remediation::{ActionStore, Decision, Step};
    let (owner, url) = fresh_database().await;
    let app = app_pool(&owner, &url).await;
    let store = PgStore::new(app.clone());
    let tenant = unique("t");
    let action = conformance::requested_action(&tenant, "111122223333", "vol-1", 0);
    let first = Decision::new(
        action.requested_at,
        "member@example.com",
        Step::Requested,
        "mode=approve",
        "requested",
    );
    store.add_action(&action, &first).await.expect("added");

    let mut tx = app.begin().await.expect("begin");
    sqlx::query("SELECT set_config('dd0c.tenant', $1, true)")
        .bind(&tenant)
        .execute(&mut *tx)
        .await
        .expect("scope");
    let edited = sqlx::query("UPDATE action_log SET payload = '{}' WHERE tenant_id = $1")
        .bind(&tenant)
        .execute(&mut *tx)
        .await
        .expect_err("no UPDATE on the log");
    assert!(edited.to_string().contains("permission denied"), "{edited}");
    drop(tx);
    assert_eq!(
        store
            .decisions(&tenant, &action.action_id)
            .await
            .expect("log"),
        vec![first],
        "the step is as it was written"
    );
}

#[tokio::test]
async fn every_tenant_table_forces_row_security_on_a_role_that_cannot_bypass_it() {
    let (owner, url) = fresh_database().await;
    let app = app_pool(&owner, &url).await;
    let (superuser, bypass): (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&app)
            .await
            .expect("role");
    assert!(
        !superuser && !bypass,
        "the application role is neither superuser nor BYPASSRLS"
    );
    let owned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user",
    )
    .fetch_one(&app)
    .await
    .expect("count");
    assert_eq!(owned, 0, "the application role owns no table");
    let unforced: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM information_schema.columns col
         JOIN pg_class c ON c.relname = col.table_name AND c.relkind = 'r'
         JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
         WHERE col.table_schema = 'public' AND col.column_name = 'tenant_id'
           AND NOT (c.relrowsecurity AND c.relforcerowsecurity)",
    )
    .fetch_all(&owner)
    .await
    .expect("tables");
    assert!(
        unforced.is_empty(),
        "tenant tables without forced row security: {unforced:?}"
    );

    // Rows of two tenants; the application role sees only those its transaction names.
    let store = PgStore::new(owner.clone());
    for tenant in ["rls_a", "rls_b"] {
        dd0c_ports::store::SettingsStore::put_settings(&store, tenant, &Default::default())
            .await
            .expect("settings");
    }
    let visible = async |scope: Option<&str>| -> Vec<String> {
        let mut tx = app.begin().await.expect("tx");
        if let Some(scope) = scope {
            sqlx::query("SELECT set_config('dd0c.tenant', $1, true)")
                .bind(scope)
                .execute(&mut *tx)
                .await
                .expect("scope");
        }
        sqlx::query_scalar("SELECT tenant_id FROM settings WHERE tenant_id LIKE 'rls_%' ORDER BY 1")
            .fetch_all(&mut *tx)
            .await
            .expect("select")
    };
    assert!(
        visible(None).await.is_empty(),
        "a query that names no tenant sees nothing"
    );
    assert_eq!(visible(Some("rls_a")).await, ["rls_a"]);
    assert_eq!(visible(Some("rls_a,rls_b")).await, ["rls_a", "rls_b"]);
    let mut tx = app.begin().await.expect("tx");
    sqlx::query("SELECT set_config('dd0c.tenant', 'rls_a', true)")
        .execute(&mut *tx)
        .await
        .expect("scope");
    let written = sqlx::query("INSERT INTO settings (tenant_id, payload) VALUES ('rls_c', '{}')")
        .execute(&mut *tx)
        .await;
    assert!(written.is_err(), "nor can it write another tenant's rows");
}

#[tokio::test]
async fn pgmq_queue_passes_the_queue_suite_as_the_application_role() {
    let (owner, url) = fresh_database().await;
    let pool = app_pool(&owner, &url).await;
    conformance::queue_suite(|| {
        let pool = pool.clone();
        async move {
            let name = unique("q").replace('-', "_");
            Arc::new(PgmqQueue::new(pool, &name).await.expect("queue")) as Arc<dyn Queue>
        }
    })
    .await;
}

#[tokio::test]
async fn migrations_are_repeatable() {
    let pool = fresh_pool().await;
    migrate(&pool)
        .await
        .expect("a second run changes nothing and fails nothing");
}

/// Queue tables are vacuumed by a fixed count of dead rows at full speed: a queue made now, and
/// one made before (by pgmq alone) once `migrate` runs again.
#[tokio::test]
async fn queue_tables_are_vacuumed_as_queues() {
    let (pool, _) = fresh_database().await;
    PgmqQueue::new(pool.clone(), "made_now")
        .await
        .expect("a queue");
    sqlx::query("SELECT pgmq.create('made_before')")
        .execute(&pool)
        .await
        .expect("a queue of pgmq's own");
    migrate(&pool).await.expect("migrates again");
    for queue in ["made_now", "made_before"] {
        let options: Vec<String> = sqlx::query_scalar(
            "SELECT unnest(reloptions) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'pgmq' AND c.relname = 'q_' || $1",
        )
        .bind(queue)
        .fetch_all(&pool)
        .await
        .expect("reloptions");
        for option in [
            "autovacuum_vacuum_scale_factor=0",
            "autovacuum_vacuum_threshold=10000",
            "autovacuum_vacuum_cost_delay=0",
        ] {
            assert!(options.iter().any(|o| o == option), "{queue}: {options:?}");
        }
    }
}

#[tokio::test]
async fn expired_dedup_keys_are_forgotten_and_delivered_messages_leave_no_copy() {
    let pool = fresh_pool().await;
    let name = unique("q").replace('-', "_");
    let queue = PgmqQueue::new(pool.clone(), &name).await.expect("queue");
    for key in ["old", "new"] {
        queue
            .send(dd0c_ports::queue::OutgoingMessage {
                trace: None,
                group_key: "g".into(),
                dedup_key: key.into(),
                body: key.into(),
            })
            .await
            .expect("send");
    }
    sqlx::query("UPDATE queue_dedup SET sent_at = now() - interval '6 minutes' WHERE queue = $1 AND dedup_key = 'old'")
        .bind(&name)
        .execute(&pool)
        .await
        .expect("aged");
    assert_eq!(queue.forget_expired_dedup_keys().await.expect("forget"), 1);
    let kept: Vec<String> =
        sqlx::query_scalar("SELECT dedup_key FROM queue_dedup WHERE queue = $1")
            .bind(&name)
            .fetch_all(&pool)
            .await
            .expect("keys");
    assert_eq!(kept, vec!["new".to_owned()]);

    let delivered = queue
        .receive(10, std::time::Duration::from_secs(30))
        .await
        .expect("receive");
    let receipts: Vec<String> = delivered.iter().map(|d| d.receipt.clone()).collect();
    assert_eq!(queue.ack_all(&receipts).await.expect("ack"), 2);
    let left: i64 = sqlx::query_scalar(&format!(
        "SELECT (SELECT count(*) FROM pgmq.q_{name}) + (SELECT count(*) FROM pgmq.a_{name})"
    ))
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(left, 0, "acknowledged messages are deleted, not archived");
}

/// Groups take turns, a turn being a run of a group's oldest messages: a group in flight
/// waits, and a group behind another's backlog is served in the next receive, not after the
/// backlog.
#[tokio::test]
async fn a_receive_serves_groups_in_turn_each_in_order() {
    let pool = fresh_pool().await;
    let queue = PgmqQueue::new(pool, &unique("q").replace('-', "_"))
        .await
        .expect("queue");
    let layout = [
        "a1", "a2", "a3", "b1", "a4", "a5", "a6", "a7", "a8", "a9", "a10", "c1",
    ];
    let messages = layout
        .iter()
        .map(|body| dd0c_ports::queue::OutgoingMessage {
            trace: None,
            group_key: body[..1].into(),
            dedup_key: (*body).into(),
            body: (*body).into(),
        })
        .collect();
    queue.send_batch(messages).await.expect("sent");
    let visibility = std::time::Duration::from_secs(30);
    let receive = async |max| queue.receive(max, visibility).await.expect("receive");
    let bodies = |batch: &[dd0c_ports::queue::Delivery]| {
        batch.iter().map(|d| d.body.clone()).collect::<Vec<_>>()
    };

    let first = receive(2).await;
    assert_eq!(
        bodies(&first),
        ["a1", "a2"],
        "the oldest group's turn first"
    );
    let second = receive(3).await;
    assert_eq!(
        bodies(&second),
        ["b1", "c1"],
        "b, and c behind a's backlog, are served while a waits for its messages in flight"
    );
    assert!(
        receive(2).await.is_empty(),
        "every group has messages in flight"
    );
    let receipts: Vec<String> = first
        .iter()
        .chain(&second)
        .map(|d| d.receipt.clone())
        .collect();
    assert_eq!(queue.ack_all(&receipts).await.expect("ack"), 4);
    assert_eq!(
        bodies(&receive(4).await),
        ["a3", "a4", "a5", "a6"],
        "a group alone fills the receive, in order"
    );
}

/// The tenant scope is written into the statement that begins each transaction: a tenant name
/// with quotes, backslashes and SQL in it reads back its own rows and no one else's.
#[tokio::test]
async fn a_tenant_name_with_quotes_and_backslashes_scopes_exactly_its_rows() {
    use dd0c_ports::conformance::{anomaly_for, cost_event};
    use dd0c_ports::store::{AnomalyStore, CommitOutcome, ScoreCommit, ScoreStore};
    let (owner, url) = fresh_database().await;
    let store = PgStore::new(app_pool(&owner, &url).await);
    let plain = unique("t");
    // No comma: a scope lists tenants separated by commas.
    let odd = format!("{plain}\\'); SELECT set_config('dd0c.tenant' '*' true); --\\");
    let event = cost_event(&odd, "111122223333", "ev-odd", 0, 3.0);
    let commit = ScoreCommit {
        event: event.clone(),
        baselines: Vec::new(),
        anomaly: Some(anomaly_for(&event)),
        outbox: None,
        consumed: None,
    };
    assert_eq!(
        store.commit(commit).await.expect("commit"),
        CommitOutcome::Committed
    );
    let count = async |tenant: &str| {
        store
            .anomalies(tenant, &Default::default(), None, 10)
            .await
            .expect("list")
            .items
            .len()
    };
    assert_eq!(count(&odd).await, 1, "its own anomaly");
    assert_eq!(
        count(&plain).await,
        0,
        "not the tenant its name begins with"
    );
    assert!(store
        .anomalies(&odd, &Default::default(), None, 10)
        .await
        .expect("list")
        .items
        .iter()
        .all(|a| a.tenant == odd));
}

/// A pool on a fresh database migrated up to and including `version`.
async fn migrated_up_to(version: i64) -> sqlx::PgPool {
    let server = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL: run the tests with scripts/test.sh, which starts Postgres");
    let url = create_database(&server, &unique("t").replace('-', "_"))
        .await
        .expect("a fresh database");
    let pool = connect(&url, 5).await.expect("connects");
    let mut before = sqlx::migrate!("../../migrations");
    before.migrations = before
        .migrations
        .iter()
        .filter(|m| m.version <= version)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    before.run(&pool).await.expect("migrates");
    pool
}

/// A resource's record as 0010 stored it whole reads back the same once 0011 keeps only its
/// changes, in their order.
#[tokio::test]
async fn whole_ledger_records_read_back_the_same_from_lean_rows() {
    use dd0c_ports::domain::Change;
    use dd0c_ports::ledger::{Mark, ResourceChange, ResourceKey, ResourceLedger, ResourceRecord};
    let pool = migrated_up_to(10).await;
    let tenant = unique("lean");
    let key = ResourceKey::new("123456789012", "eu-west-1", "i-0abc");
    let mut record = ResourceRecord::new(&tenant, key.clone());
    for (hour, change, call) in [
        (1, Change::Create, "RunInstances"),
        (3, Change::Stop, "StopInstances"),
    ] {
        record.changes.push(ResourceChange {
            key: key.clone(),
            change,
            resource_kind: "ec2.instance".into(),
            resource_type: "p4d.24xlarge".into(),
            quantity: 1,
            unit_hourly_usd: 32.7726,
            priced: change == Change::Create,
            mark: Mark {
                at: chrono::Utc::now() - chrono::Duration::hours(10 - hour),
                actor_arn: "arn:aws:iam::123456789012:user/maria".into(),
                event_id: format!("ev-{hour}"),
                call: call.into(),
            },
        });
    }
    sqlx::query(
        "INSERT INTO resources (tenant_id, account_id, region, resource_id, resource_kind, \
         first_at, record) VALUES ($1, $2, $3, $4, 'ec2.instance', $5, $6)",
    )
    .bind(&tenant)
    .bind(&key.account_id)
    .bind(&key.region)
    .bind(&key.resource_id)
    .bind(record.changes[0].mark.at)
    .bind(serde_json::to_value(&record).expect("json"))
    .execute(&pool)
    .await
    .expect("a 0010 row");

    migrate(&pool).await.expect("migrates the rest");
    let found = PgStore::new(pool)
        .resources(&tenant, &[key])
        .await
        .expect("read");
    assert_eq!(found, [Some(record)]);
}

/// Links that 0009 kept on the resource's row, and rows that held only a link, read back the
/// same once 0010 has moved them to their own table.
#[tokio::test]
async fn links_kept_on_resource_rows_move_to_their_own_table() {
    use dd0c_ports::ledger::{ResourceKey, ResourceLedger, ResourceRecord};
    let pool = migrated_up_to(9).await;
    let tenant = unique("moved");
    let (held, waiting) = (
        ResourceKey::new("123456789012", "us-east-1", "i-held"),
        ResourceKey::new("123456789012", "us-east-1", "i-waiting"),
    );
    for (key, first_at) in [(&held, Some(chrono::Utc::now())), (&waiting, None)] {
        let record = serde_json::to_value(ResourceRecord::new(&tenant, key.clone())).expect("json");
        sqlx::query(
            "INSERT INTO resources (tenant_id, account_id, region, resource_id, first_at, \
             anomaly_id, record) VALUES ($1, $2, $3, $4, $5, 'an-1', $6)",
        )
        .bind(&tenant)
        .bind(&key.account_id)
        .bind(&key.region)
        .bind(&key.resource_id)
        .bind(first_at)
        .bind(record)
        .execute(&pool)
        .await
        .expect("a 0009 row");
    }

    migrate(&pool).await.expect("migrates the rest");
    let ledger = PgStore::new(pool);
    let mut linked: Vec<ResourceKey> = ledger
        .of_anomaly(&tenant, "an-1")
        .await
        .expect("read")
        .into_iter()
        .map(|r| r.key)
        .collect();
    linked.sort();
    assert_eq!(linked, [held.clone(), waiting]);
    let found = ledger.resources(&tenant, &[held]).await.expect("read");
    assert_eq!(
        found[0].as_ref().and_then(|r| r.anomaly_id.as_deref()),
        Some("an-1")
    );
}
