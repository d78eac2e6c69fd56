//! The resource ledger: every resource dd0c/cost saw priced, followed to its end.
//!
//! A resource's record keeps the changes CloudTrail told of it — its creation, starts, resizes,
//! stops and end, each with its time, actor, event id and the rate it began at — and everything
//! else is derived from them in time order ([`ResourceRecord::life`]). So recording is
//! idempotent (a change is kept once per event id) and order does not matter: an end that
//! arrives before its creation (a backfill, two queue groups) waits in the record and applies
//! when the creation arrives. Rates are those of the events, priced when they happened: a later
//! catalog does not rewrite history.
//!
//! Map: [`ResourceKey`] names a resource; [`ResourceChange`] is one change of one resource, made
//! from a cost event by [`ResourceChange::of_event`]; [`ResourceRecord`] is what the ledger
//! stores; [`Life`] is what it derives (intervals, cost so far, forecast, end); [`ResourceLedger`]
//! is the port; [`Followed`] is what one anomaly's resources amount to.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

mod followed;

pub use followed::{month_end, CostedInterval, Followed, FollowedAnomaly, ResourceView, UNSEEN};

use crate::domain::{Anomaly, Change, CostEvent, PriceSource};
use crate::store::Page;
use crate::{PortError, PortResult};

/// How long AWS leaves a stopped RDS instance or cluster stopped before starting it again.
pub const RDS_RESTART_AFTER: TimeDelta = TimeDelta::days(7);

/// Most changes one record keeps: past it, only an end is still recorded (a resource started
/// and stopped a thousand times is followed no further, but its end still counts).
pub const MAX_CHANGES: usize = 1_000;

/// How long ended resources are kept by default before retention forgets them.
pub const DEFAULT_LEDGER_RETENTION_DAYS: u32 = 400;

/// One resource of a tenant: the account and region it lives in and the id CloudTrail names it
/// by (an instance id, a volume id, a load balancer's ARN, a database's identifier…). A call
/// that names no id keys its resources by its event id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceKey {
    /// The AWS account.
    pub account_id: String,
    /// The AWS region.
    pub region: String,
    /// The id CloudTrail names it by.
    pub resource_id: String,
}

impl ResourceKey {
    /// The key of `resource_id` in `account_id` and `region`.
    pub fn new(account_id: &str, region: &str, resource_id: &str) -> Self {
        ResourceKey {
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            resource_id: resource_id.to_owned(),
        }
    }
}

/// `account/region/id` (ids may hold slashes; account ids and regions never do).
impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.account_id, self.region, self.resource_id
        )
    }
}

impl FromStr for ResourceKey {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PortError::Invalid(format!("{s:?} is not account/region/resource id"));
        let (account_id, rest) = s.split_once('/').ok_or_else(bad)?;
        let (region, resource_id) = rest.split_once('/').ok_or_else(bad)?;
        // No id the ledger holds has a control character (and Postgres stores no NUL).
        if account_id.is_empty()
            || region.is_empty()
            || resource_id.is_empty()
            || s.chars().any(char::is_control)
        {
            return Err(bad());
        }
        Ok(ResourceKey::new(account_id, region, resource_id))
    }
}

/// Who did something to a resource, when, and in which CloudTrail event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Mark {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (an ARN, as cost events name actors).
    pub actor_arn: String,
    /// The cost event that told it.
    pub event_id: String,
    /// The CloudTrail call (`TerminateInstances`).
    #[serde(default)]
    pub call: String,
}

/// One change of one resource, as a cost event told it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceChange {
    /// Which resource.
    pub key: ResourceKey,
    /// What the call did.
    pub change: Change,
    /// The resource's kind (`ec2.instance`, …).
    pub resource_kind: String,
    /// Its type after the change (`unknown` when the call does not tell).
    pub resource_type: String,
    /// How many units this id stands for (1 for an instance; a group's capacity).
    pub quantity: u32,
    /// USD per hour of one unit after the change; meaningful only when `priced`.
    pub unit_hourly_usd: f64,
    /// Whether the call told the rate (a stop, an end and most starts do not).
    pub priced: bool,
    /// Who, when, which event.
    pub mark: Mark,
}

impl ResourceChange {
    /// The changes a cost event makes: one per resource id it names, its count and rate
    /// shared among them (four instances launched: four resources of one each; a group's
    /// capacity of eight: one resource of eight); keyed by the event id when it names none.
    pub fn of_event(event: &CostEvent) -> Vec<ResourceChange> {
        let ids: Vec<&str> = if event.resource_ids.is_empty() {
            vec![event.event_id.as_str()]
        } else {
            event.resource_ids.iter().map(String::as_str).collect()
        };
        let shares = u32::try_from(ids.len()).unwrap_or(u32::MAX).max(1);
        let quantity = (event.quantity / shares).max(1);
        let priced = event.price_source != PriceSource::Unknown;
        let mark = Mark {
            at: event.event_time,
            actor_arn: event.actor_arn.clone(),
            event_id: event.event_id.clone(),
            call: event.event_name.clone(),
        };
        ids.into_iter()
            .map(|id| ResourceChange {
                key: ResourceKey::new(&event.account_id, &event.region, id),
                change: event.change,
                resource_kind: event.resource_kind.clone(),
                resource_type: event.resource_type.clone(),
                quantity,
                unit_hourly_usd: event.unit_hourly_usd,
                priced,
                mark: mark.clone(),
            })
            .collect()
    }

    /// The CloudTrail event this change came from: the cost event id without its `#n` line
    /// suffix, so the lines of one creation (an EMR cluster's master and core groups) are
    /// parts of one creation.
    fn call_id(&self) -> &str {
        base_event_id(&self.mark.event_id)
    }
}

/// A cost event id without its `#n` line suffix.
pub fn base_event_id(event_id: &str) -> &str {
    match event_id.rsplit_once('#') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => event_id,
    }
}

/// What the ledger stores of one resource: its changes and the anomaly that named it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRecord {
    /// The owning tenant.
    pub tenant: String,
    /// Which resource.
    pub key: ResourceKey,
    /// Every change recorded, oldest first (time, then event id), each event once.
    pub changes: Vec<ResourceChange>,
    /// The anomaly that named this resource, once one has.
    #[serde(default)]
    pub anomaly_id: Option<String>,
    /// When the zombie hunter found the resource gone with no end event recorded.
    #[serde(default)]
    pub unseen_at: Option<DateTime<Utc>>,
}

/// One stretch of time a resource billed at one rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Interval {
    /// When it began billing at this rate.
    pub from: DateTime<Utc>,
    /// When it stopped, resized or ended; `None` while it runs.
    pub to: Option<DateTime<Utc>>,
    /// What began the interval (`create`, `start`, `resize`).
    pub began_by: Change,
    /// Its type in the interval.
    pub resource_type: String,
    /// Units.
    pub quantity: u32,
    /// USD per hour of all units.
    pub hourly_usd: f64,
}

impl Interval {
    /// What the interval cost up to `until` (or its end, whichever is first).
    pub fn cost_until(&self, until: DateTime<Utc>) -> f64 {
        let end = self.to.map_or(until, |to| to.min(until));
        let seconds = (end - self.from).num_seconds().max(0);
        self.hourly_usd * seconds as f64 / 3600.0
    }
}

/// How a resource ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ended {
    /// When.
    pub at: DateTime<Utc>,
    /// The call that ended it; `None` when the zombie hunter found it gone with no end event.
    pub by: Option<Mark>,
}

/// What a record's changes amount to, in time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Life {
    /// Its kind.
    pub resource_kind: String,
    /// Its latest known type.
    pub resource_type: String,
    /// Its latest known count of units.
    pub quantity: u32,
    /// The call that created it, when the ledger saw it (not for a resource only started,
    /// stopped or ended since dd0c/cost began watching).
    pub created: Option<Mark>,
    /// When it billed, at which rate.
    pub intervals: Vec<Interval>,
    /// How it ended, if it has.
    pub ended: Option<Ended>,
    /// How it stopped, while it is stopped and only a call will start it again (not a stopped
    /// RDS resource, which AWS starts again by itself).
    #[serde(default)]
    pub stopped: Option<Ended>,
}

impl Life {
    /// How it came to rest, if it has: its end, else its stop while only a call will start
    /// it again. A resource at rest bills no compute and will not by itself.
    pub fn at_rest(&self) -> Option<&Ended> {
        self.ended.as_ref().or(self.stopped.as_ref())
    }

    /// Whether it bills compute now: not ended, and its last interval still open.
    pub fn running(&self) -> bool {
        self.ended.is_none() && self.intervals.last().is_some_and(|i| i.to.is_none())
    }

    /// USD per hour it bills now.
    pub fn hourly_now(&self) -> f64 {
        match self.intervals.last() {
            Some(last) if self.running() => last.hourly_usd,
            _ => 0.0,
        }
    }

    /// What it cost from its first interval to `until` (its end, if earlier).
    pub fn cost_until(&self, until: DateTime<Utc>) -> f64 {
        self.intervals.iter().map(|i| i.cost_until(until)).sum()
    }

    /// What it has cost, once it has ended.
    pub fn actual_cost(&self) -> Option<f64> {
        self.ended.as_ref().map(|e| self.cost_until(e.at))
    }

    /// How long it billed in all.
    pub fn running_time(&self, until: DateTime<Utc>) -> TimeDelta {
        self.intervals
            .iter()
            .map(|i| (i.to.map_or(until, |to| to.min(until)) - i.from).max(TimeDelta::zero()))
            .sum()
    }
}

impl ResourceRecord {
    /// A record of `key` with no change yet.
    pub fn new(tenant: &str, key: ResourceKey) -> Self {
        ResourceRecord {
            tenant: tenant.to_owned(),
            key,
            changes: Vec::new(),
            anomaly_id: None,
            unseen_at: None,
        }
    }

    /// Adds `change` where time puts it; `false` if this event's change of this resource is
    /// already recorded, or the record is full and the change is not an end.
    pub fn add(&mut self, change: ResourceChange) -> bool {
        if self
            .changes
            .iter()
            .any(|c| c.mark.event_id == change.mark.event_id)
        {
            return false;
        }
        if self.changes.len() >= MAX_CHANGES && change.change != Change::End {
            return false;
        }
        let at = self.changes.partition_point(|c| {
            (c.mark.at, &c.mark.event_id) <= (change.mark.at, &change.mark.event_id)
        });
        self.changes.insert(at, change);
        true
    }

    /// When its first change happened (what lists sort by).
    pub fn first_at(&self) -> Option<DateTime<Utc>> {
        self.changes.first().map(|c| c.mark.at)
    }

    /// Its kind, as its first change tells.
    pub fn resource_kind(&self) -> &str {
        self.changes
            .first()
            .map_or("", |c| c.resource_kind.as_str())
    }

    /// Its life as of `now`: the changes folded in time order, with the restarts AWS makes on
    /// its own (a stopped RDS instance or cluster starts again after [`RDS_RESTART_AFTER`]).
    pub fn life(&self, now: DateTime<Utc>) -> Life {
        let mut fold = Fold::default();
        for change in &self.changes {
            fold.restart_due(change.mark.at);
            fold.apply(change);
        }
        if let (Some(at), None) = (self.unseen_at, &fold.life.ended) {
            fold.restart_due(at);
            fold.end(at, None);
        }
        fold.restart_due(now);
        fold.life
    }
}

/// The state of a fold over one record's changes.
#[derive(Default)]
struct Fold {
    life: Life,
    /// USD per hour of one unit, as last told.
    unit_hourly_usd: Option<f64>,
    /// The event that created it (its parts share this call id).
    creation: Option<String>,
    /// When AWS will start it again by itself (a stopped RDS resource).
    restarts_at: Option<DateTime<Utc>>,
}

impl Default for Life {
    fn default() -> Self {
        Life {
            resource_kind: String::new(),
            resource_type: "unknown".to_owned(),
            quantity: 1,
            created: None,
            intervals: Vec::new(),
            ended: None,
            stopped: None,
        }
    }
}

impl Fold {
    fn apply(&mut self, change: &ResourceChange) {
        if self.life.resource_kind.is_empty() {
            self.life.resource_kind = change.resource_kind.clone();
        }
        if self.life.ended.is_some() {
            if change.change == Change::Create {
                // The id was taken again after its end (a database re-created under its
                // name): the ledger follows the new life.
                *self = Fold::default();
                self.life.resource_kind = change.resource_kind.clone();
            } else {
                return;
            }
        }
        match change.change {
            Change::Create if self.creation.as_deref() == Some(change.call_id()) => {
                self.add_part(change)
            }
            Change::Create if self.creation.is_none() => {
                self.creation = Some(change.call_id().to_owned());
                self.life.created = Some(change.mark.clone());
                self.take_rate(change);
                self.open(change.mark.at, Change::Create);
            }
            Change::Create | Change::Resize => {
                self.take_rate(change);
                if self.life.running() || self.life.intervals.is_empty() {
                    self.close(change.mark.at);
                    self.open(change.mark.at, change.change);
                }
            }
            Change::Start => {
                self.take_rate(change);
                if !self.life.running() {
                    self.open(change.mark.at, Change::Start);
                }
            }
            Change::Stop => {
                let was_running = self.life.running();
                self.close(change.mark.at);
                if self.life.resource_kind.starts_with("rds.") {
                    self.restarts_at = Some(change.mark.at + RDS_RESTART_AFTER);
                } else if was_running {
                    self.life.stopped = Some(Ended {
                        at: change.mark.at,
                        by: Some(change.mark.clone()),
                    });
                }
            }
            Change::End => self.end(change.mark.at, Some(change.mark.clone())),
        }
    }

    /// Another line of the creating call (an EMR cluster's core group): its units and rate
    /// add to the resource's.
    fn add_part(&mut self, change: &ResourceChange) {
        let part = change.unit_hourly_usd * f64::from(change.quantity);
        if let Some(open) = self.life.intervals.last_mut().filter(|i| i.to.is_none()) {
            open.hourly_usd += part;
            open.quantity = open.quantity.saturating_add(change.quantity);
        }
        self.life.quantity = self.life.quantity.saturating_add(change.quantity);
    }

    /// Takes the type, count and rate a change tells (a rate only when priced).
    fn take_rate(&mut self, change: &ResourceChange) {
        if change.resource_type != "unknown" {
            self.life.resource_type = change.resource_type.clone();
        }
        if change.priced {
            self.unit_hourly_usd = Some(change.unit_hourly_usd);
            self.life.quantity = change.quantity;
        } else if change.change == Change::Resize {
            self.life.quantity = change.quantity;
        }
    }

    fn open(&mut self, at: DateTime<Utc>, began_by: Change) {
        self.restarts_at = None;
        self.life.stopped = None;
        let unit = self.unit_hourly_usd.unwrap_or(0.0);
        self.life.intervals.push(Interval {
            from: at,
            to: None,
            began_by,
            resource_type: self.life.resource_type.clone(),
            quantity: self.life.quantity,
            hourly_usd: unit * f64::from(self.life.quantity),
        });
    }

    fn close(&mut self, at: DateTime<Utc>) {
        if let Some(open) = self.life.intervals.last_mut().filter(|i| i.to.is_none()) {
            open.to = Some(at.max(open.from));
        }
    }

    fn end(&mut self, at: DateTime<Utc>, by: Option<Mark>) {
        self.close(at);
        self.restarts_at = None;
        self.life.stopped = None;
        self.life.ended = Some(Ended { at, by });
    }

    /// AWS's own restart of a stopped RDS resource, if it falls before `at`.
    fn restart_due(&mut self, at: DateTime<Utc>) {
        if let Some(restart) = self.restarts_at.filter(|r| *r <= at) {
            if self.life.ended.is_none() && !self.life.running() {
                self.open(restart, Change::Start);
            }
            self.restarts_at = None;
        }
    }
}

/// Which records a list returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceFilter {
    /// Only this account's.
    pub account_id: Option<String>,
    /// Only this kind's.
    pub resource_kind: Option<String>,
    /// `Some(false)`: only those not ended; `Some(true)`: only ended ones.
    pub ended: Option<bool>,
    /// Only those whose first change is at or before this time.
    pub began_by: Option<DateTime<Utc>>,
}

impl ResourceFilter {
    /// Whether `record` passes (as of its stored changes).
    pub fn matches(&self, record: &ResourceRecord) -> bool {
        let ended = ended_at(record).is_some();
        self.account_id
            .as_ref()
            .is_none_or(|a| *a == record.key.account_id)
            && self
                .resource_kind
                .as_ref()
                .is_none_or(|k| k == record.resource_kind())
            && self.ended.is_none_or(|e| e == ended)
            && self
                .began_by
                .is_none_or(|by| record.first_at().is_some_and(|at| at <= by))
    }
}

/// Where a page of resources resumes (`{unix seconds}.{nanoseconds}~{account/region/id}`):
/// after the record with this first change time and key, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceCursor {
    /// The last listed record's first change time.
    pub first_at: DateTime<Utc>,
    /// Its key.
    pub key: ResourceKey,
}

impl ResourceCursor {
    /// The shape of a cursor, for documents that describe it; [`FromStr`] accepts exactly this.
    pub const PATTERN: &'static str = r"^[0-9]{1,11}\.[0-9]{9}~[^/]+/[^/]+/.+$";

    /// The cursor after `record` in a list.
    pub fn after(record: &ResourceRecord) -> Self {
        ResourceCursor {
            first_at: record.first_at().unwrap_or(DateTime::UNIX_EPOCH),
            key: record.key.clone(),
        }
    }
}

impl fmt::Display for ResourceCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}~{}",
            self.first_at.timestamp(),
            self.first_at.timestamp_subsec_nanos(),
            self.key
        )
    }
}

impl FromStr for ResourceCursor {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PortError::Invalid(format!("cursor {s:?} is not one this API gave"));
        let (time, key) = s.split_once('~').ok_or_else(bad)?;
        let (seconds, nanos) = time.split_once('.').ok_or_else(bad)?;
        let digits = |text: &str, range: std::ops::RangeInclusive<usize>| {
            range.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(seconds, 1..=11) || !digits(nanos, 9..=9) {
            return Err(bad());
        }
        let first_at = DateTime::from_timestamp(
            seconds.parse().map_err(|_| bad())?,
            nanos.parse().map_err(|_| bad())?,
        )
        .ok_or_else(bad)?;
        Ok(ResourceCursor {
            first_at,
            key: key.parse().map_err(|_| bad())?,
        })
    }
}

/// A page of `records` (a tenant's, in any order) as [`ResourceLedger::list`] returns it: those
/// with changes passing `filter`, newest first change first, after `cursor`. For adapters that
/// read a tenant's records whole and page after the read.
pub fn page_of(
    records: impl IntoIterator<Item = ResourceRecord>,
    filter: &ResourceFilter,
    cursor: Option<&str>,
    limit: usize,
) -> PortResult<Page<ResourceRecord>> {
    let after = cursor.map(str::parse::<ResourceCursor>).transpose()?;
    let order = |r: &ResourceRecord| (r.first_at(), r.key.clone());
    let mut kept: Vec<ResourceRecord> = records
        .into_iter()
        .filter(|r| !r.changes.is_empty() && filter.matches(r))
        .filter(|r| {
            after
                .as_ref()
                .is_none_or(|c| order(r) < (Some(c.first_at), c.key.clone()))
        })
        .collect();
    kept.sort_by_key(|r| std::cmp::Reverse(order(r)));
    kept.truncate(limit.saturating_add(1));
    Ok(Page::from_overfetch(kept, limit, |r| {
        ResourceCursor::after(r).to_string()
    }))
}

/// An anomaly and the resources it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The anomaly.
    pub anomaly_id: String,
    /// Its resources.
    pub keys: Vec<ResourceKey>,
}

impl Link {
    /// The links as `(key, anomaly id)` pairs, each key once, named by its first link: what an
    /// adapter writes in one step.
    pub fn first_per_key(links: &[Link]) -> Vec<(&ResourceKey, &str)> {
        let mut seen = HashSet::new();
        links
            .iter()
            .flat_map(|l| l.keys.iter().map(|k| (k, l.anomaly_id.as_str())))
            .filter(|(k, _)| seen.insert(*k))
            .collect()
    }
}

/// One tenant's changes in a recording of several tenants' ([`ResourceLedger::record_each`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantChanges {
    /// The tenant.
    pub tenant: String,
    /// Its changes, in any order.
    pub changes: Vec<ResourceChange>,
}

/// The resource ledger of every tenant.
#[async_trait]
pub trait ResourceLedger: Send + Sync {
    /// Records `changes` for `tenant`, each once per resource and event (a redelivered change
    /// changes nothing), in any order. Returns the records they touched as they now stand, one
    /// per resource, in the order the resources first appear in `changes`.
    async fn record(
        &self,
        tenant: &str,
        changes: &[ResourceChange],
    ) -> PortResult<Vec<ResourceRecord>>;

    /// Records each tenant's changes as [`record`](Self::record) does; returns each one's
    /// touched records, in the order of `batch`. A scored receive spans many tenants (one
    /// event each when a thousand share the queue): adapters that can record them all in one
    /// transaction should.
    async fn record_each(&self, batch: &[TenantChanges]) -> PortResult<Vec<Vec<ResourceRecord>>> {
        let mut touched = Vec::with_capacity(batch.len());
        for TenantChanges { tenant, changes } in batch {
            touched.push(self.record(tenant, changes).await?);
        }
        Ok(touched)
    }

    /// The records of `keys`, in the same order (`None` where the ledger has none).
    async fn resources(
        &self,
        tenant: &str,
        keys: &[ResourceKey],
    ) -> PortResult<Vec<Option<ResourceRecord>>>;

    /// The records of `anomaly_id`.
    async fn of_anomaly(&self, tenant: &str, anomaly_id: &str) -> PortResult<Vec<ResourceRecord>>;

    /// The records of every anomaly in `anomaly_ids` (a page of a list), in no set order.
    /// Adapters that can answer in one round trip should.
    async fn of_anomalies(
        &self,
        tenant: &str,
        anomaly_ids: &[&str],
    ) -> PortResult<Vec<ResourceRecord>> {
        let mut found = Vec::new();
        for anomaly_id in anomaly_ids {
            found.extend(self.of_anomaly(tenant, anomaly_id).await?);
        }
        Ok(found)
    }

    /// A page of the tenant's records passing `filter`, newest first change first, after
    /// `cursor` ([`ResourceCursor`]).
    async fn list(
        &self,
        tenant: &str,
        filter: &ResourceFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> PortResult<Page<ResourceRecord>>;

    /// Names each link's anomaly as the anomaly of its keys; a key the ledger does not hold
    /// yet is linked all the same, and reads as an empty record until its changes arrive. An
    /// anomaly already named is kept: the first anomaly to name a resource keeps it, by
    /// earlier calls and then by order in `links`. Adapters that can write every link at once
    /// should (one call per scored batch).
    async fn link(&self, tenant: &str, links: &[Link]) -> PortResult<()>;

    /// Ends, as found gone at `at` with no end event, the records of `keys` the ledger holds.
    async fn mark_unseen(
        &self,
        tenant: &str,
        keys: &[ResourceKey],
        at: DateTime<Utc>,
    ) -> PortResult<()>;

    /// Forgets, for every tenant, the records whose last change is an end (or that were found
    /// gone) before `before`; how many.
    async fn prune_ended(&self, before: DateTime<Utc>) -> PortResult<u64>;
}

/// The records `changes` make of `stored` (the records the ledger holds of their resources,
/// any order): each change added once. What every adapter does between its read and its
/// write; returns the records in the order their resources first appear, and whether each
/// changed.
pub fn merge(
    tenant: &str,
    stored: Vec<ResourceRecord>,
    changes: &[ResourceChange],
) -> Vec<(ResourceRecord, bool)> {
    // Indexed by key: a receive's changes number in the thousands.
    let mut stored: HashMap<ResourceKey, ResourceRecord> =
        stored.into_iter().map(|r| (r.key.clone(), r)).collect();
    let mut slots: HashMap<&ResourceKey, usize> = HashMap::new();
    let mut merged: Vec<(ResourceRecord, bool)> = Vec::new();
    for change in changes {
        let slot = *slots.entry(&change.key).or_insert_with(|| {
            let record = stored
                .remove(&change.key)
                .unwrap_or_else(|| ResourceRecord::new(tenant, change.key.clone()));
            merged.push((record, false));
            merged.len() - 1
        });
        let (record, changed) = &mut merged[slot];
        if record.add(change.clone()) {
            *changed = true;
        }
    }
    merged
}

/// The records of each of `anomalies` (one tenant's: a page of a list), read at once
/// ([`ResourceLedger::of_anomalies`]) and grouped by the id of the anomaly that named them.
pub async fn records_by_anomaly(
    ledger: &dyn ResourceLedger,
    tenant: &str,
    anomalies: &[Anomaly],
) -> PortResult<HashMap<String, Vec<ResourceRecord>>> {
    let ids: Vec<&str> = anomalies.iter().map(|a| a.anomaly_id.as_str()).collect();
    let mut grouped: HashMap<String, Vec<ResourceRecord>> = HashMap::new();
    for record in ledger.of_anomalies(tenant, &ids).await? {
        if let Some(id) = record.anomaly_id.clone() {
            grouped.entry(id).or_default().push(record);
        }
    }
    Ok(grouped)
}

/// The distinct keys of `changes`, in first-appearance order.
pub fn keys_of(changes: &[ResourceChange]) -> Vec<ResourceKey> {
    let mut seen: HashSet<&ResourceKey> = HashSet::new();
    changes
        .iter()
        .filter(|c| seen.insert(&c.key))
        .map(|c| c.key.clone())
        .collect()
}

/// Whether a record's last stored change may have brought it to rest (an end, or a stop):
/// only such a change can settle the anomaly that named it ([`Life::at_rest`] decides).
pub fn may_rest(record: &ResourceRecord) -> bool {
    record.unseen_at.is_some()
        || record
            .changes
            .last()
            .is_some_and(|c| matches!(c.change, Change::End | Change::Stop))
}

/// Whether a record's stored changes end it (what retention and the `ended` filter read).
pub fn ended_at(record: &ResourceRecord) -> Option<DateTime<Utc>> {
    record.unseen_at.or_else(|| {
        record
            .changes
            .last()
            .filter(|c| c.change == Change::End)
            .map(|c| c.mark.at)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 8, 0, 0)
            .single()
            .expect("valid")
            + TimeDelta::hours(hours)
    }

    fn change(
        kind: &str,
        change: Change,
        at: DateTime<Utc>,
        event: &str,
        unit: Option<f64>,
    ) -> ResourceChange {
        ResourceChange {
            key: ResourceKey::new("111122223333", "us-east-1", "i-1"),
            change,
            resource_kind: kind.into(),
            resource_type: if unit.is_some() {
                "m5.large".into()
            } else {
                "unknown".into()
            },
            quantity: 1,
            unit_hourly_usd: unit.unwrap_or(0.0),
            priced: unit.is_some(),
            mark: Mark {
                at,
                actor_arn: "arn:aws:iam::111122223333:user/alice".into(),
                event_id: event.into(),
                call: format!("{change:?}"),
            },
        }
    }

    fn record(changes: &[ResourceChange]) -> ResourceRecord {
        let mut record = ResourceRecord::new("acme", changes[0].key.clone());
        for c in changes {
            record.add(c.clone());
        }
        record
    }

    #[test]
    fn a_key_reads_back_what_it_writes_arns_included() {
        let key = ResourceKey::new(
            "111122223333",
            "us-east-1",
            "arn:aws:kafka:us-east-1:1:cluster/x/y",
        );
        assert_eq!(key.to_string().parse::<ResourceKey>().expect("parses"), key);
        assert!("111122223333/us-east-1".parse::<ResourceKey>().is_err());
        assert!("111122223333/us-east-1/i-0\u{0}"
            .parse::<ResourceKey>()
            .is_err());
    }

    #[test]
    fn a_stop_and_a_start_leave_a_gap_that_costs_nothing() {
        let r = record(&[
            change("ec2.instance", Change::Create, t(0), "e1", Some(2.0)),
            change("ec2.instance", Change::Stop, t(3), "e2", None),
            change("ec2.instance", Change::Start, t(10), "e3", None),
            change("ec2.instance", Change::End, t(11), "e4", None),
        ]);
        let life = r.life(t(20));
        assert_eq!(life.intervals.len(), 2);
        assert_eq!(life.actual_cost(), Some(2.0 * 4.0));
        assert_eq!(life.running_time(t(20)), TimeDelta::hours(4));
        assert!(!life.running());
    }

    #[test]
    fn a_stopped_instance_is_at_rest_until_it_starts_again() {
        let stopped = record(&[
            change("ec2.instance", Change::Create, t(0), "e1", Some(2.0)),
            change("ec2.instance", Change::Stop, t(3), "e2", None),
        ]);
        let life = stopped.life(t(20));
        let rest = life.at_rest().expect("a stopped instance is at rest");
        assert_eq!(rest.at, t(3));
        assert_eq!(rest.by.as_ref().map(|m| m.event_id.as_str()), Some("e2"));
        assert!(life.ended.is_none());
        let mut started = stopped.clone();
        started.add(change("ec2.instance", Change::Start, t(5), "e3", None));
        assert!(started.life(t(20)).at_rest().is_none());
        started.add(change("ec2.instance", Change::Stop, t(6), "e4", None));
        assert_eq!(started.life(t(20)).at_rest().map(|r| r.at), Some(t(6)));
    }

    #[test]
    fn a_stopped_database_is_not_at_rest_since_aws_starts_it_again() {
        let r = record(&[
            change("rds.instance", Change::Create, t(0), "e1", Some(1.0)),
            change("rds.instance", Change::Stop, t(1), "e2", None),
        ]);
        assert!(!r.life(t(2)).running());
        assert!(r.life(t(2)).at_rest().is_none());
    }

    #[test]
    fn a_resize_bills_the_new_rate_from_its_time() {
        let r = record(&[
            change("ec2.instance", Change::Create, t(0), "e1", Some(1.0)),
            change("ec2.instance", Change::Resize, t(2), "e2", Some(3.0)),
        ]);
        let life = r.life(t(4));
        assert!(life.running());
        assert_eq!(life.hourly_now(), 3.0);
        assert_eq!(life.cost_until(t(4)), 2.0 + 6.0);
    }

    #[test]
    fn an_end_before_its_creation_applies_when_the_creation_arrives() {
        let end = change("ec2.instance", Change::End, t(2), "e2", None);
        let create = change("ec2.instance", Change::Create, t(0), "e1", Some(5.0));
        let early = record(&[end.clone()]);
        assert!(early.life(t(3)).created.is_none());
        let both = record(&[end, create]);
        let life = both.life(t(3));
        assert_eq!(life.actual_cost(), Some(10.0));
        assert_eq!(life.created.map(|m| m.event_id).as_deref(), Some("e1"));
    }

    #[test]
    fn a_redelivered_change_is_kept_once() {
        let mut r = record(&[change(
            "ec2.instance",
            Change::Create,
            t(0),
            "e1",
            Some(1.0),
        )]);
        assert!(!r.add(change(
            "ec2.instance",
            Change::Create,
            t(0),
            "e1",
            Some(1.0)
        )));
        assert_eq!(r.changes.len(), 1);
    }

    #[test]
    fn a_stopped_database_starts_again_after_seven_days() {
        let r = record(&[
            change("rds.instance", Change::Create, t(0), "e1", Some(1.0)),
            change("rds.instance", Change::Stop, t(1), "e2", None),
        ]);
        assert!(!r.life(t(100)).running());
        let later = r.life(t(1) + RDS_RESTART_AFTER + TimeDelta::hours(2));
        assert!(later.running());
        assert_eq!(later.intervals[1].from, t(1) + RDS_RESTART_AFTER);
        assert_eq!(later.intervals[1].began_by, Change::Start);
    }

    #[test]
    fn parts_of_one_creation_add_up() {
        let mut core = change("emr.instance", Change::Create, t(0), "e1#1", Some(0.5));
        core.quantity = 4;
        let r = record(&[
            change("emr.instance", Change::Create, t(0), "e1", Some(1.0)),
            core,
        ]);
        let life = r.life(t(1));
        assert_eq!((life.quantity, life.hourly_now()), (5, 3.0));
    }

    #[test]
    fn a_cursor_reads_back() {
        let r = record(&[change(
            "ec2.instance",
            Change::Create,
            t(0),
            "e1",
            Some(1.0),
        )]);
        let cursor = ResourceCursor::after(&r);
        assert_eq!(cursor.first_at, t(0));
        assert_eq!(
            cursor.to_string().parse::<ResourceCursor>().expect("reads"),
            cursor
        );
        for bad in [
            "nonsense",
            "1.5~1/r/i",
            "99999999999.000000000~1/r",
            "-1.000000000~1/r/i",
        ] {
            assert!(bad.parse::<ResourceCursor>().is_err(), "{bad}");
        }
    }
}
