//! The resource ledger: one row per resource (`migrations/0009_resource_ledger.sql`), holding
//! its changes alone (`migrations/0011_lean_resource_rows.sql`: the columns name the rest). Recording
//! locks the rows of the resources it touches, in key order, merges the changes in Rust
//! ([`dd0c_ports::ledger::merge`]) and writes back what changed, so concurrent recorders of one
//! resource serialize and none loses the other's change. The time a resource was found gone
//! lives in its own column; the link to an anomaly in its own table
//! (`migrations/0010_resource_links.sql`), written by an insert that never touches the record.

use std::borrow::Cow;

use dd0c_ports::domain::Change;
use dd0c_ports::ledger::{
    ended_at, keys_of, merge, Link, Mark, ResourceChange, ResourceCursor, ResourceFilter,
    ResourceKey, ResourceLedger, ResourceRecord,
};
use serde::{Deserialize, Serialize};

use super::*;

/// Attempts at a recording that a deadlock aborted.
const RECORD_ATTEMPTS: u32 = 3;

/// The columns every read selects, in [`RecordRow`]'s order, from [`JOINED`].
const COLUMNS: &str = "account_id, region, resource_id, changes, anomaly_id, unseen_at";

/// Resources with their links.
const JOINED: &str =
    "resources LEFT JOIN resource_links USING (tenant_id, account_id, region, resource_id)";

type RecordRow = (
    String,
    String,
    String,
    Option<Json<Vec<Stored<'static>>>>,
    Option<String>,
    Option<DateTime<Utc>>,
);

/// The record a row holds; a link whose resource has no change yet reads as an empty record.
fn record_of(
    tenant: &str,
    (account, region, id, changes, anomaly_id, unseen_at): RecordRow,
) -> ResourceRecord {
    let mut record = ResourceRecord::new(tenant, ResourceKey::new(&account, &region, &id));
    if let Some(Json(changes)) = changes {
        record.changes = changes
            .into_iter()
            .map(|c| c.into_change(&record.key))
            .collect();
    }
    record.anomaly_id = anomaly_id;
    record.unseen_at = unseen_at;
    record
}

/// A change as its resource's row stores it: the row names the resource, so the change does
/// not (borrowed when written, owned when read).
#[derive(Serialize, Deserialize)]
struct Stored<'c> {
    change: Change,
    resource_kind: Cow<'c, str>,
    resource_type: Cow<'c, str>,
    quantity: u32,
    unit_hourly_usd: f64,
    priced: bool,
    mark: Cow<'c, Mark>,
}

impl<'c> Stored<'c> {
    fn of(c: &'c ResourceChange) -> Self {
        Stored {
            change: c.change,
            resource_kind: Cow::Borrowed(&c.resource_kind),
            resource_type: Cow::Borrowed(&c.resource_type),
            quantity: c.quantity,
            unit_hourly_usd: c.unit_hourly_usd,
            priced: c.priced,
            mark: Cow::Borrowed(&c.mark),
        }
    }

    fn into_change(self, key: &ResourceKey) -> ResourceChange {
        ResourceChange {
            key: key.clone(),
            change: self.change,
            resource_kind: self.resource_kind.into_owned(),
            resource_type: self.resource_type.into_owned(),
            quantity: self.quantity,
            unit_hourly_usd: self.unit_hourly_usd,
            priced: self.priced,
            mark: self.mark.into_owned(),
        }
    }
}

/// Keys bound as three arrays.
struct KeyColumns {
    accounts: Vec<String>,
    regions: Vec<String>,
    ids: Vec<String>,
}

impl KeyColumns {
    fn of<'k>(keys: impl Iterator<Item = &'k ResourceKey>) -> Self {
        let mut columns = KeyColumns {
            accounts: Vec::new(),
            regions: Vec::new(),
            ids: Vec::new(),
        };
        for key in keys {
            columns.accounts.push(key.account_id.clone());
            columns.regions.push(key.region.clone());
            columns.ids.push(key.resource_id.clone());
        }
        columns
    }
}

/// Matches rows to the keys bound as `$2`, `$3`, `$4`.
const KEYED: &str = "(account_id, region, resource_id) IN \
     (SELECT * FROM unnest($2::text[], $3::text[], $4::text[]))";

impl PgStore {
    /// Writes `links` of `tenant` on `c` (in [`ResourceLedger::link`]'s transaction, or in a
    /// scoring commit's): the first anomaly to name a resource keeps it; keys in one order for
    /// every writer.
    pub(super) async fn insert_links(
        c: &mut PgConnection,
        tenant: &str,
        links: &[Link],
    ) -> Result<(), sqlx::Error> {
        let mut pairs = Link::first_per_key(links);
        if pairs.is_empty() {
            return Ok(());
        }
        pairs.sort();
        let columns = KeyColumns::of(pairs.iter().map(|(key, _)| *key));
        let anomalies: Vec<&str> = pairs.iter().map(|(_, anomaly_id)| *anomaly_id).collect();
        sqlx::query(
            "INSERT INTO resource_links (tenant_id, account_id, region, resource_id, anomaly_id) \
             SELECT $1, a, r, i, n FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) \
             AS t(a, r, i, n) ON CONFLICT (tenant_id, account_id, region, resource_id) DO NOTHING",
        )
        .bind(tenant)
        .bind(&columns.accounts)
        .bind(&columns.regions)
        .bind(&columns.ids)
        .bind(&anomalies)
        .execute(c)
        .await?;
        Ok(())
    }

    /// Creates the rows of `keys` that do not exist yet, each with an empty record.
    async fn ensure_rows(
        c: &mut PgConnection,
        tenant: &str,
        keys: &[ResourceKey],
    ) -> Result<(), sqlx::Error> {
        let columns = KeyColumns::of(keys.iter());
        sqlx::query(
            "INSERT INTO resources (tenant_id, account_id, region, resource_id, changes) \
             SELECT $1, a, r, i, '[]' FROM unnest($2::text[], $3::text[], $4::text[]) \
             AS t(a, r, i) ORDER BY a, r, i \
             ON CONFLICT (tenant_id, account_id, region, resource_id) DO NOTHING",
        )
        .bind(tenant)
        .bind(&columns.accounts)
        .bind(&columns.regions)
        .bind(&columns.ids)
        .execute(c)
        .await?;
        Ok(())
    }

    /// One attempt at [`ResourceLedger::record`]: `Err` with a deadlock is worth another.
    /// Resources new to the ledger (most changes are creations) are inserted whole in one
    /// statement; only those it already holds are locked, merged and written back.
    async fn try_record(
        &self,
        tenant: &str,
        changes: &[ResourceChange],
    ) -> Result<Vec<ResourceRecord>, sqlx::Error> {
        let mut fresh = merge(tenant, Vec::new(), changes);
        fresh.sort_by(|a, b| a.0.key.cmp(&b.0.key));
        let mut tx = self.begin(tenant).await?;
        let rows = Columns::of(fresh.iter().map(|(r, _)| r));
        // With the link each new resource may have had before its first change.
        let inserted: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
            "WITH inserted AS (INSERT INTO resources (tenant_id, account_id, region, resource_id, \
             resource_kind, first_at, ended_at, changes) \
             SELECT $1, a, r, i, k, f, e, j FROM unnest($2::text[], $3::text[], $4::text[], \
             $5::text[], $6::timestamptz[], $7::timestamptz[], $8::json[]) AS t(a, r, i, k, f, e, j) \
             ON CONFLICT (tenant_id, account_id, region, resource_id) DO NOTHING \
             RETURNING tenant_id, account_id, region, resource_id) \
             SELECT account_id, region, resource_id, anomaly_id \
             FROM inserted LEFT JOIN resource_links USING (tenant_id, account_id, region, resource_id)",
        )
        .bind(tenant)
        .bind(&rows.keys.accounts)
        .bind(&rows.keys.regions)
        .bind(&rows.keys.ids)
        .bind(&rows.kinds)
        .bind(&rows.firsts)
        .bind(&rows.ends)
        .bind(&rows.payloads)
        .fetch_all(&mut *tx)
        .await?;
        let links: HashMap<ResourceKey, Option<String>> = inserted
            .into_iter()
            .map(|(a, r, i, anomaly_id)| (ResourceKey::new(&a, &r, &i), anomaly_id))
            .collect();
        let held: Vec<ResourceChange> = changes
            .iter()
            .filter(|c| !links.contains_key(&c.key))
            .cloned()
            .collect();
        let mut records: HashMap<ResourceKey, ResourceRecord> = fresh
            .into_iter()
            .filter_map(|(mut r, _)| {
                r.anomaly_id = links.get(&r.key)?.clone();
                Some((r.key.clone(), r))
            })
            .collect();
        if !held.is_empty() {
            let merged = Self::merge_held(&mut tx, tenant, &held).await?;
            records.extend(merged.into_iter().map(|r| (r.key.clone(), r)));
        }
        tx.commit().await?;
        Ok(keys_of(changes)
            .iter()
            .filter_map(|key| records.remove(key))
            .collect())
    }

    /// Locks the rows of the resources `changes` touch (in key order), merges the changes into
    /// their records and writes back those that changed.
    async fn merge_held(
        c: &mut PgConnection,
        tenant: &str,
        changes: &[ResourceChange],
    ) -> Result<Vec<ResourceRecord>, sqlx::Error> {
        let mut keys = keys_of(changes);
        keys.sort();
        Self::ensure_rows(c, tenant, &keys).await?;
        let columns = KeyColumns::of(keys.iter());
        let rows: Vec<RecordRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM {JOINED} WHERE tenant_id = $1 AND {KEYED} \
             ORDER BY account_id, region, resource_id FOR UPDATE OF resources"
        ))
        .bind(tenant)
        .bind(&columns.accounts)
        .bind(&columns.regions)
        .bind(&columns.ids)
        .fetch_all(&mut *c)
        .await?;
        let stored = rows.into_iter().map(|row| record_of(tenant, row)).collect();
        let merged = merge(tenant, stored, changes);
        let written = Columns::of(
            merged
                .iter()
                .filter(|(_, changed)| *changed)
                .map(|(record, _)| record),
        );
        if !written.payloads.is_empty() {
            sqlx::query(
                "UPDATE resources SET resource_kind = t.k, first_at = t.f, \
                 ended_at = COALESCE(resources.unseen_at, t.e), changes = t.j \
                 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], \
                 $7::timestamptz[], $8::json[]) AS t(a, r, i, k, f, e, j) \
                 WHERE tenant_id = $1 AND account_id = t.a AND region = t.r AND resource_id = t.i",
            )
            .bind(tenant)
            .bind(&written.keys.accounts)
            .bind(&written.keys.regions)
            .bind(&written.keys.ids)
            .bind(&written.kinds)
            .bind(&written.firsts)
            .bind(&written.ends)
            .bind(&written.payloads)
            .execute(&mut *c)
            .await?;
        }
        Ok(merged.into_iter().map(|(record, _)| record).collect())
    }
}

/// Records bound as the arrays of their row's columns; each record's changes serialized
/// straight into the statement.
struct Columns<'r> {
    keys: KeyColumns,
    kinds: Vec<String>,
    firsts: Vec<Option<DateTime<Utc>>>,
    ends: Vec<Option<DateTime<Utc>>>,
    payloads: Vec<Json<Vec<Stored<'r>>>>,
}

impl<'r> Columns<'r> {
    fn of(records: impl Iterator<Item = &'r ResourceRecord> + Clone) -> Self {
        let mut columns = Columns {
            keys: KeyColumns::of(records.clone().map(|r| &r.key)),
            kinds: Vec::new(),
            firsts: Vec::new(),
            ends: Vec::new(),
            payloads: Vec::new(),
        };
        for record in records {
            columns.kinds.push(record.resource_kind().to_owned());
            columns.firsts.push(record.first_at());
            columns.ends.push(ended_at(record));
            columns
                .payloads
                .push(Json(record.changes.iter().map(Stored::of).collect()));
        }
        columns
    }
}

#[async_trait]
impl ResourceLedger for PgStore {
    async fn record(
        &self,
        tenant: &str,
        changes: &[ResourceChange],
    ) -> PortResult<Vec<ResourceRecord>> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let mut attempt = 1;
        loop {
            match self.try_record(tenant, changes).await {
                Ok(recorded) => return Ok(recorded),
                Err(error) if is_retryable_conflict(&error) && attempt < RECORD_ATTEMPTS => {
                    attempt += 1;
                }
                Err(error) => return Err(backend("recording resource changes", error)),
            }
        }
    }

    async fn resources(
        &self,
        tenant: &str,
        keys: &[ResourceKey],
    ) -> PortResult<Vec<Option<ResourceRecord>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let columns = KeyColumns::of(keys.iter());
        let rows: Vec<RecordRow> = self
            .scoped(tenant, async |c| {
                sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM {JOINED} WHERE tenant_id = $1 AND {KEYED}"
                ))
                .bind(tenant)
                .bind(&columns.accounts)
                .bind(&columns.regions)
                .bind(&columns.ids)
                .fetch_all(c)
                .await
            })
            .await
            .map_err(|e| backend("reading ledger records", e))?;
        let mut found: HashMap<ResourceKey, ResourceRecord> = HashMap::new();
        for row in rows {
            let record = record_of(tenant, row);
            found.insert(record.key.clone(), record);
        }
        Ok(keys.iter().map(|key| found.remove(key)).collect())
    }

    async fn of_anomaly(&self, tenant: &str, anomaly_id: &str) -> PortResult<Vec<ResourceRecord>> {
        let mut records = self.of_anomalies(tenant, &[anomaly_id]).await?;
        records.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(records)
    }

    async fn of_anomalies(
        &self,
        tenant: &str,
        anomaly_ids: &[&str],
    ) -> PortResult<Vec<ResourceRecord>> {
        if anomaly_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<RecordRow> = self
            .scoped(tenant, async |c| {
                // From the links: a linked resource with no change yet is listed too.
                sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM resource_links \
                     LEFT JOIN resources USING (tenant_id, account_id, region, resource_id) \
                     WHERE tenant_id = $1 AND anomaly_id = ANY($2)"
                ))
                .bind(tenant)
                .bind(anomaly_ids)
                .fetch_all(c)
                .await
            })
            .await
            .map_err(|e| backend("reading the resources of anomalies", e))?;
        Ok(rows.into_iter().map(|row| record_of(tenant, row)).collect())
    }

    async fn list(
        &self,
        tenant: &str,
        filter: &ResourceFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> PortResult<Page<ResourceRecord>> {
        let after = cursor.map(str::parse::<ResourceCursor>).transpose()?;
        let (at, key) = match after {
            Some(c) => (Some(c.first_at), Some(c.key)),
            None => (None, None),
        };
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let rows: Vec<RecordRow> = self
            .scoped(tenant, async |c| {
                sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM {JOINED} WHERE tenant_id = $1 AND first_at IS NOT NULL \
                     AND ($2::text IS NULL OR account_id = $2) \
                     AND ($3::text IS NULL OR resource_kind = $3) \
                     AND ($4::boolean IS NULL OR (ended_at IS NOT NULL) = $4) \
                     AND ($5::timestamptz IS NULL OR (first_at, account_id, region, resource_id) \
                          < ($5, $6::text, $7::text, $8::text)) \
                     AND ($10::timestamptz IS NULL OR first_at <= $10) \
                     ORDER BY first_at DESC, account_id DESC, region DESC, resource_id DESC \
                     LIMIT $9"
                ))
                .bind(tenant)
                .bind(&filter.account_id)
                .bind(&filter.resource_kind)
                .bind(filter.ended)
                .bind(at)
                .bind(key.as_ref().map(|k| k.account_id.clone()))
                .bind(key.as_ref().map(|k| k.region.clone()))
                .bind(key.as_ref().map(|k| k.resource_id.clone()))
                .bind(fetch)
                .bind(filter.began_by)
                .fetch_all(c)
                .await
            })
            .await
            .map_err(|e| backend("listing ledger records", e))?;
        let items = rows.into_iter().map(|row| record_of(tenant, row)).collect();
        Ok(Page::from_overfetch(items, limit, |r| {
            ResourceCursor::after(r).to_string()
        }))
    }

    async fn link(&self, tenant: &str, links: &[Link]) -> PortResult<()> {
        if links.is_empty() {
            return Ok(());
        }
        self.scoped(tenant, async |c| Self::insert_links(c, tenant, links).await)
            .await
            .map_err(|e| backend("linking resources to their anomalies", e))
    }

    async fn mark_unseen(
        &self,
        tenant: &str,
        keys: &[ResourceKey],
        at: DateTime<Utc>,
    ) -> PortResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let columns = KeyColumns::of(keys.iter());
        self.scoped(tenant, async |c| {
            sqlx::query(&format!(
                "UPDATE resources SET unseen_at = COALESCE(unseen_at, $5), \
                 ended_at = COALESCE(ended_at, $5) WHERE tenant_id = $1 AND {KEYED}"
            ))
            .bind(tenant)
            .bind(&columns.accounts)
            .bind(&columns.regions)
            .bind(&columns.ids)
            .bind(at)
            .execute(c)
            .await
        })
        .await
        .map_err(|e| backend("marking resources gone", e))?;
        Ok(())
    }

    async fn prune_ended(&self, before: DateTime<Utc>) -> PortResult<u64> {
        let pruned: i64 = self
            .scoped(EVERY_TENANT, async |c| {
                // A pruned resource's link goes with it.
                sqlx::query_scalar(
                    "WITH pruned AS (DELETE FROM resources WHERE ended_at < $1 \
                     RETURNING tenant_id, account_id, region, resource_id), \
                     unlinked AS (DELETE FROM resource_links l USING pruned p \
                     WHERE (l.tenant_id, l.account_id, l.region, l.resource_id) = \
                     (p.tenant_id, p.account_id, p.region, p.resource_id)) \
                     SELECT count(*) FROM pruned",
                )
                .bind(before)
                .fetch_one(c)
                .await
            })
            .await
            .map_err(|e| backend("pruning ended resources", e))?;
        Ok(u64::try_from(pruned).unwrap_or(0))
    }
}
