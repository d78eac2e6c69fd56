//! The archive port: raw CloudTrail payloads kept as received, for audit and replay.

use async_trait::async_trait;

use crate::PortResult;

/// A write-once object store.
#[async_trait]
pub trait Archive: Send + Sync {
    /// Stores `bytes` under `key` (a `/`-separated path of safe characters; adapters reject `..`
    /// segments, empty segments and leading `/` with `Invalid`). Writing the same key again replaces it.
    async fn put(&self, key: &str, bytes: &[u8]) -> PortResult<()>;
    /// The bytes under `key`, or `None`.
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>>;
    /// Keys starting with `prefix`, sorted, at most `limit`.
    async fn list(&self, prefix: &str, limit: usize) -> PortResult<Vec<String>>;
    /// Deletes the object under `key`; deleting what is not there is not an error.
    async fn delete(&self, key: &str) -> PortResult<()>;
}

/// Checks an archive key as every adapter must.
pub fn validate_key(key: &str) -> Result<(), crate::PortError> {
    if key.is_empty() || key.starts_with('/') {
        return Err(crate::PortError::Invalid(format!(
            "archive key {key:?} must be a relative path"
        )));
    }
    if key
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(crate::PortError::Invalid(format!(
            "archive key {key:?} has an empty, '.' or '..' segment"
        )));
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/-_.=:#".contains(c))
    {
        return Err(crate::PortError::Invalid(format!(
            "archive key {key:?} has characters outside [A-Za-z0-9/-_.=:#]"
        )));
    }
    Ok(())
}
