//! Panic mode, remediation settings and circuit breakers in this process.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dd0c_ports::flags::{BreakerState, Flags};
use dd0c_ports::remediation::RemediationSettings;
use dd0c_ports::PortResult;

use crate::lock;

/// Panic mode and breakers in memory (single-process installs).
#[derive(Debug, Default)]
pub struct MemoryFlags {
    panic: Mutex<HashMap<String, bool>>,
    breakers: Mutex<HashMap<String, BreakerState>>,
    remediation: Mutex<HashMap<String, RemediationSettings>>,
    slots: Mutex<HashMap<(String, DateTime<Utc>), u32>>,
}

impl MemoryFlags {
    /// Everything off.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Flags for MemoryFlags {
    async fn panic_mode(&self, tenant: &str) -> PortResult<bool> {
        Ok(lock(&self.panic).get(tenant).copied().unwrap_or(false))
    }

    async fn set_panic_mode(&self, tenant: &str, on: bool) -> PortResult<()> {
        lock(&self.panic).insert(tenant.to_owned(), on);
        Ok(())
    }

    async fn remediation(&self, tenant: &str) -> PortResult<RemediationSettings> {
        Ok(lock(&self.remediation)
            .get(tenant)
            .cloned()
            .unwrap_or_default())
    }

    async fn set_remediation(
        &self,
        tenant: &str,
        settings: &RemediationSettings,
    ) -> PortResult<()> {
        lock(&self.remediation).insert(tenant.to_owned(), settings.clone());
        Ok(())
    }

    async fn take_action_slot(
        &self,
        tenant: &str,
        hour: DateTime<Utc>,
        most: u32,
    ) -> PortResult<bool> {
        let mut slots = lock(&self.slots);
        slots.retain(|(_, h), _| *h >= hour - chrono::Duration::hours(1));
        let taken = slots.entry((tenant.to_owned(), hour)).or_default();
        let free = *taken < most;
        if free {
            *taken += 1;
        }
        Ok(free)
    }

    async fn breaker(&self, channel: &str) -> PortResult<Option<BreakerState>> {
        Ok(lock(&self.breakers).get(channel).copied())
    }

    async fn put_breaker(&self, channel: &str, state: &BreakerState) -> PortResult<()> {
        lock(&self.breakers).insert(channel.to_owned(), *state);
        Ok(())
    }
}
