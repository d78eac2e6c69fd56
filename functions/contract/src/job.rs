//! The contract of scheduled jobs, beside the queue functions': the retention sweep, the trail
//! poll, the zombie hunt, the digests. A job says what it is called, how often it is due and what
//! one run does; a runtime only schedules — the local dispatcher claims each period's tick in
//! the schedule store (so one replica runs it) and calls [`Job::run`], Lambda calls it from an
//! EventBridge schedule.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::FunctionError;

/// What one run did, for its log line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobRun {
    /// How many things it did (records forgotten, files read, findings, digests sent).
    pub done: u64,
    /// The same in words, for the log.
    pub summary: String,
}

/// A scheduled job.
#[async_trait]
pub trait Job: Send + Sync {
    /// Its name: the schedule's claim key, the metric's label, the log's `job` field.
    fn name(&self) -> &'static str;
    /// How often it is due.
    fn period(&self) -> Duration;
    /// One run as of `now`, on `replica`.
    async fn run(&self, now: DateTime<Utc>, replica: &str) -> Result<JobRun, FunctionError>;
}

/// The start of the period of length `every` that contains `now`: the tick replicas claim.
pub fn tick_of(now: DateTime<Utc>, every: Duration) -> DateTime<Utc> {
    let period = every.as_secs().max(1) as i64;
    let start = now.timestamp() - now.timestamp().rem_euclid(period);
    DateTime::from_timestamp(start, 0).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_is_the_start_of_its_period() {
        let now = DateTime::parse_from_rfc3339("2026-12-06T10:17:42Z")
            .expect("a time")
            .to_utc();
        let hour = tick_of(now, Duration::from_secs(3600));
        assert_eq!(hour.to_rfc3339(), "2026-12-06T10:00:00+00:00");
        let day = tick_of(now, Duration::from_secs(86_400));
        assert_eq!(day.to_rfc3339(), "2026-12-06T00:00:00+00:00");
    }
}
