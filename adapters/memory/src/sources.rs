//! [`MemorySources`]: what the ingestion sources have done, in memory — and, for `dd0c-agent`
//! reading a trail bucket, optionally kept in a JSON file rewritten (atomically) after every
//! change, so a restarted agent repeats nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use dd0c_ports::sources::{AgentBeat, IngestStatus, SourceKind, SourceStore, Trail, TrailObject};
use dd0c_ports::{PortError, PortResult};
use serde::{Deserialize, Serialize};

use crate::lock;

type Account = (String, String);

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    trails: BTreeMap<String, Trail>,
    checkpoints: BTreeMap<String, String>,
    /// Files read, with when.
    read: BTreeMap<String, DateTime<Utc>>,
    agents: BTreeMap<String, AgentBeat>,
    status: BTreeMap<String, IngestStatus>,
}

/// How long a file read is remembered.
const FORGET_READ_AFTER: chrono::TimeDelta = chrono::TimeDelta::days(3);

/// One map key of several parts, joined by the unit separator (a control character that tenant
/// names, account ids and CloudTrail's keys and ETags do not use).
fn key(parts: &[&str]) -> String {
    parts.join("\u{1f}")
}

/// The ingestion sources' state in memory, optionally persisted to a file.
#[derive(Debug, Default)]
pub struct MemorySources {
    state: Mutex<State>,
    file: Option<PathBuf>,
}

impl MemorySources {
    /// State kept in `file`: read from it when it exists, written back after every change.
    pub fn persisted(file: &Path) -> PortResult<Self> {
        let state = match std::fs::read(file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                PortError::Invalid(format!("{}: not a source state file: {e}", file.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(PortError::caused(format!("reading {}", file.display()), e)),
        };
        Ok(MemorySources {
            state: Mutex::new(state),
            file: Some(file.to_owned()),
        })
    }

    /// Applies `change` and, when persisted, writes the state to a temporary file renamed over
    /// the old one: a crash leaves either state whole.
    fn change<R>(&self, change: impl FnOnce(&mut State) -> R) -> PortResult<R> {
        let mut state = lock(&self.state);
        let result = change(&mut state);
        if let Some(file) = &self.file {
            let bytes = serde_json::to_vec(&*state)
                .map_err(|e| PortError::caused("encoding source state", e))?;
            let temporary = file.with_extension("tmp");
            std::fs::write(&temporary, bytes)
                .and_then(|()| std::fs::rename(&temporary, file))
                .map_err(|e| PortError::caused(format!("writing {}", file.display()), e))?;
        }
        Ok(result)
    }

    fn touch(
        state: &mut State,
        (tenant, account_id): Account,
        source: SourceKind,
        at: DateTime<Utc>,
        newest: Option<DateTime<Utc>>,
    ) {
        let status = state
            .status
            .entry(key(&[&tenant, &account_id, source.as_str()]))
            .or_insert_with(|| IngestStatus {
                tenant,
                account_id,
                source,
                last_seen: at,
                newest_event_time: None,
            });
        status.last_seen = status.last_seen.max(at);
        status.newest_event_time = status.newest_event_time.max(newest);
    }
}

#[async_trait]
impl SourceStore for MemorySources {
    async fn put_trail(&self, trail: &Trail) -> PortResult<()> {
        self.change(|s| {
            s.trails
                .insert(key(&[&trail.tenant, &trail.account_id]), trail.clone());
        })
    }

    async fn remove_trail(&self, tenant: &str, account_id: &str) -> PortResult<bool> {
        self.change(|s| s.trails.remove(&key(&[tenant, account_id])).is_some())
    }

    async fn trails(&self, tenant: Option<&str>) -> PortResult<Vec<Trail>> {
        Ok(lock(&self.state)
            .trails
            .values()
            .filter(|t| tenant.is_none_or(|name| t.tenant == name))
            .cloned()
            .collect())
    }

    async fn checkpoint(
        &self,
        tenant: &str,
        account_id: &str,
        folder: &str,
    ) -> PortResult<Option<String>> {
        Ok(lock(&self.state)
            .checkpoints
            .get(&key(&[tenant, account_id, folder]))
            .cloned())
    }

    async fn already_read(
        &self,
        tenant: &str,
        account_id: &str,
        objects: &[TrailObject],
    ) -> PortResult<Vec<bool>> {
        let state = lock(&self.state);
        Ok(objects
            .iter()
            .map(|o| {
                state
                    .read
                    .contains_key(&key(&[tenant, account_id, &o.key, &o.etag]))
            })
            .collect())
    }

    async fn forget_reads_before(&self, before: DateTime<Utc>) -> PortResult<u64> {
        self.change(|s| {
            let held = s.read.len();
            s.read.retain(|_, read_at| *read_at >= before);
            (held - s.read.len()) as u64
        })
    }

    async fn mark_read(
        &self,
        tenant: &str,
        account_id: &str,
        folder: &str,
        object: &TrailObject,
        newest_event_time: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    ) -> PortResult<()> {
        self.change(|s| {
            s.read
                .insert(key(&[tenant, account_id, &object.key, &object.etag]), at);
            // A poll lists only what follows its folder's checkpoint, less an hour: files read
            // days ago are never listed again, so the state (rewritten whole on each change)
            // stays the size of a few days' files.
            s.read
                .retain(|_, read_at| at - *read_at < FORGET_READ_AFTER);
            let checkpoint = s
                .checkpoints
                .entry(key(&[tenant, account_id, folder]))
                .or_default();
            if object.key > *checkpoint {
                checkpoint.clone_from(&object.key);
            }
            let account = (tenant.to_owned(), account_id.to_owned());
            Self::touch(s, account, SourceKind::S3, at, newest_event_time);
        })
    }

    async fn heartbeat(&self, beat: &AgentBeat) -> PortResult<()> {
        self.change(|s| {
            s.agents
                .insert(key(&[&beat.tenant, &beat.agent_id]), beat.clone());
            let account = (beat.tenant.clone(), beat.account_id.clone());
            Self::touch(
                s,
                account,
                SourceKind::Agent,
                beat.last_seen,
                beat.newest_event_time,
            );
        })
    }

    async fn agents(&self, tenant: &str) -> PortResult<Vec<AgentBeat>> {
        let mut agents: Vec<AgentBeat> = lock(&self.state)
            .agents
            .values()
            .filter(|a| a.tenant == tenant)
            .cloned()
            .collect();
        agents.sort_by(|a, b| (&a.account_id, &a.agent_id).cmp(&(&b.account_id, &b.agent_id)));
        Ok(agents)
    }

    async fn ingest_status(&self, tenant: Option<&str>) -> PortResult<Vec<IngestStatus>> {
        Ok(lock(&self.state)
            .status
            .values()
            .filter(|s| tenant.is_none_or(|t| s.tenant == t))
            .cloned()
            .collect())
    }
}
