//! # dd0c-adapters-postgres
//!
//! The self-hosted backend: every store port on Postgres tables (JSONB payloads beside the
//! columns queries use), the queue port on pgmq, installed from SQL — no C extension, so it runs
//! on Debian's PostgreSQL 15 and on the compose image alike.
//!
//! Map:
//! - [`connect`] and [`migrate`] — the pool, the schema (`migrations/`, sqlx) and pgmq's SQL.
//! - [`PgStore`] — `ScoreStore`, `AnomalyStore`, `CostEventStore`, `TenantStore`,
//!   `SettingsStore`, `OutboxStore`, `IngestTokens`. Its scoring commit is one transaction:
//!   processed-event records, baselines (version-checked), cost events, anomalies, outbox rows
//!   and the deletion of the pgmq messages being processed — for one event or a whole receive.
//! - [`PgmqQueue`] — pgmq's queue tables with SQS FIFO semantics: groups in the
//!   `x-pgmq-group` header, one serialized grouped read (send order, skipping groups in
//!   flight) that costs the same at any depth, deduplication in `queue_dedup`, dead letters in
//!   `dead_letters`.
//! - `leader` — advisory locks: one replica installs pgmq at a time, and `Schedule::claim_tick`
//!   holds a job's lock while it claims a tick, so each tick runs once across replicas.

mod error;
mod leader;
mod queue;
mod store;

pub use queue::PgmqQueue;
pub use sqlx::PgPool;
pub use store::PgStore;

use std::time::Duration;

use dd0c_ports::{PortError, PortResult};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use error::backend;

/// The migrations under `migrations/`, embedded at build time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// A pool to `database_url` that waits at most `acquire_timeout` for a connection, so that a
/// database restart shows up as `Unavailable` errors (and recovers by itself) rather than hangs.
pub async fn connect(database_url: &str, max_connections: u32) -> PortResult<PgPool> {
    let options: PgConnectOptions = database_url
        .parse()
        .map_err(|e| PortError::Invalid(format!("DATABASE_URL is not a Postgres URL: {e}")))?;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|e| backend("connecting to Postgres", e))
}

/// Whether the database answers (readiness probes).
pub async fn ping(pool: &PgPool) -> bool {
    sqlx::query("SELECT 1").execute(pool).await.is_ok()
}

/// Postgres truncates identifiers longer than this (bytes).
const MAX_IDENTIFIER: usize = 63;

/// Checks a name spliced into SQL (which cannot bind it): 1 to `max` of `[a-z0-9_]`.
pub(crate) fn identifier(what: &str, name: &str, max: usize) -> PortResult<()> {
    let valid = !name.is_empty()
        && name.len() <= max
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(PortError::Invalid(format!(
            "{what} {name:?} must be 1–{max} of [a-z0-9_]"
        )))
    }
}

/// Creates database `name` on the server of `server_url` and returns the URL of the new database
/// (tests use one database each; `name` must be `[a-z0-9_]`).
pub async fn create_database(server_url: &str, name: &str) -> PortResult<String> {
    identifier("database name", name, MAX_IDENTIFIER)?;
    let pool = connect(server_url, 1).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .map_err(|e| backend("creating a database", e))?;
    pool.close().await;
    with_database(server_url, name)
}

/// The role the application's login roles belong to (`migrations/0005_row_security.sql`).
pub const APPLICATION_ROLE: &str = "dd0c_app";

/// Creates `login` (`[a-z0-9_]`), a passwordless login role that is a member of
/// [`APPLICATION_ROLE`] only, through the owner's pool, and returns `owner_url` with that user.
/// For clusters that trust local logins (tests); in production give the role a password.
pub async fn add_application_login(
    owner: &PgPool,
    owner_url: &str,
    login: &str,
) -> PortResult<String> {
    identifier("role name", login, MAX_IDENTIFIER)?;
    sqlx::query(&format!(
        "CREATE ROLE {login} LOGIN IN ROLE {APPLICATION_ROLE}"
    ))
    .execute(owner)
    .await
    .map_err(|e| backend("creating a login role", e))?;
    let (scheme, rest) = owner_url
        .split_once("://")
        .ok_or_else(|| PortError::Invalid(format!("{owner_url:?} is not a URL")))?;
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    Ok(format!("{scheme}://{login}@{host}"))
}

/// `postgres://user@host:port/old?opts` → `postgres://user@host:port/name?opts`.
fn with_database(url: &str, name: &str) -> PortResult<String> {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let (scheme, rest) = base
        .split_once("://")
        .ok_or_else(|| PortError::Invalid(format!("{url:?} is not a URL")))?;
    let authority = rest
        .split_once('/')
        .map_or(rest, |(authority, _)| authority);
    let mut out = format!("{scheme}://{authority}/{name}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

/// Applies pending migrations and installs (or upgrades) pgmq's SQL, as the owner of the schema.
/// Safe to run repeatedly and from several replicas at once (sqlx serializes migrations with an
/// advisory lock).
pub async fn migrate(pool: &PgPool) -> PortResult<()> {
    MIGRATOR
        .run(pool)
        .await
        .map_err(|e| PortError::caused("applying migrations", e))?;
    // pgmq's installer is not concurrency-safe, and the grants below rewrite every queue
    // table's catalog row: one replica at a time, and no queue made meanwhile.
    let _guard = leader::advisory_lock(pool, queue::SCHEMA_LOCK).await?;
    pgmq::install::install_sql_from_embedded(pool)
        .await
        .map_err(|e| PortError::caused("installing pgmq", e))?;
    // The application role (migrations/0005_row_security.sql) works the queues too.
    for grant in [
        "GRANT USAGE, CREATE ON SCHEMA pgmq TO dd0c_app",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA pgmq TO dd0c_app",
        "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA pgmq TO dd0c_app",
        "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA pgmq TO dd0c_app",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA pgmq GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO dd0c_app",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA pgmq GRANT USAGE, SELECT ON SEQUENCES TO dd0c_app",
    ] {
        sqlx::query(grant)
            .execute(pool)
            .await
            .map_err(|e| backend("granting the application role the queues", e))?;
    }
    queue::prepare_queues(pool).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_database_url_points_at_another_database() {
        let with = |url, name| super::with_database(url, name).expect("a url");
        assert_eq!(
            with("postgres://u@127.0.0.1:5432/postgres", "t1"),
            "postgres://u@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with("postgres://u:p@h/db?sslmode=disable", "t2"),
            "postgres://u:p@h/t2?sslmode=disable"
        );
        assert_eq!(with("postgres://h:1", "t3"), "postgres://h:1/t3");
    }
}
