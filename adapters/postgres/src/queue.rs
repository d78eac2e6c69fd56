use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dd0c_ports::queue::{
    DeadLetter, Delivery, OutgoingMessage, Queue, QueueDepth, SendOutcome, DEDUP_WINDOW,
};
use dd0c_ports::{PortError, PortResult};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Transaction};

use crate::error::backend;

/// A pgmq queue with SQS FIFO semantics: messages of a group in order (several per receive, none
/// while an earlier one is in flight), deduplication over five minutes, and a dead-letter table.
#[derive(Debug, Clone)]
pub struct PgmqQueue {
    pool: PgPool,
    name: String,
}

/// A receipt is `msg_id:read_ct`: it names one delivery, so a delivery whose visibility expired
/// and that was received again can no longer acknowledge the message.
fn parse_receipt(receipt: &str) -> PortResult<(i64, i32)> {
    let parsed = receipt
        .split_once(':')
        .and_then(|(id, count)| Some((id.parse().ok()?, count.parse().ok()?)));
    parsed.ok_or_else(|| PortError::Invalid(format!("malformed receipt {receipt:?}")))
}

fn check_name(name: &str) -> PortResult<()> {
    let valid = !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(PortError::Invalid(format!(
            "queue name {name:?} must be 1–40 of [a-z0-9_]"
        )))
    }
}

/// Archives the delivery `receipt` of `queue` inside `tx`, if it is still that delivery's;
/// returns whether it did. Used by acknowledgements and by the store's scoring commit.
pub(crate) async fn archive_in(
    tx: &mut Transaction<'_, Postgres>,
    queue: &str,
    receipt: &str,
) -> Result<bool, sqlx::Error> {
    let Ok((msg_id, read_ct)) = parse_receipt(receipt) else {
        return Ok(false);
    };
    if check_name(queue).is_err() {
        return Ok(false);
    }
    let sql = format!(
        "WITH taken AS (
             DELETE FROM pgmq.q_{queue} WHERE msg_id = $1 AND read_ct = $2 AND vt > clock_timestamp()
             RETURNING msg_id, vt, read_ct, enqueued_at, last_read_at, message, headers)
         INSERT INTO pgmq.a_{queue} (msg_id, vt, read_ct, enqueued_at, last_read_at, message, headers)
         SELECT * FROM taken RETURNING msg_id"
    );
    Ok(sqlx::query(&sql)
        .bind(msg_id)
        .bind(read_ct)
        .fetch_optional(&mut **tx)
        .await?
        .is_some())
}

impl PgmqQueue {
    /// The queue `name` (`[a-z0-9_]`, created if missing) on a migrated database.
    pub async fn new(pool: PgPool, name: &str) -> PortResult<Self> {
        check_name(name)?;
        sqlx::query("SELECT pgmq.create($1)")
            .bind(name)
            .execute(&pool)
            .await
            .map_err(|e| backend("creating a queue", e))?;
        sqlx::query("SELECT pgmq.create_fifo_index($1)")
            .bind(name)
            .execute(&pool)
            .await
            .map_err(|e| backend("indexing a queue's groups", e))?;
        Ok(PgmqQueue {
            pool,
            name: name.to_owned(),
        })
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    async fn send_unchecked(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        group_key: &str,
        body: &str,
    ) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT pgmq.send($1, to_jsonb($2::text), jsonb_build_object('x-pgmq-group', $3::text))")
            .bind(&self.name)
            .bind(body)
            .bind(group_key)
            .fetch_one(&mut **tx)
            .await
    }
}

#[async_trait]
impl Queue for PgmqQueue {
    async fn send(&self, message: OutgoingMessage) -> PortResult<SendOutcome> {
        let mut outcomes = self.send_batch(vec![message]).await?;
        outcomes
            .pop()
            .ok_or_else(|| PortError::Backend("a send returned no outcome".into()))
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
            let (bodies, headers): (Vec<Json<serde_json::Value>>, Vec<Json<serde_json::Value>>) =
                messages
                    .iter()
                    .zip(&outcomes)
                    .filter(|(_, o)| **o == SendOutcome::Enqueued)
                    .map(|(m, _)| {
                        (
                            Json(serde_json::Value::String(m.body.clone())),
                            Json(serde_json::json!({"x-pgmq-group": m.group_key})),
                        )
                    })
                    .unzip();
            if !bodies.is_empty() {
                // pgmq inserts the array in order, so message ids follow send order.
                sqlx::query("SELECT pgmq.send_batch($1, $2::jsonb[], $3::jsonb[])")
                    .bind(&self.name)
                    .bind(bodies)
                    .bind(headers)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(outcomes)
        };
        attempt.await.map_err(|e| backend("sending to a queue", e))
    }

    async fn receive(&self, max: usize, visibility: Duration) -> PortResult<Vec<Delivery>> {
        let seconds = visibility.as_secs_f64().ceil().max(1.0) as i32;
        let mut rows: Vec<(i64, i32, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT msg_id, read_ct, message #>> '{}', headers->>'x-pgmq-group' FROM pgmq.read_grouped_rr($1, $2, $3)",
        )
        .bind(&self.name)
        .bind(seconds)
        .bind(i32::try_from(max).unwrap_or(i32::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| backend("receiving from a queue", e))?;
        // pgmq returns the updated rows in no particular order; the port promises send order.
        rows.sort_by_key(|row| row.0);
        Ok(rows
            .into_iter()
            .map(|(msg_id, read_ct, body, group)| Delivery {
                message_id: msg_id.to_string(),
                receipt: format!("{msg_id}:{read_ct}"),
                group_key: group.unwrap_or_default(),
                body: body.unwrap_or_default(),
                receive_count: u32::try_from(read_ct).unwrap_or(0),
            })
            .collect())
    }

    async fn ack(&self, receipt: &str) -> PortResult<()> {
        parse_receipt(receipt)?;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| backend("acknowledging", e))?;
        let archived = archive_in(&mut tx, &self.name, receipt)
            .await
            .map_err(|e| backend("acknowledging", e))?;
        tx.commit().await.map_err(|e| backend("acknowledging", e))?;
        if archived {
            Ok(())
        } else {
            Err(PortError::Conflict(format!(
                "receipt {receipt} is stale or unknown"
            )))
        }
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
            self.send_unchecked(&mut tx, &group_key, &body).await?;
            tx.commit().await?;
            Ok(true)
        };
        match attempt.await {
            Ok(true) => Ok(()),
            Ok(false) => Err(PortError::NotFound(format!("dead letter {message_id}"))),
            Err(e) => Err(backend("redriving a dead letter", e)),
        }
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
