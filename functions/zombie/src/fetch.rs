//! Reading the signals of a region's candidates in as few requests as the API allows.
//!
//! Queries go out in stages — every candidate's first signal, then the second of those not yet
//! known to be busy, … — packed up to [`QUERIES_PER_REQUEST`] a request, so the common case (most
//! resources busy on their first signal) costs one request per 500 resources, and a request
//! with room left carries the next stage along.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use dd0c_ports::zombie::{MetricQuery, MetricSeries, Metrics};
use dd0c_ports::PortResult;

use crate::signals::{Signal, Verdict};

/// Most queries one `GetMetricData` request takes.
pub const QUERIES_PER_REQUEST: usize = 500;

/// One query of one signal of one candidate.
struct Slot {
    candidate: usize,
    signal: usize,
    query: MetricQuery,
}

/// The verdict of each signal of each candidate (`signals[c][s]`), `None` where it was not read
/// because an earlier signal already showed the candidate busy.
pub async fn verdicts(
    metrics: &dyn Metrics,
    region: &str,
    signals: &[&[Signal]],
    now: DateTime<Utc>,
) -> PortResult<Vec<Vec<Option<Verdict>>>> {
    let mut verdicts: Vec<Vec<Option<Verdict>>> =
        signals.iter().map(|s| vec![None; s.len()]).collect();
    let Some(longest) = signals
        .iter()
        .flat_map(|s| s.iter())
        .map(|s| s.lookback_days)
        .max()
    else {
        return Ok(verdicts);
    };
    // One window for every query: a request has one start and end time.
    let from = crate::signals::window_start(now, longest);
    let mut pending = staged(signals);
    let mut busy = vec![false; signals.len()];
    let mut parts: BTreeMap<(usize, usize), Vec<MetricSeries>> = BTreeMap::new();
    loop {
        let batch = next_batch(&mut pending, &busy);
        if batch.is_empty() {
            return Ok(verdicts);
        }
        let queries: Vec<MetricQuery> = batch.iter().map(|slot| slot.query.clone()).collect();
        let answered = metrics.series(region, &queries, from, now).await?;
        for (slot, series) in batch.into_iter().zip(answered) {
            let key = (slot.candidate, slot.signal);
            let signal = &signals[slot.candidate][slot.signal];
            let got = parts.entry(key).or_default();
            got.push(series);
            if got.len() == signal.metrics.len() {
                let got = parts.remove(&key).unwrap_or_default();
                let verdict = signal.judge(&got.iter().collect::<Vec<_>>(), now);
                busy[slot.candidate] |= verdict == Verdict::Busy;
                verdicts[slot.candidate][slot.signal] = Some(verdict);
            }
        }
    }
}

/// Every query, first signals first, with ids unique within a request.
fn staged(signals: &[&[Signal]]) -> VecDeque<Slot> {
    let stages = signals.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut slots = VecDeque::new();
    let mut n = 0usize;
    for stage in 0..stages {
        for (candidate, theirs) in signals.iter().enumerate() {
            if let Some(signal) = theirs.get(stage) {
                for query in signal.queries(|| {
                    n += 1;
                    format!("q{n}")
                }) {
                    slots.push_back(Slot {
                        candidate,
                        signal: stage,
                        query,
                    });
                }
            }
        }
    }
    slots
}

/// The next request's queries: up to the limit, skipping candidates already known busy.
fn next_batch(pending: &mut VecDeque<Slot>, busy: &[bool]) -> Vec<Slot> {
    let mut batch = Vec::new();
    while batch.len() < QUERIES_PER_REQUEST {
        match pending.pop_front() {
            Some(slot) if busy[slot.candidate] => continue,
            Some(slot) => batch.push(slot),
            None => break,
        }
    }
    batch
}
