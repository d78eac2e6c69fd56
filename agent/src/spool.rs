//! The on-disk spool: batches wait here from the moment a source hands them over until the
//! dispatcher acknowledges them, so nothing read is lost while the dispatcher is unreachable or
//! the agent restarts. One file per batch, `{seq}.json`, written to a temporary name and renamed,
//! so a crash leaves whole batches only; bounded by bytes, so a long outage pauses the sources
//! (SQS keeps what is not yet received) instead of filling the disk.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};

/// One spooled batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spooled {
    /// Its sequence number (file name).
    pub seq: u64,
    /// Its records, each a JSON text.
    pub records: Vec<String>,
}

/// The spool directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    next: AtomicU64,
}

impl Spool {
    /// The spool in `dir` (created if missing), holding at most `max_bytes`; numbering goes on
    /// after the batches already there.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let spool = Spool {
            dir: dir.to_owned(),
            max_bytes,
            next: AtomicU64::new(0),
        };
        let last = spool.seqs()?.last().copied().unwrap_or(0);
        spool.next.store(last + 1, Ordering::SeqCst);
        Ok(spool)
    }

    fn seqs(&self) -> Result<Vec<u64>> {
        let mut seqs: Vec<u64> = std::fs::read_dir(&self.dir)
            .with_context(|| format!("listing {}", self.dir.display()))?
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json")?.parse().ok())
            .collect();
        seqs.sort_unstable();
        Ok(seqs)
    }

    /// Bytes the spooled batches take.
    pub fn bytes(&self) -> Result<u64> {
        let mut total = 0;
        for seq in self.seqs()? {
            total += std::fs::metadata(self.path(seq))
                .map(|m| m.len())
                .unwrap_or(0);
        }
        Ok(total)
    }

    /// Whether the spool has room for another batch.
    pub fn has_room(&self) -> Result<bool> {
        Ok(self.bytes()? < self.max_bytes)
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.json"))
    }

    /// Keeps `records` as the next batch, durably, and returns its sequence number.
    pub fn push(&self, records: &[String]) -> Result<u64> {
        let seq = self.next.fetch_add(1, Ordering::SeqCst);
        let text = serde_json::to_vec(records).context("encoding a batch")?;
        let partial = self.dir.join(format!("{seq:020}.partial"));
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&partial)
                .with_context(|| format!("writing {}", partial.display()))?;
            file.write_all(&text)
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing {}", partial.display()))?;
        }
        std::fs::rename(&partial, self.path(seq)).context("renaming a spooled batch")?;
        Ok(seq)
    }

    /// Every spooled batch, oldest first.
    pub fn pending(&self) -> Result<Vec<Spooled>> {
        let mut batches = Vec::new();
        for seq in self.seqs()? {
            let path = self.path(seq);
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            let records = serde_json::from_slice(&bytes)
                .with_context(|| format!("{}: not a spooled batch", path.display()))?;
            batches.push(Spooled { seq, records });
        }
        Ok(batches)
    }

    /// Forgets batch `seq`: the dispatcher has it.
    pub fn ack(&self, seq: u64) -> Result<()> {
        match std::fs::remove_file(self.path(seq)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).context("removing an acknowledged batch")
            }
            _ => Ok(()),
        }
    }

    /// Batches waiting.
    pub fn len(&self) -> Result<usize> {
        Ok(self.seqs()?.len())
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
}
