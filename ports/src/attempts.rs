//! The attempts port: counts in fixed windows shared by every replica — what sign-in throttling
//! keeps, so that an attacker spreading guesses over replicas gains nothing. Redis self-hosted,
//! memory in a single process.

use std::time::Duration;

use async_trait::async_trait;

use crate::PortResult;

/// A key's count in its current window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Counted since the window began.
    pub count: u64,
    /// Seconds until the window ends (and the count with it); 0 when there is none.
    pub retry_after: u64,
}

/// Counts by key in fixed windows.
#[async_trait]
pub trait Attempts: Send + Sync {
    /// Counts one under `key`: a window of `window` begins with the first; answers the tally
    /// with this one counted.
    async fn count(&self, key: &str, window: Duration) -> PortResult<Tally>;
    /// The tally of `key` now (zero when its window has ended or none began).
    async fn tally(&self, key: &str) -> PortResult<Tally>;
    /// Forgets `key`.
    async fn forget(&self, key: &str) -> PortResult<()>;
}
