//! [`RedisAttempts`]: counts in fixed windows in Redis, shared by every replica. A key's count is
//! `dd0c:attempts:{key}`, expiring when its window ends (set by the first count only).

use std::time::Duration;

use async_trait::async_trait;
use dd0c_ports::attempts::{Attempts, Tally};
use dd0c_ports::PortResult;
use redis::aio::ConnectionManager;

use crate::{backend, RedisFlags};

/// Attempts in Redis.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct RedisAttempts {
    connection: ConnectionManager,
}

impl RedisAttempts {
    /// Attempts on the connection of `flags`.
    pub fn of(flags: &RedisFlags) -> Self {
        RedisAttempts {
            connection: flags.connection.clone(),
        }
    }
}

fn attempts_key(key: &str) -> String {
    format!("dd0c:attempts:{key}")
}

/// A tally from a count and a `PTTL` answer (negative: no expiry, or no key).
fn tally(count: Option<u64>, pttl_ms: i64) -> Tally {
    match count {
        Some(count) if pttl_ms > 0 => Tally {
            count,
            retry_after: (pttl_ms as u64).div_ceil(1000),
        },
        _ => Tally::default(),
    }
}

#[async_trait]
impl Attempts for RedisAttempts {
    async fn count(&self, key: &str, window: Duration) -> PortResult<Tally> {
        let key = attempts_key(key);
        let (count, pttl): (u64, i64) = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(window.as_millis().max(1) as u64)
            .arg("NX")
            .ignore()
            .pttl(&key)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|e| backend("counting an attempt", e))?;
        Ok(tally(Some(count), pttl))
    }

    async fn tally(&self, key: &str) -> PortResult<Tally> {
        let key = attempts_key(key);
        let (count, pttl): (Option<u64>, i64) = redis::pipe()
            .get(&key)
            .pttl(&key)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|e| backend("reading attempts", e))?;
        Ok(tally(count, pttl))
    }

    async fn forget(&self, key: &str) -> PortResult<()> {
        redis::cmd("DEL")
            .arg(attempts_key(key))
            .query_async::<()>(&mut self.connection.clone())
            .await
            .map_err(|e| backend("forgetting attempts", e))
    }
}
