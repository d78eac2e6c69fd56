//! The functions of `functions/` bound to their queues.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use dd0c_ingest::handler::{ingest_message, Ingested};
use dd0c_ingest::{Normalizer, PriceCatalog};
use dd0c_ports::domain::DEFAULT_TENANT;
use dd0c_ports::queue::{Delivery, Queue};
use dd0c_ports::store::Consumed;
use dd0c_score::{Scored, Scorer};

use crate::backend::{Backend, SCORE_QUEUE};
use crate::consumer::{Handled, Handler};

/// The ingest function on the ingest queue.
#[allow(missing_debug_implementations)]
pub struct Ingest {
    normalizer: Mutex<Normalizer>,
    score_queue: Arc<dyn Queue>,
}

impl Ingest {
    pub fn new(backend: &Backend, catalog: Arc<PriceCatalog>) -> Self {
        Ingest {
            normalizer: Mutex::new(Normalizer::new(catalog, DEFAULT_TENANT)),
            score_queue: backend.score_queue.clone(),
        }
    }
}

#[async_trait]
impl Handler for Ingest {
    fn name(&self) -> &'static str {
        "ingest"
    }

    async fn handle(&self, delivery: &Delivery) -> Result<Handled, String> {
        if let Ingested::Priced(events) =
            ingest_message(&self.normalizer, self.score_queue.as_ref(), &delivery.body).await?
        {
            tracing::debug!(events = events.len(), "priced");
        }
        Ok(Handled::Done)
    }
}

/// The score function on the score queue.
#[allow(missing_debug_implementations)]
pub struct Score {
    scorer: Scorer,
}

impl Score {
    pub fn new(backend: &Backend) -> Self {
        Score {
            scorer: Scorer::new(
                backend.stores.score.clone(),
                backend.stores.anomalies.clone(),
                backend.stores.settings.clone(),
            ),
        }
    }
}

#[async_trait]
impl Handler for Score {
    fn name(&self) -> &'static str {
        "score"
    }

    async fn handle(&self, delivery: &Delivery) -> Result<Handled, String> {
        let consumed = Consumed {
            queue: SCORE_QUEUE.to_owned(),
            receipt: delivery.receipt.clone(),
        };
        match self.scorer.score_body(&delivery.body, &consumed).await? {
            Scored::New(anomaly) => {
                if let Some(anomaly) = anomaly {
                    tracing::info!(severity = %anomaly.severity, anomaly = %anomaly.anomaly_id, tenant = %anomaly.tenant, "{}", anomaly.explanation);
                }
                Ok(if self.scorer.archives_consumed() {
                    Handled::Acknowledged
                } else {
                    Handled::Done
                })
            }
            Scored::Duplicate => Ok(Handled::Done),
        }
    }
}
