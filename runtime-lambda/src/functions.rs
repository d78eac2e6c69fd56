//! The functions of `functions/` bound to the AWS adapters, one constructor per binary.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use dd0c_adapters_aws::{DynamoFlags, DynamoStore, S3Archive, SesMail, SqsQueue};
use dd0c_ingest::handler::{ingest_messages, IngestMessage};
use dd0c_ingest::normalizers::Normalizers;
use dd0c_ingest::PriceCatalog;
use dd0c_notify::Notifier;
use dd0c_ports::archive::Archive;
use dd0c_ports::clock::SystemClock;
use dd0c_ports::domain::{Anomaly, CostEvent};
use dd0c_ports::queue::{Delivery, OutgoingMessage, Queue};
use dd0c_ports::store::Stores;
use dd0c_score::{log_raised, Scored, Scorer};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::env::{optional, required, Settings, StartError};
use crate::sqs::BatchHandler;

/// Every store on the table.
pub fn stores(settings: &Settings) -> Stores {
    Stores::of(Arc::new(DynamoStore::new(&settings.aws, &settings.table)))
}

/// The part of an EventBridge event ingest reads: the account it came from, and its detail —
/// the CloudTrail record.
#[derive(Debug, Deserialize)]
struct Envelope<'a> {
    account: String,
    #[serde(borrow)]
    detail: &'a RawValue,
}

/// The ingest function: raw envelopes to S3, cost events to the score queue.
#[allow(missing_debug_implementations)]
pub struct Ingest {
    normalizers: Normalizers,
    score_queue: Arc<dyn Queue>,
    archive: Arc<dyn Archive>,
}

impl Ingest {
    /// From `DD0C_SCORE_QUEUE_URL` and `DD0C_ARCHIVE_BUCKET`.
    pub fn new(settings: &Settings) -> Result<Self, StartError> {
        Ok(Ingest {
            normalizers: Normalizers::new(PriceCatalog::bundled(), stores(settings).recall),
            score_queue: Arc::new(SqsQueue::new(
                &settings.aws,
                &required("DD0C_SCORE_QUEUE_URL")?,
            )),
            archive: Arc::new(S3Archive::new(
                &settings.aws,
                &required("DD0C_ARCHIVE_BUCKET")?,
            )),
        })
    }

    /// The queued ingest message of an envelope. Its group (`tenant#account`, set by the
    /// tenant's EventBridge rule) names the tenant, and must name the envelope's account.
    fn ingest_message(delivery: &Delivery) -> Result<String, String> {
        let envelope: Envelope = serde_json::from_str(&delivery.body).map_err(|e| {
            format!(
                "message {}: not an EventBridge event with a detail: {e}",
                delivery.message_id
            )
        })?;
        let (tenant, account) = delivery.group_key.split_once('#').ok_or_else(|| {
            format!(
                "message {}: group {:?} is not tenant#account",
                delivery.message_id, delivery.group_key
            )
        })?;
        if account != envelope.account {
            return Err(format!(
                "message {}: the event's account {} is not the group's account {account}",
                delivery.message_id, envelope.account
            ));
        }
        serde_json::to_string(&IngestMessage {
            tenant: tenant.to_owned(),
            record: envelope.detail.to_owned(),
        })
        .map_err(|e| e.to_string())
    }

    /// Keeps the batch's envelopes as received, one JSON-lines object per tenant.
    async fn archive(&self, deliveries: &[Delivery]) -> Result<(), String> {
        let now = Utc::now();
        let mut by_tenant: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for delivery in deliveries {
            let tenant = delivery.group_key.split('#').next().unwrap_or_default();
            by_tenant.entry(tenant).or_default().push(&delivery.body);
        }
        for (tenant, bodies) in by_tenant {
            let key = format!(
                "raw/{tenant}/{}/{}.jsonl",
                now.format("%Y/%m/%d/%H"),
                deliveries[0].message_id
            );
            let mut lines = bodies.join("\n");
            lines.push('\n');
            self.archive
                .put(&key, lines.as_bytes())
                .await
                .map_err(|e| format!("archiving the raw events: {e}"))?;
        }
        Ok(())
    }
}

#[async_trait]
impl BatchHandler for Ingest {
    async fn handle_all(&self, deliveries: &[Delivery]) -> Result<(), String> {
        let messages = deliveries
            .iter()
            .map(Ingest::ingest_message)
            .collect::<Result<Vec<_>, _>>()?;
        self.archive(deliveries).await?;
        let bodies: Vec<&str> = messages.iter().map(String::as_str).collect();
        ingest_messages(&self.normalizers, self.score_queue.as_ref(), &bodies)
            .await
            .map(|_| ())
    }

    async fn handle(&self, delivery: &Delivery) -> Result<(), String> {
        self.handle_all(std::slice::from_ref(delivery)).await
    }
}

/// The score function: one DynamoDB transaction per batch where it can, and a wake-up for the
/// notifier per anomaly raised.
#[allow(missing_debug_implementations)]
pub struct Score {
    scorer: Scorer,
    notify_queue: Arc<dyn Queue>,
}

impl Score {
    /// From `DD0C_NOTIFY_QUEUE_URL`.
    pub fn new(settings: &Settings) -> Result<Self, StartError> {
        let stores = stores(settings);
        Ok(Score {
            scorer: Scorer::new(stores.score, stores.anomalies, stores.settings),
            notify_queue: Arc::new(SqsQueue::new(
                &settings.aws,
                &required("DD0C_NOTIFY_QUEUE_URL")?,
            )),
        })
    }

    /// Wakes the notifier for each anomaly. The outbox already holds them (same transaction), so
    /// a failed wake-up only delays them to the notifier's next scheduled run.
    async fn wake_notifier(&self, raised: &[&Anomaly]) {
        let wake_ups: Vec<OutgoingMessage> = raised
            .iter()
            .map(|anomaly| OutgoingMessage {
                group_key: anomaly.tenant.clone(),
                dedup_key: format!("{}#{}", anomaly.tenant, anomaly.anomaly_id),
                body:
                    serde_json::json!({"tenant": anomaly.tenant, "anomaly_id": anomaly.anomaly_id})
                        .to_string(),
            })
            .collect();
        if wake_ups.is_empty() {
            return;
        }
        if let Err(error) = self.notify_queue.send_batch(wake_ups).await {
            tracing::warn!(%error, "could not wake the notifier; its schedule will deliver the outbox");
        }
    }
}

fn cost_event(delivery: &Delivery) -> Result<CostEvent, String> {
    serde_json::from_str(&delivery.body)
        .map_err(|e| format!("message {}: not a cost event: {e}", delivery.message_id))
}

#[async_trait]
impl BatchHandler for Score {
    async fn handle_all(&self, deliveries: &[Delivery]) -> Result<(), String> {
        let events = deliveries
            .iter()
            .map(cost_event)
            .collect::<Result<Vec<_>, _>>()?;
        let items: Vec<(&CostEvent, Option<&dd0c_ports::store::Consumed>)> =
            events.iter().map(|e| (e, None)).collect();
        let raised = self
            .scorer
            .score_batch(&items)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the batch overlaps earlier or concurrent work")?;
        let raised: Vec<&Anomaly> = raised.iter().flatten().collect();
        raised.iter().copied().for_each(log_raised);
        self.wake_notifier(&raised).await;
        Ok(())
    }

    async fn handle(&self, delivery: &Delivery) -> Result<(), String> {
        let event = cost_event(delivery)?;
        if let Scored::New(Some(anomaly)) = self
            .scorer
            .score_message(&event, None)
            .await
            .map_err(|e| e.to_string())?
        {
            log_raised(&anomaly);
            self.wake_notifier(&[&anomaly]).await;
        }
        Ok(())
    }
}

/// The notifier on the table's outbox, Slack webhooks and SES (when `DD0C_MAIL_FROM` is set).
pub fn notifier(settings: &Settings) -> Result<Notifier, StartError> {
    let stores = stores(settings);
    let mail = match optional("DD0C_MAIL_FROM") {
        Some(from) => Some(Arc::new(SesMail::new(&settings.aws, &from).map_err(|why| {
            StartError::Invalid {
                name: "DD0C_MAIL_FROM",
                value: from.clone(),
                why,
            }
        })?) as Arc<dyn dd0c_ports::mail::Mail>),
        None => None,
    };
    let webhook = dd0c_adapters_http::HttpWebhook::new().map_err(|e| StartError::Client {
        what: "the Slack webhook client",
        why: e.to_string(),
    })?;
    Ok(Notifier {
        outbox: stores.outbox,
        settings: stores.settings,
        flags: Arc::new(DynamoFlags::new(&settings.aws, &settings.table)),
        webhook: Arc::new(webhook),
        mail,
        clock: Arc::new(SystemClock),
        lease: dd0c_notify::LEASE,
    })
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

/// The dashboard API on the table, verifying Cognito tokens (`DD0C_COGNITO_ISSUER`,
/// `DD0C_COGNITO_CLIENT_ID`, optionally `DD0C_COGNITO_JWKS_URL`). Users sign in with Cognito,
/// so the API issues no tokens of its own.
pub fn api(settings: &Settings) -> Result<axum::Router, StartError> {
    let mut cognito = dd0c_adapters_jwt::CognitoConfig::new(
        &required("DD0C_COGNITO_ISSUER")?,
        &required("DD0C_COGNITO_CLIENT_ID")?,
    );
    cognito.jwks_url = optional("DD0C_COGNITO_JWKS_URL");
    let auth = dd0c_adapters_jwt::CognitoAuth::new(cognito).map_err(|e| StartError::Client {
        what: "the Cognito verifier",
        why: e.to_string(),
    })?;
    let (router, _) = dd0c_api::router(Arc::new(dd0c_api::Api {
        stores: stores(settings),
        flags: Arc::new(DynamoFlags::new(&settings.aws, &settings.table)),
        auth: Arc::new(auth),
        issuer: None,
        throttle: Default::default(),
        trusted_proxies: Default::default(),
    }));
    Ok(router.layer(axum::middleware::map_response(dd0c_api::finish_response)))
}
