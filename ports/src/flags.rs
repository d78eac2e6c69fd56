//! The flags port: panic mode and remediation settings per tenant, circuit-breaker state per
//! channel — small, hot, shared by every replica (Redis self-hosted, DynamoDB in the cloud).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::remediation::RemediationSettings;
use crate::PortResult;

/// A circuit breaker's persisted state. The transition logic lives with the notifier; the port
/// only stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerState {
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// While set and in the future, the channel is open (skipped); after it, one trial is let through.
    pub open_until: Option<DateTime<Utc>>,
    /// How many times in a row the breaker has opened (drives exponential backoff).
    pub trips: u32,
}

/// Panic mode, remediation settings and circuit breakers.
#[async_trait]
pub trait Flags: Send + Sync {
    /// The tenant's remediation settings; the default (off) when none were set.
    async fn remediation(&self, tenant: &str) -> PortResult<RemediationSettings>;
    /// Stores the tenant's remediation settings (validated by the caller).
    async fn set_remediation(&self, tenant: &str, settings: &RemediationSettings)
        -> PortResult<()>;
    /// Takes one of the tenant's `most` action slots of the clock hour beginning at `hour`:
    /// `true` when fewer than `most` were taken in it (and counts this one), `false` when none
    /// is left. Every replica counts in the same hour; a past hour's count is forgotten.
    async fn take_action_slot(
        &self,
        tenant: &str,
        hour: DateTime<Utc>,
        most: u32,
    ) -> PortResult<bool>;
    /// Whether the tenant is in panic mode (every outbound notification held).
    async fn panic_mode(&self, tenant: &str) -> PortResult<bool>;
    /// Turns panic mode on or off for a tenant.
    async fn set_panic_mode(&self, tenant: &str, on: bool) -> PortResult<()>;
    /// A channel's breaker (`tenant:slack`, `tenant:email`), or `None` if it never failed.
    async fn breaker(&self, channel: &str) -> PortResult<Option<BreakerState>>;
    /// Stores a channel's breaker state.
    async fn put_breaker(&self, channel: &str, state: &BreakerState) -> PortResult<()>;
}
