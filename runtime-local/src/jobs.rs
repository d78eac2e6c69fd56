//! Scheduling the jobs of `functions/` ([`Job`]): each in its own task, each period's tick
//! claimed in the schedule store so that one replica runs it, every run counted and logged.
//! Which jobs a dispatcher runs follows its roles ([`crate::serve::Dispatcher::jobs`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use dd0c_api::metrics::{Counter, Metrics};
use dd0c_function::job::{tick_of, Job};
use dd0c_ports::store::Schedule;
use tokio_util::sync::CancellationToken;

/// Runs `job` once per period until `shutdown`, on whichever replica claims the period's tick.
pub async fn schedule(
    job: Arc<dyn Job>,
    schedule: Arc<dyn Schedule>,
    metrics: Arc<Metrics>,
    replica: String,
    shutdown: CancellationToken,
) {
    let (name, period) = (job.name(), job.period());
    while !shutdown.is_cancelled() {
        let now = Utc::now();
        let tick = tick_of(now, period);
        match schedule.claim_tick(name, tick, &replica).await {
            Ok(true) => {
                metrics.count(Counter::JobRuns, name, 1);
                match job.run(now, &replica).await {
                    // A run that did something is news; the minute's empty digest check is not.
                    Ok(run) if run.done > 0 => {
                        tracing::info!(job = name, %tick, done = run.done, "{}", run.summary)
                    }
                    Ok(run) => tracing::debug!(job = name, %tick, "{}", run.summary),
                    Err(e) => tracing::warn!(job = name, error = %e, "failed"),
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(job = name, error = %e, "could not claim the tick"),
        }
        let next =
            tick + chrono::TimeDelta::from_std(period).unwrap_or(chrono::TimeDelta::hours(1));
        let wait = (next - Utc::now())
            .to_std()
            .unwrap_or(Duration::from_millis(100));
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
