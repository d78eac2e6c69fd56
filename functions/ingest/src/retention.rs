//! The retention job: what the self-hosted backend keeps only for a while. Processed-event
//! records and trail files read, past [`PROCESSED_RETENTION`]; the queues' expired
//! deduplication keys; archived days past the archive's retention; resources the ledger saw
//! end longer ago than its retention. (In the cloud, DynamoDB's
//! TTL forgets processed records after the same [`PROCESSED_RETENTION`], and the archive
//! bucket's lifecycle expires its days.)

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use dd0c_function::job::{Job, JobRun};
use dd0c_function::FunctionError;
use dd0c_ports::archive::Archive;
use dd0c_ports::queue::Queue;
use dd0c_ports::sources::SourceStore;
use dd0c_ports::store::{Stores, PROCESSED_RETENTION};
use dd0c_ports::PortError;

/// The retention job.
#[allow(missing_debug_implementations)]
pub struct Retention {
    /// Processed-event records, and the tenants and accounts whose archive is swept.
    pub stores: Stores,
    /// Trail files read.
    pub sources: Arc<dyn SourceStore>,
    /// Queues whose deduplication keys expire.
    pub queues: Vec<Arc<dyn Queue>>,
    /// The raw archive and the days it keeps, where there is one.
    pub archive: Option<(Arc<dyn Archive>, u32)>,
    /// Days the resource ledger keeps a resource after its end, and the decision log a
    /// finished action after its request.
    pub ledger_days: u32,
    /// How often it runs.
    pub every: Duration,
}

impl Retention {
    /// Forgets what is past its time as of `now`; how many records and objects.
    async fn forget(&self, now: DateTime<Utc>) -> Result<u64, PortError> {
        let before = now - PROCESSED_RETENTION;
        let mut forgotten = self.stores.score.forget_processed_before(before).await?;
        forgotten += self.sources.forget_reads_before(before).await?;
        for queue in &self.queues {
            forgotten += queue.forget_expired_dedup_keys().await?;
        }
        let ended_before = now - TimeDelta::days(self.ledger_days.into());
        forgotten += self.stores.ledger.prune_ended(ended_before).await?;
        // The decision log is kept as long as the ledger keeps what its actions ended.
        forgotten += self
            .stores
            .actions
            .forget_actions_before(ended_before)
            .await?;
        if let Some((archive, days)) = &self.archive {
            forgotten += self.expire_archive(archive.as_ref(), now, *days).await?;
        }
        Ok(forgotten)
    }

    /// Deletes every account's archived days older than `days`.
    async fn expire_archive(
        &self,
        archive: &dyn Archive,
        now: DateTime<Utc>,
        days: u32,
    ) -> Result<u64, PortError> {
        let cutoff = (now - TimeDelta::days(days.into())).date_naive();
        let mut deleted = 0;
        for tenant in self.stores.tenants.tenants().await? {
            for account in self.stores.tenants.accounts(&tenant.name).await? {
                deleted +=
                    crate::archive::expire(archive, &tenant.name, &account.account_id, cutoff)
                        .await?;
            }
        }
        Ok(deleted)
    }
}

#[async_trait]
impl Job for Retention {
    fn name(&self) -> &'static str {
        "retention"
    }

    fn period(&self) -> Duration {
        self.every
    }

    async fn run(&self, now: DateTime<Utc>, _replica: &str) -> Result<JobRun, FunctionError> {
        let forgotten = self
            .forget(now)
            .await
            .map_err(FunctionError::port("forgetting what is past its retention"))?;
        Ok(JobRun {
            done: forgotten,
            summary: format!("{forgotten} records and objects forgotten"),
        })
    }
}
