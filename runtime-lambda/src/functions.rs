//! The functions of `functions/` bound to the AWS adapters, one constructor per binary.

use std::sync::Arc;

use dd0c_adapters_aws::{DynamoFlags, DynamoStore, S3Archive, SesMail, SqsQueue};
use dd0c_ingest::handler::{Ingest, Source};
use dd0c_ingest::normalizers::Normalizers;
use dd0c_notify::Notifier;
use dd0c_ports::clock::SystemClock;
use dd0c_ports::store::Stores;
use dd0c_score::function::Score;
use dd0c_score::Scorer;

use crate::env::{optional, required, Settings, StartError};

/// Every store on the table.
pub fn stores(settings: &Settings) -> Stores {
    Stores::of(Arc::new(
        DynamoStore::new(&settings.aws, &settings.table)
            .with_ledger_retention(settings.ledger_retention_days),
    ))
}

/// The ingest function: EventBridge envelopes of the accounts tenants watch archived raw to S3
/// (`DD0C_ARCHIVE_BUCKET`), their cost events sent to the score queue (`DD0C_SCORE_QUEUE_URL`).
pub fn ingest(settings: &Settings) -> Result<Ingest, StartError> {
    let stores = stores(settings);
    let normalizers = Normalizers::new(settings.catalog.clone(), stores.recall);
    let score_queue = SqsQueue::new(&settings.aws, &required("DD0C_SCORE_QUEUE_URL")?);
    let archive = S3Archive::new(&settings.aws, &required("DD0C_ARCHIVE_BUCKET")?);
    Ok(Ingest::new(
        Arc::new(normalizers),
        Arc::new(score_queue),
        Source::EventBridge(stores.tenants),
    )
    .archiving(Arc::new(archive)))
}

/// The score function: one DynamoDB transaction per batch where it can, and a wake-up on the
/// notify queue (`DD0C_NOTIFY_QUEUE_URL`) per anomaly raised or resolved by its resources.
pub fn score(settings: &Settings) -> Result<Score, StartError> {
    let stores = stores(settings);
    let (ledger, outbox) = (stores.ledger.clone(), stores.outbox.clone());
    let scorer = Scorer::new(stores.score, stores.anomalies, stores.settings);
    let notify_queue = SqsQueue::new(&settings.aws, &required("DD0C_NOTIFY_QUEUE_URL")?);
    Ok(Score::new(scorer, "score")
        .waking(Arc::new(notify_queue))
        .following(ledger, outbox))
}

/// Requesting, approving and running actions on the table, acting in customer accounts
/// through their remediation roles (assumed with the function's own role and each account's
/// ExternalId), approved actions queued on `actions_queue`.
fn remediation_on(settings: &Settings, actions_queue: &str) -> dd0c_actions::Remediation {
    // Without a webhook client no approval message is posted; the request stands all the same.
    let announce = dd0c_adapters_http::HttpWebhook::new(outbound())
        .ok()
        .map(|w| Arc::new(w) as Arc<dyn dd0c_ports::webhook::Webhook>);
    let stores = stores(settings);
    dd0c_actions::Remediation {
        announce,
        // The cloud acts through roles only: it holds no sealed keys to open.
        credentials: dd0c_ports::secrets::Credentials::new(stores.tenants.clone(), None),
        stores,
        flags: Arc::new(DynamoFlags::new(&settings.aws, &settings.table)),
        cloud: Arc::new(dd0c_adapters_aws::AwsCloud::new(settings.aws.clone())),
        queue: Arc::new(SqsQueue::new(&settings.aws, actions_queue)),
        clock: Arc::new(SystemClock),
    }
}

/// Remediation where `DD0C_ACTIONS_QUEUE_URL` names the actions queue; `None` without it.
pub fn remediation(settings: &Settings) -> Option<dd0c_actions::Remediation> {
    optional("DD0C_ACTIONS_QUEUE_URL").map(|url| remediation_on(settings, &url))
}

/// The actions function: approved actions off the actions queue (`DD0C_ACTIONS_QUEUE_URL`),
/// run in the customers' accounts.
pub fn actions(settings: &Settings) -> Result<dd0c_actions::RunActions, StartError> {
    let queue = required("DD0C_ACTIONS_QUEUE_URL")?;
    Ok(dd0c_actions::RunActions(remediation_on(settings, &queue)))
}

/// The notifier on the table's outbox and [`channels`].
pub fn notifier(settings: &Settings) -> Result<Notifier, StartError> {
    let stores = stores(settings);
    Ok(Notifier {
        outbox: stores.outbox,
        settings: stores.settings.clone(),
        flags: Arc::new(DynamoFlags::new(&settings.aws, &settings.table)),
        channels: channels(settings, stores.settings)?,
        clock: Arc::new(SystemClock),
        lease: dd0c_notify::LEASE,
    })
}

/// The notification channels: webhooks over HTTPS (`DD0C_OUTBOUND_PRIVATE_HOSTS`,
/// `DD0C_PAGERDUTY_EVENTS_URL`, `DD0C_DASHBOARD_URL`) and SES when `DD0C_MAIL_FROM` is set.
fn channels(
    settings: &Settings,
    secrets: Arc<dyn dd0c_ports::store::SettingsStore>,
) -> Result<Vec<Arc<dyn dd0c_notify::channels::Deliver>>, StartError> {
    let mail =
        match optional("DD0C_MAIL_FROM") {
            Some(from) => Some(Arc::new(SesMail::new(&settings.aws, &from).map_err(|e| {
                StartError::Invalid {
                    name: "DD0C_MAIL_FROM",
                    value: from.clone(),
                    why: e.to_string(),
                }
            })?) as Arc<dyn dd0c_ports::mail::Mail>),
            None => None,
        };
    let webhook =
        dd0c_adapters_http::HttpWebhook::new(outbound()).map_err(|e| StartError::Client {
            what: "the webhook client",
            why: e.to_string(),
        })?;
    let endpoints = dd0c_notify::channels::Endpoints {
        pagerduty_events_url: optional("DD0C_PAGERDUTY_EVENTS_URL")
            .unwrap_or_else(|| dd0c_notify::pagerduty::EVENTS_URL.to_owned()),
        dashboard_url: optional("DD0C_DASHBOARD_URL"),
    };
    Ok(dd0c_notify::channels::standard(
        dd0c_notify::channels::Parts {
            webhook: Arc::new(webhook),
            mail,
            secrets,
            clock: Arc::new(SystemClock),
            endpoints,
        },
    ))
}

/// The zombie hunter on the table, reading customer accounts through their roles (assumed
/// with the function's own role and each account's ExternalId).
pub fn hunter(
    settings: &Settings,
    clock: Arc<dyn dd0c_ports::clock::Clock>,
) -> dd0c_zombie::Hunter {
    let stores = stores(settings);
    dd0c_zombie::Hunter::new(
        stores.clone(),
        Arc::new(dd0c_adapters_aws::AwsCloud::new(settings.aws.clone())),
        dd0c_ports::secrets::Credentials::new(stores.tenants, None),
        settings.catalog.clone(),
        clock,
    )
}

/// One `lambda-zombie` invocation: an EventBridge scheduled event scans every tenant as of the
/// event's `time`; an event naming a `tenant` (with an optional `account_id` and `regions`)
/// scans just that, on demand. Then, where `DD0C_ACTIONS_QUEUE_URL` is set, `auto` mode acts
/// on each scanned tenant's findings. Answers each tenant's figures.
pub async fn hunt(
    settings: &Settings,
    event: &serde_json::Value,
) -> Result<serde_json::Value, crate::Failure> {
    let at = event
        .get("time")
        .and_then(|t| t.as_str())
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    let clock: Arc<dyn dd0c_ports::clock::Clock> = match at {
        Some(at) => Arc::new(dd0c_ports::clock::FixedClock(at)),
        None => Arc::new(SystemClock),
    };
    let hunter = hunter(settings, clock);
    let reports = match event.get("tenant").and_then(|t| t.as_str()) {
        Some(tenant) => {
            let request = dd0c_zombie::ScanRequest {
                tenant: tenant.to_owned(),
                account_id: event
                    .get("account_id")
                    .and_then(|a| a.as_str())
                    .map(str::to_owned),
                regions: event
                    .get("regions")
                    .and_then(|r| r.as_array())
                    .map(|r| {
                        r.iter()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            vec![(
                tenant.to_owned(),
                hunter
                    .scan(&request)
                    .await
                    .map_err(dd0c_ports::PortError::from)?,
            )]
        }
        None => hunter
            .scan_everything()
            .await
            .map_err(dd0c_ports::PortError::from)?,
    };
    let mut auto_actions = std::collections::BTreeMap::new();
    if let Some(remediation) = remediation(settings) {
        for (tenant, _) in &reports {
            let approved = remediation
                .auto(tenant)
                .await
                .map_err(|e| dd0c_ports::PortError::Invalid(e.to_string()))?;
            auto_actions.insert(tenant.clone(), approved.len());
        }
    }
    Ok(serde_json::Value::Array(
        reports
            .into_iter()
            .map(|(tenant, report)| {
                serde_json::json!({
                    "auto_actions": auto_actions.get(&tenant).copied().unwrap_or(0),
                    "tenant": tenant,
                    "findings": report.findings,
                    "resources": report.resources,
                    "no_data": report.no_data(),
                    "waste_monthly_usd": report.waste_monthly_usd(),
                    "api_calls": report.api_calls,
                    "gone": report.gone.len(),
                    "failures": report.failures.iter().map(|f| serde_json::json!({
                        "account_id": f.account_id, "region": f.region, "error": f.error,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    ))
}

/// Rounds over the outbox until a round claims nothing (at most `limit` rounds, so one
/// invocation stays well inside its timeout); returns how many messages were completed.
pub async fn deliver_outbox(notifier: &Notifier, limit: usize) -> dd0c_ports::PortResult<usize> {
    let mut completed = 0;
    for _ in 0..limit {
        let round = notifier.try_execute().await?;
        completed += round.completed;
        if round.claimed == 0 {
            break;
        }
    }
    Ok(completed)
}

/// Every route of `functions/api` on the table, verifying Cognito tokens (`DD0C_COGNITO_ISSUER`,
/// `DD0C_COGNITO_CLIENT_ID`, optionally `DD0C_COGNITO_JWKS_URL`): users sign in with Cognito,
/// so the API issues no tokens of its own; the alert buttons post to `/v1/slack/actions` when
/// `DD0C_SLACK_SIGNING_SECRET` is set; test alerts go out on [`channels`]. CloudTrail arrives
/// through EventBridge, so `POST /v1/events` answers 404.
pub fn api(settings: &Settings) -> Result<axum::Router, StartError> {
    let mut cognito = dd0c_adapters_jwt::CognitoConfig::new(
        &required("DD0C_COGNITO_ISSUER")?,
        &required("DD0C_COGNITO_CLIENT_ID")?,
    );
    cognito.jwks_url = optional("DD0C_COGNITO_JWKS_URL");
    if let Some(token_use) = optional("DD0C_COGNITO_TOKEN_USE") {
        cognito.token_use = token_use.parse().map_err(|why| StartError::Invalid {
            name: "DD0C_COGNITO_TOKEN_USE",
            value: token_use.clone(),
            why,
        })?;
    }
    let auth = dd0c_adapters_jwt::CognitoAuth::new(cognito).map_err(|e| StartError::Client {
        what: "the Cognito verifier",
        why: e.to_string(),
    })?;
    let stores = stores(settings);
    let channels = channels(settings, stores.settings.clone())?;
    let mut api = dd0c_api::Api::new(
        stores,
        Arc::new(DynamoFlags::new(&settings.aws, &settings.table)),
        Arc::new(auth),
    );
    api.channels = channels;
    api.slack = optional("DD0C_SLACK_SIGNING_SECRET")
        .as_deref()
        .map(dd0c_api::slack::SlackApp::new);
    api.operations.metrics_token = optional("DD0C_METRICS_TOKEN");
    api.operations.metrics_public = optional("DD0C_METRICS_PUBLIC").as_deref() == Some("true");
    api.outbound = outbound();
    api.quick_create = quick_create()?;
    api.remediation = remediation(settings);
    api.catalog = settings.catalog.clone();
    Ok(dd0c_api::app(Arc::new(api)))
}

/// Where URLs that tenants set may lead: public https hosts, and the private ones named in
/// `DD0C_OUTBOUND_PRIVATE_HOSTS` (comma-separated).
fn outbound() -> dd0c_ports::webhook::Outbound {
    let hosts = optional("DD0C_OUTBOUND_PRIVATE_HOSTS").unwrap_or_default();
    dd0c_ports::webhook::Outbound::allowing_private(hosts.split(','))
}

/// The customer template's quick-create link (`DD0C_ONBOARDING_TEMPLATE_URL` with
/// `DD0C_EVENT_BUS_ARN`): both or neither.
fn quick_create() -> Result<Option<dd0c_api::quick_create::QuickCreate>, StartError> {
    const TEMPLATE: &str = "DD0C_ONBOARDING_TEMPLATE_URL";
    const BUS: &str = "DD0C_EVENT_BUS_ARN";
    let (template, bus) = match (optional(TEMPLATE), optional(BUS)) {
        (None, None) => return Ok(None),
        (Some(_), None) => return Err(StartError::Missing(BUS)),
        (None, Some(_)) => return Err(StartError::Missing(TEMPLATE)),
        (Some(template), Some(bus)) => (template, bus),
    };
    use dd0c_api::quick_create::{QuickCreate, QuickCreateError};
    QuickCreate::new(&template, &bus).map(Some).map_err(|e| {
        let (name, value) = match &e {
            QuickCreateError::TemplateUrl(value) => (TEMPLATE, value.clone()),
            QuickCreateError::BusArn(value) => (BUS, value.clone()),
        };
        StartError::Invalid {
            name,
            value,
            why: e.to_string(),
        }
    })
}

/// One `lambda-catalog` invocation: builds the price catalog from the AWS Price List
/// (`DD0C_PRICE_LIST_URL`, AWS's public endpoint unless set) over the one in use and stores it
/// in `DD0C_ARCHIVE_BUCKET` for the functions that price. Answers what it stored.
pub async fn update_catalog(
    settings: &Settings,
    _event: &serde_json::Value,
) -> Result<serde_json::Value, crate::Failure> {
    use dd0c_function::job::Job;
    let url = optional("DD0C_PRICE_LIST_URL")
        .unwrap_or_else(|| dd0c_adapters_http::AWS_PRICE_LIST.to_owned());
    let bucket = required("DD0C_ARCHIVE_BUCKET")
        .map_err(|e| dd0c_ports::PortError::Invalid(e.to_string()))?;
    let job = dd0c_ingest::catalog::refresh::UpdateJob {
        list: Arc::new(dd0c_adapters_http::PriceListHttp::new(&url)?),
        archive: Arc::new(S3Archive::new(&settings.aws, &bucket)),
        key: dd0c_ingest::catalog::refresh::ARCHIVE_KEY.to_owned(),
        current: settings.catalog.clone(),
    };
    let run = job.run(chrono::Utc::now(), "lambda-catalog").await?;
    tracing::info!(done = run.done, "{}", run.summary);
    Ok(serde_json::json!({
        "as_of": settings.catalog.get().as_of(),
        "summary": run.summary,
    }))
}
