use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dd0c_ports::keys::TraceParent;
use dd0c_ports::queue::{
    DeadLetter, Delivery, OutgoingMessage, Queue, QueueDepth, SendOutcome, DEDUP_WINDOW,
};
use dd0c_ports::{PortError, PortResult};
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};

use crate::error::backend;
use crate::leader;

/// A pgmq queue with SQS FIFO semantics: messages of a group in order (several per receive, none
/// while an earlier one is in flight), owners' groups served in turn, deduplication over five
/// minutes, and a dead-letter table.
#[derive(Debug, Clone)]
pub struct PgmqQueue {
    pool: PgPool,
    name: String,
    read_sql: String,
}

/// The header of a message's trace parent.
const TRACE: &str = TraceParent::NAME;

/// How a queue row names its message group.
const GROUP: &str = "coalesce(headers->>'x-pgmq-group', '')";

/// How a queue row names its group's owner ([`dd0c_ports::queue::owner`]): the expression the
/// owner index is built on, so the read below can walk that index.
const OWNER: &str = "split_part(coalesce(headers->>'x-pgmq-group', ''), '#', 1)";

/// The index that lets a receive find each owner's oldest messages without reading the others'.
fn owner_index_sql(name: &str) -> String {
    format!("CREATE INDEX IF NOT EXISTS q_{name}_owner ON pgmq.q_{name} (({OWNER}), msg_id)")
}

/// How a queue table is vacuumed: after a fixed count of dead rows, at full speed. Every settled
/// message leaves a dead row, and a receive's walk over owners steps over the dead entries until
/// vacuum clears them. The defaults suit large tables: they wait for dead rows in proportion to
/// the live rows last counted (a drained backlog counts high for long) and then vacuum slowly.
fn vacuum_sql(name: &str) -> String {
    format!(
        "ALTER TABLE pgmq.q_{name} SET (autovacuum_vacuum_scale_factor = 0, \
         autovacuum_vacuum_threshold = 10000, autovacuum_vacuum_cost_delay = 0)"
    )
}

/// Indexes every existing queue's owners and sets how it is vacuumed (queues made before
/// either); a queue made later gets both when it is made ([`PgmqQueue::new`]).
pub(crate) async fn prepare_queues(pool: &PgPool) -> PortResult<()> {
    let queues: Vec<String> = sqlx::query_scalar("SELECT queue_name FROM pgmq.meta")
        .fetch_all(pool)
        .await
        .map_err(|e| backend("listing the queues", e))?;
    for queue in queues.iter().filter(|q| check_name(q).is_ok()) {
        prepare(pool, queue).await?;
    }
    Ok(())
}

/// The advisory lock under which pgmq's schema changes: its install and grants ([`migrate`]) and
/// each queue's creation. Concurrent changes to one catalog row fail ("tuple concurrently
/// updated"), and replicas starting together each migrate and make their queues. Its name is the
/// one earlier versions locked the install with, so that they and this one exclude each other.
///
/// [`migrate`]: crate::migrate
pub(crate) const SCHEMA_LOCK: &str = "pgmq-install";

/// Indexes queue `name`'s owners and sets how it is vacuumed.
async fn prepare(pool: &PgPool, name: &str) -> PortResult<()> {
    sqlx::query(&owner_index_sql(name))
        .execute(pool)
        .await
        .map_err(|e| backend("indexing a queue's owners", e))?;
    sqlx::query(&vacuum_sql(name))
        .execute(pool)
        .await
        .map_err(|e| backend("setting how a queue is vacuumed", e))?;
    Ok(())
}

/// Messages an owner gives per turn: long enough that a batch spans few accounts (each one's
/// baselines read and written once per batch), short enough that a backlog yields to other
/// owners within a receive or two.
const TURN: i64 = 100;

/// How many of an owner's messages, in send order, one receive looks at per message it may
/// take of them.
const READ_WINDOW_FACTOR: i64 = 4;

/// The grouped, fair read of queue `name` (`$1` = how many, `$2` = visibility in seconds).
///
/// Owners (tenants: a group is `tenant#account`) take turns: each owner gives up to [`TURN`] of
/// its oldest messages per turn, and a receive takes every owner's first turn, the owner with
/// the oldest message first, then every owner's second, up to `$1`. So one tenant's backfill
/// of a million records does not hold another's single launch behind it — the launch goes in
/// the same receive or the next. Within an owner, messages come in send order: a push is one
/// account's records, so a batch spans few accounts and is cheap to score (each account's
/// baselines written once); and a group with a message in flight waits for it (FIFO, as SQS
/// does), so what a receive takes of a group is always a prefix of its waiting messages.
///
/// Every receive costs the same on a queue of ten messages and of a million: the owners are
/// listed by skipping through the owner index (one probe per owner, not a scan of the table),
/// the in-flight groups come through pgmq's `vt` index, at most `$1` owners take part, and of
/// `g` owners each gives at most `2 × $1 / g` (so the receive fills while half of them have
/// that many waiting, and no more than twice what is taken is ranked), found among its first
/// `READ_WINDOW_FACTOR` times that many messages (an owner whose head is a backlog in flight
/// waits for it, as in a plain FIFO queue, rather than every receive scanning the backlog). An
/// owner's messages are read as the next entries of the owner index from the owner's start (a
/// row comparison only that index serves), then kept if still the owner's: with a plain
/// `owner = …` the planner may walk the primary key instead, through every other owner's
/// backlog; the window comes out in the index's order, so taking the first `n` that qualify
/// needs no sort and stops reading once it has them.
fn read_sql(name: &str) -> String {
    claiming(
        name,
        &format!(
            "owners AS (
                 (SELECT {OWNER} AS owner FROM pgmq.q_{name} ORDER BY 1 LIMIT 1)
                 UNION ALL
                 SELECT (SELECT {OWNER} FROM pgmq.q_{name} WHERE {OWNER} > owners.owner ORDER BY 1 LIMIT 1)
                 FROM owners WHERE owners.owner IS NOT NULL
             ), live AS (
                 SELECT owner FROM owners WHERE owner IS NOT NULL LIMIT $1
             ), share AS (
                 SELECT least($1, ceil(2.0 * $1 / g))::bigint AS n
                 FROM (SELECT greatest(count(*), 1) AS g FROM live) live_owners
             ), waiting AS (
                 SELECT chosen.msg_id, live.owner FROM live CROSS JOIN share CROSS JOIN LATERAL (
                     SELECT msg_id FROM (
                         SELECT msg_id, {OWNER} AS owner, {GROUP} AS grp FROM pgmq.q_{name}
                         WHERE ({OWNER}, msg_id) > (live.owner, 0)
                         ORDER BY {OWNER}, msg_id LIMIT share.n * {READ_WINDOW_FACTOR}
                     ) ahead
                     WHERE ahead.owner = live.owner AND ahead.grp NOT IN (SELECT grp FROM busy)
                     LIMIT share.n
                 ) chosen
             ), turns AS (
                 SELECT msg_id,
                        (row_number() OVER (PARTITION BY owner ORDER BY msg_id) - 1) / {TURN} AS turn,
                        min(msg_id) OVER (PARTITION BY owner) AS head
                 FROM waiting
             ), chosen AS (
                 SELECT msg_id FROM turns ORDER BY turn, head, msg_id LIMIT $1
             )"
        ),
    )
}

/// The read of queue `name` in plain send order, as receives were before owners took turns:
/// of the first `$1 × READ_WINDOW_FACTOR` visible messages, the first `$1` whose group has none
/// in flight. Kept for the fairness benchmark to measure turns against
/// ([`PgmqQueue::in_send_order`]).
fn send_order_sql(name: &str) -> String {
    claiming(
        name,
        &format!(
            "chosen AS (
                 SELECT msg_id FROM (
                     SELECT msg_id, {GROUP} AS grp FROM pgmq.q_{name}
                     WHERE vt + interval '0' <= (SELECT clock_timestamp())
                     ORDER BY msg_id LIMIT $1 * {READ_WINDOW_FACTOR}
                 ) candidates
                 WHERE grp NOT IN (SELECT grp FROM busy)
                 ORDER BY msg_id LIMIT $1
             )"
        ),
    )
}

/// A receive of queue `name` around `choose`, common table expressions ending in `chosen`
/// (the ids to take, at most `$1`) that may read `busy` (the groups with a message in flight):
/// the chosen messages hidden for `$2` seconds and returned. The ids are matched as an array,
/// through the primary key, where a join would be planned as a scan of the table.
/// `(SELECT clock_timestamp())` is evaluated once per statement, so the `vt` index can use it.
fn claiming(name: &str, choose: &str) -> String {
    format!(
        "WITH RECURSIVE busy AS (
             SELECT DISTINCT {GROUP} AS grp FROM pgmq.q_{name}
             WHERE vt > (SELECT clock_timestamp())
         ), {choose}
         UPDATE pgmq.q_{name} m
         SET vt = clock_timestamp() + make_interval(secs => $2), read_ct = read_ct + 1,
             last_read_at = clock_timestamp()
         WHERE m.msg_id = ANY (ARRAY (SELECT msg_id FROM chosen))
         RETURNING m.msg_id, m.read_ct, m.message #>> '{{}}', {GROUP}, m.headers->>'{TRACE}'"
    )
}

/// A receipt is `msg_id:read_ct`: it names one delivery, so a delivery whose visibility expired
/// and that was received again can no longer acknowledge the message.
fn parse_receipt(receipt: &str) -> PortResult<(i64, i32)> {
    let parsed = receipt
        .split_once(':')
        .and_then(|(id, count)| Some((id.parse().ok()?, count.parse().ok()?)));
    parsed.ok_or_else(|| PortError::Invalid(format!("malformed receipt {receipt:?}")))
}

/// pgmq prefixes the queue name (`q_`, `a_`, index suffixes) within Postgres' identifier limit.
fn check_name(name: &str) -> PortResult<()> {
    crate::identifier("queue name", name, 40)
}

/// Deletes those of the deliveries `receipts` of `queue` that are still current (malformed or
/// stale receipts delete nothing) and returns how many it deleted. Used by acknowledgements and,
/// inside its transaction, by the store's scoring commit. Delivered messages are deleted, not
/// moved to pgmq's archive table: the cost events they became are kept in `cost_events`, and an
/// archive of every raw record would only grow.
pub(crate) async fn delete_delivered<'e>(
    executor: impl PgExecutor<'e>,
    queue: &str,
    receipts: &[String],
) -> Result<u64, sqlx::Error> {
    if check_name(queue).is_err() {
        return Ok(0);
    }
    let (ids, counts): (Vec<i64>, Vec<i32>) = receipts
        .iter()
        .filter_map(|receipt| parse_receipt(receipt).ok())
        .unzip();
    let sql = format!(
        "DELETE FROM pgmq.q_{queue} q USING unnest($1::bigint[], $2::int[]) AS r(id, ct)
         WHERE q.msg_id = r.id AND q.read_ct = r.ct AND q.vt > clock_timestamp()"
    );
    Ok(sqlx::query(&sql)
        .bind(ids)
        .bind(counts)
        .execute(executor)
        .await?
        .rows_affected())
}

impl PgmqQueue {
    /// The queue `name` (`[a-z0-9_]`, created if missing) on a migrated database.
    pub async fn new(pool: PgPool, name: &str) -> PortResult<Self> {
        check_name(name)?;
        // An existing queue is not created again: the application role may not run DDL on the
        // owner's tables.
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pgmq.meta WHERE queue_name = $1)")
                .bind(name)
                .fetch_one(&pool)
                .await
                .map_err(|e| backend("looking up a queue", e))?;
        if !exists {
            let _guard = leader::advisory_lock(&pool, SCHEMA_LOCK).await?;
            sqlx::query("SELECT pgmq.create($1)")
                .bind(name)
                .execute(&pool)
                .await
                .map_err(|e| backend("creating a queue", e))?;
            prepare(&pool, name).await?;
        }
        Ok(PgmqQueue {
            pool,
            name: name.to_owned(),
            read_sql: read_sql(name),
        })
    }

    /// The same queue received in plain send order, owners taking no turns: what the fairness
    /// benchmark measures turns against. Not for production: one owner's backlog holds every
    /// other owner's messages behind it.
    pub fn in_send_order(mut self) -> Self {
        self.read_sql = send_order_sql(&self.name);
        self
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Appends messages in order, without deduplication: each one's group and trace parent (when
    /// traced) in its headers. Rows go straight into pgmq's queue table, as `pgmq.send_batch`
    /// would write them, without its per-call dynamic SQL; message ids follow the order given.
    async fn enqueue(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        messages: &[&OutgoingMessage],
    ) -> Result<(), sqlx::Error> {
        let groups: Vec<&str> = messages.iter().map(|m| m.group_key.as_str()).collect();
        let bodies: Vec<&str> = messages.iter().map(|m| m.body.as_str()).collect();
        let traces: Vec<Option<String>> = messages
            .iter()
            .map(|m| m.trace.map(|t| t.to_string()))
            .collect();
        sqlx::query(&format!(
            "INSERT INTO pgmq.q_{} (vt, message, headers)
             SELECT clock_timestamp(), to_jsonb(body),
                    jsonb_strip_nulls(jsonb_build_object('x-pgmq-group', grp, '{TRACE}', trace))
             FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS m(grp, body, trace, position)
             ORDER BY position",
            self.name
        ))
        .bind(groups)
        .bind(bodies)
        .bind(traces)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Queue for PgmqQueue {
    async fn send(&self, message: OutgoingMessage) -> PortResult<SendOutcome> {
        let mut outcomes = self.send_batch(vec![message]).await?;
        outcomes
            .pop()
            .ok_or_else(|| PortError::backend("a send returned no outcome"))
    }

    async fn send_batch(&self, messages: Vec<OutgoingMessage>) -> PortResult<Vec<SendOutcome>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        // Within one batch the first message of a dedup key wins.
        let mut seen = HashSet::new();
        let firsts: Vec<bool> = messages
            .iter()
            .map(|m| seen.insert(m.dedup_key.as_str()))
            .collect();
        let keys: Vec<&str> = messages
            .iter()
            .zip(&firsts)
            .filter(|(_, first)| **first)
            .map(|(m, _)| m.dedup_key.as_str())
            .collect();
        let window = format!("{} seconds", DEDUP_WINDOW.as_secs());
        let attempt = async {
            let mut tx = self.pool.begin().await?;
            let fresh: HashSet<String> = sqlx::query_scalar(
                "INSERT INTO queue_dedup (queue, dedup_key) SELECT $1, unnest($2::text[])
                 ON CONFLICT (queue, dedup_key) DO UPDATE SET sent_at = now()
                     WHERE queue_dedup.sent_at < now() - $3::interval
                 RETURNING dedup_key",
            )
            .bind(&self.name)
            .bind(&keys)
            .bind(&window)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
            let outcomes: Vec<SendOutcome> = messages
                .iter()
                .zip(&firsts)
                .map(|(m, first)| {
                    if *first && fresh.contains(&m.dedup_key) {
                        SendOutcome::Enqueued
                    } else {
                        SendOutcome::Duplicate
                    }
                })
                .collect();
            let enqueued: Vec<&OutgoingMessage> = messages
                .iter()
                .zip(&outcomes)
                .filter(|(_, o)| **o == SendOutcome::Enqueued)
                .map(|(m, _)| m)
                .collect();
            if !enqueued.is_empty() {
                self.enqueue(&mut tx, &enqueued).await?;
            }
            tx.commit().await?;
            Ok(outcomes)
        };
        attempt.await.map_err(|e| backend("sending to a queue", e))
    }

    async fn receive(&self, max: usize, visibility: Duration) -> PortResult<Vec<Delivery>> {
        let seconds = visibility.as_secs_f64().ceil().max(1.0);
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        let attempt = async {
            let mut tx = self.pool.begin().await?;
            // Readers of one queue take turns: a second reader must see the first one's
            // deliveries as in flight, or it could hand out a later message of the same group.
            // The in-flight range of the `vt` index is full of entries of messages deleted in
            // the last visibility timeout; only a plain index scan marks them dead as it passes
            // (a bitmap scan visits every one on every read, and the planner's row estimates
            // for this range swing with each ANALYZE), so this transaction plans without
            // bitmap or sequential scans.
            sqlx::query(
                "SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true),
                        pg_advisory_xact_lock(hashtextextended($1, 0))",
            )
                .bind(format!("pgmq-read:{}", self.name))
                .execute(&mut *tx)
                .await?;
            let rows: Vec<(i64, i32, Option<String>, String, Option<String>)> =
                sqlx::query_as(&self.read_sql)
                    .bind(max)
                    .bind(seconds)
                    .fetch_all(&mut *tx)
                    .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(rows)
        };
        let mut rows = attempt
            .await
            .map_err(|e| backend("receiving from a queue", e))?;
        // UPDATE … RETURNING comes back in no particular order; the port promises send order.
        rows.sort_by_key(|row| row.0);
        Ok(rows
            .into_iter()
            .map(|(msg_id, read_ct, body, group_key, trace)| Delivery {
                // A header that is not a traceparent only loses the link to its trace.
                trace: trace.and_then(|t| t.parse().ok()),
                message_id: msg_id.to_string(),
                receipt: format!("{msg_id}:{read_ct}"),
                group_key,
                body: body.unwrap_or_default(),
                receive_count: u32::try_from(read_ct).unwrap_or(0),
            })
            .collect())
    }

    async fn ack(&self, receipt: &str) -> PortResult<()> {
        parse_receipt(receipt)?;
        let deleted = delete_delivered(&self.pool, &self.name, &[receipt.to_owned()])
            .await
            .map_err(|e| backend("acknowledging", e))?;
        if deleted == 1 {
            Ok(())
        } else {
            Err(PortError::Conflict(format!(
                "receipt {receipt} is stale or unknown"
            )))
        }
    }

    async fn ack_all(&self, receipts: &[String]) -> PortResult<usize> {
        for receipt in receipts {
            parse_receipt(receipt)?;
        }
        let deleted = delete_delivered(&self.pool, &self.name, receipts)
            .await
            .map_err(|e| backend("acknowledging", e))?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }

    async fn dead_letter(&self, receipt: &str, error: &str) -> PortResult<()> {
        let (msg_id, read_ct) = parse_receipt(receipt)?;
        let sql = format!(
            "WITH taken AS (
                 DELETE FROM pgmq.q_{} WHERE msg_id = $1 AND read_ct = $2 AND vt > clock_timestamp()
                 RETURNING msg_id, read_ct, message, headers)
             INSERT INTO dead_letters (queue, message_id, group_key, body, error, receive_count)
             SELECT $3, msg_id::text, coalesce(headers->>'x-pgmq-group', ''), coalesce(message #>> '{{}}', ''), $4, read_ct
             FROM taken RETURNING message_id",
            self.name
        );
        let moved: Option<String> = sqlx::query_scalar(&sql)
            .bind(msg_id)
            .bind(read_ct)
            .bind(&self.name)
            .bind(error)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| backend("dead-lettering", e))?;
        moved
            .map(|_| ())
            .ok_or_else(|| PortError::Conflict(format!("receipt {receipt} is stale or unknown")))
    }

    async fn dead_letters(&self, limit: usize) -> PortResult<Vec<DeadLetter>> {
        let rows: Vec<(String, String, String, String, i32, DateTime<Utc>)> = sqlx::query_as(
            "SELECT message_id, group_key, body, error, receive_count, failed_at FROM dead_letters
             WHERE queue = $1 ORDER BY failed_at, message_id LIMIT $2",
        )
        .bind(&self.name)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| backend("listing dead letters", e))?;
        Ok(rows
            .into_iter()
            .map(
                |(message_id, group_key, body, error, receive_count, failed_at)| DeadLetter {
                    message_id,
                    group_key,
                    body,
                    error,
                    receive_count: u32::try_from(receive_count).unwrap_or(0),
                    failed_at,
                },
            )
            .collect())
    }

    async fn redrive(&self, message_id: &str) -> PortResult<()> {
        let attempt = async {
            let mut tx = self.pool.begin().await?;
            let row: Option<(String, String)> = sqlx::query_as(
                "DELETE FROM dead_letters WHERE queue = $1 AND message_id = $2 RETURNING group_key, body",
            )
            .bind(&self.name)
            .bind(message_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((group_key, body)) = row else {
                return Ok(false);
            };
            // A dead letter is redriven outside the trace it failed in.
            let message = OutgoingMessage {
                group_key,
                dedup_key: message_id.to_owned(),
                body,
                trace: None,
            };
            self.enqueue(&mut tx, &[&message]).await?;
            tx.commit().await?;
            Ok(true)
        };
        match attempt.await {
            Ok(true) => Ok(()),
            Ok(false) => Err(PortError::NotFound(format!("dead letter {message_id}"))),
            Err(e) => Err(backend("redriving a dead letter", e)),
        }
    }

    async fn forget_expired_dedup_keys(&self) -> PortResult<u64> {
        sqlx::query("DELETE FROM queue_dedup WHERE queue = $1 AND sent_at < now() - $2::interval")
            .bind(&self.name)
            .bind(format!("{} seconds", DEDUP_WINDOW.as_secs()))
            .execute(&self.pool)
            .await
            .map(|done| done.rows_affected())
            .map_err(|e| backend("forgetting deduplication keys", e))
    }

    async fn depth(&self) -> PortResult<QueueDepth> {
        let sql = format!(
            "SELECT count(*) FILTER (WHERE vt <= clock_timestamp()), count(*) FILTER (WHERE vt > clock_timestamp()),
                    (SELECT count(*) FROM dead_letters WHERE queue = $1)
             FROM pgmq.q_{}",
            self.name
        );
        let (visible, in_flight, dead): (i64, i64, i64) = sqlx::query_as(&sql)
            .bind(&self.name)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| backend("measuring a queue", e))?;
        Ok(QueueDepth {
            visible: visible as u64,
            in_flight: in_flight as u64,
            dead: dead as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dd0c_ports::queue::OWNER_SEPARATOR;

    #[test]
    fn the_owner_expression_splits_where_the_port_does() {
        assert!(OWNER.contains(&format!("'{OWNER_SEPARATOR}'")), "{OWNER}");
        assert!(
            OWNER.ends_with(", 1)"),
            "the part before the first separator"
        );
    }

    /// Replicas start together, each migrating and making its queues: a queue is made only
    /// between migrations, never while one holds pgmq's schema (where both would rewrite the
    /// queue table's catalog row and one fail with "tuple concurrently updated").
    #[tokio::test]
    async fn a_queue_is_not_made_while_a_migration_holds_the_schema() {
        let server = std::env::var("DATABASE_URL")
            .expect("DATABASE_URL: run the tests with scripts/test.sh, which starts Postgres");
        let name = dd0c_ports::conformance::unique("t").replace('-', "_");
        let url = crate::create_database(&server, &name)
            .await
            .expect("a database");
        let pool = crate::connect(&url, 4).await.expect("connects");
        crate::migrate(&pool).await.expect("migrates");

        let migration = leader::advisory_lock(&pool, SCHEMA_LOCK)
            .await
            .expect("locks");
        let making = tokio::spawn(PgmqQueue::new(pool.clone(), "made_after"));
        let waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while sqlx::query_scalar::<_, i64>(waiting)
            .fetch_one(&pool)
            .await
            .expect("pg_locks")
            == 0
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the queue was made without waiting"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let exists = "SELECT EXISTS (SELECT 1 FROM pgmq.meta WHERE queue_name = 'made_after')";
        let made: bool = sqlx::query_scalar(exists)
            .fetch_one(&pool)
            .await
            .expect("meta");
        assert!(!made, "made during the migration");

        drop(migration);
        making
            .await
            .expect("the task")
            .expect("made once the migration ends");
        let made: bool = sqlx::query_scalar(exists)
            .fetch_one(&pool)
            .await
            .expect("meta");
        assert!(made);
    }
}
