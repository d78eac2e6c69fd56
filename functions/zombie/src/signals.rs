//! Metric signals: what one resource's idleness is read from, and how a series is judged.
//!
//! A [`Signal`] is one or two metrics of one resource, summed per day; its observation is the
//! busiest day over its lookback. At or under the threshold the signal says idle; without any
//! datapoint it says no data — never idle.

use chrono::{DateTime, Duration, DurationRound, Utc};
use dd0c_ports::zombie::{Evidence, MetricQuery, MetricSeries, Statistic};

/// Seconds per datapoint: one a day, the grain every published idleness rule is stated in.
pub const PERIOD_SECONDS: u32 = 86_400;

/// Where a lookback of `days` ending at `now` starts: whole UTC days before today, so daily
/// datapoints (which CloudWatch aligns to the day) fall wholly in or out of it, and today so
/// far counts too.
pub fn window_start(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    let today = now.duration_trunc(Duration::days(1)).unwrap_or(now);
    today - Duration::days(i64::from(days))
}

/// One signal of one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// `AWS/EC2`.
    pub namespace: &'static str,
    /// One metric, or several summed per day (`NetworkIn` + `NetworkOut`).
    pub metrics: &'static [&'static str],
    /// The dimension naming the resource.
    pub dimension: (&'static str, String),
    /// How each day is summarized.
    pub statistic: Statistic,
    /// Each summed value is divided by this before the threshold applies (bytes → MB).
    pub unit_divisor: f64,
    /// The unit of the threshold, after the divisor (`%`, `MB`).
    pub unit: &'static str,
    /// The most a day may show for the resource to be idle.
    pub threshold: f64,
    /// Days judged, ending now.
    pub lookback_days: u32,
}

/// What a signal said.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Above its threshold on some day: the resource is used.
    Busy,
    /// At or under its threshold every day that has data.
    Idle(Evidence),
    /// No datapoint at all.
    NoData(Evidence),
}

impl Signal {
    /// The queries this signal needs, with ids from `id` (one per metric).
    pub fn queries(&self, mut id: impl FnMut() -> String) -> Vec<MetricQuery> {
        self.metrics
            .iter()
            .map(|metric| MetricQuery {
                id: id(),
                namespace: self.namespace.to_owned(),
                metric: (*metric).to_owned(),
                dimensions: vec![(self.dimension.0.to_owned(), self.dimension.1.clone())],
                statistic: self.statistic,
                period_seconds: PERIOD_SECONDS,
            })
            .collect()
    }

    /// The evidence's name of this signal: namespace and metrics.
    pub fn label(&self) -> String {
        format!("{} {}", self.namespace, self.metrics.join("+"))
    }

    /// Judges the series of this signal's queries (in their order) over its window ending at
    /// `now` ([`window_start`]).
    pub fn judge(&self, series: &[&MetricSeries], now: DateTime<Utc>) -> Verdict {
        let since = window_start(now, self.lookback_days);
        let mut days: std::collections::BTreeMap<DateTime<Utc>, f64> = Default::default();
        let mut datapoints = 0u32;
        for s in series {
            for (at, value) in s.points.iter().filter(|(at, _)| *at >= since && *at < now) {
                datapoints += 1;
                *days.entry(*at).or_default() += value / self.unit_divisor;
            }
        }
        let observed = days.values().copied().reduce(f64::max);
        let evidence = Evidence {
            metric: self.label(),
            statistic: self.statistic.as_str().to_owned(),
            period_seconds: PERIOD_SECONDS,
            unit: self.unit.to_owned(),
            days_evaluated: self.lookback_days,
            datapoints,
            threshold: Some(self.threshold),
            observed,
        };
        match observed {
            None => Verdict::NoData(evidence),
            Some(o) if o <= self.threshold => Verdict::Idle(evidence),
            Some(_) => Verdict::Busy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(threshold: f64) -> Signal {
        Signal {
            namespace: "AWS/EC2",
            metrics: &["CPUUtilization"],
            dimension: ("InstanceId", "i-1".into()),
            statistic: Statistic::Maximum,
            unit_divisor: 1.0,
            unit: "%",
            threshold,
            lookback_days: 14,
        }
    }

    fn series(now: DateTime<Utc>, values: &[(i64, f64)]) -> MetricSeries {
        MetricSeries {
            id: "q0".into(),
            points: values
                .iter()
                .map(|(days_ago, v)| (now - Duration::days(*days_ago), *v))
                .collect(),
        }
    }

    #[test]
    fn the_busiest_day_decides() {
        let now = Utc::now();
        let quiet = series(now, &[(1, 1.0), (2, 4.9)]);
        let Verdict::Idle(evidence) = cpu(5.0).judge(&[&quiet], now) else {
            panic!("every day under the threshold is idle");
        };
        assert_eq!((evidence.datapoints, evidence.observed), (2, Some(4.9)));
        let one_busy_day = series(now, &[(1, 1.0), (3, 60.0)]);
        assert_eq!(cpu(5.0).judge(&[&one_busy_day], now), Verdict::Busy);
    }

    #[test]
    fn no_datapoint_is_no_data_and_old_points_do_not_count() {
        let now = Utc::now();
        let stale = series(now, &[(20, 90.0)]);
        assert!(matches!(
            cpu(5.0).judge(&[&stale], now),
            Verdict::NoData(Evidence {
                datapoints: 0,
                observed: None,
                ..
            })
        ));
    }

    #[test]
    fn summed_metrics_add_up_per_day() {
        let now = Utc::now();
        let signal = Signal {
            metrics: &["NetworkIn", "NetworkOut"],
            statistic: Statistic::Sum,
            unit_divisor: 1e6,
            ..cpu(5.0)
        };
        let inbound = series(now, &[(1, 3e6)]);
        let outbound = series(now, &[(1, 3e6)]);
        assert_eq!(signal.judge(&[&inbound, &outbound], now), Verdict::Busy);
        assert!(matches!(signal.judge(&[&inbound], now), Verdict::Idle(_)));
    }
}
