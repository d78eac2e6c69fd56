//! # dd0c-adapters-redis
//!
//! [`RedisFlags`]: panic mode, remediation settings and circuit breakers in Redis (`DD0C_REDIS_URL`), so that every
//! replica of a self-hosted install sees the same switch at once; [`RedisAttempts`] on the same
//! connection: sign-in failures counted across replicas; [`RedisBuckets`], each tenant's intake
//! rate drawn on by every replica. Keys: `dd0c:panic:{tenant}`
//! (present while panic mode is on), `dd0c:remediation:{tenant}` (the settings as JSON, absent
//! while never set), `dd0c:slots:{tenant}:{hour}` (actions run in a clock hour, kept two hours)
//! and `dd0c:breaker:{tenant}:{channel}` (the breaker state as JSON),
//! `dd0c:bucket:{key}`. A connection manager reconnects by itself after Redis restarts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dd0c_ports::flags::{BreakerState, Flags};
use dd0c_ports::remediation::RemediationSettings;
use dd0c_ports::{PortError, PortResult};
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

mod attempts;
mod rate;

pub use attempts::RedisAttempts;
pub use rate::RedisBuckets;

/// Flags in Redis.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct RedisFlags {
    pub(crate) connection: ConnectionManager,
}

fn backend(what: &str, e: redis::RedisError) -> PortError {
    PortError::caused(format!("Redis, {what}"), e)
}

impl RedisFlags {
    /// Connects to `url` (`redis://[:password@]host[:port][/db]`).
    pub async fn connect(url: &str) -> PortResult<RedisFlags> {
        let client = redis::Client::open(url)
            .map_err(|e| PortError::Invalid(format!("DD0C_REDIS_URL is not a Redis URL: {e}")))?;
        let connection = ConnectionManager::new(client)
            .await
            .map_err(|e| backend("connecting", e))?;
        Ok(RedisFlags { connection })
    }
}

fn panic_key(tenant: &str) -> String {
    format!("dd0c:panic:{tenant}")
}

fn remediation_key(tenant: &str) -> String {
    format!("dd0c:remediation:{tenant}")
}

/// Takes a slot of a count (KEYS[1]) while it is under ARGV[1], keeping the count ARGV[2]
/// seconds: one step, so replicas taking slots at once never pass the limit together.
const TAKE_SLOT: &str = r"
local taken = tonumber(redis.call('GET', KEYS[1]) or '0')
if taken >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
";

fn breaker_key(channel: &str) -> String {
    format!("dd0c:breaker:{channel}")
}

#[async_trait]
impl Flags for RedisFlags {
    async fn panic_mode(&self, tenant: &str) -> PortResult<bool> {
        self.connection
            .clone()
            .exists(panic_key(tenant))
            .await
            .map_err(|e| backend("reading panic mode", e))
    }

    async fn set_panic_mode(&self, tenant: &str, on: bool) -> PortResult<()> {
        let mut connection = self.connection.clone();
        let result: Result<(), _> = if on {
            connection.set(panic_key(tenant), "1").await
        } else {
            connection.del(panic_key(tenant)).await
        };
        result.map_err(|e| backend("setting panic mode", e))
    }

    async fn remediation(&self, tenant: &str) -> PortResult<RemediationSettings> {
        let stored: Option<String> = self
            .connection
            .clone()
            .get(remediation_key(tenant))
            .await
            .map_err(|e| backend("reading remediation settings", e))?;
        stored.map_or(Ok(RemediationSettings::default()), |json| {
            serde_json::from_str(&json).map_err(|e| {
                PortError::caused(format!("remediation settings of {tenant}: unreadable"), e)
            })
        })
    }

    async fn set_remediation(
        &self,
        tenant: &str,
        settings: &RemediationSettings,
    ) -> PortResult<()> {
        let json = serde_json::to_string(settings)
            .map_err(|e| PortError::caused("encoding remediation settings", e))?;
        self.connection
            .clone()
            .set(remediation_key(tenant), json)
            .await
            .map_err(|e| backend("storing remediation settings", e))
    }

    async fn take_action_slot(
        &self,
        tenant: &str,
        hour: DateTime<Utc>,
        most: u32,
    ) -> PortResult<bool> {
        let taken: i64 = redis::Script::new(TAKE_SLOT)
            .key(format!("dd0c:slots:{tenant}:{}", hour.timestamp()))
            .arg(most)
            .arg(2 * 3600)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(|e| backend("taking an action slot", e))?;
        Ok(taken == 1)
    }

    async fn breaker(&self, channel: &str) -> PortResult<Option<BreakerState>> {
        let stored: Option<String> = self
            .connection
            .clone()
            .get(breaker_key(channel))
            .await
            .map_err(|e| backend("reading a breaker", e))?;
        stored
            .map(|json| {
                serde_json::from_str(&json).map_err(|e| {
                    PortError::caused(format!("breaker {channel}: stored state unreadable"), e)
                })
            })
            .transpose()
    }

    async fn put_breaker(&self, channel: &str, state: &BreakerState) -> PortResult<()> {
        let json =
            serde_json::to_string(state).map_err(|e| PortError::caused("encoding a breaker", e))?;
        self.connection
            .clone()
            .set(breaker_key(channel), json)
            .await
            .map_err(|e| backend("storing a breaker", e))
    }
}
