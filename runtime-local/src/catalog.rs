//! The price catalog file `DD0C_CATALOG` names, as the archive the catalog's refresh works on:
//! the file's directory is the archive and its name the key, so a refresh writes it whole and
//! atomically (a reader never sees half a catalog); and every replica's reload of it.

use std::path::Path;

use anyhow::{Context, Result};
use dd0c_adapters_file::FileArchive;
use dd0c_ingest::Current;
use tokio_util::sync::CancellationToken;

use crate::serve::CatalogFile;

/// The archive and key of the catalog file at `path`.
pub fn file_archive(path: &Path) -> Result<(FileArchive, String)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let key = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("the catalog file {} has no usable name", path.display()))?;
    let archive = FileArchive::open(dir)
        .with_context(|| format!("opening the catalog's directory {}", dir.display()))?;
    Ok((archive, key.to_owned()))
}

/// Until `shutdown`, checks the catalog file every period and prices with what it holds once
/// another catalog is there (another replica's update, or an operator's `catalog update`).
pub async fn reload_every(file: CatalogFile, current: Current, shutdown: CancellationToken) {
    let (archive, key) = match file_archive(&file.path) {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "the catalog is not reloaded");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(file.reload_every) => {}
        }
        if let Err(e) = dd0c_ingest::catalog::refresh::reload(&archive, &key, &current).await {
            tracing::warn!(error = %e, "the catalog file could not be reloaded: pricing with the one in use");
        }
    }
}
