//! Postgres advisory locks: one session at a time runs what a lock guards (pgmq's installer);
//! a session that dies releases its locks with its connection.

use dd0c_ports::PortResult;
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

use crate::error::backend;

/// A stable 64-bit lock key for a name (FNV-1a).
pub(crate) fn lock_key(name: &str) -> i64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// Holds a session-level advisory lock until dropped.
#[derive(Debug)]
pub(crate) struct LockGuard {
    connection: Option<PoolConnection<Postgres>>,
}

/// Waits for the advisory lock of `name` on `pool`'s database.
pub(crate) async fn advisory_lock(pool: &PgPool, name: &str) -> PortResult<LockGuard> {
    let mut connection = pool
        .acquire()
        .await
        .map_err(|e| backend("acquiring a connection", e))?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(lock_key(name))
        .execute(&mut *connection)
        .await
        .map_err(|e| backend("waiting for an advisory lock", e))?;
    Ok(LockGuard {
        connection: Some(connection),
    })
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Close the session, which releases its advisory locks, rather than return a locked
        // connection to the pool.
        if let Some(connection) = self.connection.take() {
            drop(connection.detach());
        }
    }
}
