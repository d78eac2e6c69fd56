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
    ResourceKey, ResourceLedger, ResourceRecord, TenantChanges,
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

/// A [`RecordRow`] after its tenant, for reads across tenants.
type TenantRecordRow = (
    String,
    String,
    String,
    String,
    Option<Json<Vec<Stored<'static>>>>,
    Option<String>,
    Option<DateTime<Utc>>,
);

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

    /// Creates the rows of `keys` (each beside its tenant) that do not exist yet, each with an
    /// empty record.
    async fn ensure_rows(
        c: &mut PgConnection,
        tenants: &[&str],
        keys: &KeyColumns,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO resources (tenant_id, account_id, region, resource_id, changes) \
             SELECT n, a, r, i, '[]' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) \
             AS t(n, a, r, i) ORDER BY n COLLATE \"C\", a, r, i \
             ON CONFLICT (tenant_id, account_id, region, resource_id) DO NOTHING",
        )
        .bind(tenants)
        .bind(&keys.accounts)
        .bind(&keys.regions)
        .bind(&keys.ids)
        .execute(c)
        .await?;
        Ok(())
    }

    /// Records every tenant's changes in one transaction, retrying one a deadlock aborted.
    async fn record_all(&self, batch: &[(&str, Cow<'_, [ResourceChange]>)]) -> PortResult<Touched> {
        let mut attempt = 1;
        loop {
            match self.try_record(batch).await {
                Ok(touched) => return Ok(touched),
                Err(error) if is_retryable_conflict(&error) && attempt < RECORD_ATTEMPTS => {
                    attempt += 1;
                }
                Err(error) => return Err(backend("recording resource changes", error)),
            }
        }
    }

    /// One attempt at [`PgStore::record_all`]: `Err` with a deadlock is worth another.
    /// Resources new to the ledger (most changes are creations) are inserted whole in one
    /// statement; only those it already holds are locked, merged and written back.
    async fn try_record(
        &self,
        batch: &[(&str, Cow<'_, [ResourceChange]>)],
    ) -> Result<Touched, sqlx::Error> {
        let mut fresh: Vec<ResourceRecord> = batch
            .iter()
            .flat_map(|(tenant, changes)| merge(tenant, Vec::new(), changes))
            .map(|(record, _)| record)
            .collect();
        fresh.sort_by(|a, b| (&a.tenant, &a.key).cmp(&(&b.tenant, &b.key)));
        let mut tx = self.begin(&scope_of(batch.iter().map(|(t, _)| *t))).await?;
        let rows = Columns::of(fresh.iter());
        // With the link each new resource may have had before its first change.
        let inserted: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
            "WITH inserted AS (INSERT INTO resources (tenant_id, account_id, region, resource_id, \
             resource_kind, first_at, ended_at, changes) \
             SELECT n, a, r, i, k, f, e, j FROM unnest($1::text[], $2::text[], $3::text[], \
             $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::json[]) \
             AS t(n, a, r, i, k, f, e, j) \
             ON CONFLICT (tenant_id, account_id, region, resource_id) DO NOTHING \
             RETURNING tenant_id, account_id, region, resource_id) \
             SELECT tenant_id, account_id, region, resource_id, anomaly_id \
             FROM inserted LEFT JOIN resource_links USING (tenant_id, account_id, region, resource_id)",
        )
        .bind(&rows.tenants)
        .bind(&rows.keys.accounts)
        .bind(&rows.keys.regions)
        .bind(&rows.keys.ids)
        .bind(&rows.kinds)
        .bind(&rows.firsts)
        .bind(&rows.ends)
        .bind(&rows.payloads)
        .fetch_all(&mut *tx)
        .await?;
        let mut links: HashMap<(String, ResourceKey), Option<String>> = inserted
            .into_iter()
            .map(|(n, a, r, i, anomaly_id)| ((n, ResourceKey::new(&a, &r, &i)), anomaly_id))
            .collect();
        let mut touched = Touched::new();
        for mut record in fresh {
            if let Some(anomaly_id) = links.remove(&(record.tenant.clone(), record.key.clone())) {
                record.anomaly_id = anomaly_id;
                touched.add(record);
            }
        }
        let held: Vec<(&str, Vec<ResourceChange>)> = batch
            .iter()
            .map(|(tenant, changes)| {
                let held = changes
                    .iter()
                    .filter(|c| touched.get(tenant, &c.key).is_none())
                    .cloned()
                    .collect::<Vec<_>>();
                (*tenant, held)
            })
            .filter(|(_, held)| !held.is_empty())
            .collect();
        if !held.is_empty() {
            for record in Self::merge_held(&mut tx, &held).await? {
                touched.add(record);
            }
        }
        tx.commit().await?;
        Ok(touched)
    }

    /// Locks the rows of the resources `batch` touches (in tenant and key order), merges each
    /// tenant's changes into their records and writes back those that changed.
    async fn merge_held(
        c: &mut PgConnection,
        batch: &[(&str, Vec<ResourceChange>)],
    ) -> Result<Vec<ResourceRecord>, sqlx::Error> {
        let mut keys: Vec<(&str, ResourceKey)> = batch
            .iter()
            .flat_map(|(tenant, changes)| keys_of(changes).into_iter().map(|k| (*tenant, k)))
            .collect();
        keys.sort();
        let tenants: Vec<&str> = keys.iter().map(|(tenant, _)| *tenant).collect();
        let columns = KeyColumns::of(keys.iter().map(|(_, key)| key));
        Self::ensure_rows(c, &tenants, &columns).await?;
        let rows: Vec<TenantRecordRow> = sqlx::query_as(&format!(
            "SELECT tenant_id, {COLUMNS} FROM {JOINED} \
             WHERE (tenant_id, account_id, region, resource_id) IN \
             (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])) \
             ORDER BY tenant_id COLLATE \"C\", account_id, region, resource_id FOR UPDATE OF resources"
        ))
        .bind(&tenants)
        .bind(&columns.accounts)
        .bind(&columns.regions)
        .bind(&columns.ids)
        .fetch_all(&mut *c)
        .await?;
        let mut stored: HashMap<String, Vec<ResourceRecord>> = HashMap::new();
        for (tenant, account, region, id, changes, anomaly_id, unseen_at) in rows {
            let record = record_of(
                &tenant,
                (account, region, id, changes, anomaly_id, unseen_at),
            );
            stored.entry(tenant).or_default().push(record);
        }
        let merged: Vec<(ResourceRecord, bool)> = batch
            .iter()
            .flat_map(|(tenant, changes)| {
                merge(tenant, stored.remove(*tenant).unwrap_or_default(), changes)
            })
            .collect();
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
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                 $6::timestamptz[], $7::timestamptz[], $8::json[]) AS t(n, a, r, i, k, f, e, j) \
                 WHERE tenant_id = t.n AND account_id = t.a AND region = t.r AND resource_id = t.i",
            )
            .bind(&written.tenants)
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

/// The records a recording touched, by tenant and key.
#[derive(Default)]
struct Touched(HashMap<String, HashMap<ResourceKey, ResourceRecord>>);

impl Touched {
    fn new() -> Self {
        Touched::default()
    }

    fn add(&mut self, record: ResourceRecord) {
        self.0
            .entry(record.tenant.clone())
            .or_default()
            .insert(record.key.clone(), record);
    }

    fn get(&self, tenant: &str, key: &ResourceKey) -> Option<&ResourceRecord> {
        self.0.get(tenant)?.get(key)
    }

    /// The records of `changes`' resources for `tenant`, in the order they first appear.
    fn of(&self, tenant: &str, changes: &[ResourceChange]) -> Vec<ResourceRecord> {
        keys_of(changes)
            .iter()
            .filter_map(|key| self.get(tenant, key).cloned())
            .collect()
    }
}

/// `batch` with each tenant once, the changes of a tenant named twice joined in order.
fn tenants_once(batch: &[TenantChanges]) -> Vec<(&str, Cow<'_, [ResourceChange]>)> {
    let mut once: Vec<(&str, Cow<'_, [ResourceChange]>)> = Vec::new();
    for TenantChanges { tenant, changes } in batch {
        match once.iter_mut().find(|(named, _)| named == tenant) {
            Some((_, joined)) => joined.to_mut().extend_from_slice(changes),
            None => once.push((tenant, Cow::Borrowed(changes))),
        }
    }
    once
}

/// Records bound as the arrays of their row's columns; each record's changes serialized
/// straight into the statement.
struct Columns<'r> {
    tenants: Vec<&'r str>,
    keys: KeyColumns,
    kinds: Vec<String>,
    firsts: Vec<Option<DateTime<Utc>>>,
    ends: Vec<Option<DateTime<Utc>>>,
    payloads: Vec<Json<Vec<Stored<'r>>>>,
}

impl<'r> Columns<'r> {
    fn of(records: impl Iterator<Item = &'r ResourceRecord> + Clone) -> Self {
        let mut columns = Columns {
            tenants: Vec::new(),
            keys: KeyColumns::of(records.clone().map(|r| &r.key)),
            kinds: Vec::new(),
            firsts: Vec::new(),
            ends: Vec::new(),
            payloads: Vec::new(),
        };
        for record in records {
            columns.tenants.push(&record.tenant);
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
        let touched = self.record_all(&[(tenant, Cow::Borrowed(changes))]).await?;
        Ok(touched.of(tenant, changes))
    }

    async fn record_each(&self, batch: &[TenantChanges]) -> PortResult<Vec<Vec<ResourceRecord>>> {
        let once = tenants_once(batch);
        if once.iter().all(|(_, changes)| changes.is_empty()) {
            return Ok(vec![Vec::new(); batch.len()]);
        }
        let touched = self.record_all(&once).await?;
        Ok(batch
            .iter()
            .map(|t| touched.of(&t.tenant, &t.changes))
            .collect())
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
