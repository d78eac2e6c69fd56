//! Counts in fixed windows in this process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use dd0c_ports::attempts::{Attempts, Tally};
use dd0c_ports::PortResult;

use crate::lock;

/// Attempts in memory (single-process installs): each key's count and when its window ends.
#[derive(Debug, Default)]
pub struct MemoryAttempts(Mutex<HashMap<String, (u64, Instant)>>);

impl MemoryAttempts {
    /// Nothing counted.
    pub fn new() -> Self {
        Self::default()
    }
}

fn tally_of(entry: Option<&(u64, Instant)>, now: Instant) -> Tally {
    match entry {
        Some((count, ends)) if *ends > now => Tally {
            count: *count,
            retry_after: (*ends - now).as_secs_f64().ceil() as u64,
        },
        _ => Tally::default(),
    }
}

#[async_trait]
impl Attempts for MemoryAttempts {
    async fn count(&self, key: &str, window: Duration) -> PortResult<Tally> {
        let now = Instant::now();
        let mut counts = lock(&self.0);
        // Ended windows go as others are counted, so the map holds only live keys.
        counts.retain(|_, (_, ends)| *ends > now);
        let entry = counts.entry(key.to_owned()).or_insert((0, now + window));
        entry.0 += 1;
        Ok(tally_of(Some(entry), now))
    }

    async fn tally(&self, key: &str) -> PortResult<Tally> {
        Ok(tally_of(lock(&self.0).get(key), Instant::now()))
    }

    async fn forget(&self, key: &str) -> PortResult<()> {
        lock(&self.0).remove(key);
        Ok(())
    }
}
