//! # dd0c-adapters-file
//!
//! - [`PriceListDirectory`] (`price_list`): AWS Price List offer files in a directory.
//!
//! [`FileArchive`]: the archive port on a local directory (`DD0C_ARCHIVE=file:///var/lib/dd0c/archive`),
//! for a self-hosted install without an object store. A key is a relative path under the root;
//! an object is written to a temporary file and renamed into place, so a reader never sees half
//! of one and a crash leaves no torn object.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

mod price_list;

pub use price_list::PriceListDirectory;

use async_trait::async_trait;
use dd0c_ports::archive::{validate_key, Archive};
use dd0c_ports::{PortError, PortResult};

/// Suffix of an object being written; never listed.
const PARTIAL: &str = ".partial";

/// The archive in one directory.
#[derive(Debug, Clone)]
pub struct FileArchive {
    root: PathBuf,
}

fn io(what: &str, path: &Path, error: std::io::Error) -> PortError {
    PortError::caused(format!("{what} {}", path.display()), error)
}

impl FileArchive {
    /// The archive under `root`, created if missing.
    pub fn open(root: &Path) -> PortResult<Self> {
        std::fs::create_dir_all(root).map_err(|e| io("creating the archive", root, e))?;
        Ok(FileArchive {
            root: root.to_owned(),
        })
    }

    fn path(&self, key: &str) -> PortResult<PathBuf> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    /// Every key under `dir` (a path below the root, `rel` its key form) with `prefix`, sorted,
    /// at most `limit`; directories that cannot hold a match are not entered.
    fn walk(
        &self,
        dir: &Path,
        rel: &str,
        prefix: &str,
        limit: usize,
        keys: &mut Vec<String>,
    ) -> PortResult<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io("listing", dir, e)),
        };
        let mut names: Vec<(String, bool)> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io("listing", dir, e))?;
            let is_dir = entry
                .file_type()
                .map_err(|e| io("listing", &entry.path(), e))?
                .is_dir();
            if let Some(name) = entry.file_name().to_str() {
                names.push((name.to_owned(), is_dir));
            }
        }
        // Keys sort as strings with '/' between parts: a directory sorts as its name plus '/'.
        names.sort_by(|(a, a_dir), (b, b_dir)| {
            let key = |n: &str, d: bool| if d { format!("{n}/") } else { n.to_owned() };
            key(a, *a_dir).cmp(&key(b, *b_dir))
        });
        for (name, is_dir) in names {
            if keys.len() >= limit {
                break;
            }
            let key = format!("{rel}{name}");
            if is_dir {
                let folder = format!("{key}/");
                if folder.starts_with(prefix) || prefix.starts_with(&folder) {
                    self.walk(&dir.join(&name), &folder, prefix, limit, keys)?;
                }
            } else if key.starts_with(prefix) && !name.ends_with(PARTIAL) {
                keys.push(key);
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Archive for FileArchive {
    async fn put(&self, key: &str, bytes: &[u8]) -> PortResult<()> {
        let path = self.path(key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io("creating", parent, e))?;
        }
        let partial = PathBuf::from(format!("{}{PARTIAL}", path.display()));
        tokio::fs::write(&partial, bytes)
            .await
            .map_err(|e| io("writing", &partial, e))?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(|e| io("renaming into", &path, e))
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        let path = self.path(key)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("reading", &path, e)),
        }
    }

    async fn list(&self, prefix: &str, limit: usize) -> PortResult<Vec<String>> {
        let this = self.clone();
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            this.walk(&this.root, "", &prefix, limit, &mut keys)?;
            Ok(keys)
        })
        .await
        .map_err(|e| PortError::caused("listing the archive", e))?
    }

    async fn delete(&self, key: &str) -> PortResult<()> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io("deleting", &path, e)),
        }
        // Empty day folders go with their last object; a folder still in use stays.
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| *d != self.root) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }
}
