//! Ingestion without EventBridge (self-hosted): a customer's CloudTrail bucket read by the
//! poller, and `dd0c-agent`s forwarding over gRPC.
//!
//! - [`TrailLocation`] — where an account's trail writes (`s3://BUCKET[/PREFIX]`).
//! - [`TrailBucket`] — the read port on that bucket (listing by folder and by key order, reading
//!   an object), opened with the account's credentials through [`crate::zombie::CloudAccess`].
//! - [`SourceStore`] — what the sources have done: the trails to poll, a checkpoint per folder,
//!   the files read (key + ETag, so a restart repeats nothing), the agents' heartbeats and each
//!   account's newest event, from which ingest lag is measured.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::zombie::ApiCalls;
use crate::{PortError, PortResult};

/// Where a CloudTrail trail delivers its log files: a bucket and an optional key prefix, written
/// `s3://BUCKET[/PREFIX]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrailLocation {
    /// The bucket.
    pub bucket: String,
    /// The trail's key prefix without slashes at either end; empty when it has none.
    pub prefix: String,
}

impl TrailLocation {
    /// The folder CloudTrail writes under: `PREFIX/AWSLogs/` (or `AWSLogs/`).
    pub fn logs_folder(&self) -> String {
        if self.prefix.is_empty() {
            "AWSLogs/".to_owned()
        } else {
            format!("{}/AWSLogs/", self.prefix)
        }
    }
}

impl fmt::Display for TrailLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

impl FromStr for TrailLocation {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Self, PortError> {
        let invalid = |why: &str| PortError::Invalid(format!("trail location {s:?} {why}"));
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| invalid("must start with s3://"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's bucket naming rules: 3–63 lower-case letters, digits, dots and hyphens.
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
            && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !bucket_ok {
            return Err(invalid(
                "names no valid bucket (3-63 lower-case letters, digits, dots and hyphens)",
            ));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|p| p == "." || p == "..")
            || prefix.contains("//")
            || prefix.chars().any(crate::text::is_unprintable)
        {
            return Err(invalid("has an empty, '.' or '..' folder in its prefix"));
        }
        // A location copied down to AWSLogs/ (or below) names the trail above it.
        let prefix = match prefix.find("AWSLogs") {
            Some(at) if at == 0 || prefix[..at].ends_with('/') => {
                prefix[..at].trim_end_matches('/')
            }
            _ => prefix,
        };
        Ok(TrailLocation {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

crate::serde_as_text!(TrailLocation);

/// An object of a trail bucket as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailObject {
    /// Its key.
    pub key: String,
    /// Its ETag (quotes removed): a file rewritten under the same key is read again.
    pub etag: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was written.
    pub last_modified: DateTime<Utc>,
}

/// The read port on a trail bucket.
#[async_trait]
pub trait TrailBucket: Send + Sync {
    /// The folders one level below `folder` (which ends with `/`), each ending with `/`, sorted.
    async fn folders(&self, folder: &str) -> PortResult<Vec<String>>;
    /// Objects under `folder` whose keys sort after `start_after` (all when `None`), in key
    /// order, at most `limit`.
    async fn objects_after(
        &self,
        folder: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> PortResult<Vec<TrailObject>>;
    /// An object's bytes; `NotFound` when it is gone.
    async fn read(&self, key: &str) -> PortResult<Vec<u8>>;
}

/// A trail bucket opened with an account's credentials, and the count of its requests.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct OpenTrail {
    /// The bucket.
    pub bucket: Arc<dyn TrailBucket>,
    /// Requests made so far.
    pub calls: ApiCalls,
}

/// A trail to poll: the account it is watched for and where its trail writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trail {
    /// The tenant.
    pub tenant: String,
    /// The account whose records are read from it.
    pub account_id: String,
    /// Where the trail writes.
    pub location: TrailLocation,
}

/// How an account's records arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SourceKind {
    /// The trail bucket, read by the poller.
    S3,
    /// A `dd0c-agent`.
    Agent,
}

impl SourceKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::S3 => "s3",
            SourceKind::Agent => "agent",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SourceKind {
    type Err = PortError;

    fn from_str(s: &str) -> Result<Self, PortError> {
        match s {
            "s3" => Ok(SourceKind::S3),
            "agent" => Ok(SourceKind::Agent),
            other => Err(PortError::Invalid(format!(
                "source {other:?} is neither s3 nor agent"
            ))),
        }
    }
}

/// How far one account's records have arrived through one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestStatus {
    /// The tenant.
    pub tenant: String,
    /// The account.
    pub account_id: String,
    /// The source.
    pub source: SourceKind,
    /// When the source last delivered anything.
    pub last_seen: DateTime<Utc>,
    /// The newest `eventTime` delivered.
    pub newest_event_time: Option<DateTime<Utc>>,
}

impl IngestStatus {
    /// Seconds from the newest event delivered to `now`: CloudTrail's own delay plus ours.
    pub fn lag_seconds(&self, now: DateTime<Utc>) -> Option<f64> {
        self.newest_event_time
            .map(|t| ((now - t).num_milliseconds() as f64 / 1000.0).max(0.0))
    }
}

/// What an agent says of itself in each heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentBeat {
    /// The tenant (from the agent's token).
    pub tenant: String,
    /// The account the agent forwards (from its token).
    pub account_id: String,
    /// The agent's own id, stable across its restarts.
    pub agent_id: String,
    /// Its version.
    pub version: String,
    /// The host it runs on.
    pub hostname: String,
    /// Where it reads CloudTrail: `sqs` or `s3`.
    pub source: String,
    /// When this heartbeat arrived.
    pub last_seen: DateTime<Utc>,
    /// The newest `eventTime` it has read.
    pub newest_event_time: Option<DateTime<Utc>>,
    /// Batches waiting in its spool.
    pub spooled: u64,
    /// Records forwarded since it started.
    pub forwarded: u64,
}

/// What the ingestion sources have done.
#[async_trait]
pub trait SourceStore: Send + Sync {
    /// Watches `trail` (replacing the account's previous location).
    async fn put_trail(&self, trail: &Trail) -> PortResult<()>;
    /// Stops watching an account's trail; whether it had one.
    async fn remove_trail(&self, tenant: &str, account_id: &str) -> PortResult<bool>;
    /// The trails to poll, by tenant and account: one tenant's, or every tenant's with `None`.
    async fn trails(&self, tenant: Option<&str>) -> PortResult<Vec<Trail>>;
    /// The key last read under `folder` of the account's trail.
    async fn checkpoint(
        &self,
        tenant: &str,
        account_id: &str,
        folder: &str,
    ) -> PortResult<Option<String>>;
    /// Which of `objects` were already read (same key and ETag), in their order. A store may
    /// forget files read more than a few days ago: a poll lists only what follows a folder's
    /// checkpoint less an hour (`dd0c_ingest::trail::REWIND`), so it never meets them again.
    async fn already_read(
        &self,
        tenant: &str,
        account_id: &str,
        objects: &[TrailObject],
    ) -> PortResult<Vec<bool>>;
    /// Records that `object` under `folder` was read and its records queued, in one step: the
    /// object is remembered, the folder's checkpoint moves to its key if that sorts later, and
    /// the account's S3 status takes `newest_event_time` if newer.
    async fn mark_read(
        &self,
        tenant: &str,
        account_id: &str,
        folder: &str,
        object: &TrailObject,
        newest_event_time: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) -> PortResult<()>;
    /// Forgets the files read before `before`, every tenant's (the retention job); how many.
    async fn forget_reads_before(&self, before: DateTime<Utc>) -> PortResult<u64>;
    /// Stores an agent's heartbeat (replacing its previous one) and updates the account's agent
    /// status.
    async fn heartbeat(&self, beat: &AgentBeat) -> PortResult<()>;
    /// A tenant's agents, by account and agent id.
    async fn agents(&self, tenant: &str) -> PortResult<Vec<AgentBeat>>;
    /// Ingest status per account and source: one tenant's, or every tenant's with `None`.
    async fn ingest_status(&self, tenant: Option<&str>) -> PortResult<Vec<IngestStatus>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_reads_back_as_written() {
        for text in ["s3://trail-bucket", "s3://trail-bucket/org/prod"] {
            let location: TrailLocation = text.parse().unwrap();
            assert_eq!(location.to_string(), text);
        }
        let location: TrailLocation = "s3://trail-bucket/team/".parse().unwrap();
        assert_eq!(location.logs_folder(), "team/AWSLogs/");
        for copied in [
            "s3://trail-bucket/team/AWSLogs",
            "s3://trail-bucket/team/AWSLogs/123456789012/",
        ] {
            let location: TrailLocation = copied.parse().unwrap();
            assert_eq!(location.to_string(), "s3://trail-bucket/team", "{copied}");
        }
    }

    #[test]
    fn a_bad_location_is_refused_naming_why() {
        for (text, why) in [
            ("trail-bucket", "must start with s3://"),
            ("s3://Trail_Bucket", "names no valid bucket"),
            ("s3://trail-bucket/a/../b", "'..'"),
        ] {
            let error = text.parse::<TrailLocation>().unwrap_err().to_string();
            assert!(error.contains(why), "{text}: {error}");
        }
    }
}
