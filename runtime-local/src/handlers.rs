//! The functions of `functions/` bound to their queues.

use std::sync::Arc;

use async_trait::async_trait;
use dd0c_ingest::handler::{ingest_message, ingest_messages, Ingested};
use dd0c_ingest::normalizers::Normalizers;
use dd0c_ports::domain::CostEvent;
use dd0c_ports::queue::{Delivery, Queue};
use dd0c_ports::store::Consumed;
use dd0c_score::{log_raised, Scored, Scorer};

use crate::backend::{Backend, SCORE_QUEUE};
use crate::consumer::{Handled, Handler};

/// The ingest function on the ingest queue.
#[allow(missing_debug_implementations)]
pub struct Ingest {
    normalizers: Arc<Normalizers>,
    score_queue: Arc<dyn Queue>,
}

impl Ingest {
    pub fn new(backend: &Backend, normalizers: Arc<Normalizers>) -> Self {
        Ingest {
            normalizers,
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
            ingest_message(&self.normalizers, self.score_queue.as_ref(), &delivery.body).await?
        {
            tracing::debug!(events = events.len(), "priced");
        }
        Ok(Handled::Done)
    }

    async fn handle_all(&self, deliveries: &[Delivery]) -> Option<Handled> {
        let bodies: Vec<&str> = deliveries.iter().map(|d| d.body.as_str()).collect();
        match ingest_messages(&self.normalizers, self.score_queue.as_ref(), &bodies).await {
            Ok(_) => Some(Handled::Done),
            Err(error) => {
                tracing::debug!(%error, "batch not ingested whole; one message at a time");
                None
            }
        }
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
        match self
            .scorer
            .score_body(&delivery.body, &consumed(delivery))
            .await?
        {
            Scored::New(anomaly) => {
                anomaly.iter().for_each(log_raised);
                Ok(self.committed())
            }
            Scored::Duplicate => Ok(Handled::Done),
        }
    }

    async fn handle_all(&self, deliveries: &[Delivery]) -> Option<Handled> {
        let mut events = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            events.push((
                serde_json::from_str::<CostEvent>(&delivery.body).ok()?,
                consumed(delivery),
            ));
        }
        let items: Vec<(&CostEvent, Option<&Consumed>)> =
            events.iter().map(|(e, c)| (e, Some(c))).collect();
        match self.scorer.score_batch(&items).await {
            Ok(Some(raised)) => {
                raised.iter().flatten().for_each(log_raised);
                Some(self.committed())
            }
            Ok(None) => None,
            Err(error) => {
                tracing::debug!(%error, "batch not scored whole; one message at a time");
                None
            }
        }
    }
}

impl Score {
    /// How a committed score leaves its message: archived in the commit where the store can.
    fn committed(&self) -> Handled {
        if self.scorer.archives_consumed() {
            Handled::Acknowledged
        } else {
            Handled::Done
        }
    }
}

/// The score queue's delivery as consumed by a scoring commit.
fn consumed(delivery: &Delivery) -> Consumed {
    Consumed {
        queue: SCORE_QUEUE.to_owned(),
        receipt: delivery.receipt.clone(),
    }
}
