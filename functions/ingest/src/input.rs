//! Where CloudTrail comes from on the command line: files, directories (recursive, in path
//! order) and stdin (`-`).

use std::io::Read;
use std::path::{Path, PathBuf};

/// One input to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

impl Source {
    /// The name used in rejections.
    pub fn label(&self) -> String {
        match self {
            Source::File(path) => path.display().to_string(),
            Source::Stdin => "-".to_owned(),
        }
    }

    /// The whole input.
    pub fn read(&self) -> std::io::Result<Vec<u8>> {
        match self {
            Source::File(path) => std::fs::read(path),
            Source::Stdin => {
                let mut bytes = Vec::new();
                std::io::stdin().lock().read_to_end(&mut bytes)?;
                Ok(bytes)
            }
        }
    }

    /// Size in bytes when known up front (for progress).
    pub fn len(&self) -> Option<u64> {
        match self {
            Source::File(path) => std::fs::metadata(path).ok().map(|m| m.len()),
            Source::Stdin => None,
        }
    }
}

/// Whether a file inside a directory looks like CloudTrail (files named on the command line are
/// always read).
fn is_log_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !name.starts_with('.')
        && [".json", ".json.gz", ".jsonl", ".ndjson", ".gz"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// Why inputs could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A path that does not exist.
    #[error("{}: no such file or directory", .0.display())]
    Missing(PathBuf),
    /// A directory that could not be read.
    #[error("cannot read directory {}: {source}", path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// Why not.
        source: std::io::Error,
    },
}

/// Expands paths into sources: `-` is stdin, a directory is every log file below it (sorted),
/// anything else a file. A path that does not exist is an error naming it.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<Source>, InputError> {
    let mut sources = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            sources.push(Source::Stdin);
        } else if path.is_dir() {
            let mut files = Vec::new();
            collect(path, &mut files).map_err(|source| InputError::Directory {
                path: path.clone(),
                source,
            })?;
            files.sort();
            sources.extend(files.into_iter().map(Source::File));
        } else if path.exists() {
            sources.push(Source::File(path.clone()));
        } else {
            return Err(InputError::Missing(path.clone()));
        }
    }
    Ok(sources)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if is_log_file(&path) {
            files.push(path);
        }
    }
    Ok(())
}
