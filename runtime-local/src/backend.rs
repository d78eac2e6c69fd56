//! Which adapters back the process: Postgres (+ pgmq) when `DATABASE_URL` is set, else the
//! embedded in-memory default.

use std::sync::Arc;

use anyhow::{Context, Result};
use dd0c_adapters_memory::{MemoryQueue, MemoryStore};
use dd0c_adapters_postgres::{PgPool, PgStore, PgmqQueue};
use dd0c_ports::queue::Queue;
use dd0c_ports::store::Stores;

/// The queue of admitted CloudTrail records.
pub const INGEST_QUEUE: &str = "ingest";
/// The queue of priced cost events.
pub const SCORE_QUEUE: &str = "score";

/// Every port the dispatcher and the admin commands use.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Backend {
    /// Every store port.
    pub stores: Stores,
    pub ingest_queue: Arc<dyn Queue>,
    pub score_queue: Arc<dyn Queue>,
    /// The Postgres pool, when on Postgres (readiness).
    pub pool: Option<PgPool>,
    /// One line saying what this is, for the first log line.
    pub description: String,
}

impl Backend {
    /// The embedded default: everything in this process's memory, gone when it exits.
    pub fn memory() -> Backend {
        let store = Arc::new(MemoryStore::new());
        Backend {
            stores: Stores::of(store),
            ingest_queue: Arc::new(MemoryQueue::new()),
            score_queue: Arc::new(MemoryQueue::new()),
            pool: None,
            description:
                "embedded in-memory store (DATABASE_URL is not set): nothing survives a restart"
                    .into(),
        }
    }

    /// Postgres at `database_url`, migrated (idempotent, safe with several replicas).
    pub async fn postgres(database_url: &str, max_connections: u32) -> Result<Backend> {
        let pool = dd0c_adapters_postgres::connect(database_url, max_connections)
            .await
            .context("connecting to DATABASE_URL")?;
        dd0c_adapters_postgres::migrate(&pool)
            .await
            .context("migrating the database")?;
        let store = Arc::new(PgStore::new(pool.clone()));
        let ingest_queue = Arc::new(
            PgmqQueue::new(pool.clone(), INGEST_QUEUE)
                .await
                .context("opening the ingest queue")?,
        );
        let score_queue = Arc::new(
            PgmqQueue::new(pool.clone(), SCORE_QUEUE)
                .await
                .context("opening the score queue")?,
        );
        let host = database_url.rsplit('@').next().unwrap_or("postgres");
        Ok(Backend {
            stores: Stores::of(store),
            ingest_queue,
            score_queue,
            pool: Some(pool),
            description: format!("Postgres at {host} (queues on pgmq)"),
        })
    }

    /// Postgres when `DATABASE_URL` is set, else memory.
    pub async fn from_env() -> Result<Backend> {
        match std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            Some(url) => Self::postgres(&url, 32).await,
            None => Ok(Self::memory()),
        }
    }

    /// Whether the backend answers.
    pub async fn ready(&self) -> bool {
        match &self.pool {
            Some(pool) => dd0c_adapters_postgres::ping(pool).await,
            None => true,
        }
    }

    /// The queues by name.
    pub fn queue(&self, name: &str) -> Result<Arc<dyn Queue>> {
        match name {
            INGEST_QUEUE => Ok(self.ingest_queue.clone()),
            SCORE_QUEUE => Ok(self.score_queue.clone()),
            other => anyhow::bail!("no queue {other:?} (queues: {INGEST_QUEUE}, {SCORE_QUEUE})"),
        }
    }
}
