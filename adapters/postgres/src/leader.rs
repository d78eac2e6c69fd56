use dd0c_ports::PortResult;
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

use crate::error::backend;

/// Session-level advisory locks: the holder of a job's lock is its leader for as long as it
/// keeps the guard (its connection). A replica that dies releases the lock with its connection.
#[derive(Debug, Clone)]
pub struct Leader {
    pool: PgPool,
}

/// Holds an advisory lock until dropped (the connection returns to the pool after an explicit
/// unlock) or until its connection dies.
#[derive(Debug)]
pub struct LeaderGuard {
    connection: Option<PoolConnection<Postgres>>,
    key: i64,
}

/// A stable 64-bit lock key for a job name (FNV-1a).
pub(crate) fn lock_key(name: &str) -> i64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

impl Leader {
    /// Advisory locks on `pool`'s database.
    pub fn new(pool: PgPool) -> Self {
        Leader { pool }
    }

    /// The lock of `job` if no other session holds it.
    pub async fn try_lead(&self, job: &str) -> PortResult<Option<LeaderGuard>> {
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(|e| backend("acquiring a connection", e))?;
        let key = lock_key(job);
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *connection)
            .await
            .map_err(|e| backend("taking an advisory lock", e))?;
        Ok(locked.then_some(LeaderGuard {
            connection: Some(connection),
            key,
        }))
    }

    /// The lock of `job`, waiting for other holders.
    pub async fn wait_for(&self, job: &str) -> PortResult<LeaderGuard> {
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(|e| backend("acquiring a connection", e))?;
        let key = lock_key(job);
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(key)
            .execute(&mut *connection)
            .await
            .map_err(|e| backend("waiting for an advisory lock", e))?;
        Ok(LeaderGuard {
            connection: Some(connection),
            key,
        })
    }
}

impl LeaderGuard {
    /// Releases the lock now.
    pub async fn release(mut self) -> PortResult<()> {
        if let Some(mut connection) = self.connection.take() {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(self.key)
                .execute(&mut *connection)
                .await
                .map_err(|e| backend("releasing an advisory lock", e))?;
        }
        Ok(())
    }
}

impl Drop for LeaderGuard {
    fn drop(&mut self) {
        // Not released explicitly: close the session, which releases its advisory locks, rather
        // than return a locked connection to the pool.
        if let Some(connection) = self.connection.take() {
            drop(connection.detach());
        }
    }
}
