//! Token buckets in this process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;
use dd0c_ports::rate::{refill, settle, Bucket, Draw, Drawn, TokenBuckets};
use dd0c_ports::PortResult;

use crate::lock;

/// Token buckets in memory (single-process installs): each key's balance and when it was last
/// drawn on.
#[derive(Debug, Default)]
pub struct MemoryBuckets(Mutex<HashMap<String, (f64, Instant)>>);

impl MemoryBuckets {
    /// No bucket drawn on yet.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl TokenBuckets for MemoryBuckets {
    async fn draw(&self, key: &str, bucket: Bucket, draw: Draw) -> PortResult<Drawn> {
        let now = Instant::now();
        let mut buckets = lock(&self.0);
        let (balance, at) = buckets.entry(key.to_owned()).or_insert((bucket.burst, now));
        let (left, drawn) = settle(refill(*balance, bucket, now - *at), bucket, draw);
        (*balance, *at) = (left, now);
        Ok(drawn)
    }
}
