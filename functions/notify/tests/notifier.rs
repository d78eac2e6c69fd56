//! The notifier over the memory adapters: routing, rendering, grouping, panic mode and breakers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use dd0c_adapters_memory::{MemoryFlags, MemoryMail, MemoryStore, MemoryWebhook};
use dd0c_notify::{breaker, Channel, Notifier, Round};
use dd0c_ports::clock::Clock;
use dd0c_ports::conformance::{anomaly_for, cost_event, unique};
use dd0c_ports::domain::Resolution;
use dd0c_ports::domain::{actor_name, Anomaly, OutboxMessage, Reason, Settings, Severity, Signal};
use dd0c_ports::flags::Flags;
use dd0c_ports::store::{
    CommitOutcome, OutboxStore, ScoreCommit, ScoreStore, SettingsStore, Stores,
};
use dd0c_ports::webhook::SigningSecret;

const SLACK: &str = "https://hooks.slack.test/services/T1/B1/x";
const HOOK: &str = "https://automation.example.test/dd0c";
const TEAMS: &str = "https://prod.westeurope.logic.azure.test/workflows/1/triggers/manual";
const PAGERDUTY: &str = "https://events.pagerduty.test/v2/enqueue";
const ROUTING_KEY: &str = "R0123456789abcdefghijklmnopqrstu";
const DASHBOARD: &str = "https://cost.example.test";
const LEASE: Duration = Duration::from_millis(150);

#[derive(Debug)]
struct TestClock(Mutex<DateTime<Utc>>);

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock")
    }
}

impl TestClock {
    fn advance(&self, by: TimeDelta) {
        *self.0.lock().expect("clock") += by;
    }
}

struct World {
    store: Arc<MemoryStore>,
    flags: Arc<MemoryFlags>,
    webhook: Arc<MemoryWebhook>,
    mail: Arc<MemoryMail>,
    clock: Arc<TestClock>,
    notifier: Notifier,
    tenant: String,
}

/// Alerts `round` sent on `channel`.
fn sent(round: &Round, channel: Channel) -> usize {
    round.sent.get(&channel).copied().unwrap_or(0)
}

impl World {
    async fn new() -> World {
        let store = Arc::new(MemoryStore::new());
        let flags = Arc::new(MemoryFlags::new());
        let webhook = Arc::new(MemoryWebhook::new());
        let mail = Arc::new(MemoryMail::new());
        let clock = Arc::new(TestClock(Mutex::new(Utc::now())));
        let tenant = unique("t");
        let settings = Settings {
            slack_webhook_url: Some(SLACK.into()),
            email_to: vec!["oncall@example.com".into(), "finops@example.com".into()],
            ..Settings::default()
        };
        store
            .put_settings(&tenant, &settings)
            .await
            .expect("settings");
        let notifier = Notifier {
            outbox: store.clone(),
            settings: store.clone(),
            flags: flags.clone(),
            channels: dd0c_notify::channels::standard(dd0c_notify::channels::Parts {
                webhook: webhook.clone(),
                mail: Some(mail.clone()),
                secrets: store.clone(),
                clock: clock.clone(),
                endpoints: dd0c_notify::channels::Endpoints {
                    pagerduty_events_url: PAGERDUTY.into(),
                    dashboard_url: Some(DASHBOARD.into()),
                },
            }),
            clock: clock.clone(),
            lease: LEASE,
        };
        World {
            store,
            flags,
            webhook,
            mail,
            clock,
            notifier,
            tenant,
        }
    }

    /// Commits an anomaly with its outbox message, as the scorer does.
    async fn raise(
        &self,
        id: &str,
        minute: i64,
        actor: &str,
        severity: Severity,
        hourly: f64,
    ) -> Anomaly {
        let mut event = cost_event(&self.tenant, "111122223333", id, minute, hourly);
        event.actor_arn = actor.into();
        event.resource_type = "p4d.24xlarge".into();
        event.quantity = 4;
        let mut anomaly = anomaly_for(&event);
        anomaly.severity = severity;
        anomaly.explanation = format!("{actor} launched 4 × p4d.24xlarge");
        anomaly.reasons = vec![Reason {
            signal: Signal::NewActor,
            observed: 1.0,
            threshold: None,
            baseline: None,
            detail: "first launch by this actor in 14 days".into(),
        }];
        let commit = ScoreCommit {
            event: event.clone(),
            baselines: Vec::new(),
            anomaly: Some(anomaly.clone()),
            outbox: Some(OutboxMessage {
                trace: None,
                outbox_id: anomaly.anomaly_id.clone(),
                tenant: self.tenant.clone(),
                anomaly: anomaly.clone(),
                created_at: event.event_time,
                resolution: None,
            }),
            consumed: None,
        };
        assert_eq!(
            self.store.commit(commit).await.expect("commit"),
            CommitOutcome::Committed
        );
        anomaly
    }

    /// Sends the tenant's digest for the day of `at`, the clock set to `at`; the channels it
    /// reached.
    async fn digest_at(&self, at: DateTime<Utc>) -> Vec<Channel> {
        *self.clock.0.lock().expect("clock") = at;
        let settings = self.store.settings(&self.tenant).await.expect("settings");
        self.notifier
            .send_digest(
                &Stores::of(self.store.clone()),
                &self.tenant,
                &settings,
                at.date_naive(),
            )
            .await
            .expect("digest")
    }

    /// Sets up the signed webhook (with a new secret, returned), Teams and PagerDuty beside
    /// Slack and e-mail.
    async fn with_every_channel(&self) -> SigningSecret {
        let secret = SigningSecret::generate();
        self.store
            .put_webhook_secret(&self.tenant, &secret)
            .await
            .expect("secret");
        self.change_settings(|settings| {
            settings.webhook_url = Some(HOOK.into());
            settings.teams_webhook_url = Some(TEAMS.into());
            settings.pagerduty_routing_key = Some(ROUTING_KEY.into());
        })
        .await;
        secret
    }

    /// Changes the tenant's stored settings with `change`.
    async fn change_settings(&self, change: impl FnOnce(&mut Settings)) {
        let mut settings = self.store.settings(&self.tenant).await.expect("settings");
        change(&mut settings);
        assert_eq!(settings.validate(), Ok(()));
        self.store
            .put_settings(&self.tenant, &settings)
            .await
            .expect("settings");
    }

    async fn round(&self) -> Round {
        self.notifier.try_execute().await.expect("round")
    }

    /// Rounds until the outbox is empty (each after the lease), at most `rounds`.
    async fn drain(&self, rounds: usize) {
        for _ in 0..rounds {
            self.round().await;
            if self.store.pending(10).await.expect("pending").is_empty() {
                return;
            }
            tokio::time::sleep(LEASE + Duration::from_millis(20)).await;
        }
        panic!("the outbox did not drain");
    }

    fn emails(&self) -> usize {
        self.mail.sent().len()
    }
}

const CI: &str = "arn:aws:sts::111122223333:assumed-role/ci/build-7";
const INTERN: &str = "arn:aws:iam::111122223333:user/intern";

#[tokio::test]
async fn routes_by_severity_and_renders_block_kit_and_both_mail_parts() {
    let world = World::new().await;
    world
        .raise("crit", 0, INTERN, Severity::Critical, 131.09)
        .await;
    world.raise("warn", 0, CI, Severity::Warning, 2.0).await;
    world.raise("info", 30, CI, Severity::Info, 0.1).await;
    let round = world.round().await;
    assert_eq!(
        (
            round.claimed,
            sent(&round, Channel::Slack),
            sent(&round, Channel::Email),
            round.completed
        ),
        (3, 2, 1, 3)
    );

    let posts = world.webhook.posts_to(SLACK);
    let critical = posts
        .iter()
        .find(|p| p["text"].as_str().is_some_and(|t| t.contains("Critical")))
        .expect("the critical alert on Slack");
    let text = critical.to_string();
    for expected in [
        "user/intern",
        "111122223333",
        "us-east-1",
        "4 × p4d.24xlarge",
        "$131.09/h",
        "/month",
        "first launch by this actor",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    let buttons = critical["blocks"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["type"] == "actions"))
        .and_then(|a| a["elements"].as_array())
        .expect("an actions block");
    let actions: Vec<&str> = buttons
        .iter()
        .filter_map(|b| b["action_id"].as_str())
        .collect();
    assert_eq!(
        actions,
        ["acknowledge", "snooze_24h"],
        "what a member may do: marking expected needs an admin"
    );
    assert_eq!(buttons[0]["value"], format!("{}/an-crit", world.tenant));

    let sent = world.mail.sent();
    assert_eq!(sent.len(), 1, "only critical is e-mailed by default");
    assert_eq!(sent[0].to, ["oncall@example.com", "finops@example.com"]);
    assert!(sent[0]
        .subject
        .starts_with("[dd0c/cost] Critical: 4 × p4d.24xlarge in us-east-1"));
    assert!(sent[0]
        .text
        .contains("first launch by this actor in 14 days"));
    assert!(sent[0]
        .html
        .contains("<li>first launch by this actor in 14 days</li>"));
    assert!(
        world.store.pending(10).await.expect("pending").is_empty(),
        "info completes with no channel"
    );
}

#[tokio::test]
async fn one_actors_burst_is_one_alert() {
    let world = World::new().await;
    for (i, minute) in [0, 2, 4].into_iter().enumerate() {
        world
            .raise(&format!("b{i}"), minute, CI, Severity::Warning, 3.0)
            .await;
    }
    world.raise("later", 30, CI, Severity::Warning, 3.0).await;
    world
        .raise("other", 1, INTERN, Severity::Warning, 3.0)
        .await;
    let round = world.round().await;
    assert_eq!(
        sent(&round, Channel::Slack),
        3,
        "the burst, the later launch, the other actor"
    );
    let posts = world.webhook.posts_to(SLACK);
    let burst = posts
        .iter()
        .find(|p| {
            p["text"]
                .as_str()
                .is_some_and(|t| t.contains(&format!("3 launches by {}", actor_name(CI))))
        })
        .expect("one alert for the burst");
    assert!(burst
        .to_string()
        .contains(&format!("{}/an-b0,an-b1,an-b2", world.tenant)));
}

#[tokio::test]
async fn panic_mode_holds_everything_and_lifting_it_delivers_each_once() {
    let world = World::new().await;
    world
        .flags
        .set_panic_mode(&world.tenant, true)
        .await
        .expect("panic on");
    for i in 0..5 {
        world
            .raise(&format!("p{i}"), i * 20, CI, Severity::Critical, 50.0)
            .await;
    }
    for _ in 0..3 {
        let round = world.round().await;
        assert_eq!(
            (sent(&round, Channel::Slack), sent(&round, Channel::Email)),
            (0, 0)
        );
        tokio::time::sleep(LEASE + Duration::from_millis(20)).await;
    }
    assert!(
        world.webhook.posts_to(SLACK).is_empty() && world.emails() == 0,
        "nothing goes out in panic"
    );
    assert_eq!(
        world.store.pending(10).await.expect("pending").len(),
        5,
        "held, not dropped"
    );

    world
        .flags
        .set_panic_mode(&world.tenant, false)
        .await
        .expect("panic off");
    world.drain(5).await;
    world.drain(1).await;
    assert_eq!(
        world.webhook.posts_to(SLACK).len(),
        5,
        "each alert once on Slack"
    );
    assert_eq!(world.emails(), 5, "each alert once by e-mail");
}

#[tokio::test]
async fn a_slack_outage_opens_the_breaker_without_delaying_mail() {
    let world = World::new().await;
    world.webhook.set_failing(SLACK, true);
    world.raise("s0", 0, CI, Severity::Critical, 50.0).await;
    let first = world.round().await;
    assert_eq!(
        (first.failed, sent(&first, Channel::Email)),
        (1, 1),
        "mail goes out in the same round"
    );

    for i in 1..=4 {
        world
            .raise(&format!("s{i}"), i * 20, CI, Severity::Critical, 50.0)
            .await;
        tokio::time::sleep(LEASE + Duration::from_millis(20)).await;
        world.round().await;
    }
    assert_eq!(
        world.emails(),
        5,
        "every alert mailed at once despite Slack"
    );
    let key = Channel::Slack.breaker_key(&world.tenant);
    let state = world
        .flags
        .breaker(&key)
        .await
        .expect("breaker")
        .expect("stored");
    assert!(
        !breaker::allows(Some(&state), world.clock.now()),
        "open after the 500 storm"
    );
    let round = world.round().await;
    assert_eq!(
        (round.failed, round.skipped_open),
        (0, 0),
        "nothing claimable before the lease lapses"
    );
    tokio::time::sleep(LEASE + Duration::from_millis(20)).await;
    let round = world.round().await;
    assert!(
        round.skipped_open > 0 && round.failed == 0,
        "an open breaker is not tried: {round:?}"
    );

    world.webhook.set_failing(SLACK, false);
    world.clock.advance(breaker::MAX_BACKOFF);
    world.drain(5).await;
    let mut delivered: Vec<String> = world
        .webhook
        .posts_to(SLACK)
        .iter()
        .map(|p| {
            p["blocks"][5]["elements"][0]["value"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    delivered.sort();
    delivered.dedup();
    assert_eq!(
        delivered.len(),
        5,
        "each held alert once on Slack: {delivered:?}"
    );
    assert_eq!(world.emails(), 5, "no e-mail twice");
    assert_eq!(
        world.flags.breaker(&key).await.expect("breaker"),
        Some(breaker::after_success())
    );
}

#[tokio::test]
async fn the_digest_is_due_at_the_tenants_hour_and_sums_the_day() {
    use chrono::TimeZone;
    let berlin = Settings {
        digest_hour: 9,
        digest_time_zone: "Europe/Berlin".into(),
        ..Settings::default()
    };
    let at = |h: u32| {
        Utc.with_ymd_and_hms(2026, 3, 2, h, 30, 0)
            .single()
            .expect("time")
    };
    assert_eq!(
        dd0c_notify::digest::due(&berlin, at(7)),
        None,
        "08:30 in Berlin"
    );
    assert_eq!(
        dd0c_notify::digest::due(&berlin, at(8)).map(|d| d.to_string()),
        Some("2026-03-02".into()),
        "09:30 in Berlin"
    );
    assert!(dd0c_notify::digest::time_zone("Mars/Olympus").is_err());

    let world = World::new().await;
    // Anomalies of the last day (the fixtures' epoch is in 2026-03), and one that routes nowhere.
    let crit = world
        .raise("d1", 0, INTERN, Severity::Critical, 131.09)
        .await;
    world.raise("d2", 30, CI, Severity::Warning, 2.0).await;
    let reached = world.digest_at(crit.event_time + TimeDelta::hours(2)).await;
    assert_eq!(reached, [Channel::Slack, Channel::Email]);
    let digest_mail = world.mail.sent().pop().expect("mailed");
    assert!(
        digest_mail.subject.contains("Daily digest") && digest_mail.subject.contains("2 anomalies"),
        "{}",
        digest_mail.subject
    );
    assert!(
        digest_mail.text.contains("1 critical, 1 warning, 0 info"),
        "{}",
        digest_mail.text
    );
    assert!(
        digest_mail.text.contains(&actor_name(INTERN)),
        "top actor named"
    );
    assert!(digest_mail.html.contains("New actors:"));
    let post = world.webhook.posts_to(SLACK).pop().expect("posted");
    assert!(post["text"]
        .as_str()
        .is_some_and(|t| t.contains("2 anomalies")));

    // A day later nothing is left in the window: nothing is sent.
    assert!(world
        .digest_at(crit.event_time + TimeDelta::days(3))
        .await
        .is_empty());
}

#[tokio::test]
async fn the_digest_shows_the_top_zombies_their_waste_and_what_was_saved() {
    use dd0c_ports::conformance::finding;
    use dd0c_ports::zombie::{FindingStatus, ZombieKind, ZombieStore};
    let world = World::new().await;
    let now = world.clock.now();
    let account = "123456789012";
    let mut nat = finding(
        &world.tenant,
        account,
        ZombieKind::NatIdle,
        "nat-0abc",
        32.85,
    );
    nat.explanation = "NAT gateway nat-0abc moved no packet for 32 days.".into();
    let volume = finding(
        &world.tenant,
        account,
        ZombieKind::EbsUnattached,
        "vol-0abc",
        8.0,
    );
    let mut ignored = finding(
        &world.tenant,
        account,
        ZombieKind::RdsIdle,
        "reports",
        54.17,
    );
    ignored.status = FindingStatus::Ignored;
    let mut removed = finding(&world.tenant, account, ZombieKind::Ec2Idle, "i-0abc", 61.54);
    removed.status = FindingStatus::Gone;
    removed.gone_at = Some(now - TimeDelta::hours(3));
    let mut long_gone = finding(&world.tenant, account, ZombieKind::Ec2Idle, "i-0old", 99.0);
    long_gone.status = FindingStatus::Gone;
    long_gone.gone_at = Some(now - TimeDelta::days(3));
    world
        .store
        .put_findings(&[nat.clone(), volume, ignored, removed, long_gone])
        .await
        .expect("findings");
    let reached = world.digest_at(now).await;
    assert_eq!(
        reached,
        [Channel::Slack, Channel::Email],
        "zombies alone make a digest"
    );
    let mail = world.mail.sent().pop().expect("mailed");
    assert!(
        mail.subject.contains("2 zombies wasting $40.85/month"),
        "open idle findings only: {}",
        mail.subject
    );
    assert!(
        mail.text
            .contains("Removed since the last digest: $61.54/month saved"),
        "savings of the last 24 hours only: {}",
        mail.text
    );
    assert!(mail.text.contains(&nat.explanation), "{}", mail.text);
    let post = world.webhook.posts_to(SLACK).pop().expect("posted");
    assert!(post.to_string().contains("*$40.85/month* wasted"), "{post}");
}

/// Records `anomaly`'s resource in the ledger, created at its raise and terminated `ran` later,
/// and resolves the anomaly as its resources' end does.
async fn ran_and_ended(world: &World, anomaly: &Anomaly, ran: TimeDelta) {
    use dd0c_ports::domain::{AnomalyStatus, Change, Feedback, FeedbackAction};
    use dd0c_ports::ledger::{Link, Mark, ResourceChange, ResourceKey, ResourceLedger};
    use dd0c_ports::store::AnomalyStore;
    let key = ResourceKey::new(&anomaly.account_id, &anomaly.region, &anomaly.anomaly_id);
    let mark = |at, call: &str| Mark {
        at,
        actor_arn: anomaly.actor_arn.clone(),
        event_id: format!("{}-{call}", anomaly.anomaly_id),
        call: call.into(),
    };
    let create = ResourceChange {
        key: key.clone(),
        change: Change::Create,
        resource_kind: anomaly.resource_kind.clone(),
        resource_type: anomaly.resource_type.clone(),
        quantity: anomaly.quantity,
        unit_hourly_usd: anomaly.hourly_usd / f64::from(anomaly.quantity),
        priced: true,
        mark: mark(anomaly.event_time, "RunInstances"),
    };
    let end = ResourceChange {
        change: Change::End,
        priced: false,
        mark: mark(anomaly.event_time + ran, "TerminateInstances"),
        ..create.clone()
    };
    let ledger: &dyn ResourceLedger = world.store.as_ref();
    ledger
        .record(&world.tenant, &[create, end])
        .await
        .expect("recorded");
    ledger
        .link(
            &world.tenant,
            &[Link {
                anomaly_id: anomaly.anomaly_id.clone(),
                keys: vec![key],
            }],
        )
        .await
        .expect("linked");
    let resolve = Feedback {
        anomaly_id: anomaly.anomaly_id.clone(),
        action: FeedbackAction::Resolve,
        by: "dd0c".into(),
        at: anomaly.event_time + ran,
        note: None,
    };
    world
        .store
        .record_feedback(&world.tenant, &resolve, AnomalyStatus::Resolved)
        .await
        .expect("resolved");
}

#[tokio::test]
async fn the_digest_sums_what_closed_since_the_last_one() {
    let world = World::new().await;
    // Three launches of $10/h: two end within the digest's day (after 1 h and 3 h), one ended
    // the day before; a fourth still runs.
    let mut ended = Vec::new();
    for (id, minute) in [("c1", 0), ("c2", 60), ("c3", -2000), ("c4", 120)] {
        ended.push(
            world
                .raise(id, minute, INTERN, Severity::Warning, 10.0)
                .await,
        );
    }
    for (anomaly, hours) in ended.iter().zip([1, 3, 2]) {
        ran_and_ended(&world, anomaly, TimeDelta::hours(hours)).await;
    }
    world
        .digest_at(ended[0].event_time + TimeDelta::hours(10))
        .await;
    let month_end = |a: &Anomaly| {
        10.0 * (dd0c_ports::ledger::month_end(a.event_time) - a.event_time).num_seconds() as f64
            / 3600.0
    };
    let avoided = month_end(&ended[0]) - 10.0 + month_end(&ended[1]) - 30.0;
    let want = format!(
        "Closed: 2 anomalies ended (median 2 h 0 min from alert to end), costing $40.00; {} avoided",
        dd0c_ports::domain::format_usd(avoided)
    );
    let mail = world.mail.sent().pop().expect("mailed");
    assert!(mail.text.contains(&want), "{want}\n{}", mail.text);
    assert!(mail.html.contains("<h3>Closed</h3>"), "{}", mail.html);
    let post = world.webhook.posts_to(SLACK).pop().expect("posted");
    assert!(
        post.to_string().contains("*Closed:* 2 anomalies ended"),
        "{post}"
    );
}

#[tokio::test]
async fn a_critical_alert_reaches_the_webhook_teams_and_pagerduty_once_each() {
    let world = World::new().await;
    let secret = world.with_every_channel().await;
    let anomaly = world
        .raise("crit", 0, INTERN, Severity::Critical, 131.09)
        .await;
    world.drain(3).await;
    world.drain(1).await;

    let hooks = world.webhook.requests_to(HOOK);
    assert_eq!(hooks.len(), 1, "one event on the webhook");
    let header = |name: &str| {
        hooks[0]
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        header("webhook-id"),
        format!("msg_{}_anomaly_detected", anomaly.anomaly_id)
    );
    let timestamp: i64 = header("webhook-timestamp").parse().expect("seconds");
    assert_eq!(
        header("webhook-signature"),
        secret.sign(&header("webhook-id"), timestamp, &hooks[0].bytes),
        "signed over the bytes sent"
    );
    let event = &hooks[0].body;
    assert_eq!(event["type"], "anomaly.detected");
    assert_eq!(
        event["data"]["anomaly"]["anomaly_id"],
        anomaly.anomaly_id.as_str()
    );
    assert_eq!(
        event["data"]["url"],
        format!("{DASHBOARD}/anomalies/{}", anomaly.anomaly_id)
    );
    assert!(event["data"]["forecast_month_end_usd"]
        .as_f64()
        .is_some_and(|f| f > 0.0));

    let cards = world.webhook.posts_to(TEAMS);
    assert_eq!(cards.len(), 1, "one card on Teams");
    let card = &cards[0]["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let text = card.to_string();
    for fact in [
        "Left running to month end",
        "111122223333",
        "us-east-1",
        "$962,724.92",
        "Open in dd0c/cost",
    ] {
        assert!(text.contains(fact), "{fact} in {text}");
    }

    let pages = world.webhook.posts_to(PAGERDUTY);
    assert_eq!(pages.len(), 1, "one PagerDuty event");
    assert_eq!(pages[0]["event_action"], "trigger");
    assert_eq!(pages[0]["routing_key"], ROUTING_KEY);
    assert_eq!(pages[0]["dedup_key"], anomaly.anomaly_id.as_str());
    assert_eq!(pages[0]["payload"]["severity"], "critical");
    assert_eq!(world.webhook.posts_to(SLACK).len(), 1);
}

#[tokio::test]
async fn a_follow_up_resolves_the_incident_its_alert_opened() {
    let world = World::new().await;
    world.with_every_channel().await;
    let anomaly = world
        .raise("gone", 0, INTERN, Severity::Critical, 131.09)
        .await;
    world.drain(3).await;
    let resolution = Resolution {
        note: "terminated by alice after 2 h 10 min; cost $355.02".into(),
        actual_cost_usd: 355.02,
        avoided_usd: 119_264.0,
        by_person: None,
    };
    world
        .store
        .enqueue(&OutboxMessage::follow_up(
            anomaly.clone(),
            resolution,
            world.clock.now(),
        ))
        .await
        .expect("follow-up");
    world.drain(3).await;

    let pages = world.webhook.posts_to(PAGERDUTY);
    let actions: Vec<(&str, &str)> = pages
        .iter()
        .map(|p| {
            (
                p["event_action"].as_str().unwrap_or_default(),
                p["dedup_key"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    let id = anomaly.anomaly_id.as_str();
    assert_eq!(actions, [("trigger", id), ("resolve", id)]);
    let events: Vec<String> = world
        .webhook
        .posts_to(HOOK)
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(events, ["anomaly.detected", "anomaly.resolved"]);
    let resolved = &world.webhook.posts_to(HOOK)[1];
    assert_eq!(resolved["data"]["resolution"]["actual_cost_usd"], 355.02);
    let cards = world.webhook.posts_to(TEAMS);
    assert_eq!(cards.len(), 2);
    assert!(cards[1].to_string().contains("Resolved"));
}

#[tokio::test]
async fn panic_mode_holds_the_new_channels_and_lifting_it_sends_each_once() {
    let world = World::new().await;
    world.with_every_channel().await;
    world
        .flags
        .set_panic_mode(&world.tenant, true)
        .await
        .expect("panic on");
    for i in 0..3 {
        world
            .raise(&format!("p{i}"), i * 20, CI, Severity::Critical, 50.0)
            .await;
    }
    for _ in 0..2 {
        world.round().await;
        tokio::time::sleep(LEASE + Duration::from_millis(20)).await;
    }
    for url in [HOOK, TEAMS, PAGERDUTY] {
        assert!(
            world.webhook.posts_to(url).is_empty(),
            "nothing to {url} in panic"
        );
    }
    world
        .flags
        .set_panic_mode(&world.tenant, false)
        .await
        .expect("panic off");
    world.drain(5).await;
    world.drain(1).await;
    for url in [HOOK, TEAMS, PAGERDUTY] {
        assert_eq!(
            world.webhook.posts_to(url).len(),
            3,
            "each alert once to {url}"
        );
    }
}

#[tokio::test]
async fn a_teams_outage_retries_teams_alone() {
    let world = World::new().await;
    world.with_every_channel().await;
    world.webhook.set_failing(TEAMS, true);
    world.raise("t0", 0, CI, Severity::Critical, 50.0).await;
    let first = world.round().await;
    assert_eq!(first.failed, 1);
    world.webhook.set_failing(TEAMS, false);
    world.clock.advance(breaker::MAX_BACKOFF);
    world.drain(3).await;
    for url in [SLACK, HOOK, TEAMS, PAGERDUTY] {
        assert_eq!(world.webhook.posts_to(url).len(), 1, "once to {url}");
    }
}

#[tokio::test]
async fn a_webhook_without_its_secret_is_not_sent_unsigned() {
    let world = World::new().await;
    world
        .change_settings(|s| s.webhook_url = Some(HOOK.into()))
        .await;
    world.raise("u0", 0, CI, Severity::Critical, 50.0).await;
    let round = world.round().await;
    assert_eq!((round.failed, round.completed), (1, 0));
    assert!(world.webhook.posts_to(HOOK).is_empty());
    assert_eq!(world.webhook.posts_to(SLACK).len(), 1, "the others go");
    assert_eq!(
        world.store.pending(10).await.expect("pending").len(),
        1,
        "kept"
    );
}

#[tokio::test]
async fn severities_below_a_channels_minimum_stay_off_it() {
    let world = World::new().await;
    world.with_every_channel().await;
    world.raise("w0", 0, CI, Severity::Warning, 3.0).await;
    world.drain(3).await;
    assert_eq!(
        world.webhook.posts_to(HOOK).len(),
        1,
        "webhook from warning"
    );
    assert_eq!(world.webhook.posts_to(TEAMS).len(), 1, "Teams from warning");
    assert!(
        world.webhook.posts_to(PAGERDUTY).is_empty(),
        "PagerDuty pages on critical by default"
    );
}

#[tokio::test]
async fn a_rule_sending_an_account_nowhere_leaves_it_to_the_digest() {
    use dd0c_ports::domain::RoutingRule;
    let world = World::new().await;
    world.with_every_channel().await;
    world
        .change_settings(|s| {
            s.routing = vec![RoutingRule {
                name: "sandbox: digest only".into(),
                min_severity: None,
                accounts: vec!["111122223333".into()],
                regions: Vec::new(),
                resource_kinds: Vec::new(),
                min_monthly_usd: None,
                channels: Vec::new(),
            }];
        })
        .await;
    let crit = world
        .raise("sb", 0, INTERN, Severity::Critical, 131.09)
        .await;
    let round = world.round().await;
    assert_eq!((round.claimed, round.completed, round.failed), (1, 1, 0));
    for url in [SLACK, HOOK, TEAMS, PAGERDUTY] {
        assert!(world.webhook.posts_to(url).is_empty(), "nothing to {url}");
    }
    assert_eq!(world.emails(), 0);

    let reached = world.digest_at(crit.event_time + TimeDelta::hours(2)).await;
    assert_eq!(
        reached,
        [Channel::Slack, Channel::Email, Channel::Teams],
        "the digest goes where digests go: not to PagerDuty or the webhook"
    );
    let digest = world.mail.sent().pop().expect("mailed");
    assert!(digest.subject.contains("1 anomalies"), "{}", digest.subject);
}

#[tokio::test]
async fn a_rule_pages_critical_launches_in_production_and_sends_the_rest_by_default() {
    use dd0c_ports::domain::RoutingRule;
    let world = World::new().await;
    world.with_every_channel().await;
    world
        .change_settings(|s| {
            s.routing = vec![RoutingRule {
                name: "prod critical".into(),
                min_severity: Some(Severity::Critical),
                accounts: vec!["111122223333".into()],
                regions: Vec::new(),
                resource_kinds: Vec::new(),
                min_monthly_usd: Some(10_000.0),
                channels: vec![Channel::PagerDuty, Channel::Slack],
            }];
        })
        .await;
    world
        .raise("big", 0, INTERN, Severity::Critical, 131.09)
        .await;
    world.drain(3).await;
    assert_eq!(world.webhook.posts_to(PAGERDUTY).len(), 1);
    assert_eq!(world.webhook.posts_to(SLACK).len(), 1);
    for url in [HOOK, TEAMS] {
        assert!(
            world.webhook.posts_to(url).is_empty(),
            "the rule names no {url}"
        );
    }
    assert_eq!(world.emails(), 0, "nor e-mail");

    world.raise("small", 30, CI, Severity::Critical, 2.0).await;
    world.drain(3).await;
    assert_eq!(
        world.webhook.posts_to(PAGERDUTY).len(),
        2,
        "under the rule's cost: the default rule pages critical"
    );
    assert_eq!(world.webhook.posts_to(TEAMS).len(), 1);
    assert_eq!(world.emails(), 1);
}

#[tokio::test]
async fn a_persons_resolution_closes_the_incident_and_tells_the_webhook_alone() {
    let world = World::new().await;
    world.with_every_channel().await;
    let anomaly = world
        .raise("manual", 0, INTERN, Severity::Critical, 131.09)
        .await;
    world.drain(3).await;
    let before = |url: &str| world.webhook.posts_to(url).len();
    let (slack, teams, mails) = (before(SLACK), before(TEAMS), world.emails());
    world
        .store
        .enqueue(&OutboxMessage::resolved_by_person(
            anomaly.clone(),
            "alice@acme.example",
            42.0,
            world.clock.now(),
        ))
        .await
        .expect("enqueued");
    world.drain(3).await;

    let pages = world.webhook.posts_to(PAGERDUTY);
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[1]["event_action"], "resolve");
    assert_eq!(pages[1]["dedup_key"], anomaly.anomaly_id.as_str());
    let events = world.webhook.posts_to(HOOK);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["type"], "anomaly.resolved");
    assert_eq!(
        events[1]["data"]["resolution"]["by_person"],
        "alice@acme.example"
    );
    assert_eq!(
        (before(SLACK), before(TEAMS), world.emails()),
        (slack, teams, mails),
        "whoever resolved it in dd0c/cost needs no message there"
    );
}
