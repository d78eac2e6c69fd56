//! Sign-in throttling: at most [`MAX_FAILURES`] failed sign-ins per e-mail and per client
//! address within [`WINDOW`]; beyond that, 429 until the oldest failure leaves the window.
//! Per process: each replica counts what it sees.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per key within the window.
pub const MAX_FAILURES: usize = 5;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// Failed sign-ins by key (`email:…`, `addr:…`).
#[derive(Debug, Default)]
pub struct Throttle(Mutex<HashMap<String, Vec<Instant>>>);

impl Throttle {
    /// Seconds until `keys` may try again, if any of them is over the limit.
    pub fn blocked(&self, keys: &[String]) -> Option<u64> {
        let now = Instant::now();
        let mut failures = self.0.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .filter_map(|key| {
                let times = failures.get_mut(key)?;
                times.retain(|t| now.duration_since(*t) < WINDOW);
                (times.len() >= MAX_FAILURES)
                    .then(|| {
                        times
                            .first()
                            .map(|oldest| (WINDOW - now.duration_since(*oldest)).as_secs() + 1)
                    })
                    .flatten()
            })
            .max()
    }

    /// Counts a failed sign-in against every key.
    pub fn failed(&self, keys: &[String]) {
        let now = Instant::now();
        let mut failures = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            failures.entry(key.clone()).or_default().push(now);
        }
    }

    /// Forgets an e-mail's failures after a successful sign-in.
    pub fn succeeded(&self, key: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}
