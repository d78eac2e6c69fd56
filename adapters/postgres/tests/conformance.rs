//! The Postgres adapters against every port's conformance suite, on a real server
//! (`scripts/test.sh` starts one and sets `DATABASE_URL`).

use std::sync::Arc;

use dd0c_adapters_postgres::{connect, create_database, migrate, PgStore, PgmqQueue};
use dd0c_ports::conformance::{self, unique};
use dd0c_ports::queue::Queue;
use dd0c_ports::store::Stores;
use sqlx::PgPool;

/// A migrated database of its own.
async fn fresh_pool() -> PgPool {
    let server = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL: run the tests with scripts/test.sh, which starts Postgres");
    let name = unique("t").replace('-', "_");
    let url = create_database(&server, &name)
        .await
        .expect("a fresh database");
    let pool = connect(&url, 20).await.expect("connects");
    migrate(&pool).await.expect("migrates");
    pool
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pg_store_passes_the_store_suite() {
    conformance::store_suite(Stores::of(Arc::new(PgStore::new(fresh_pool().await)))).await;
}

#[tokio::test]
async fn pgmq_queue_passes_the_queue_suite() {
    let pool = fresh_pool().await;
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

#[tokio::test]
async fn expired_dedup_keys_are_forgotten_and_delivered_messages_leave_no_copy() {
    let pool = fresh_pool().await;
    let name = unique("q").replace('-', "_");
    let queue = PgmqQueue::new(pool.clone(), &name).await.expect("queue");
    for key in ["old", "new"] {
        queue
            .send(dd0c_ports::queue::OutgoingMessage {
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
