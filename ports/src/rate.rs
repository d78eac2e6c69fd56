//! The rate port: token buckets shared by every replica — what bounds how many CloudTrail
//! records one tenant may push per second. Redis self-hosted (every replica and the `backfill`
//! command draw from one bucket), memory in a single process.
//!
//! A bucket holds up to `burst` tokens and refills at `per_second`. A draw names what the
//! bucket must hold for it to be granted (`need`) apart from what it takes (`take`), so that one
//! bucket serves two kinds of caller: live traffic may take a whole push when the bucket holds
//! a burst's worth (the balance may go below zero: the next draw waits until it is repaid), and
//! background work takes only what live traffic leaves above a reserve.

use std::time::Duration;

use async_trait::async_trait;

use crate::PortResult;

/// A bucket's size and refill rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Tokens added per second.
    pub per_second: f64,
    /// Most tokens the bucket holds (a full bucket to begin with).
    pub burst: f64,
}

/// One draw on a bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    /// What the bucket must hold, after its refill, for the draw to be granted.
    pub need: f64,
    /// What a granted draw takes out (may leave the balance below zero).
    pub take: f64,
}

/// The answer to a draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drawn {
    /// Taken.
    Granted,
    /// Refused, nothing taken: the bucket will hold what the draw needs after this long (at
    /// its refill rate, if nobody else draws meanwhile).
    Wait(Duration),
}

/// Token buckets by key.
#[async_trait]
pub trait TokenBuckets: Send + Sync {
    /// Refills bucket `key` (shaped `bucket`; full when new) for the time since its last draw,
    /// then grants `draw` if the bucket holds `draw.need`, taking `draw.take`.
    async fn draw(&self, key: &str, bucket: Bucket, draw: Draw) -> PortResult<Drawn>;
}

/// What a bucket holding `balance` answers `draw`: the balance after it, and the answer. The
/// arithmetic every adapter applies after its refill (Redis runs the same in its script).
pub fn settle(balance: f64, bucket: Bucket, draw: Draw) -> (f64, Drawn) {
    if balance >= draw.need {
        (balance - draw.take, Drawn::Granted)
    } else {
        let seconds = (draw.need - balance) / bucket.per_second.max(f64::MIN_POSITIVE);
        (
            balance,
            Drawn::Wait(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)),
        )
    }
}

/// The balance of a bucket that held `balance` `elapsed` ago: refilled, at most `burst`.
pub fn refill(balance: f64, bucket: Bucket, elapsed: Duration) -> f64 {
    (balance + elapsed.as_secs_f64() * bucket.per_second).min(bucket.burst)
}
