//! The trail-bucket source: the account's CloudTrail bucket read by the same poller the
//! dispatcher runs ([`dd0c_ingest::trail`]), with the host's own credentials; each file's records
//! filtered and spooled. Checkpoints and the files read are kept in the spool directory, so a
//! restarted agent repeats nothing.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use dd0c_ingest::trail::{Deliver, Delivered, Poller, TrailAccess};
use dd0c_ports::sources::{OpenTrail, Trail};
use dd0c_ports::PortError;
use tokio_util::sync::CancellationToken;

use crate::spool::Spool;
use crate::{Filter, Stats};

/// Opens the bucket with the agent's own AWS configuration (its instance role, inside the
/// account).
#[derive(Debug)]
pub struct HostTrails(pub aws_config::SdkConfig);

#[async_trait]
impl TrailAccess for HostTrails {
    async fn open(&self, trail: &Trail) -> Result<OpenTrail, PortError> {
        Ok(dd0c_adapters_aws::S3Trail::open(
            &self.0,
            &trail.location.bucket,
        ))
    }
}

/// Hands each file's kept records to the spool.
#[allow(missing_debug_implementations)]
pub struct ToSpool {
    /// What is forwarded.
    pub filter: Filter,
    /// The most one file may inflate to.
    pub inflate: dd0c_ingest::inflate::InflateLimit,
    /// Where batches wait.
    pub spool: Arc<Spool>,
    /// Newest event time read.
    pub stats: Arc<Stats>,
    /// Wakes the forwarder.
    pub wake: Arc<tokio::sync::Notify>,
}

#[async_trait]
impl Deliver for ToSpool {
    async fn deliver(
        &self,
        _tenant: &str,
        _account_id: &str,
        origin: &str,
        bytes: Vec<u8>,
    ) -> Result<Delivered, PortError> {
        let mut records = Vec::new();
        let mut read = 0;
        let split = dd0c_ingest::split_records(&bytes, origin, self.inflate, &mut |record| {
            read += 1;
            if let Ok(record) = record {
                self.stats
                    .newest_ms
                    .fetch_max(record.event_time.timestamp_millis(), Ordering::Relaxed);
                if self.filter.keeps(record.text) {
                    records.push(record.text.to_owned());
                }
            }
        });
        if let Err(refused) = split {
            // Reading it again would refuse it again: it counts as read, and says why not.
            tracing::warn!(file = %origin, error = %refused, "trail file skipped");
        }
        // A log file can hold more records than one batch may carry.
        for batch in records.chunks(crate::BATCH_RECORDS) {
            self.spool
                .push(batch)
                .map_err(|e| PortError::caused(format!("spooling {origin}"), e))?;
        }
        if !records.is_empty() {
            self.wake.notify_one();
        }
        Ok(Delivered {
            records: read,
            cost_events: 0,
        })
    }
}

/// Polls `trail` every `every` until `shutdown`, while the spool has room.
pub async fn run(
    poller: Poller,
    trail: Trail,
    spool: Arc<Spool>,
    every: Duration,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        match spool.has_room() {
            Ok(true) => match poller.poll(&trail, Utc::now()).await {
                Ok(pass) if pass.files > 0 => {
                    tracing::info!(
                        source = "s3",
                        files = pass.files,
                        records = pass.records,
                        "read"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(source = "s3", error = %e, "retrying next poll"),
            },
            Ok(false) => {}
            Err(e) => tracing::warn!(source = "s3", error = %format!("{e:#}"), "spool unreadable"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
