//! Per-account baselines: Welford running statistics of hourly cost plus what has been seen.
//!
//! A baseline is kept per (tenant, account, resource kind), and one more per account under the
//! kind [`ACCOUNT_SCOPE`] for account-wide novelty (actors, regions, instance families). The
//! scorer reads them, computes signals, and writes them back through
//! [`crate::store::ScoreStore::commit`] with optimistic concurrency on [`Baseline::version`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::Severity;

/// The resource kind of the account-wide baseline.
pub const ACCOUNT_SCOPE: &str = "*";

/// How many distinct values a "seen" set keeps. Past it the set stops growing and every further
/// value counts as known, so a baseline stays well under DynamoDB's 400 KB item limit.
pub const MAX_SEEN: usize = 1_000;

/// Entries a burst window keeps. Past it the two oldest merge (quantities and costs add up, the
/// newer time stands), so the window's totals stay exact while its size stays bounded; the merged
/// part leaves the window a little late, which only ever makes a burst look bigger.
pub const MAX_WINDOW_ENTRIES: usize = 64;

/// Welford's running count, mean and sum of squared deviations (M2).
///
/// Numerically stable in one pass; `merge` is Chan et al.'s parallel combination, so a baseline
/// backfilled from history can be folded into a live one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Welford {
    /// Number of observations.
    pub n: u64,
    /// Their mean.
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
}

impl Welford {
    /// Folds one observation in.
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// The statistics of both sets of observations together.
    pub fn merge(&self, other: &Welford) -> Welford {
        if self.n == 0 {
            return *other;
        }
        if other.n == 0 {
            return *self;
        }
        let n = self.n + other.n;
        let delta = other.mean - self.mean;
        let (na, nb, nf) = (self.n as f64, other.n as f64, n as f64);
        Welford {
            n,
            mean: self.mean + delta * nb / nf,
            m2: self.m2 + other.m2 + delta * delta * na * nb / nf,
        }
    }

    /// Sample variance (n − 1 in the denominator); 0 below two observations.
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            (self.m2 / (self.n - 1) as f64).max(0.0)
        }
    }

    /// Sample standard deviation.
    pub fn sd(&self) -> f64 {
        self.variance().sqrt()
    }
}

/// Identifies a baseline.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BaselineKey {
    /// The owning tenant.
    pub tenant: String,
    /// The AWS account.
    pub account_id: String,
    /// The resource kind, or [`ACCOUNT_SCOPE`] for the account-wide baseline.
    pub resource_kind: String,
}

impl BaselineKey {
    /// The key of a per-kind baseline.
    pub fn new(tenant: &str, account_id: &str, resource_kind: &str) -> Self {
        BaselineKey {
            tenant: tenant.to_owned(),
            account_id: account_id.to_owned(),
            resource_kind: resource_kind.to_owned(),
        }
    }

    /// The key of an account's account-wide baseline.
    pub fn account(tenant: &str, account_id: &str) -> Self {
        Self::new(tenant, account_id, ACCOUNT_SCOPE)
    }
}

/// One priced event remembered inside a burst window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WindowEntry {
    /// Event time.
    pub at: DateTime<Utc>,
    /// The event's hourly cost (USD/h).
    pub hourly_usd: f64,
    /// The event's resource count.
    pub quantity: u32,
}

/// One actor's recent events of one kind, for burst detection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BurstWindow {
    /// The events still inside the window, oldest first.
    pub entries: Vec<WindowEntry>,
    /// The kind's peak window quantity when this window opened: the bar a burst must clear is
    /// set by history, not by the burst itself.
    pub peak_at_open: u32,
    /// The highest severity already raised for this window, so a burst alerts once per level.
    pub alerted: Option<Severity>,
    /// The burst anomaly this window raised last: the resources its actor creates later in
    /// the window follow it.
    #[serde(default)]
    pub anomaly_id: Option<String>,
}

/// Everything the scorer knows about one (tenant, account, kind).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Baseline {
    /// Which baseline.
    pub key: BaselineKey,
    /// Running statistics of `hourly_usd` per priced event.
    pub stats: Welford,
    /// Optimistic-concurrency version: 0 for a baseline never stored; each commit stores +1.
    pub version: u64,
    /// Actor ARNs seen.
    pub actors: BTreeSet<String>,
    /// Resource types seen.
    pub resource_types: BTreeSet<String>,
    /// Regions seen.
    pub regions: BTreeSet<String>,
    /// Instance families seen.
    pub instance_families: BTreeSet<String>,
    /// The highest hourly cost that has already raised a Z-score anomaly or was marked expected:
    /// events at or below it (with tolerance) do not raise another, so a step change alerts once.
    pub alert_ceiling_hourly: f64,
    /// The largest quantity one actor created of this kind within one burst window.
    pub peak_window_quantity: u32,
    /// Open burst windows by actor ARN.
    pub windows: BTreeMap<String, BurstWindow>,
    /// When it last changed (event time of the last event folded in).
    pub updated_at: Option<DateTime<Utc>>,
}

impl Baseline {
    /// A baseline that has seen nothing.
    pub fn empty(key: BaselineKey) -> Self {
        Baseline {
            key,
            stats: Welford::default(),
            version: 0,
            actors: BTreeSet::new(),
            resource_types: BTreeSet::new(),
            regions: BTreeSet::new(),
            instance_families: BTreeSet::new(),
            alert_ceiling_hourly: 0.0,
            peak_window_quantity: 0,
            windows: BTreeMap::new(),
            updated_at: None,
        }
    }
}

/// Whether `value` is new to a seen-set (a full set treats everything as known).
pub fn is_new(seen: &BTreeSet<String>, value: &str) -> bool {
    seen.len() < MAX_SEEN && !seen.contains(value)
}

/// Adds `value` to a seen-set unless it is full.
pub fn remember(seen: &mut BTreeSet<String>, value: &str) {
    if seen.len() < MAX_SEEN && !seen.contains(value) {
        seen.insert(value.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_pass(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var)
    }

    /// A small deterministic generator so the test needs no dependency and is reproducible.
    fn lcg_series(seed: u64, len: usize) -> Vec<f64> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
                // Costs spanning five orders of magnitude, like real hourly prices.
                10f64.powf(unit * 5.0 - 3.0)
            })
            .collect()
    }

    fn rel_err(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs()
    }

    #[test]
    fn welford_matches_two_pass_within_1e9() {
        for seed in 1..=20 {
            let xs = lcg_series(seed, 5_000);
            let mut w = Welford::default();
            xs.iter().for_each(|&x| w.push(x));
            let (mean, var) = two_pass(&xs);
            assert!(
                rel_err(w.mean, mean) <= 1e-9,
                "seed {seed}: mean {} vs {}",
                w.mean,
                mean
            );
            assert!(
                rel_err(w.variance(), var) <= 1e-9,
                "seed {seed}: var {} vs {}",
                w.variance(),
                var
            );
        }
    }

    #[test]
    fn merge_equals_sequential() {
        for seed in 1..=20 {
            let xs = lcg_series(seed, 3_001);
            let split = (seed as usize * 137) % xs.len();
            let (mut left, mut right, mut all) =
                (Welford::default(), Welford::default(), Welford::default());
            xs[..split].iter().for_each(|&x| left.push(x));
            xs[split..].iter().for_each(|&x| right.push(x));
            xs.iter().for_each(|&x| all.push(x));
            let merged = left.merge(&right);
            assert_eq!(merged.n, all.n);
            assert!(rel_err(merged.mean, all.mean) <= 1e-9, "seed {seed}");
            assert!(rel_err(merged.m2, all.m2) <= 1e-9, "seed {seed}");
        }
    }

    #[test]
    fn merge_with_empty_is_identity_and_small_samples_have_zero_variance() {
        let mut w = Welford::default();
        w.push(3.0);
        assert_eq!(w.merge(&Welford::default()), w);
        assert_eq!(Welford::default().merge(&w), w);
        assert_eq!(w.variance(), 0.0);
    }

    #[test]
    fn full_seen_sets_treat_everything_as_known() {
        let mut seen = BTreeSet::new();
        for i in 0..MAX_SEEN {
            remember(&mut seen, &format!("actor-{i}"));
        }
        assert!(!is_new(&seen, "actor-new"));
        remember(&mut seen, "actor-new");
        assert_eq!(seen.len(), MAX_SEEN);
    }
}
