//! Each tenant's intake rate (`DD0C_TENANT_EVENTS_PER_SECOND`): one token bucket per tenant,
//! drawn on for every CloudTrail record an edge admits of it, shared by every replica (and
//! the `backfill` command) through the [`TokenBuckets`] port — Redis when configured.
//!
//! Two kinds of caller share the bucket, and live traffic comes first:
//! - **live** (`POST /v1/events`, the agents' gRPC stream): a push is granted whole when the
//!   bucket holds its records, or a full burst for a push larger than that (the balance then
//!   goes below zero and later pushes wait until it is repaid); refused, it is told how long to
//!   wait (`429` + `Retry-After`, `RESOURCE_EXHAUSTED`) and nothing is queued;
//! - **background** (the trail poller, `backfill`): never refused — it waits — and takes its
//!   records in parts of at most a quarter of the burst, each only while half the burst stays
//!   in the bucket for live traffic. A tenant's backfill so runs at the rate live traffic
//!   leaves unused, and a live push behind it finds the bucket at least half full.

use std::sync::Arc;
use std::time::Duration;

use dd0c_ports::rate::{Bucket, Draw, Drawn, TokenBuckets};
use dd0c_ports::PortResult;

/// A tenant's intake rate over shared buckets.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct IntakeLimit {
    buckets: Arc<dyn TokenBuckets>,
    bucket: Bucket,
}

/// A live push refused: what the tenant may send, and how long until it may send this.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error(
    "over the tenant's intake rate of {} records a second (bursts of {}); nothing was queued: \
     send again in {} s",
    bucket.per_second,
    bucket.burst,
    self.retry_after_secs()
)]
pub struct OverRate {
    /// How long until the push would be granted.
    pub wait: Duration,
    /// The tenant's bucket.
    pub bucket: Bucket,
}

impl OverRate {
    /// Whole seconds to wait (at least one): what `Retry-After` says.
    pub fn retry_after_secs(&self) -> u64 {
        self.wait.as_secs_f64().ceil().max(1.0) as u64
    }
}

/// The bucket of `tenant`'s intake.
fn key(tenant: &str) -> String {
    format!("intake:{tenant}")
}

impl IntakeLimit {
    /// `per_second` records per tenant, in bursts of up to `burst`, over `buckets`.
    pub fn new(buckets: Arc<dyn TokenBuckets>, per_second: f64, burst: f64) -> Self {
        IntakeLimit {
            buckets,
            bucket: Bucket { per_second, burst },
        }
    }

    /// Draws `records` for a live push of `tenant`: `None` when granted, else why not and how
    /// long to wait before the push is sent again.
    pub async fn live(&self, tenant: &str, records: usize) -> PortResult<Option<OverRate>> {
        let records = records as f64;
        let draw = Draw {
            need: records.min(self.bucket.burst),
            take: records,
        };
        Ok(
            match self.buckets.draw(&key(tenant), self.bucket, draw).await? {
                Drawn::Granted => None,
                Drawn::Wait(wait) => Some(OverRate {
                    wait,
                    bucket: self.bucket,
                }),
            },
        )
    }

    /// Draws `records` for background work of `tenant`, part by part, waiting whenever live
    /// traffic needs the bucket more; returns once every record is drawn.
    pub async fn background(&self, tenant: &str, records: usize) -> PortResult<()> {
        let part = (self.bucket.burst / 4.0).floor().max(1.0);
        let reserve = self.bucket.burst / 2.0;
        let mut left = records as f64;
        while left > 0.0 {
            let take = left.min(part);
            let draw = Draw {
                // A burst too small to split still lets background work through when full.
                need: (take + reserve).min(self.bucket.burst),
                take,
            };
            match self.buckets.draw(&key(tenant), self.bucket, draw).await? {
                Drawn::Granted => left -= take,
                Drawn::Wait(wait) => tokio::time::sleep(wait).await,
            }
        }
        Ok(())
    }
}
