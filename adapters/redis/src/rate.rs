//! [`RedisBuckets`]: token buckets in Redis, one per key at `dd0c:bucket:{key}` (a hash of the
//! balance and the server time of the last draw), drawn on by one script so that replicas
//! drawing at once never both spend the same tokens. Time is Redis's own (`TIME`): replicas'
//! clocks need not agree. A bucket expires once it would have refilled: a new one is full.

use async_trait::async_trait;
use dd0c_ports::rate::{Bucket, Draw, Drawn, TokenBuckets};
use dd0c_ports::{PortError, PortResult};
use redis::aio::ConnectionManager;

use crate::{backend, RedisFlags};

/// The draw: refill for the time since the last draw (at most the burst), grant when the
/// balance holds `need`, taking `take`; the same arithmetic as `dd0c_ports::rate::settle`.
/// Answers whether granted and, when not, the seconds to wait (as a string: Lua numbers
/// become integers on the way out).
const DRAW: &str = r"
local per_second, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local need, take = tonumber(ARGV[3]), tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1e6
local stored = redis.call('HMGET', KEYS[1], 'balance', 'at')
local balance = tonumber(stored[1]) or burst
local at = tonumber(stored[2]) or now
balance = math.min(burst, balance + math.max(0, now - at) * per_second)
local granted, wait = 0, 0
if balance >= need then
  balance = balance - take
  granted = 1
else
  wait = (need - balance) / per_second
end
redis.call('HSET', KEYS[1], 'balance', tostring(balance), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - balance) / per_second * 1000) + 1000)
return {granted, tostring(wait)}
";

/// Token buckets in Redis.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct RedisBuckets {
    connection: ConnectionManager,
    script: redis::Script,
}

impl RedisBuckets {
    /// Buckets on the connection of `flags`.
    pub fn of(flags: &RedisFlags) -> Self {
        RedisBuckets {
            connection: flags.connection.clone(),
            script: redis::Script::new(DRAW),
        }
    }
}

#[async_trait]
impl TokenBuckets for RedisBuckets {
    async fn draw(&self, key: &str, bucket: Bucket, draw: Draw) -> PortResult<Drawn> {
        if !(bucket.per_second > 0.0 && bucket.burst > 0.0) {
            return Err(PortError::Invalid(format!(
                "a bucket refills and holds something: {bucket:?}"
            )));
        }
        let (granted, wait): (i64, String) = self
            .script
            .key(format!("dd0c:bucket:{key}"))
            .arg(bucket.per_second)
            .arg(bucket.burst)
            .arg(draw.need)
            .arg(draw.take)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(|e| backend("drawing on a token bucket", e))?;
        if granted == 1 {
            return Ok(Drawn::Granted);
        }
        let seconds: f64 = wait
            .parse()
            .map_err(|e| PortError::caused(format!("Redis answered a wait of {wait:?}"), e))?;
        Ok(Drawn::Wait(
            std::time::Duration::try_from_secs_f64(seconds).unwrap_or(std::time::Duration::MAX),
        ))
    }
}
