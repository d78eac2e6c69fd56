//! The trail poller: reads a customer's CloudTrail bucket with the account's credentials and
//! hands each new log file to a [`Deliver`] — the admitter in the dispatcher, the spool in
//! `dd0c-agent`.
//!
//! CloudTrail writes `[PREFIX/]AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/*.json.gz`
//! (digests go to a sibling `CloudTrail-Digest/` folder, never read). One pass over a trail:
//! 1. open the bucket ([`TrailAccess`]: as the account in the dispatcher, with the host's own
//!    credentials in the agent);
//! 2. find the account's region folders, directly and under each organization folder;
//! 3. per region folder, list the keys after its checkpoint, rewound by [`REWIND`] because a
//!    file can land after one named later than it; skip those already read (key + ETag);
//! 4. per new file, in key order: read it, deliver it, record it read — which also moves the
//!    checkpoint — so a pass stopped anywhere repeats nothing delivered and loses nothing not.
//!
//! A pass costs two listings for discovery, one listing per region folder and one read per new
//! file: it follows what is new, not what the bucket holds.
//!
//! Every tenant's trails share the poller, and a bucket is the tenant's to fill: a pass over one
//! trail makes at most [`PASS_REQUESTS`] requests (shared among its region folders; what is
//! left is read next pass, from the checkpoints), looks in at most [`MAX_ORGANIZATION_FOLDERS`]
//! organization folders, and [`Poller::poll_all`] takes trails in turn by tenant, a few at
//! once, so one tenant's backlog delays another's new file by one bounded pass at most.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use dd0c_ports::secrets::Credentials;
use dd0c_ports::sources::{OpenTrail, SourceStore, Trail, TrailObject};
use dd0c_ports::store::TenantStore;
use dd0c_ports::zombie::CloudAccess;
use dd0c_ports::PortError;

use crate::admit::Admitter;

/// How far before its checkpoint a folder is listed again: CloudTrail names a file by its
/// window, and a file can be delivered after the next window's.
pub const REWIND: Duration = Duration::hours(1);

/// How far back a trail's first pass reads (older files are for `backfill`).
pub const FIRST_PASS: Duration = Duration::days(1);

/// Keys one listing asks for.
const PAGE: usize = 1000;

/// Requests one pass over one trail may make, about; its region folders share them.
pub const PASS_REQUESTS: u64 = 64;

/// Requests each region folder gets in a pass however many folders share [`PASS_REQUESTS`]:
/// a listing and a few reads.
const FOLDER_REQUESTS: u64 = 4;

/// Organization folders (`AWSLogs/o-…/`) a pass looks in for the account: a bucket holds one per
/// organization whose trail writes to it.
pub const MAX_ORGANIZATION_FOLDERS: usize = 16;

/// Trails polled at once.
const TRAILS_AT_ONCE: usize = 4;

/// What became of one delivered file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Records in the file.
    pub records: usize,
    /// Cost events they became (queued or, in the agent, to be forwarded).
    pub cost_events: usize,
}

/// The poll as a scheduled job: one pass over every trail each period, each trail's outcome
/// logged.
#[allow(missing_debug_implementations)]
pub struct PollJob {
    /// The poller.
    pub poller: Poller,
    /// How often.
    pub every: std::time::Duration,
}

#[async_trait]
impl dd0c_function::job::Job for PollJob {
    fn name(&self) -> &'static str {
        "trails"
    }

    fn period(&self) -> std::time::Duration {
        self.every
    }

    async fn run(
        &self,
        now: DateTime<Utc>,
        _replica: &str,
    ) -> Result<dd0c_function::job::JobRun, dd0c_function::FunctionError> {
        let mut files = 0;
        for (trail, pass) in self.poller.poll_all(now).await {
            match pass {
                Ok(pass) if pass.files > 0 => {
                    files += pass.files as u64;
                    tracing::info!(
                        job = "trails", tenant = %trail.tenant, account_id = %trail.account_id,
                        files = pass.files, records = pass.records, cost_events = pass.cost_events,
                        requests = pass.requests, deferred = pass.deferred, "read"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(job = "trails", error = %e, "failed"),
            }
        }
        Ok(dd0c_function::job::JobRun {
            done: files,
            summary: format!("{files} trail files read"),
        })
    }
}

/// Where a poller hands each new file.
#[async_trait]
pub trait Deliver: Send + Sync {
    /// Takes one file of `account_id`'s records; once this returns, the file counts as read.
    async fn deliver(
        &self,
        tenant: &str,
        account_id: &str,
        origin: &str,
        bytes: Vec<u8>,
    ) -> Result<Delivered, PortError>;
}

#[async_trait]
impl Deliver for Admitter {
    async fn deliver(
        &self,
        tenant: &str,
        account_id: &str,
        origin: &str,
        bytes: Vec<u8>,
    ) -> Result<Delivered, PortError> {
        let (priced, queued) = self
            .admit(tenant, account_id, bytes, origin, Utc::now())
            .await?;
        if let Some(refused) = &priced.refused {
            // Reading it again would refuse it again: it counts as read, and says why not.
            tracing::warn!(%tenant, %account_id, file = %origin, error = %refused, "trail file skipped");
        }
        Ok(Delivered {
            records: priced.accepted + priced.rejected,
            cost_events: queued.priced + queued.ends + queued.duplicates,
        })
    }
}

/// How a poller opens a trail's bucket.
#[async_trait]
pub trait TrailAccess: Send + Sync {
    /// The bucket of `trail`, ready to read.
    async fn open(&self, trail: &Trail) -> Result<OpenTrail, PortError>;
}

/// The dispatcher's way in: as the trail's account (from the tenant store), with its role or
/// its sealed access key.
#[allow(missing_debug_implementations)]
pub struct AccountTrails {
    /// Where accounts are.
    pub tenants: Arc<dyn TenantStore>,
    /// Opens an account.
    pub cloud: Arc<dyn CloudAccess>,
    /// Unseals access keys.
    pub credentials: Credentials,
}

#[async_trait]
impl TrailAccess for AccountTrails {
    async fn open(&self, trail: &Trail) -> Result<OpenTrail, PortError> {
        let account = self
            .tenants
            .account(&trail.tenant, &trail.account_id)
            .await?
            .ok_or_else(|| dd0c_ports::store::no_account(&trail.tenant, &trail.account_id))?;
        let key = self.credentials.access_key(&account).await?;
        self.cloud
            .trail(&account, key.as_ref(), &trail.location.bucket)
            .await
    }
}

/// Where a pass starts in each region folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At the folder's checkpoint (rewound); a folder without one from [`FIRST_PASS`] ago.
    Checkpoint,
    /// At this day, whatever the checkpoint (a backfill).
    Since(NaiveDate),
}

/// Why a trail could not be read.
#[derive(Debug, thiserror::Error)]
#[error("trail {location} of account {account_id} (tenant {tenant}): {what}: {source}")]
pub struct TrailError {
    /// The tenant.
    pub tenant: String,
    /// The account.
    pub account_id: String,
    /// Where its trail writes.
    pub location: String,
    /// What was being done.
    pub what: &'static str,
    /// The port's error.
    pub source: PortError,
}

/// What one pass over one trail did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrailPass {
    /// Region folders found.
    pub folders: usize,
    /// Files read and delivered.
    pub files: usize,
    /// Whether files were left for the next pass (the pass's requests were spent).
    pub deferred: bool,
    /// Bytes of those files.
    pub bytes: u64,
    /// Records they held.
    pub records: usize,
    /// Cost events the records became.
    pub cost_events: usize,
    /// Requests made to the bucket.
    pub requests: u64,
}

impl TrailPass {
    fn add(&mut self, object: &TrailObject, delivered: Delivered) {
        self.files += 1;
        self.bytes += object.size;
        self.records += delivered.records;
        self.cost_events += delivered.cost_events;
    }
}

/// A new file found in a region folder.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// The region folder.
    pub folder: String,
    /// The file.
    pub object: TrailObject,
}

/// Reads trails.
#[allow(missing_debug_implementations)]
pub struct Poller {
    sources: Arc<dyn SourceStore>,
    access: Arc<dyn TrailAccess>,
    deliver: Arc<dyn Deliver>,
}

impl Poller {
    /// A poller keeping its progress in `sources`, opening buckets through `access`, handing
    /// files to `deliver`.
    pub fn new(
        sources: Arc<dyn SourceStore>,
        access: Arc<dyn TrailAccess>,
        deliver: Arc<dyn Deliver>,
    ) -> Self {
        Poller {
            sources,
            access,
            deliver,
        }
    }

    /// One pass over every trail, in turn by tenant and [`TRAILS_AT_ONCE`] at a time: each
    /// trail's failure is reported and the others still read.
    pub async fn poll_all(
        &self,
        now: DateTime<Utc>,
    ) -> Vec<(Trail, Result<TrailPass, TrailError>)> {
        use futures_util::StreamExt;
        let trails = match self.sources.trails(None).await {
            Ok(trails) => trails,
            Err(source) => {
                tracing::warn!(error = %source, "cannot list the trails to poll");
                return Vec::new();
            }
        };
        futures_util::stream::iter(in_turn_by_tenant(trails))
            .map(|trail| async move {
                let pass = self.poll(&trail, now).await;
                (trail, pass)
            })
            .buffer_unordered(TRAILS_AT_ONCE)
            .collect()
            .await
    }

    /// One pass over one trail from its checkpoints (the steps in the module's doc), within
    /// [`PASS_REQUESTS`].
    pub async fn poll(&self, trail: &Trail, now: DateTime<Utc>) -> Result<TrailPass, TrailError> {
        let open = self.open(trail).await?;
        let folders = self.region_folders(trail, &open).await?;
        let mut pass = TrailPass {
            folders: folders.len(),
            ..TrailPass::default()
        };
        let share = (PASS_REQUESTS / folders.len().max(1) as u64).max(FOLDER_REQUESTS);
        for folder in &folders {
            let until = open.calls.count() + share;
            let start = Start::Checkpoint;
            let (files, listed_all) = self
                .unread_until(trail, &open, folder, start, now, Some(until))
                .await?;
            pass.deferred |= !listed_all;
            for file in files {
                if open.calls.count() >= until {
                    pass.deferred = true;
                    break;
                }
                let delivered = self.read(trail, &open, &file, now).await?;
                pass.add(&file.object, delivered);
            }
        }
        pass.requests = open.calls.count();
        Ok(pass)
    }

    /// Every file of the trail from `since` not yet read, in folder and key order: what a
    /// backfill reads (listed first, so its progress has a total).
    pub async fn backlog(
        &self,
        trail: &Trail,
        since: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<(OpenTrail, Vec<NewFile>), TrailError> {
        let open = self.open(trail).await?;
        let mut backlog = Vec::new();
        for folder in self.region_folders(trail, &open).await? {
            let start = Start::Since(since);
            let (files, _) = self
                .unread_until(trail, &open, &folder, start, now, None)
                .await?;
            backlog.extend(files);
        }
        Ok((open, backlog))
    }

    /// Reads one new file, delivers it and records it read.
    pub async fn read(
        &self,
        trail: &Trail,
        open: &OpenTrail,
        file: &NewFile,
        now: DateTime<Utc>,
    ) -> Result<Delivered, TrailError> {
        let key = &file.object.key;
        let bytes = open
            .bucket
            .read(key)
            .await
            .map_err(fail(trail, "reading a log file"))?;
        let delivered = self
            .deliver
            .deliver(&trail.tenant, &trail.account_id, key, bytes)
            .await
            .map_err(fail(trail, "delivering a log file"))?;
        let newest = window_of(key).or(Some(file.object.last_modified));
        self.sources
            .mark_read(
                &trail.tenant,
                &trail.account_id,
                &file.folder,
                &file.object,
                newest,
                now,
            )
            .await
            .map_err(fail(trail, "recording a log file read"))?;
        Ok(delivered)
    }

    /// The bucket.
    async fn open(&self, trail: &Trail) -> Result<OpenTrail, TrailError> {
        self.access
            .open(trail)
            .await
            .map_err(fail(trail, "opening the bucket"))
    }

    /// The account's region folders (`…/ACCOUNT/CloudTrail/REGION/`), directly under
    /// `AWSLogs/` and under each organization folder, sorted.
    async fn region_folders(
        &self,
        trail: &Trail,
        open: &OpenTrail,
    ) -> Result<Vec<String>, TrailError> {
        let logs = trail.location.logs_folder();
        let top = open
            .bucket
            .folders(&logs)
            .await
            .map_err(fail(trail, "listing AWSLogs/"))?;
        let mut accounts = Vec::new();
        let mut organizations = 0;
        for folder in top {
            let name = folder[logs.len()..].trim_end_matches('/');
            if name == trail.account_id {
                accounts.push(folder.clone());
            } else if name.starts_with("o-") {
                organizations += 1;
                if organizations <= MAX_ORGANIZATION_FOLDERS {
                    accounts.push(format!("{folder}{}/", trail.account_id));
                }
            }
        }
        if organizations > MAX_ORGANIZATION_FOLDERS {
            tracing::warn!(
                tenant = %trail.tenant, account_id = %trail.account_id, location = %trail.location,
                organizations, looked_in = MAX_ORGANIZATION_FOLDERS,
                "the trail's bucket holds more organization folders than a pass looks in"
            );
        }
        let mut regions = Vec::new();
        for account in accounts {
            let found = open
                .bucket
                .folders(&format!("{account}CloudTrail/"))
                .await
                .map_err(fail(trail, "listing the region folders"))?;
            regions.extend(found);
        }
        regions.sort();
        Ok(regions)
    }

    /// The key a folder's listing starts after.
    async fn start_after(
        &self,
        trail: &Trail,
        folder: &str,
        start: Start,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, TrailError> {
        let day = |d: NaiveDate| Some(format!("{folder}{}", d.format("%Y/%m/%d/")));
        Ok(match start {
            // A listing starts after `YYYY/MM/DD/` itself, so with that day's first file.
            Start::Since(since) => day(since),
            Start::Checkpoint => {
                match self
                    .sources
                    .checkpoint(&trail.tenant, &trail.account_id, folder)
                    .await
                    .map_err(fail(trail, "reading a checkpoint"))?
                {
                    Some(key) => Some(rewound(folder, &key)),
                    None => day((now - FIRST_PASS).date_naive()),
                }
            }
        })
    }

    /// The log files of `folder` not yet read from `start` on, in key order: every page of the
    /// listing, or those listed before the trail's request count reaches `until`; and whether
    /// the listing reached its end.
    async fn unread_until(
        &self,
        trail: &Trail,
        open: &OpenTrail,
        folder: &str,
        start: Start,
        now: DateTime<Utc>,
        until: Option<u64>,
    ) -> Result<(Vec<NewFile>, bool), TrailError> {
        let mut unread = Vec::new();
        let mut after = self.start_after(trail, folder, start, now).await?;
        loop {
            let (files, listed_to) = self
                .new_files(trail, open, folder, after.as_deref())
                .await?;
            unread.extend(files);
            match listed_to {
                None => return Ok((unread, true)),
                Some(_) if until.is_some_and(|u| open.calls.count() >= u) => {
                    return Ok((unread, false))
                }
                Some(last) => after = Some(last),
            }
        }
    }

    /// One listing of `folder` after `after`: the log files not yet read, and the last key
    /// listed when the listing was full (there may be more).
    async fn new_files(
        &self,
        trail: &Trail,
        open: &OpenTrail,
        folder: &str,
        after: Option<&str>,
    ) -> Result<(Vec<NewFile>, Option<String>), TrailError> {
        let listed = open
            .bucket
            .objects_after(folder, after, PAGE)
            .await
            .map_err(fail(trail, "listing log files"))?;
        let more = (listed.len() == PAGE).then(|| listed[PAGE - 1].key.clone());
        let logs: Vec<TrailObject> = listed
            .into_iter()
            .filter(|o| o.key.ends_with(".json.gz") && !o.key.contains("/CloudTrail-Digest/"))
            .collect();
        let read = self
            .sources
            .already_read(&trail.tenant, &trail.account_id, &logs)
            .await
            .map_err(fail(trail, "looking up files read"))?;
        let files = logs
            .into_iter()
            .zip(read)
            .filter(|(_, read)| !read)
            .map(|(object, _)| NewFile {
                folder: folder.to_owned(),
                object,
            })
            .collect();
        Ok((files, more))
    }
}

/// `trails` reordered to take each tenant's in turn: the first of every tenant, then the second…
fn in_turn_by_tenant(trails: Vec<Trail>) -> Vec<Trail> {
    let mut by_tenant: std::collections::BTreeMap<String, std::collections::VecDeque<Trail>> =
        std::collections::BTreeMap::new();
    for trail in trails {
        by_tenant
            .entry(trail.tenant.clone())
            .or_default()
            .push_back(trail);
    }
    let mut turns = Vec::new();
    while !by_tenant.is_empty() {
        by_tenant.retain(|_, queue| {
            if let Some(trail) = queue.pop_front() {
                turns.push(trail);
            }
            !queue.is_empty()
        });
    }
    turns
}

fn fail<'t>(trail: &'t Trail, what: &'static str) -> impl FnOnce(PortError) -> TrailError + 't {
    move |source| TrailError {
        tenant: trail.tenant.clone(),
        account_id: trail.account_id.clone(),
        location: trail.location.to_string(),
        what,
        source,
    }
}

/// The end of the window a log file covers, from its name
/// (`ACCOUNT_CloudTrail_REGION_20261130T1205Z_unique.json.gz`).
pub fn window_of(key: &str) -> Option<DateTime<Utc>> {
    let name = key.rsplit('/').next()?;
    name.split('_').find_map(|part| {
        NaiveDateTime::parse_from_str(part, "%Y%m%dT%H%MZ")
            .ok()
            .map(|t| t.and_utc())
    })
}

/// A checkpoint moved [`REWIND`] back: the key, in the same folder, of a file named for a
/// window that much earlier; the checkpoint itself when its name carries no window.
fn rewound(folder: &str, checkpoint: &str) -> String {
    let Some(window) = window_of(checkpoint) else {
        return checkpoint.to_owned();
    };
    let earlier = window - REWIND;
    let name = checkpoint.rsplit('/').next().unwrap_or_default();
    let stamp = window.format("%Y%m%dT%H%MZ").to_string();
    let before = name.split(&stamp).next().unwrap_or_default();
    format!(
        "{folder}{}{before}{}",
        earlier.format("%Y/%m/%d/"),
        earlier.format("%Y%m%dT%H%MZ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trails_are_taken_in_turn_by_tenant() {
        let trail = |tenant: &str, account: &str| Trail {
            tenant: tenant.into(),
            account_id: account.into(),
            location: "s3://trail-bucket".parse().expect("a location"),
        };
        let trails = vec![
            trail("a", "1"),
            trail("a", "2"),
            trail("a", "3"),
            trail("b", "4"),
        ];
        let order: Vec<String> = in_turn_by_tenant(trails)
            .into_iter()
            .map(|t| t.account_id)
            .collect();
        assert_eq!(order, ["1", "4", "2", "3"]);
    }

    #[test]
    fn a_file_name_gives_its_window() {
        let key = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/30/\
                   111122223333_CloudTrail_us-east-1_20261130T1205Z_aBc.json.gz";
        assert_eq!(
            window_of(key).map(|t| t.to_rfc3339()),
            Some("2026-11-30T12:05:00+00:00".to_owned())
        );
        assert_eq!(window_of("AWSLogs/x/notes.txt"), None);
    }

    #[test]
    fn a_checkpoint_is_rewound_across_midnight_in_its_folder() {
        let folder = "AWSLogs/111122223333/CloudTrail/us-east-1/";
        let key = format!(
            "{folder}2026/12/01/111122223333_CloudTrail_us-east-1_20261201T0030Z_aBc.json.gz"
        );
        let back = rewound(folder, &key);
        assert_eq!(
            back,
            format!("{folder}2026/11/30/111122223333_CloudTrail_us-east-1_20261130T2330Z")
        );
        assert!(back < key);
        assert_eq!(rewound(folder, "odd-key"), "odd-key");
    }
}
