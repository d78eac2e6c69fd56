//! An archive in memory.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use dd0c_ports::archive::{validate_key, Archive};
use dd0c_ports::PortResult;

use crate::lock;

/// Archive objects in memory.
#[derive(Debug, Default)]
pub struct MemoryArchive {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryArchive {
    /// Empty.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Archive for MemoryArchive {
    async fn put(&self, key: &str, bytes: &[u8]) -> PortResult<()> {
        validate_key(key)?;
        lock(&self.objects).insert(key.to_owned(), bytes.to_vec());
        Ok(())
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        Ok(lock(&self.objects).get(key).cloned())
    }

    async fn list(&self, prefix: &str, limit: usize) -> PortResult<Vec<String>> {
        let objects = lock(&self.objects);
        Ok(objects
            .range(prefix.to_owned()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .take(limit)
            .map(|(key, _)| key.clone())
            .collect())
    }

    async fn delete(&self, key: &str) -> PortResult<()> {
        validate_key(key)?;
        lock(&self.objects).remove(key);
        Ok(())
    }
}
