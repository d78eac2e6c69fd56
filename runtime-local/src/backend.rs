//! Which adapters back the process, from [`BackendArgs`]: Postgres (+ pgmq) when `DATABASE_URL`
//! is set, else the embedded in-memory default; Redis flags when `DD0C_REDIS_URL` is set, else
//! in-process ones; SMTP mail when `DD0C_SMTP_URL` is set (with `DD0C_MAIL_FROM`), else no
//! e-mail.

use std::sync::Arc;

use anyhow::{Context, Result};
use dd0c_adapters_http::HttpWebhook;
use dd0c_adapters_memory::{MemoryAttempts, MemoryFlags, MemoryQueue, MemorySources, MemoryStore};
use dd0c_adapters_postgres::{PgPool, PgStore, PgmqQueue};
use dd0c_ingest::limit::IntakeLimit;
use dd0c_ports::archive::Archive;
use dd0c_ports::attempts::Attempts;
use dd0c_ports::flags::Flags;
use dd0c_ports::mail::Mail;
use dd0c_ports::queue::Queue;
use dd0c_ports::sources::SourceStore;
use dd0c_ports::store::Stores;
use dd0c_ports::webhook::Outbound;
use dd0c_ports::webhook::Webhook;

/// Days the raw archive keeps by default (`DD0C_ARCHIVE_RETENTION_DAYS`).
pub const DEFAULT_ARCHIVE_RETENTION_DAYS: u32 = 90;

/// The queue of admitted CloudTrail records.
pub const INGEST_QUEUE: &str = "ingest";
/// The queue of priced cost events.
pub const SCORE_QUEUE: &str = "score";
/// The queue of approved actions waiting to run.
pub use dd0c_actions::ACTIONS_QUEUE;

/// Every port the dispatcher and the admin commands use.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Backend {
    /// Every store port.
    pub stores: Stores,
    /// Raw CloudTrail records for the ingest function: the demo sample, `invoke`, redriven
    /// dead letters. `POST /v1/events` prices on arrival and skips it.
    pub ingest_queue: Arc<dyn Queue>,
    /// Cost events for the score function.
    pub score_queue: Arc<dyn Queue>,
    /// Approved actions for the act role.
    pub actions_queue: Arc<dyn Queue>,
    /// Panic mode and circuit breakers.
    pub flags: Arc<dyn Flags>,
    /// Failed sign-ins, counted for every replica (beside the flags).
    pub attempts: Arc<dyn Attempts>,
    /// Each tenant's intake rate (`DD0C_TENANT_EVENTS_PER_SECOND`), when set: in Redis beside
    /// the flags when configured.
    pub intake: Option<IntakeLimit>,
    /// Outbound mail, when configured.
    pub mail: Option<Arc<dyn Mail>>,
    /// Posts to Slack, Teams, PagerDuty and tenants' webhooks, only where `outbound` allows.
    pub webhook: Arc<dyn Webhook>,
    /// Where URLs that tenants set may lead (`DD0C_OUTBOUND_PRIVATE_HOSTS`).
    pub outbound: Outbound,
    /// The Postgres pool, when on Postgres (readiness).
    pub pool: Option<PgPool>,
    /// Seals and opens customer secret keys (`DD0C_SECRETS_KEY`), when configured.
    pub secrets: Option<dd0c_ports::secrets::SecretsKey>,
    /// What the trail poller and the agents have done.
    pub sources: Arc<dyn SourceStore>,
    /// Where raw records are kept (`DD0C_ARCHIVE`), when configured.
    pub archive: Option<Arc<dyn Archive>>,
    /// Days the archive keeps.
    pub archive_retention_days: u32,
    /// Days the resource ledger keeps ended resources.
    pub ledger_retention_days: u32,
    /// Where PagerDuty is and the dashboard alerts link to.
    pub endpoints: dd0c_notify::channels::Endpoints,
    /// Customer accounts, read and acted on the way this build can (tests point it at an
    /// emulator).
    pub cloud: Arc<dyn dd0c_ports::zombie::CloudAccess>,
    /// The price catalog everything here prices with: the bundled one until the dispatcher
    /// sets the one chosen, replaced whole when a refreshed one is loaded.
    pub catalog: dd0c_ingest::Current,
    /// One line saying what this is, for the first log line.
    pub description: String,
}

impl Backend {
    /// The embedded default: everything in this process's memory, gone when it exits.
    pub fn memory() -> Result<Backend> {
        let store = Arc::new(MemoryStore::new());
        Ok(Backend {
            stores: Stores::of(store),
            ingest_queue: Arc::new(MemoryQueue::new()),
            score_queue: Arc::new(MemoryQueue::new()),
            actions_queue: Arc::new(MemoryQueue::new()),
            flags: Arc::new(MemoryFlags::new()),
            attempts: Arc::new(MemoryAttempts::new()),
            intake: None,
            mail: None,
            webhook: Arc::new(HttpWebhook::new(Outbound::default())?),
            outbound: Outbound::default(),
            pool: None,
            secrets: None,
            sources: Arc::new(MemorySources::default()),
            archive: None,
            archive_retention_days: DEFAULT_ARCHIVE_RETENTION_DAYS,
            ledger_retention_days: dd0c_ports::ledger::DEFAULT_LEDGER_RETENTION_DAYS,
            endpoints: dd0c_notify::channels::Endpoints::default(),
            cloud: crate::cloud::cloud_access(),
            catalog: dd0c_ingest::PriceCatalog::bundled().into(),
            description:
                "embedded in-memory store (DATABASE_URL is not set): nothing survives a restart"
                    .into(),
        })
    }

    /// Postgres at `database_url`, migrated through the same connection (the role owns the
    /// schema; idempotent, safe with several replicas).
    pub async fn postgres(database_url: &str, max_connections: u32) -> Result<Backend> {
        Self::postgres_as(database_url, None, max_connections).await
    }

    /// Postgres at `database_url`. With `owner_url`, migrations and queue creation run through
    /// it (the schema's owner) and the application connects as a role that owns nothing, so
    /// row-level security applies to it (`migrations/0005_row_security.sql`).
    pub async fn postgres_as(
        database_url: &str,
        owner_url: Option<&str>,
        max_connections: u32,
    ) -> Result<Backend> {
        if let Some(owner_url) = owner_url {
            let owner = dd0c_adapters_postgres::connect(owner_url, 2)
                .await
                .context("connecting to DD0C_OWNER_DATABASE_URL")?;
            dd0c_adapters_postgres::migrate(&owner)
                .await
                .context("migrating the database")?;
            for queue in [INGEST_QUEUE, SCORE_QUEUE, ACTIONS_QUEUE] {
                PgmqQueue::new(owner.clone(), queue)
                    .await
                    .context("creating the queues")?;
            }
            owner.close().await;
        }
        let pool = dd0c_adapters_postgres::connect(database_url, max_connections)
            .await
            .context("connecting to DATABASE_URL")?;
        if owner_url.is_none() {
            dd0c_adapters_postgres::migrate(&pool)
                .await
                .context("migrating the database")?;
        }
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
        let actions_queue = Arc::new(
            PgmqQueue::new(pool.clone(), ACTIONS_QUEUE)
                .await
                .context("opening the actions queue")?,
        );
        let host = database_url.rsplit('@').next().unwrap_or("postgres");
        Ok(Backend {
            stores: Stores::of(store.clone()),
            sources: store,
            archive: None,
            archive_retention_days: DEFAULT_ARCHIVE_RETENTION_DAYS,
            ledger_retention_days: dd0c_ports::ledger::DEFAULT_LEDGER_RETENTION_DAYS,
            endpoints: dd0c_notify::channels::Endpoints::default(),
            ingest_queue,
            score_queue,
            actions_queue,
            flags: Arc::new(MemoryFlags::new()),
            attempts: Arc::new(MemoryAttempts::new()),
            intake: None,
            mail: None,
            webhook: Arc::new(HttpWebhook::new(Outbound::default())?),
            outbound: Outbound::default(),
            pool: Some(pool),
            secrets: None,
            cloud: crate::cloud::cloud_access(),
            catalog: dd0c_ingest::PriceCatalog::bundled().into(),
            description: format!("Postgres at {host} (queues on pgmq)"),
        })
    }

    /// The same, posting to tenants' URLs where `outbound` allows.
    pub fn outbound(mut self, outbound: Outbound) -> Result<Backend> {
        self.webhook = Arc::new(HttpWebhook::new(outbound.clone())?);
        self.outbound = outbound;
        Ok(self)
    }

    /// The zombie hunter over these stores, reading accounts the way this build can, judging at
    /// `clock`'s time.
    pub fn hunter(&self, clock: Arc<dyn dd0c_ports::clock::Clock>) -> dd0c_zombie::Hunter {
        dd0c_zombie::Hunter::new(
            self.stores.clone(),
            self.cloud.clone(),
            dd0c_ports::secrets::Credentials::new(
                self.stores.tenants.clone(),
                self.secrets.clone(),
            ),
            self.catalog.clone(),
            clock,
        )
    }

    /// Requesting, approving and running actions over this backend, on the accounts this
    /// build can reach, at `clock`'s time.
    pub fn remediation(
        &self,
        clock: Arc<dyn dd0c_ports::clock::Clock>,
    ) -> dd0c_actions::Remediation {
        dd0c_actions::Remediation {
            stores: self.stores.clone(),
            flags: self.flags.clone(),
            cloud: self.cloud.clone(),
            credentials: dd0c_ports::secrets::Credentials::new(
                self.stores.tenants.clone(),
                self.secrets.clone(),
            ),
            queue: self.actions_queue.clone(),
            clock,
            announce: Some(self.webhook.clone()),
        }
    }

    /// The queues by name.
    pub fn queue(&self, name: &str) -> Result<Arc<dyn Queue>> {
        match name {
            INGEST_QUEUE => Ok(self.ingest_queue.clone()),
            SCORE_QUEUE => Ok(self.score_queue.clone()),
            ACTIONS_QUEUE => Ok(self.actions_queue.clone()),
            other => anyhow::bail!(
                "no queue {other:?} (queues: {INGEST_QUEUE}, {SCORE_QUEUE}, {ACTIONS_QUEUE})"
            ),
        }
    }
}

/// `/readyz`: whether the database answers (the in-memory default always does).
#[async_trait::async_trait]
impl dd0c_api::operations::Readiness for Backend {
    async fn ready(&self) -> bool {
        match &self.pool {
            Some(pool) => dd0c_adapters_postgres::ping(pool).await,
            None => true,
        }
    }
}

/// Postgres connections per process when `DD0C_DB_CONNECTIONS` is unset: two per CPU, from 4 to
/// 16. Backends beyond the cores only take turns on them, and each new one warms its caches
/// afresh: on 2 cores the e2e bench (`runtime-local/benches/e2e.rs`) scored 20–30% fewer events
/// per second with 32 connections than with 4. The ceiling keeps the compose file's three
/// dispatchers within Postgres' default `max_connections` (100) on a large host.
pub fn default_connections() -> u32 {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(cpus * 2).unwrap_or(u32::MAX).clamp(4, 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_connection_count_stays_within_its_bounds() {
        assert!((4..=16).contains(&default_connections()));
    }
}
