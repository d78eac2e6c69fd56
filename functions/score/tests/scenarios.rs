//! The scorer's behaviour on the stories users care about, through the memory stores.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use dd0c_adapters_memory::MemoryStore;
use dd0c_ingest::PriceCatalog;
use dd0c_ports::baseline::BaselineKey;
use dd0c_ports::domain::{
    Anomaly, AnomalyStatus, Change, Combine, CostEvent, FeedbackAction, PriceSource, Settings,
    Severity, Signal, SnoozeScope, HOURS_PER_MONTH,
};
use dd0c_ports::store::{AnomalyFilter, AnomalyStore, OutboxStore, ScoreStore, SettingsStore};
use dd0c_score::{feedback, Scored, Scorer};

const ACCOUNT: &str = "111122223333";
const CI: &str = "arn:aws:iam::111122223333:role/ci-deployer";
const INTERN: &str = "arn:aws:iam::111122223333:user/intern";

struct World {
    store: Arc<MemoryStore>,
    scorer: Scorer,
    next_id: u32,
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0)
        .single()
        .expect("valid")
}

impl World {
    fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        World {
            scorer: Scorer::new(store.clone(), store.clone(), store.clone()),
            store,
            next_id: 0,
        }
    }

    fn event(
        &mut self,
        actor: &str,
        region: &str,
        resource_type: &str,
        quantity: u32,
        at: DateTime<Utc>,
    ) -> CostEvent {
        self.next_id += 1;
        let unit = PriceCatalog::bundled().hourly("ec2.instance", resource_type, region);
        let hourly = unit.hourly_usd * f64::from(quantity);
        CostEvent {
            event_id: format!("ev-{:05}", self.next_id),
            event_time: at,
            tenant: "default".into(),
            account_id: ACCOUNT.into(),
            region: region.into(),
            event_source: "ec2.amazonaws.com".into(),
            event_name: "RunInstances".into(),
            actor_arn: actor.into(),
            actor_session: None,
            actor_type: "AssumedRole".into(),
            resource_kind: "ec2.instance".into(),
            resource_type: resource_type.into(),
            resource_ids: Vec::new(),
            quantity,
            unit_hourly_usd: unit.hourly_usd,
            hourly_usd: hourly,
            monthly_usd: hourly * HOURS_PER_MONTH,
            price_source: PriceSource::Catalog,
            change: Default::default(),
        }
    }

    async fn score(&self, event: &CostEvent) -> Option<Anomaly> {
        match self.scorer.score(event).await.expect("scores") {
            Scored::New(verdict) => verdict.anomaly,
            Scored::Duplicate => panic!("{} scored twice", event.event_id),
        }
    }

    /// What one more m5.xlarge launched by CI at `at` comes to.
    async fn verdict(&mut self, at: DateTime<Utc>) -> dd0c_score::Verdict {
        let event = self.event(CI, "us-east-1", "m5.xlarge", 1, at);
        match self.scorer.score(&event).await.expect("scores") {
            Scored::New(verdict) => verdict,
            Scored::Duplicate => panic!("{} scored twice", event.event_id),
        }
    }

    async fn launch(
        &mut self,
        actor: &str,
        region: &str,
        resource_type: &str,
        quantity: u32,
        at: DateTime<Utc>,
    ) -> Option<Anomaly> {
        let event = self.event(actor, region, resource_type, quantity, at);
        self.score(&event).await
    }

    /// `count` single launches of `resource_type` by `actor`, 20 s apart from `from`: what they raised.
    async fn burst(
        &mut self,
        actor: &str,
        resource_type: &str,
        count: i64,
        from: DateTime<Utc>,
    ) -> Vec<Anomaly> {
        let mut raised = Vec::new();
        for i in 0..count {
            raised.extend(
                self.launch(
                    actor,
                    "us-east-1",
                    resource_type,
                    1,
                    from + Duration::seconds(20 * i),
                )
                .await,
            );
        }
        raised
    }

    /// Two weeks of CI: 1–3 × t3.medium or m5.large every two hours in office hours.
    async fn routine(&mut self, days: i64) -> Vec<Anomaly> {
        let mut raised = Vec::new();
        for day in 0..days {
            for slot in 0..5 {
                let at = start() + Duration::days(day) + Duration::hours(slot * 2);
                let (t, q) = if slot % 2 == 0 {
                    ("t3.medium", 1 + (day + slot) as u32 % 3)
                } else {
                    ("m5.large", 2)
                };
                raised.extend(self.launch(CI, "us-east-1", t, q, at).await);
            }
        }
        raised
    }
}

fn signals(anomaly: &Anomaly) -> Vec<Signal> {
    anomaly.reasons.iter().map(|r| r.signal).collect()
}

#[tokio::test]
async fn routine_ci_launches_never_alert() {
    let mut world = World::new();
    let raised = world.routine(14).await;
    assert!(raised.is_empty(), "routine activity raised {raised:#?}");
    let baseline = world
        .store
        .baseline(&BaselineKey::new("default", ACCOUNT, "ec2.instance"))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(baseline.stats.n, 70);
}

#[tokio::test]
async fn an_expensive_novelty_is_critical_on_its_first_event() {
    let mut world = World::new();
    world.routine(14).await;
    let at = start() + Duration::days(14) + Duration::hours(3);
    let anomaly = world
        .launch(INTERN, "ap-southeast-2", "p4d.24xlarge", 4, at)
        .await
        .expect("an anomaly");
    assert_eq!(anomaly.severity, Severity::Critical);
    let found = signals(&anomaly);
    for s in [
        Signal::NewActor,
        Signal::NewRegion,
        Signal::NewInstanceFamily,
        Signal::NewResourceType,
        Signal::Zscore,
        Signal::MonthlyUsd,
    ] {
        assert!(found.contains(&s), "{s:?} missing from {found:?}");
    }
    assert!(anomaly.score > 50.0, "score {}", anomaly.score);
    let e = &anomaly.explanation;
    assert!(e.starts_with("user/intern launched 4 × p4d.24xlarge in ap-southeast-2 (account 111122223333): $109.79/h"), "{e}");
    assert!(
        e.contains("/month") && e.contains("has never created a priced resource"),
        "{e}"
    );
}

#[tokio::test]
async fn a_cheap_novelty_is_never_critical() {
    let mut world = World::new();
    world.routine(14).await;
    let at = start() + Duration::days(14);
    assert_eq!(
        world.launch(INTERN, "eu-west-3", "t3.nano", 1, at).await,
        None,
        "below the dollar floor"
    );
    let small = world
        .launch(
            "arn:aws:iam::111122223333:user/other",
            "eu-north-1",
            "t3.large",
            1,
            at,
        )
        .await
        .expect("raised");
    assert!(small.severity < Severity::Critical);
}

#[tokio::test]
async fn a_known_actors_sudden_40_instance_launch_is_critical_though_nothing_is_new() {
    let mut world = World::new();
    world.routine(14).await;
    let at = start() + Duration::days(14) + Duration::hours(1);
    let anomaly = world
        .launch(CI, "us-east-1", "m5.large", 40, at)
        .await
        .expect("an anomaly");
    assert_eq!(anomaly.severity, Severity::Critical);
    let found = signals(&anomaly);
    assert!(!found.iter().any(|s| matches!(
        s,
        Signal::NewActor | Signal::NewRegion | Signal::NewInstanceFamily | Signal::NewResourceType
    )));
    assert!(found.contains(&Signal::Zscore), "{found:?}");
}

#[tokio::test]
async fn forty_launches_in_ten_minutes_are_one_burst_that_escalates_once() {
    let mut world = World::new();
    world.routine(14).await;
    let raised = world
        .burst(CI, "m5.xlarge", 40, start() + Duration::days(14))
        .await;
    let bursts: Vec<&Anomaly> = raised
        .iter()
        .filter(|a| signals(a).contains(&Signal::Burst))
        .collect();
    let severities: Vec<Severity> = bursts.iter().map(|a| a.severity).collect();
    assert_eq!(
        severities,
        vec![Severity::Warning, Severity::Critical],
        "one alert per severity level: {raised:#?}"
    );
    assert!(
        bursts[1].quantity >= 10 && bursts[1].explanation.contains("within minutes"),
        "{}",
        bursts[1].explanation
    );
    assert!(raised.len() <= 3, "no alert storm: {}", raised.len());
}

#[tokio::test]
async fn launches_after_a_burst_alert_join_its_anomaly_until_the_window_closes() {
    let mut world = World::new();
    world.routine(14).await;
    let from = start() + Duration::days(14);
    let raised = world.burst(CI, "m5.xlarge", 40, from).await;
    let last = raised.last().expect("the burst alerts");
    let inside = world.verdict(from + Duration::seconds(20 * 40)).await;
    assert_eq!(inside.anomaly, None, "no new alert inside the window");
    assert_eq!(inside.joined.as_deref(), Some(last.anomaly_id.as_str()));
    let after = world.verdict(from + Duration::days(1)).await;
    assert_eq!(after.joined, None, "a closed window is followed by nothing");
}

#[tokio::test]
async fn a_slow_ramp_alerts_at_most_once_per_step() {
    let mut world = World::new();
    let mut per_step = Vec::new();
    for (step, resource_type) in ["m5.large", "m5.xlarge", "m5.2xlarge", "m5.4xlarge"]
        .iter()
        .enumerate()
    {
        let mut raised = 0;
        for i in 0..30 {
            let at = start() + Duration::hours((step * 30 + i) as i64 * 4);
            raised += usize::from(
                world
                    .launch(CI, "us-east-1", resource_type, 1, at)
                    .await
                    .is_some(),
            );
        }
        per_step.push(raised);
    }
    assert_eq!(per_step[0], 0, "the first level is the baseline");
    assert!(per_step[1..].iter().all(|n| *n <= 1), "{per_step:?}");
    assert!(
        per_step[1..].iter().sum::<usize>() >= 2,
        "the steps are noticed: {per_step:?}"
    );
}

#[tokio::test]
async fn mark_expected_silences_the_repeat() {
    let day = start() + Duration::days(14);
    let mut world = World::new();
    world.routine(14).await;
    let first = world.burst(CI, "c5.2xlarge", 12, day).await;
    let burst = first
        .iter()
        .rev()
        .find(|a| signals(a).contains(&Signal::Burst))
        .expect("the burst alerts")
        .clone();

    // Without feedback, the same burst the next day alerts again…
    let mut control = World::new();
    control.routine(14).await;
    control.burst(CI, "c5.2xlarge", 12, day).await;
    assert!(
        !control
            .burst(CI, "c5.2xlarge", 12, day + Duration::days(1))
            .await
            .is_empty(),
        "the control repeat alerts"
    );

    // …and once marked expected, it does not.
    let status = feedback::apply(
        world.store.as_ref(),
        world.store.as_ref(),
        "default",
        &burst.anomaly_id,
        FeedbackAction::MarkExpected,
        "ana@example.com",
        day + Duration::hours(1),
    )
    .await
    .expect("feedback");
    assert_eq!(status, AnomalyStatus::Expected);
    let after = world
        .burst(CI, "c5.2xlarge", 12, day + Duration::days(1))
        .await;
    assert!(
        after.is_empty(),
        "marked expected: the repeat is silent: {after:#?}"
    );
    let recorded = world
        .store
        .feedback("default", &burst.anomaly_id)
        .await
        .expect("feedback");
    assert_eq!(
        (recorded.len(), recorded[0].by.as_str()),
        (1, "ana@example.com")
    );
}

impl World {
    /// Two weeks of routine, then the intern's first launch snoozed for 24 hours from `day`.
    async fn with_intern_snoozed_for_a_day() -> (World, DateTime<Utc>) {
        let mut world = World::new();
        world.routine(14).await;
        let day = start() + Duration::days(14);
        let first = world
            .launch(INTERN, "us-east-1", "g5.xlarge", 2, day)
            .await
            .expect("raised");
        let snooze = FeedbackAction::Snooze {
            scope: SnoozeScope::Actor(INTERN.into()),
            until: day + Duration::hours(24),
        };
        feedback::apply(
            world.store.as_ref(),
            world.store.as_ref(),
            "default",
            &first.anomaly_id,
            snooze,
            "ana@example.com",
            day,
        )
        .await
        .expect("snooze");
        (world, day)
    }
}

#[tokio::test]
async fn snoozes_hold_notifications_and_expire() {
    let (mut world, day) = World::with_intern_snoozed_for_a_day().await;

    let during = world
        .launch(
            INTERN,
            "us-east-1",
            "p3.2xlarge",
            1,
            day + Duration::hours(2),
        )
        .await
        .expect("raised");
    assert_eq!(during.status, AnomalyStatus::Snoozed);
    let pending = world.store.pending(100).await.expect("outbox");
    assert!(
        !pending
            .iter()
            .any(|m| m.anomaly.anomaly_id == during.anomaly_id),
        "a snoozed anomaly is not notified"
    );
    let stored = world
        .store
        .anomaly("default", &during.anomaly_id)
        .await
        .expect("read");
    assert_eq!(
        stored.map(|a| a.status),
        Some(AnomalyStatus::Snoozed),
        "but it is kept"
    );

    let after = world
        .launch(
            INTERN,
            "us-east-1",
            "p3.8xlarge",
            1,
            day + Duration::hours(25),
        )
        .await
        .expect("raised");
    assert_eq!(after.status, AnomalyStatus::Open, "the snooze expired");
    assert!(world
        .store
        .pending(100)
        .await
        .expect("outbox")
        .iter()
        .any(|m| m.anomaly.anomaly_id == after.anomaly_id));
}

#[tokio::test]
async fn a_batch_that_spans_a_snoozes_end_silences_only_what_came_before_it() {
    let (mut world, day) = World::with_intern_snoozed_for_a_day().await;

    let during = world.event(
        INTERN,
        "us-east-1",
        "p3.2xlarge",
        1,
        day + Duration::hours(2),
    );
    let after = world.event(
        INTERN,
        "eu-west-1",
        "p3.8xlarge",
        1,
        day + Duration::hours(25),
    );
    let items: Vec<(&CostEvent, Option<&dd0c_ports::store::Consumed>)> =
        vec![(&during, None), (&after, None)];
    let verdicts = world
        .scorer
        .score_batch(&items)
        .await
        .expect("scores")
        .expect("a fresh batch commits");
    let statuses: Vec<Option<AnomalyStatus>> = verdicts
        .iter()
        .map(|v| v.anomaly.as_ref().map(|a| a.status))
        .collect();
    assert_eq!(
        statuses,
        [Some(AnomalyStatus::Snoozed), Some(AnomalyStatus::Open)]
    );
}

#[tokio::test]
async fn scoring_twice_changes_nothing() {
    let mut world = World::new();
    world.routine(14).await;
    let event = world.event(
        INTERN,
        "eu-west-1",
        "p3.2xlarge",
        2,
        start() + Duration::days(14),
    );
    let first = world.score(&event).await.expect("raised");
    let key = BaselineKey::new("default", ACCOUNT, "ec2.instance");
    let before = world.store.baseline(&key).await.expect("read");
    assert_eq!(
        world.scorer.score(&event).await.expect("scores"),
        Scored::Duplicate
    );
    assert_eq!(world.store.baseline(&key).await.expect("read"), before);
    let all = world
        .store
        .anomalies("default", &AnomalyFilter::default(), None, 100)
        .await
        .expect("list");
    assert_eq!(all.items, vec![first]);
}

#[tokio::test]
async fn an_end_raises_nothing_teaches_no_baseline_and_settles_once() {
    let mut world = World::new();
    world.routine(14).await;
    let key = BaselineKey::new("default", ACCOUNT, "ec2.instance");
    let before = world.store.baseline(&key).await.expect("read");
    // The intern's four p4d.24xlarge terminated: as dear an event as any, but it ends a rate.
    let mut end = world.event(
        INTERN,
        "us-east-1",
        "p4d.24xlarge",
        4,
        start() + Duration::days(14),
    );
    end.event_name = "TerminateInstances".into();
    end.change = Change::End;
    assert_eq!(world.score(&end).await, None);
    assert_eq!(world.store.baseline(&key).await.expect("read"), before);
    assert_eq!(
        world.scorer.score(&end).await.expect("scores"),
        Scored::Duplicate
    );
    // The same launch, scored as one, is critical: only the change kept it quiet.
    let mut launch = end.clone();
    launch.event_id = "ev-launch".into();
    launch.change = Change::Create;
    let raised = world.score(&launch).await.expect("raised");
    assert_eq!(raised.severity, Severity::Critical);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_scorers_lose_no_update() {
    let mut world = World::new();
    let events: Vec<CostEvent> = (0..400)
        .map(|i| {
            world.event(
                CI,
                "us-east-1",
                "t3.medium",
                1,
                start() + Duration::minutes(i),
            )
        })
        .collect();
    let mut tasks = Vec::new();
    for chunk in events.chunks(100) {
        let (scorer, chunk) = (world.scorer.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            for event in &chunk {
                scorer.score(event).await.expect("scores");
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let kind = world
        .store
        .baseline(&BaselineKey::new("default", ACCOUNT, "ec2.instance"))
        .await
        .expect("read")
        .expect("stored");
    let account = world
        .store
        .baseline(&BaselineKey::account("default", ACCOUNT))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!((kind.stats.n, account.stats.n), (400, 400));
}

#[tokio::test]
async fn combine_or_alerts_on_dollars_alone_and_thresholds_apply_per_account() {
    let mut world = World::new();
    world.routine(14).await;
    let day = start() + Duration::days(14);
    // A routine-looking but expensive launch: with the default AND it is quiet…
    let mut settings = Settings::default();
    settings.thresholds.warning_monthly_usd = 100.0;
    world
        .store
        .put_settings("default", &settings)
        .await
        .expect("settings");
    assert_eq!(
        world.launch(CI, "us-east-1", "m5.large", 2, day).await,
        None
    );
    // …with OR it alerts on its dollars.
    let mut or = settings.clone();
    or.account_thresholds.insert(
        ACCOUNT.into(),
        dd0c_ports::domain::Thresholds {
            combine: Combine::Or,
            ..settings.thresholds.clone()
        },
    );
    world
        .store
        .put_settings("default", &or)
        .await
        .expect("settings");
    // A scorer reads settings at most every SETTINGS_TTL; a new one sees the change at once.
    world.scorer = Scorer::new(
        world.store.clone(),
        world.store.clone(),
        world.store.clone(),
    );
    let anomaly = world
        .launch(CI, "us-east-1", "m5.large", 2, day + Duration::hours(1))
        .await
        .expect("raised");
    assert_eq!(signals(&anomaly), vec![Signal::MonthlyUsd]);
}

#[tokio::test]
async fn a_cold_account_is_judged_on_dollars_from_its_first_event() {
    let mut world = World::new();
    assert_eq!(
        world.launch(CI, "us-east-1", "t3.medium", 1, start()).await,
        None,
        "cheap and new: quiet"
    );
    let big = world
        .launch(
            CI,
            "us-east-1",
            "p5.48xlarge",
            1,
            start() + Duration::minutes(5),
        )
        .await
        .expect("raised");
    assert_eq!(big.severity, Severity::Critical);
    assert_eq!(signals(&big), vec![Signal::ColdStart, Signal::MonthlyUsd]);
}

/// The priced events of a seeded two-week story, in event-time order.
fn story_events() -> Vec<CostEvent> {
    let story = dd0c_tests::story(11, start().date_naive(), 14);
    let mut normalizer = dd0c_ingest::Normalizer::new(PriceCatalog::bundled(), "default");
    let mut events = Vec::new();
    for record in &story.records {
        if let dd0c_ingest::Item::Cost(priced) =
            normalizer.normalize_record(&record.to_string(), "story", 0)
        {
            events.extend(priced);
        }
    }
    events.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
    events
}

#[tokio::test]
async fn batches_score_exactly_as_one_at_a_time() {
    let events = story_events();
    assert!(events.len() > 100, "a story worth scoring");
    let single = World::new();
    let mut one_by_one = Vec::new();
    for event in &events {
        one_by_one.push(single.score(event).await);
    }
    let batched = World::new();
    let mut in_batches = Vec::new();
    for chunk in events.chunks(7) {
        let items: Vec<(&CostEvent, Option<&dd0c_ports::store::Consumed>)> =
            chunk.iter().map(|e| (e, None)).collect();
        let raised = batched
            .scorer
            .score_batch(&items)
            .await
            .expect("scores")
            .expect("a fresh batch commits");
        in_batches.extend(raised.into_iter().map(|v| v.anomaly));
    }
    assert_eq!(in_batches, one_by_one);
    assert!(
        one_by_one.iter().flatten().count() > 0,
        "the story raises anomalies"
    );
    // Versions count commits, not events; everything else is bit-identical.
    let unversioned = |mut baselines: Vec<dd0c_ports::baseline::Baseline>| {
        baselines.iter_mut().for_each(|b| b.version = 0);
        baselines
    };
    assert_eq!(
        unversioned(
            batched
                .store
                .baselines("default", None)
                .await
                .expect("read")
        ),
        unversioned(single.store.baselines("default", None).await.expect("read")),
    );

    // A batch that repeats a scored event commits nothing; one at a time settles it.
    let again = &events[..3];
    let items: Vec<(&CostEvent, Option<&dd0c_ports::store::Consumed>)> =
        again.iter().map(|e| (e, None)).collect();
    let before = batched
        .store
        .baselines("default", None)
        .await
        .expect("read");
    assert_eq!(
        batched.scorer.score_batch(&items).await.expect("scores"),
        None
    );
    assert_eq!(
        batched
            .store
            .baselines("default", None)
            .await
            .expect("read"),
        before
    );
}
