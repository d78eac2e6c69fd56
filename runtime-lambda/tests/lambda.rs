//! The real Lambda binaries against the Runtime API harness (dd0c-tests) and moto: SQS batch
//! semantics under failure, duplicates, a process killed after committing, and parity with the
//! self-hosted dispatcher on the bundled sample.

mod support;

use std::time::Duration;

use chrono::{TimeZone, Utc};
use dd0c_ports::baseline::BaselineKey;
use dd0c_ports::domain::{Anomaly, AnomalyStatus, Severity, Tenant, DEFAULT_TENANT};
use dd0c_ports::ledger::{ResourceFilter, ResourceLedger};
use dd0c_ports::queue::{OutgoingMessage, Queue};
use dd0c_ports::store::{AnomalyFilter, AnomalyStore, CostEventStore, ScoreStore, TenantStore};
use dd0c_tests::lambda::{Outcome, RuntimeApi};
use support::{failures, launch, message_ids, receipts, Cloud};

const INGEST: &str = env!("CARGO_BIN_EXE_lambda-ingest");
const SCORE: &str = env!("CARGO_BIN_EXE_lambda-score");

const ACCOUNT: &str = "111122223333";

async fn cost_events(cloud: &Cloud, tenant: &str) -> Vec<dd0c_ports::domain::CostEvent> {
    cloud
        .store()
        .cost_events(
            tenant,
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
            10_000,
        )
        .await
        .expect("cost events")
}

#[tokio::test]
async fn a_fifo_batch_reports_its_first_failure_and_everything_after_it() {
    let cloud = Cloud::new().await;
    let api = RuntimeApi::start().await.expect("runtime API");
    let ingest = cloud.spawn(INGEST, &api);
    let first = launch(ACCOUNT, "ev-first", 0, 1);
    let second = launch(ACCOUNT, "ev-second", 5, 1);
    cloud
        .send_records("acme", std::slice::from_ref(&first))
        .await;
    let poison = OutgoingMessage {
        trace: None,
        group_key: support::BUS_GROUP.into(),
        dedup_key: "poison".into(),
        body: "this is not an EventBridge event".into(),
    };
    cloud
        .queue(&cloud.ingest_queue)
        .send(poison)
        .await
        .expect("sent");
    cloud
        .send_records("acme", std::slice::from_ref(&second))
        .await;

    let (event, invocation) = cloud
        .poll(&cloud.ingest_queue, &api)
        .await
        .expect("a batch");
    let ids = message_ids(&event);
    assert_eq!(ids.len(), 3, "one group's three messages in one batch");
    let Outcome::Response(answer) = &invocation.outcome else {
        panic!(
            "the function answers with a batch response: {:?}",
            invocation.outcome
        );
    };
    assert_eq!(
        failures(answer),
        ids[1..].to_vec(),
        "the poison record and the one after it are reported; the one before it is done"
    );
    assert!(answer["batchItemFailures"]
        .as_array()
        .expect("failures")
        .iter()
        .all(|f| !f["itemIdentifier"].as_str().unwrap_or_default().is_empty()));

    // Lambda delivers the two again until the poison record's last allowed delivery, when the
    // function moves it to the dead-letter queue with its error, and the next one goes through.
    let rest = cloud.drain(&cloud.ingest_queue, &api).await;
    assert_eq!(rest.len(), cloud.max_receives as usize - 1);
    let dead = cloud
        .queue(&cloud.ingest_queue)
        .dead_letters(10)
        .await
        .expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].message_id, ids[1]);
    assert_eq!(dead[0].body, "this is not an EventBridge event");
    assert!(
        dead[0].error.contains("not an EventBridge event"),
        "{}",
        dead[0].error
    );
    assert_eq!(dead[0].receive_count, cloud.max_receives);

    // One runtime API hands each invocation to whichever function asks first: a live ingest
    // function would take score batches, fail them and, after max receives, dead-letter them.
    ingest.kill().await;
    let _score = cloud.spawn(SCORE, &api);
    cloud.drain(&cloud.score_queue, &api).await;
    let scored: Vec<String> = cost_events(&cloud, "acme")
        .await
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(scored, vec!["ev-first".to_owned(), "ev-second".to_owned()]);
    let raw = dd0c_adapters_aws::S3Archive::new(&cloud.aws, &cloud.bucket);
    let folder = dd0c_ingest::archive::account_folder("acme", ACCOUNT);
    let mut archived_ids = Vec::new();
    for key in dd0c_ports::archive::Archive::list(&raw, &folder, 100)
        .await
        .expect("archive")
    {
        let bytes = dd0c_ports::archive::Archive::get(&raw, &key)
            .await
            .expect("archived object")
            .expect("listed, so there");
        for record in dd0c_ingest::archive::read_raw(&bytes).expect("gzip JSON lines") {
            let record: serde_json::Value = serde_json::from_str(&record).expect("a record");
            archived_ids.push(record["eventID"].as_str().unwrap_or_default().to_owned());
        }
    }
    archived_ids.sort();
    assert_eq!(
        archived_ids,
        ["ev-first", "ev-second"],
        "the raw records are archived under their tenant and account"
    );
}

#[tokio::test]
async fn one_event_delivered_twice_is_scored_once() {
    let cloud = Cloud::new().await;
    let (ingest_api, api) = (
        RuntimeApi::start().await.expect("runtime API"),
        RuntimeApi::start().await.expect("runtime API"),
    );
    let _ingest = cloud.spawn(INGEST, &ingest_api);
    let _score = cloud.spawn(SCORE, &api);
    let record = launch(ACCOUNT, "ev-twice", 0, 2);
    cloud
        .send_records("acme", std::slice::from_ref(&record))
        .await;
    cloud.drain(&cloud.ingest_queue, &ingest_api).await;
    let event = cost_events_in_queue(&cloud).await;
    // The same cost event again, past SQS's deduplication window (a redrive, a replay).
    for dedup in ["again-1", "again-2"] {
        cloud
            .queue(&cloud.score_queue)
            .send(OutgoingMessage {
                trace: None,
                group_key: format!("acme#{ACCOUNT}"),
                dedup_key: dedup.into(),
                body: event.clone(),
            })
            .await
            .expect("sent");
    }
    let invocations = cloud.drain(&cloud.score_queue, &api).await;
    assert!(invocations
        .iter()
        .all(|(_, i)| matches!(&i.outcome, Outcome::Response(a) if failures(a).is_empty())));
    assert_eq!(cost_events(&cloud, "acme").await.len(), 1, "scored once");
    let baseline = account_baseline(&cloud).await;
    assert_eq!(baseline.stats.n, 1, "the baseline learned it once");
}

/// The account-wide baseline of tenant `acme`'s account.
async fn account_baseline(cloud: &Cloud) -> dd0c_ports::baseline::Baseline {
    cloud
        .store()
        .baseline(&BaselineKey::account("acme", ACCOUNT))
        .await
        .expect("read")
        .expect("baseline")
}

/// The body of the one message on the score queue, left there.
/// The shared event bus carries every customer's events in one message group: each record goes
/// to the tenant watching its account, and one of an account nobody watches is dropped, not
/// retried.
#[tokio::test]
async fn each_event_goes_to_the_tenant_watching_its_account() {
    let cloud = Cloud::new().await;
    let api = RuntimeApi::start().await.expect("runtime API");
    let _ingest = cloud.spawn(INGEST, &api);
    let (theirs, nobodys) = ("444455556666", "777788889999");
    cloud
        .send_records("acme", &[launch(ACCOUNT, "ev-acme", 0, 1)])
        .await;
    cloud
        .send_records("globex", &[launch(theirs, "ev-globex", 1, 1)])
        .await;
    let stray = launch(nobodys, "ev-stray", 2, 1);
    cloud
        .queue(&cloud.ingest_queue)
        .send(OutgoingMessage {
            trace: None,
            group_key: support::BUS_GROUP.into(),
            dedup_key: stray.1.clone(),
            body: support::envelope(nobodys, &stray.2),
        })
        .await
        .expect("sent");

    let invocations = cloud.drain(&cloud.ingest_queue, &api).await;
    let delivered: usize = invocations.iter().map(|(e, _)| message_ids(e).len()).sum();
    assert_eq!(delivered, 3, "one group, one delivery each");
    assert!(invocations
        .iter()
        .all(|(_, i)| matches!(&i.outcome, Outcome::Response(a) if failures(a).is_empty())));
    let score = cloud.queue(&cloud.score_queue);
    let mut tenants: Vec<(String, String)> = score
        .receive(10, Duration::from_secs(30))
        .await
        .expect("receive")
        .iter()
        .map(|d| {
            let event: dd0c_ports::domain::CostEvent =
                serde_json::from_str(&d.body).expect("a cost event");
            (event.tenant, event.event_id)
        })
        .collect();
    tenants.sort();
    assert_eq!(
        tenants,
        [
            ("acme".to_owned(), "ev-acme".to_owned()),
            ("globex".to_owned(), "ev-globex".to_owned())
        ]
    );
    assert!(cloud
        .queue(&cloud.ingest_queue)
        .dead_letters(10)
        .await
        .expect("dead letters")
        .is_empty());
}

async fn cost_events_in_queue(cloud: &Cloud) -> String {
    let queue = cloud.queue(&cloud.score_queue);
    let got = queue
        .receive(10, Duration::from_secs(30))
        .await
        .expect("receive");
    assert_eq!(got.len(), 1, "one cost event for one record");
    queue
        .dead_letter(&got[0].receipt, "moved aside by the test")
        .await
        .expect("moved");
    got[0].body.clone()
}

#[tokio::test]
async fn a_function_killed_after_committing_leaves_work_a_redelivery_completes_once() {
    let cloud = Cloud::new().await;
    let api = RuntimeApi::start().await.expect("runtime API");
    let ingest = cloud.spawn(INGEST, &api);
    let records: Vec<_> = (0..10)
        .map(|i| launch(ACCOUNT, &format!("ev-{i}"), i, 1))
        .collect();
    cloud.send_records("acme", &records).await;
    cloud.drain(&cloud.ingest_queue, &api).await;
    ingest.kill().await;

    let score = cloud.spawn(SCORE, &api);
    api.lose_next_answer();
    let (event, invocation) = cloud.poll(&cloud.score_queue, &api).await.expect("a batch");
    assert_eq!(invocation.outcome, Outcome::Lost);
    assert_eq!(message_ids(&event).len(), 10);
    score.kill().await;
    assert_eq!(
        cost_events(&cloud, "acme").await.len(),
        10,
        "the batch committed before the process died"
    );

    // Lambda delivers the unacknowledged batch again, to a new instance.
    cloud
        .release_in_flight(&cloud.score_queue, &receipts(&event))
        .await;
    let _score = cloud.spawn(SCORE, &api);
    let again = cloud.drain(&cloud.score_queue, &api).await;
    assert_eq!(again.len(), 1);
    assert!(matches!(&again[0].1.outcome, Outcome::Response(a) if failures(a).is_empty()));
    assert_eq!(cost_events(&cloud, "acme").await.len(), 10, "nothing twice");
    let baseline = account_baseline(&cloud).await;
    assert_eq!(
        (baseline.stats.n, baseline.version),
        (10, 1),
        "one batch, learned once"
    );
}

/// The anomalies' identity, verdict and status (resolved by their resources' end or not):
/// what parity compares.
fn verdicts(anomalies: &[Anomaly]) -> Vec<(String, String, String, String, String, String)> {
    let mut verdicts: Vec<_> = anomalies
        .iter()
        .map(|a| {
            (
                a.anomaly_id.clone(),
                a.event_id.clone(),
                a.severity.to_string(),
                format!("{:.9}", a.score),
                serde_json::to_string(&a.reasons).unwrap_or_default(),
                a.status.as_str().to_owned(),
            )
        })
        .collect();
    verdicts.sort();
    verdicts
}

/// Every resource the ledger follows for the default tenant, as JSON (its key, changes and
/// anomaly), in key order: what parity compares.
async fn every_resource(ledger: &dyn ResourceLedger) -> Vec<String> {
    let mut resources = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = ledger
            .list(
                DEFAULT_TENANT,
                &ResourceFilter::default(),
                cursor.as_deref(),
                500,
            )
            .await
            .expect("resources");
        resources.extend(page.items.iter().map(|r| {
            serde_json::to_string(&(&r.key, &r.changes, &r.anomaly_id)).unwrap_or_default()
        }));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    resources.sort();
    resources
}

async fn every_anomaly(store: &dyn AnomalyStore) -> Vec<Anomaly> {
    store
        .anomalies(DEFAULT_TENANT, &AnomalyFilter::default(), None, 10_000)
        .await
        .expect("anomalies")
        .items
}

#[tokio::test]
async fn parity_the_sample_gives_the_same_anomalies_on_lambda_as_self_hosted() {
    assert_sample_parity(Cloud::new().await).await;
}

/// infra-cdk's stack, created in moto's CloudFormation as far as moto goes, holds the table and
/// queues the functions need: the sample through `lambda-ingest` and `lambda-score` on them
/// gives the self-hosted anomalies.
#[tokio::test]
async fn parity_the_sample_gives_the_same_anomalies_on_the_stack_infra_cdk_synthesizes() {
    use support::stack::{reduce, synthesized, CloudFormation};
    let reduced = reduce(&synthesized(None));
    println!("moto creates {} resources:", reduced.kept.len());
    for (id, kind) in &reduced.kept {
        println!("  + {id} ({kind})");
    }
    println!("and leaves out {}:", reduced.left_out.len());
    for (id, kind, why) in &reduced.left_out {
        println!("  - {id} ({kind}): {why}");
    }
    let kept = |kind: &str| reduced.kept.iter().filter(|(_, k)| k == kind).count();
    assert_eq!(kept("AWS::DynamoDB::Table"), 1);
    assert_eq!(
        kept("AWS::SQS::Queue"),
        8,
        "four queues (ingest, score, notify, actions) and their dead-letter queues"
    );
    assert_eq!(kept("AWS::Events::EventBus"), 1);
    assert_eq!(
        kept("AWS::S3::Bucket"),
        2,
        "the archive and the dashboard's bucket"
    );

    let name = dd0c_ports::conformance::unique("dd0c");
    let cloudformation = CloudFormation::new(&support::endpoint());
    let created = cloudformation
        .create(
            &name,
            &reduced.template,
            &[
                ("MailFrom", "alerts@example.com"),
                ("AuthDomainPrefix", name.as_str()),
            ],
        )
        .await;
    assert_eq!(created.status, "CREATE_COMPLETE", "{created:?}");
    assert_eq!(created.resources.len(), reduced.kept.len(), "{created:?}");
    assert!(
        created
            .resources
            .iter()
            .all(|(_, status)| status == "CREATE_COMPLETE"),
        "{created:?}"
    );

    // The customer's template, with what the quick-create link fills in: the role and the rule
    // forwarding to the bus the stack made.
    let customer = cloudformation
        .create(
            &format!("{name}-customer"),
            &synthesized(Some("customer.template.json")),
            &[
                ("ExternalId", "dd0c-ext-0123456789abcdef"),
                ("Dd0cAccountId", "123456789012"),
                ("EventBusArn", &created.outputs["EventBusArn"]),
                ("RoleName", &format!("dd0c-cost-{name}")),
            ],
        )
        .await;
    assert_eq!(customer.status, "CREATE_COMPLETE", "{customer:?}");
    let mut resources: Vec<&str> = customer
        .resources
        .iter()
        .map(|(id, _)| id.as_str())
        .collect();
    resources.sort();
    assert_eq!(
        resources,
        ["ForwardRole", "ForwardRule", "ReadOnlyRole"],
        "{customer:?}"
    );
    assert!(customer.outputs["RoleArn"].ends_with(&format!(":role/dd0c-cost-{name}")));

    // Opted in to remediation, in another region's stack of the same account: the second role.
    let acting = cloudformation
        .create(
            &format!("{name}-customer-acting"),
            &synthesized(Some("customer.template.json")),
            &[
                ("ExternalId", "dd0c-ext-0123456789abcdef"),
                ("Dd0cAccountId", "123456789012"),
                ("EventBusArn", &created.outputs["EventBusArn"]),
                ("RoleName", &format!("dd0c-cost-{name}-r")),
                ("CreateRemediationRole", "true"),
                ("RemediationRoleName", &format!("dd0c-cost-{name}-act")),
            ],
        )
        .await;
    assert_eq!(acting.status, "CREATE_COMPLETE", "{acting:?}");
    assert!(
        acting
            .resources
            .iter()
            .any(|(id, _)| id == "RemediationRole"),
        "{acting:?}"
    );
    assert!(acting.outputs["RemediationRoleArn"].ends_with(&format!(":role/dd0c-cost-{name}-act")));

    let cloud = Cloud::of_stack(&created.outputs).await;
    assert_the_bus_rule_forwards_only_priced_calls(&cloud, &created.outputs["EventBusArn"]).await;
    let dead = cloud
        .queue(&cloud.ingest_queue)
        .dead_letters(1)
        .await
        .expect("the ingest queue names its dead-letter queue");
    assert!(dead.is_empty());
    assert_sample_parity(cloud).await;
}

/// The stack's rule on the customers' bus sends a successful priced call to the ingest queue, in
/// the one message group, and drops a read and a failed call.
async fn assert_the_bus_rule_forwards_only_priced_calls(cloud: &Cloud, bus_arn: &str) {
    let record = |event_id: &str, name: &str, error: Option<&str>| {
        let (_, _, text) = launch(ACCOUNT, event_id, 0, 1);
        let mut record: serde_json::Value = serde_json::from_str(&text).expect("a record");
        record["eventName"] = name.into();
        if let Some(code) = error {
            record["errorCode"] = code.into();
        }
        record
    };
    let records = [
        record("ev-priced", "RunInstances", None),
        record("ev-read", "DescribeInstances", None),
        record(
            "ev-failed",
            "RunInstances",
            Some("Client.UnauthorizedOperation"),
        ),
    ];
    support::stack::put_cloudtrail_events(&support::endpoint(), bus_arn, &records).await;
    let queue = cloud.queue(&cloud.ingest_queue);
    let delivered = queue
        .receive(10, Duration::from_secs(30))
        .await
        .expect("receive");
    let arrived: Vec<(String, String)> = delivered
        .iter()
        .map(|d| {
            let event: serde_json::Value = serde_json::from_str(&d.body).expect("an event");
            (
                d.group_key.clone(),
                event["detail"]["eventID"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        arrived,
        [(support::BUS_GROUP.to_owned(), "ev-priced".to_owned())]
    );
    for d in delivered {
        queue.ack(&d.receipt).await.expect("ack");
    }
}

/// The bundled sample through the self-hosted dispatcher, then through `lambda-ingest` and
/// `lambda-score` on `cloud`: the same anomalies.
async fn assert_sample_parity(cloud: Cloud) {
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/cloudtrail");

    // Self-hosted: the dispatcher's consumers on Postgres and pgmq.
    let owner = std::env::var("DATABASE_URL").expect("DATABASE_URL: run scripts/test.sh");
    let database = fresh_database(&owner).await;
    let backend = dd0c_cost::backend::Backend::postgres(&database, 10)
        .await
        .expect("backend");
    dd0c_cost::serve_cmd::queue_sample(&backend, &sample)
        .await
        .expect("queued");
    let dispatcher = self_hosted(&backend, "ingest,score");
    let (ingest, score) = (dispatcher.ingest_consumer(), dispatcher.score_consumer());
    let mut quiet = 0;
    while quiet < 2 {
        let n = ingest.try_execute_batch().await.expect("ingest")
            + score.try_execute_batch().await.expect("score");
        quiet = if n == 0 { quiet + 1 } else { 0 };
    }
    let self_hosted = every_anomaly(backend.stores.anomalies.as_ref()).await;
    let self_hosted_ledger = every_resource(backend.stores.ledger.as_ref()).await;

    // Cloud: the Lambda binaries on moto's SQS FIFO and DynamoDB.
    cloud
        .store()
        .add_tenant(&Tenant {
            name: DEFAULT_TENANT.into(),
            created_at: Utc::now(),
        })
        .await
        .expect("tenant");
    let records: Vec<(String, String, String)> = dd0c_cost::serve_cmd::sample_records(&sample)
        .expect("sample")
        .into_iter()
        .map(|r| (r.account_id, r.event_id, r.text))
        .collect();
    let (ingest_api, score_api) = (
        RuntimeApi::start().await.expect("runtime API"),
        RuntimeApi::start().await.expect("runtime API"),
    );
    let _ingest = cloud.spawn(INGEST, &ingest_api);
    let _score = cloud.spawn(SCORE, &score_api);
    // A few batches at a time, as CloudTrail trickles in: moto's SQS slows down with the square
    // of a queue's length.
    for chunk in records.chunks(50) {
        cloud.send_records(DEFAULT_TENANT, chunk).await;
        cloud.drain(&cloud.ingest_queue, &ingest_api).await;
        cloud.drain(&cloud.score_queue, &score_api).await;
    }
    let lambda = every_anomaly(&cloud.store()).await;
    let lambda_ledger = every_resource(&cloud.store()).await;

    assert!(
        self_hosted.len() >= 3,
        "the sample plants mistakes: {} anomalies",
        self_hosted.len()
    );
    assert!(
        self_hosted
            .iter()
            .any(|a| a.severity == Severity::Critical && a.status == AnomalyStatus::Resolved),
        "the sample's terminated GPUs resolve their critical anomaly"
    );
    assert_eq!(verdicts(&lambda), verdicts(&self_hosted));
    assert!(
        self_hosted_ledger.len() > 100,
        "the ledger follows the sample's resources: {}",
        self_hosted_ledger.len()
    );
    assert_eq!(lambda_ledger, self_hosted_ledger, "the same ledger");
}

/// The self-hosted dispatcher of `roles` on `backend`, for its consumers and notifier.
fn self_hosted(backend: &dd0c_cost::backend::Backend, roles: &str) -> dd0c_cost::serve::Dispatcher {
    let roles = dd0c_cost::serve::parse_roles(roles).expect("roles");
    let config = dd0c_cost::serve::ServeConfig::defaults(roles, "parity");
    dd0c_cost::serve::Dispatcher::new(
        backend.clone(),
        config,
        dd0c_ingest::PriceCatalog::bundled(),
    )
    .expect("dispatcher")
}

async fn fresh_database(server: &str) -> String {
    let name = dd0c_ports::conformance::unique("parity").replace('-', "_");
    dd0c_adapters_postgres::create_database(server, &name)
        .await
        .expect("a fresh database")
}

#[tokio::test]
async fn a_wake_up_has_the_notifier_deliver_the_outbox_to_slack() {
    use dd0c_ports::conformance::{anomaly_for, cost_event};
    use dd0c_ports::domain::{OutboxMessage, Settings, Severity};
    use dd0c_ports::store::{OutboxStore, ScoreCommit, SettingsStore};

    let cloud = Cloud::new().await;
    let slack = dd0c_tests::CaptureServer::start().await.expect("capture");
    let store = cloud.store();
    store
        .put_settings(
            "acme",
            &Settings {
                slack_webhook_url: Some(slack.url("/hooks/acme")),
                slack_min_severity: Severity::Info,
                ..Settings::default()
            },
        )
        .await
        .expect("settings");
    let event = cost_event("acme", ACCOUNT, "ev-loud", 0, 40.0);
    let anomaly = anomaly_for(&event);
    let message = OutboxMessage {
        trace: None,
        outbox_id: "ob-loud".into(),
        tenant: "acme".into(),
        anomaly: anomaly.clone(),
        created_at: Utc::now(),
        resolution: None,
    };
    store
        .commit(ScoreCommit {
            event,
            baselines: Vec::new(),
            anomaly: Some(anomaly.clone()),
            outbox: Some(message),
            consumed: None,
        })
        .await
        .expect("committed");
    cloud
        .queue(&cloud.notify_queue)
        .send(OutgoingMessage {
            trace: None,
            group_key: "acme".into(),
            dedup_key: anomaly.anomaly_id.clone(),
            body: serde_json::json!({"tenant": "acme", "anomaly_id": anomaly.anomaly_id})
                .to_string(),
        })
        .await
        .expect("woken");

    let api = RuntimeApi::start().await.expect("runtime API");
    let _notify = cloud.spawn(env!("CARGO_BIN_EXE_lambda-notify"), &api);
    let invocations = cloud.drain(&cloud.notify_queue, &api).await;
    assert_eq!(invocations.len(), 1);
    let posts = slack.posts("/hooks/acme");
    assert_eq!(posts.len(), 1, "one alert on Slack");
    assert!(
        posts[0].to_string().contains(&anomaly.anomaly_id),
        "{}",
        posts[0]
    );
    assert!(
        store.pending(100).await.expect("pending").is_empty(),
        "the outbox is delivered"
    );
}

#[tokio::test]
async fn a_failed_invocation_reports_a_typed_error() {
    let cloud = Cloud::new().await;
    let api = RuntimeApi::start().await.expect("runtime API");
    let _digest = cloud.spawn_with(
        env!("CARGO_BIN_EXE_lambda-digest"),
        &api,
        &[("DD0C_TABLE_NAME", "no_such_table".into())],
    );
    let invocation = api
        .invoke(support::scheduled_event(), support::INVOKE_TIMEOUT)
        .await
        .expect("answered");
    let Outcome::Error(error) = invocation.outcome else {
        panic!("an error: {:?}", invocation.outcome);
    };
    assert_eq!(error["errorType"], "dd0c.Backend", "{error}");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("DynamoDB"),
        "{error}"
    );
}

/// The estate's tenant and account, in `tenants`.
async fn connect_estate(tenants: &dyn TenantStore, estate: &dd0c_tests::estate::Estate) {
    tenants
        .add_tenant(&Tenant {
            name: "acme".into(),
            created_at: estate.now,
        })
        .await
        .expect("tenant");
    tenants
        .add_account(&estate.account("acme"))
        .await
        .expect("account");
}

#[tokio::test]
async fn parity_lambda_zombie_finds_what_the_self_hosted_hunter_finds() {
    let estate = dd0c_tests::estate::Estate::plant(&support::endpoint()).await;

    // Self-hosted: the hunter on Postgres.
    let owner = std::env::var("DATABASE_URL").expect("DATABASE_URL: run scripts/test.sh");
    let backend = dd0c_cost::backend::Backend::postgres(&fresh_database(&owner).await, 4)
        .await
        .expect("backend");
    connect_estate(backend.stores.tenants.as_ref(), &estate).await;
    let hunter = dd0c_zombie::Hunter::new(
        backend.stores.clone(),
        std::sync::Arc::new(dd0c_adapters_aws::AwsCloud::new(support::aws().await)),
        dd0c_ports::secrets::Credentials::new(backend.stores.tenants.clone(), None),
        dd0c_ingest::PriceCatalog::bundled(),
        std::sync::Arc::new(dd0c_ports::clock::FixedClock(estate.now)),
    );
    let self_hosted = hunter
        .scan(&dd0c_zombie::ScanRequest {
            tenant: "acme".into(),
            ..Default::default()
        })
        .await
        .expect("the self-hosted scan")
        .findings;

    // Cloud: lambda-zombie on DynamoDB, invoked by its schedule.
    let cloud = Cloud::new().await;
    connect_estate(&cloud.store(), &estate).await;
    let api = RuntimeApi::start().await.expect("runtime API");
    let _zombie = cloud.spawn(env!("CARGO_BIN_EXE_lambda-zombie"), &api);
    let scheduled = serde_json::json!({
        "source": "aws.events", "detail-type": "Scheduled Event",
        "time": estate.now.to_rfc3339(), "detail": {}
    });
    let invocation = api
        .invoke(scheduled, support::INVOKE_TIMEOUT)
        .await
        .expect("answered");
    let Outcome::Response(answer) = invocation.outcome else {
        panic!("a response: {:?}", invocation.outcome);
    };
    assert_eq!(answer[0]["tenant"], "acme", "{answer}");
    let lambda: Vec<dd0c_ports::zombie::Finding> =
        serde_json::from_value(answer[0]["findings"].clone()).expect("findings");
    assert_eq!(
        self_hosted.len(),
        estate.expected.len(),
        "every planted zombie"
    );
    assert_eq!(lambda, self_hosted, "the same findings, field by field");
    let stored =
        dd0c_ports::zombie::ZombieStore::findings(&cloud.store(), "acme", &Default::default())
            .await
            .expect("stored findings");
    assert_eq!(stored, self_hosted, "kept in DynamoDB as on Postgres");
}

/// What the routing parity scenario's channels received at `base` (a path prefix on the
/// catcher): the webhook's events, PagerDuty's actions and the anomalies on Slack, by id.
type Routed = (Vec<(String, String)>, Vec<(String, String)>, Vec<String>);

/// The routing parity scenario, staged in `stores`: a signed webhook, PagerDuty and Slack at
/// `base` on `catcher`, and rules sending critical production launches to the webhook and
/// PagerDuty and the sandbox account nowhere; a critical launch in each and a warning elsewhere,
/// committed with their outbox messages. Returns the production anomaly, which resolves later.
async fn stage_routing(
    stores: &dd0c_ports::store::Stores,
    catcher: &dd0c_tests::CaptureServer,
    base: &str,
) -> Anomaly {
    use dd0c_ports::conformance::{anomaly_for, cost_event};
    use dd0c_ports::domain::{Channel, OutboxMessage, RoutingRule, Settings};
    use dd0c_ports::store::ScoreCommit;
    let rule = |name: &str, account: &str, channels: Vec<Channel>| RoutingRule {
        name: name.into(),
        min_severity: Some(Severity::Critical),
        accounts: vec![account.into()],
        regions: Vec::new(),
        resource_kinds: Vec::new(),
        min_monthly_usd: None,
        channels,
    };
    let secret: dd0c_ports::webhook::SigningSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        .parse()
        .expect("a secret");
    stores
        .settings
        .put_webhook_secret("acme", &secret)
        .await
        .expect("secret");
    let settings = Settings {
        slack_webhook_url: Some(catcher.url(&format!("{base}/slack"))),
        webhook_url: Some(catcher.url(&format!("{base}/webhook"))),
        pagerduty_routing_key: Some("R0123456789abcdefghijklmnopqrstu".into()),
        routing: vec![
            rule(
                "production critical",
                "111100001111",
                vec![Channel::Webhook, Channel::PagerDuty],
            ),
            rule("sandbox: digest only", "222200002222", Vec::new()),
        ],
        ..Settings::default()
    };
    assert_eq!(settings.validate(), Ok(()));
    stores
        .settings
        .put_settings("acme", &settings)
        .await
        .expect("settings");
    let mut production = None;
    for (event_id, account, severity) in [
        ("ev-prod", "111100001111", Severity::Critical),
        ("ev-sandbox", "222200002222", Severity::Critical),
        ("ev-other", "333300003333", Severity::Warning),
    ] {
        let event = cost_event("acme", account, event_id, 0, 40.0);
        let mut anomaly = anomaly_for(&event);
        anomaly.severity = severity;
        stores
            .score
            .commit(ScoreCommit {
                event,
                baselines: Vec::new(),
                anomaly: Some(anomaly.clone()),
                outbox: Some(OutboxMessage {
                    trace: None,
                    outbox_id: anomaly.anomaly_id.clone(),
                    tenant: "acme".into(),
                    anomaly: anomaly.clone(),
                    created_at: Utc::now(),
                    resolution: None,
                }),
                consumed: None,
            })
            .await
            .expect("committed");
        production.get_or_insert(anomaly);
    }
    production.expect("the production anomaly")
}

/// The production anomaly's follow-up, as the scorer writes it when its resources end.
async fn resolve_production(stores: &dd0c_ports::store::Stores, anomaly: &Anomaly) {
    use dd0c_ports::domain::{OutboxMessage, Resolution};
    let resolution = Resolution {
        note: "TerminateInstances by user/alice after 2 h 10 min".into(),
        actual_cost_usd: 86.67,
        avoided_usd: 25_000.0,
        by_person: None,
    };
    stores
        .outbox
        .enqueue(&OutboxMessage::follow_up(
            anomaly.clone(),
            resolution,
            Utc::now(),
        ))
        .await
        .expect("follow-up");
}

fn routed(catcher: &dd0c_tests::CaptureServer, base: &str) -> Routed {
    let webhook = catcher
        .posts(&format!("{base}/webhook"))
        .iter()
        .map(|e| {
            let kind = e["type"].as_str().unwrap_or_default().to_owned();
            (
                kind,
                e["data"]["anomaly"]["anomaly_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    let pagerduty = catcher
        .posts(&format!("{base}/pagerduty"))
        .iter()
        .map(|e| {
            let action = e["event_action"].as_str().unwrap_or_default().to_owned();
            (
                action,
                e["dedup_key"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let slack = catcher
        .posts(&format!("{base}/slack"))
        .iter()
        .flat_map(|p| {
            ["an-ev-prod", "an-ev-sandbox", "an-ev-other"]
                .into_iter()
                .filter(|id| p.to_string().contains(id))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    (webhook, pagerduty, slack)
}

/// The same rule set, the same anomalies and the same follow-up reach the same channels with
/// the same messages through `lambda-notify` on DynamoDB and the dispatcher's notifier on
/// Postgres: the webhook and PagerDuty for production (triggered, then resolved under the same
/// key), nothing for the sandbox, Slack and the webhook by default for the rest.
#[tokio::test]
async fn parity_routing_rules_send_the_same_through_lambda_notify_and_the_dispatcher() {
    use std::sync::Arc;
    let catcher = dd0c_tests::CaptureServer::start().await.expect("catcher");

    // Self-hosted: the dispatcher's notifier on Postgres.
    let owner = std::env::var("DATABASE_URL").expect("DATABASE_URL: run scripts/test.sh");
    let mut backend = dd0c_cost::backend::Backend::postgres(&fresh_database(&owner).await, 10)
        .await
        .expect("backend")
        .outbound(dd0c_ports::webhook::Outbound::allowing_private([
            "127.0.0.1",
        ]))
        .expect("loopback allowed");
    backend.endpoints.pagerduty_events_url = catcher.url("/local/pagerduty");
    let production = stage_routing(&backend.stores, &catcher, "/local").await;
    let dispatcher = self_hosted(&backend, "notify");
    let notifier = dispatcher.notifier();
    notifier.try_execute().await.expect("alerts");
    resolve_production(&backend.stores, &production).await;
    notifier.try_execute().await.expect("follow-up");
    let local = routed(&catcher, "/local");

    // Cloud: lambda-notify on moto's DynamoDB, woken through the notify queue.
    let cloud = Cloud::new().await;
    let stores = dd0c_ports::store::Stores::of(Arc::new(cloud.store()));
    let production = stage_routing(&stores, &catcher, "/lambda").await;
    let api = RuntimeApi::start().await.expect("runtime API");
    let mut env = cloud.env();
    env.push((
        "DD0C_PAGERDUTY_EVENTS_URL",
        catcher.url("/lambda/pagerduty"),
    ));
    let _notify = dd0c_tests::lambda::Function::spawn(
        std::path::Path::new(env!("CARGO_BIN_EXE_lambda-notify")),
        &api,
        &env,
    )
    .expect("spawn");
    let wake = async |key: &str| {
        cloud
            .queue(&cloud.notify_queue)
            .send(OutgoingMessage {
                trace: None,
                group_key: "acme".into(),
                dedup_key: key.into(),
                body: serde_json::json!({"tenant": "acme", "anomaly_id": key}).to_string(),
            })
            .await
            .expect("woken");
        cloud.drain(&cloud.notify_queue, &api).await;
    };
    wake("alerts").await;
    resolve_production(&stores, &production).await;
    wake("follow-up").await;
    let lambda = routed(&catcher, "/lambda");

    let (webhook, pagerduty, slack) = &local;
    let detected = |id: &str| ("anomaly.detected".to_owned(), id.to_owned());
    assert_eq!(
        webhook,
        &[
            detected("an-ev-prod"),
            detected("an-ev-other"),
            ("anomaly.resolved".into(), "an-ev-prod".into())
        ],
        "production by its rule, the warning elsewhere by the default rule, the resolution"
    );
    assert_eq!(
        pagerduty,
        &[
            ("trigger".to_owned(), "an-ev-prod".to_owned()),
            ("resolve".into(), "an-ev-prod".into())
        ]
    );
    assert_eq!(
        slack,
        &["an-ev-other"],
        "Slack by default; the sandbox nowhere"
    );
    assert_eq!(lambda, local, "the same through lambda-notify");
}

/// Cloud remediation: an action requested and approved over the table, the flags and the
/// actions queue as `lambda-api` does it, then run by the real `lambda-actions` in the
/// customer's account (moto) through its remediation role.
#[tokio::test]
async fn lambda_actions_runs_an_approved_action_in_the_customers_account() {
    use std::sync::Arc;

    use dd0c_ports::auth::{Principal, Role};
    use dd0c_ports::conformance::{finding, unique, unique_account_id};
    use dd0c_ports::domain::Account;
    use dd0c_ports::flags::Flags;
    use dd0c_ports::remediation::{
        ActionStatus, ActionStore, RemediationMode, RemediationSettings, Subject,
    };
    use dd0c_ports::zombie::{ZombieKind, ZombieStore};

    let cloud = Cloud::new().await;
    let (tenant, account_id) = (unique("t"), unique_account_id());
    let config = dd0c_tests::estate::account_config(&support::endpoint(), &account_id, "ext").await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let volume_id = ec2
        .create_volume()
        .size(20)
        .availability_zone(format!("{}a", dd0c_tests::estate::REGION))
        .send()
        .await
        .expect("moto creates a volume")
        .volume_id()
        .expect("an id")
        .to_owned();
    let store = cloud.store();
    store
        .add_tenant(&Tenant {
            name: tenant.clone(),
            created_at: Utc::now(),
        })
        .await
        .expect("tenant");
    store
        .add_account(&Account {
            role_arn: Some(format!("arn:aws:iam::{account_id}:role/dd0c-cost-reader")),
            external_id: Some("ext".into()),
            remediation_role_arn: Some(format!(
                "arn:aws:iam::{account_id}:role/dd0c-cost-remediation"
            )),
            remediation_access_key_id: None,
            ..Account::new(&tenant, &account_id, Utc::now())
        })
        .await
        .expect("account");
    let zombie = finding(
        &tenant,
        &account_id,
        ZombieKind::EbsUnattached,
        &volume_id,
        1.6,
    );
    store
        .put_findings(std::slice::from_ref(&zombie))
        .await
        .expect("finding");
    let flags = dd0c_adapters_aws::DynamoFlags::new(&cloud.aws, &cloud.table);
    flags
        .set_remediation(
            &tenant,
            &RemediationSettings {
                mode: RemediationMode::Approve,
                ..Default::default()
            },
        )
        .await
        .expect("settings");
    let stores = dd0c_ports::store::Stores::of(Arc::new(cloud.store()));
    let remediation = dd0c_actions::Remediation {
        credentials: dd0c_ports::secrets::Credentials::new(stores.tenants.clone(), None),
        stores,
        flags: Arc::new(flags),
        cloud: Arc::new(dd0c_adapters_aws::AwsCloud::new(cloud.aws.clone())),
        queue: Arc::new(cloud.queue(&cloud.actions_queue)),
        clock: Arc::new(dd0c_ports::clock::SystemClock),
        announce: None,
    };
    let person = |email: &str, role| Principal {
        subject: email.into(),
        email: Some(email.into()),
        tenant: tenant.clone(),
        role,
    };
    let requested = remediation
        .request(
            &person("member@x.io", Role::Member),
            Subject::Finding(zombie.finding_id.clone()),
            None,
        )
        .await
        .expect("requested");
    remediation
        .approve(&person("admin@x.io", Role::Admin), &requested.action_id)
        .await
        .expect("approved");

    let api = RuntimeApi::start().await.expect("runtime API");
    let _actions = cloud.spawn(env!("CARGO_BIN_EXE_lambda-actions"), &api);
    let invocations = cloud.drain(&cloud.actions_queue, &api).await;
    assert_eq!(invocations.len(), 1);
    let done = store
        .action(&tenant, &requested.action_id)
        .await
        .expect("read")
        .expect("the action");
    assert_eq!(done.status, ActionStatus::Done, "{done:?}");
    let log = store
        .decisions(&tenant, &requested.action_id)
        .await
        .expect("log");
    assert_eq!(log.last().map(|d| d.calls.len()), Some(2), "{log:?}");
    let volumes = ec2.describe_volumes().send().await.expect("volumes");
    assert!(
        volumes
            .volumes()
            .iter()
            .all(|v| v.volume_id() != Some(volume_id.as_str())),
        "the volume is deleted"
    );
    assert_eq!(
        store
            .finding(&tenant, &zombie.finding_id)
            .await
            .expect("read")
            .map(|f| f.status),
        Some(dd0c_ports::zombie::FindingStatus::Gone)
    );
}

#[tokio::test]
async fn lambda_catalog_keeps_the_price_list_catalog_in_the_archive_and_ingest_prices_with_it() {
    use dd0c_ports::archive::Archive;
    let cloud = Cloud::new().await;
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../functions/ingest/tests/fixtures/price-list");
    let price_list = dd0c_tests::StaticFiles::serve(fixtures)
        .await
        .expect("server");
    let api = RuntimeApi::start().await.expect("runtime API");
    let catalog = cloud.spawn_with(
        env!("CARGO_BIN_EXE_lambda-catalog"),
        &api,
        &[("DD0C_PRICE_LIST_URL", price_list.url().to_owned())],
    );
    let invocation = api
        .invoke(support::scheduled_event(), support::INVOKE_TIMEOUT)
        .await
        .expect("answered");
    let Outcome::Response(answer) = invocation.outcome else {
        panic!("a response: {:?}", invocation.outcome);
    };
    assert_eq!(answer["as_of"], "2026-11-01", "{answer}");
    catalog.kill().await;
    let archive = dd0c_adapters_aws::S3Archive::new(&cloud.aws, &cloud.bucket);
    let kept = archive
        .get(dd0c_ingest::catalog::refresh::ARCHIVE_KEY)
        .await
        .expect("read")
        .expect("kept in the archive");
    let kept = dd0c_ingest::PriceCatalog::parse(&String::from_utf8_lossy(&kept), "kept")
        .expect("a catalog");
    assert_eq!(kept.sources()["AmazonEC2"].regions, 6);

    // A cold start of lambda-ingest prices with it: Tokyo's own p5 price, not a multiplier.
    let _ingest = cloud.spawn(INGEST, &api);
    let record = dd0c_tests::record(
        &dd0c_tests::assumed_role(ACCOUNT, "intern", "x"),
        ACCOUNT,
        "ap-northeast-1",
        "2026-11-02T10:00:00Z",
        "ec2.amazonaws.com",
        "RunInstances",
        serde_json::json!({"instanceType": "p5.48xlarge", "instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]}}),
        serde_json::json!({"instancesSet": {"items": [{"instanceId": "i-p5", "instanceType": "p5.48xlarge"}]}}),
        "ev-p5-tokyo",
    );
    cloud
        .send_records(
            "acme",
            &[(
                ACCOUNT.to_owned(),
                "ev-p5-tokyo".to_owned(),
                record.to_string(),
            )],
        )
        .await;
    cloud.drain(&cloud.ingest_queue, &api).await;
    let priced = cloud
        .queue(&cloud.score_queue)
        .receive(10, Duration::from_secs(30))
        .await
        .expect("receive");
    let event: dd0c_ports::domain::CostEvent =
        serde_json::from_str(&priced.first().expect("a cost event").body).expect("a cost event");
    assert_eq!(event.unit_hourly_usd, 79.808, "{event:?}");
    assert_eq!(event.price_source, dd0c_ports::domain::PriceSource::Catalog);
}
