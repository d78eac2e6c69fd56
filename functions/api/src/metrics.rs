//! Prometheus metrics, hand-rolled: a few counters and latency histograms, rendered in the text
//! exposition format with the queue depths read at scrape time.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the handler latency histogram.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Counters by (name, label value) and latency histograms by function.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
    latencies: Mutex<BTreeMap<String, Histogram>>,
}

/// What a counter counts; each renders as `dd0c_<name>_total{function|reason="…"}`.
#[derive(Debug, Clone, Copy)]
pub enum Counter {
    /// Messages a function handled successfully.
    Processed,
    /// Handler failures (each attempt).
    Failed,
    /// Messages moved to the dead letters.
    DeadLettered,
    /// Records admitted over HTTP.
    Accepted,
    /// Records refused over HTTP, by reason.
    Rejected,
    /// Scheduled job runs by this replica.
    JobRuns,
    /// Alerts sent, by channel.
    Notified,
    /// Alerts held back, by reason (`panic_mode`, `breaker_open`).
    Held,
}

impl Counter {
    fn name(self) -> (&'static str, &'static str) {
        match self {
            Counter::Processed => ("dd0c_processed_total", "function"),
            Counter::Failed => ("dd0c_failed_total", "function"),
            Counter::DeadLettered => ("dd0c_dead_lettered_total", "function"),
            Counter::Accepted => ("dd0c_ingest_accepted_total", "tenant"),
            Counter::Rejected => ("dd0c_ingest_rejected_total", "reason"),
            Counter::JobRuns => ("dd0c_job_runs_total", "job"),
            Counter::Notified => ("dd0c_notifications_total", "channel"),
            Counter::Held => ("dd0c_notifications_held_total", "reason"),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Metrics {
    /// Adds `by` to a counter.
    pub fn count(&self, counter: Counter, label: &str, by: u64) {
        let (name, _) = counter.name();
        *lock(&self.counters)
            .entry((name, label.to_owned()))
            .or_default() += by;
    }

    /// A counter's value.
    pub fn value(&self, counter: Counter, label: &str) -> u64 {
        let (name, _) = counter.name();
        lock(&self.counters)
            .get(&(name, label.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Records one handler run of `function`.
    pub fn observe(&self, function: &str, took: Duration) {
        let seconds = took.as_secs_f64();
        let mut latencies = lock(&self.latencies);
        let histogram = latencies.entry(function.to_owned()).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                histogram.counts[i] += 1;
            }
        }
        histogram.sum += seconds;
        histogram.count += 1;
    }

    /// The exposition text, with queue depths `(queue, visible, in_flight, dead)`.
    pub fn render(&self, depths: &[(String, u64, u64, u64)]) -> String {
        let mut out = String::new();
        let counters = lock(&self.counters);
        for counter in [
            Counter::Processed,
            Counter::Failed,
            Counter::DeadLettered,
            Counter::Accepted,
            Counter::Rejected,
            Counter::JobRuns,
            Counter::Notified,
            Counter::Held,
        ] {
            let (name, label) = counter.name();
            let _ = writeln!(out, "# TYPE {name} counter");
            for ((n, value), count) in counters.iter().filter(|((n, _), _)| *n == name) {
                let _ = writeln!(out, "{n}{{{label}=\"{value}\"}} {count}");
            }
        }
        drop(counters);
        let _ = writeln!(out, "# TYPE dd0c_queue_depth gauge");
        for (queue, visible, in_flight, dead) in depths {
            for (state, n) in [
                ("visible", visible),
                ("in_flight", in_flight),
                ("dead", dead),
            ] {
                let _ = writeln!(
                    out,
                    "dd0c_queue_depth{{queue=\"{queue}\",state=\"{state}\"}} {n}"
                );
            }
        }
        let _ = writeln!(out, "# TYPE dd0c_handler_seconds histogram");
        for (function, h) in lock(&self.latencies).iter() {
            for (bound, count) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "dd0c_handler_seconds_bucket{{function=\"{function}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "dd0c_handler_seconds_bucket{{function=\"{function}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "dd0c_handler_seconds_sum{{function=\"{function}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "dd0c_handler_seconds_count{{function=\"{function}\"}} {}",
                h.count
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_depths_and_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.count(Counter::Processed, "score", 3);
        metrics.observe("score", Duration::from_millis(3));
        metrics.observe("score", Duration::from_millis(30));
        let text = metrics.render(&[("score".into(), 5, 1, 2)]);
        assert!(
            text.contains("dd0c_processed_total{function=\"score\"} 3"),
            "{text}"
        );
        assert!(text.contains("dd0c_queue_depth{queue=\"score\",state=\"dead\"} 2"));
        assert!(text.contains("dd0c_handler_seconds_bucket{function=\"score\",le=\"0.005\"} 1"));
        assert!(text.contains("dd0c_handler_seconds_bucket{function=\"score\",le=\"0.05\"} 2"));
        assert!(text.contains("dd0c_handler_seconds_count{function=\"score\"} 2"));
    }
}
