//! What the ledger's records amount to at a moment: one resource's life with the cost of each
//! interval ([`ResourceView`]), and one anomaly's resources ([`Followed`]) — how many still
//! run and at what rate, what they have cost, what they will have cost by the end of the month,
//! and how they ended. The API, the CLI, the alerts and the dashboard all show these figures.

use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::{Ended, Interval, Life, Mark, ResourceRecord};
use crate::domain::{format_usd, Anomaly};

/// Who ended a resource that the zombie hunter found gone with no end event.
pub const UNSEEN: &str = "unseen";

/// An anomaly's resources as of a moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Followed {
    /// Units of its resources still running (billing compute).
    pub running_count: u32,
    /// USD per hour its running resources bill now: the hourly at stake, less what ended or
    /// stopped.
    pub hourly_now_usd: f64,
    /// USD its resources cost from their creation to now (or to their end).
    pub cost_so_far_usd: f64,
    /// USD its resources cost from their creation to the end of the current UTC calendar
    /// month, if nothing more ends or stops: the cost so far plus the hourly now until then.
    pub forecast_month_end_usd: f64,
    /// When the last of its resources ended, once all have.
    pub ended_at: Option<DateTime<Utc>>,
    /// The actor ARN of the call that ended the last of them, once all have (`unseen` when the
    /// zombie hunter found it gone with no end event).
    pub ended_by: Option<String>,
    /// USD its resources cost from creation to end, once all have ended.
    pub actual_cost_usd: Option<f64>,
}

/// One resource as the ledger followed it, as of a moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResourceView {
    /// The AWS account.
    pub account_id: String,
    /// The AWS region.
    pub region: String,
    /// The id CloudTrail names it by.
    pub resource_id: String,
    /// Its kind (`ec2.instance`).
    pub resource_kind: String,
    /// Its latest known type.
    pub resource_type: String,
    /// Its latest known count of units.
    pub quantity: u32,
    /// The call that created it, when dd0c/cost saw it.
    pub created: Option<Mark>,
    /// When it billed at which rate, oldest first, each with its cost.
    pub intervals: Vec<CostedInterval>,
    /// How it ended, if it has.
    pub ended: Option<Ended>,
    /// Whether it bills compute now (not ended, not stopped).
    pub running: bool,
    /// USD per hour it bills now.
    pub hourly_now_usd: f64,
    /// USD it cost from its creation to now, or to its end.
    pub cost_so_far_usd: f64,
    /// The anomaly that named it.
    pub anomaly_id: Option<String>,
}

/// An interval of a resource's life and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CostedInterval {
    /// The interval.
    #[serde(flatten)]
    pub interval: Interval,
    /// USD it cost (to now, while open).
    pub cost_usd: f64,
}

impl ResourceView {
    /// `record` as of `now`.
    pub fn of(record: &ResourceRecord, now: DateTime<Utc>) -> ResourceView {
        let life = record.life(now);
        ResourceView {
            account_id: record.key.account_id.clone(),
            region: record.key.region.clone(),
            resource_id: record.key.resource_id.clone(),
            running: life.running(),
            hourly_now_usd: life.hourly_now(),
            cost_so_far_usd: life.cost_until(now),
            intervals: life
                .intervals
                .iter()
                .map(|interval| CostedInterval {
                    cost_usd: interval.cost_until(now),
                    interval: interval.clone(),
                })
                .collect(),
            resource_kind: life.resource_kind,
            resource_type: life.resource_type,
            quantity: life.quantity,
            created: life.created,
            ended: life.ended,
            anomaly_id: record.anomaly_id.clone(),
        }
    }
}

/// An anomaly and what its resources amount to now: how the API, the CLI and the dashboard
/// show every anomaly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FollowedAnomaly {
    /// The anomaly as it was raised, with its status.
    #[serde(flatten)]
    pub anomaly: Anomaly,
    /// Its resources as of the request.
    #[serde(flatten)]
    pub followed: Followed,
}

/// The first instant of the UTC calendar month after `now`'s: where a month-end forecast stops.
pub fn month_end(now: DateTime<Utc>) -> DateTime<Utc> {
    let (year, month) = match now.month() {
        12 => (now.year() + 1, 1),
        m => (now.year(), m + 1),
    };
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

fn hours(span: TimeDelta) -> f64 {
    span.num_seconds().max(0) as f64 / 3600.0
}

impl Followed {
    /// What `records` (the ledger's records of one anomaly) amount to as of `now`; `None` when
    /// the ledger has no change of any (a link waiting for its resources is not counted).
    pub fn of_records(records: &[ResourceRecord], now: DateTime<Utc>) -> Option<Followed> {
        let lives: Vec<Life> = records
            .iter()
            .filter(|r| !r.changes.is_empty())
            .map(|r| r.life(now))
            .collect();
        if lives.is_empty() {
            return None;
        }
        let running_count = lives
            .iter()
            .filter(|l| l.running())
            .map(|l| l.quantity)
            .fold(0u32, u32::saturating_add);
        let hourly_now_usd: f64 = lives.iter().map(Life::hourly_now).sum();
        let cost_so_far_usd: f64 = lives.iter().map(|l| l.cost_until(now)).sum();
        let last_end = lives
            .iter()
            .map(|l| l.ended.as_ref())
            .collect::<Option<Vec<_>>>()
            .and_then(|ends| ends.into_iter().max_by_key(|e| e.at));
        Some(Followed {
            running_count,
            hourly_now_usd,
            cost_so_far_usd,
            forecast_month_end_usd: cost_so_far_usd + hourly_now_usd * hours(month_end(now) - now),
            ended_at: last_end.map(|e| e.at),
            ended_by: last_end.map(|e| {
                e.by.as_ref()
                    .map_or_else(|| UNSEEN.to_owned(), |m| m.actor_arn.clone())
            }),
            actual_cost_usd: last_end.map(|_| lives.iter().filter_map(Life::actual_cost).sum()),
        })
    }

    /// In a few words, for `quantity` units counted at the alert: `ended · cost $355.02`,
    /// `10 of 40 running · $327.70/h`, `4 running · $131.08/h`, `stopped`.
    pub fn in_words(&self, quantity: u32) -> String {
        if let Some(actual) = self.actual_cost_usd {
            return format!("ended · cost {}", format_usd(actual));
        }
        let hourly = format_usd(self.hourly_now_usd);
        match self.running_count {
            0 => "stopped".to_owned(),
            n if n < quantity => format!("{n} of {quantity} running · {hourly}/h"),
            n => format!("{n} running · {hourly}/h"),
        }
    }

    /// What `anomaly` amounts to when the ledger holds none of its resources (an anomaly
    /// older than the ledger, or one whose resources are still on their way): everything it
    /// counted runs at its hourly since its event.
    pub fn assumed(anomaly: &Anomaly, now: DateTime<Utc>) -> Followed {
        let cost_so_far_usd = anomaly.hourly_usd * hours(now - anomaly.event_time);
        Followed {
            running_count: anomaly.quantity,
            hourly_now_usd: anomaly.hourly_usd,
            cost_so_far_usd,
            forecast_month_end_usd: cost_so_far_usd
                + anomaly.hourly_usd * hours(month_end(now) - now),
            ended_at: None,
            ended_by: None,
            actual_cost_usd: None,
        }
    }

    /// What `anomaly`'s resources amount to as of `now`: from `records` (the ledger's for it)
    /// where they hold any, as the anomaly counted them where they do not.
    pub fn of_anomaly(
        anomaly: &Anomaly,
        records: &[ResourceRecord],
        now: DateTime<Utc>,
    ) -> Followed {
        Followed::of_records(records, now).unwrap_or_else(|| Followed::assumed(anomaly, now))
    }

    /// What ending `anomaly`'s resources avoided: the month-end forecast its alert stated
    /// (counted from its raise, as if nothing ended) less `actual_cost_usd`; never negative.
    pub fn avoided_usd(anomaly: &Anomaly, actual_cost_usd: f64) -> f64 {
        let forecast = Followed::assumed(anomaly, anomaly.event_time).forecast_month_end_usd;
        (forecast - actual_cost_usd).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Change;
    use crate::ledger::{Mark, ResourceChange, ResourceKey};

    fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, day, hour, minute, 0)
            .single()
            .expect("valid")
    }

    fn change(id: &str, change: Change, when: DateTime<Utc>, actor: &str) -> ResourceChange {
        ResourceChange {
            key: ResourceKey::new("111122223333", "us-east-1", id),
            change,
            resource_kind: "ec2.instance".into(),
            resource_type: "p4d.24xlarge".into(),
            quantity: 1,
            unit_hourly_usd: 32.77,
            priced: change == Change::Create,
            mark: Mark {
                at: when,
                actor_arn: format!("arn:aws:iam::111122223333:user/{actor}"),
                event_id: format!("{id}-{change:?}"),
                call: String::new(),
            },
        }
    }

    fn record(changes: &[ResourceChange]) -> ResourceRecord {
        let mut record = ResourceRecord::new("acme", changes[0].key.clone());
        for c in changes {
            record.add(c.clone());
        }
        record
    }

    #[test]
    fn the_month_ends_at_the_first_of_the_next_even_in_december() {
        assert_eq!(
            month_end(at(6, 12, 0)),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
                .single()
                .expect("valid")
        );
    }

    #[test]
    fn a_partial_end_leaves_the_rest_running_to_month_end() {
        let now = at(31, 0, 0);
        let records = [
            record(&[
                change("i-1", Change::Create, at(30, 0, 0), "intern"),
                change("i-1", Change::End, at(30, 12, 0), "alice"),
            ]),
            record(&[change("i-2", Change::Create, at(30, 0, 0), "intern")]),
        ];
        let followed = Followed::of_records(&records, now).expect("followed");
        assert_eq!(followed.running_count, 1);
        assert!((followed.hourly_now_usd - 32.77).abs() < 1e-9);
        assert!((followed.cost_so_far_usd - 32.77 * 36.0).abs() < 1e-6);
        assert!((followed.forecast_month_end_usd - 32.77 * 60.0).abs() < 1e-6);
        assert_eq!(followed.ended_at, None);
        assert_eq!(followed.actual_cost_usd, None);
    }

    #[test]
    fn the_last_end_names_when_who_and_the_actual_cost() {
        let records = [
            record(&[
                change("i-1", Change::Create, at(1, 8, 0), "intern"),
                change("i-1", Change::End, at(1, 9, 0), "bob"),
            ]),
            record(&[
                change("i-2", Change::Create, at(1, 8, 0), "intern"),
                change("i-2", Change::End, at(1, 10, 10), "alice"),
            ]),
        ];
        let followed = Followed::of_records(&records, at(6, 0, 0)).expect("followed");
        assert_eq!(followed.running_count, 0);
        assert_eq!(followed.hourly_now_usd, 0.0);
        assert_eq!(followed.ended_at, Some(at(1, 10, 10)));
        assert_eq!(
            followed.ended_by.as_deref(),
            Some("arn:aws:iam::111122223333:user/alice")
        );
        let actual = followed.actual_cost_usd.expect("actual");
        assert!((actual - 32.77 * (1.0 + 130.0 / 60.0)).abs() < 1e-6);
        assert_eq!(followed.forecast_month_end_usd, actual);
    }

    #[test]
    fn in_words_an_end_shows_its_cost_and_a_partial_end_what_runs() {
        let mut followed = Followed {
            running_count: 10,
            hourly_now_usd: 327.7,
            cost_so_far_usd: 0.0,
            forecast_month_end_usd: 0.0,
            ended_at: None,
            ended_by: None,
            actual_cost_usd: None,
        };
        assert_eq!(followed.in_words(40), "10 of 40 running · $327.70/h");
        followed.actual_cost_usd = Some(355.02);
        assert_eq!(followed.in_words(40), "ended · cost $355.02");
    }

    #[test]
    fn a_resource_found_gone_ends_unseen() {
        let mut gone = record(&[change("i-1", Change::Create, at(1, 8, 0), "intern")]);
        gone.unseen_at = Some(at(2, 8, 0));
        let followed = Followed::of_records(&[gone], at(6, 0, 0)).expect("followed");
        assert_eq!(followed.ended_by.as_deref(), Some(UNSEEN));
    }

    #[test]
    fn links_waiting_for_their_changes_count_for_nothing() {
        let waiting = ResourceRecord::new("acme", ResourceKey::new("1", "r", "i-9"));
        assert_eq!(Followed::of_records(&[waiting], at(6, 0, 0)), None);
    }
}
