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
