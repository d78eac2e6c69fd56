//! # dd0c-function
//!
//! The one contract every queue function of `functions/` is written to, and the batch policy,
//! written once. A runtime only translates: the local dispatcher turns pgmq receives into
//! [`Delivery`]s and settles outcomes on its queue; Lambda turns an SQS event into deliveries
//! and the outcomes into a partial batch response.
//!
//! Map:
//! - [`QueueFunction`] — what a function writes: its name, how a delivery decodes into its
//!   message type, how it handles a whole batch at once and how it handles one message.
//! - [`run_batch`] — the policy: the whole batch in one step where the function can; otherwise
//!   each group's messages in order (groups side by side), a group stopping at its first
//!   failure, and a message that fails on its last allowed delivery dead-lettered with its error.
//! - [`Settle`] — what a runtime does with an outcome as it happens (acknowledge, dead-letter,
//!   count), and [`Outcome`] — what became of each message.
//! - [`Batches`] — any function behind one object type, so a runtime holds a list of them.
//! - [`job`] — the scheduled jobs' contract: [`job::Job`] (name, period, one run) and the
//!   tick replicas claim.
//! - [`trace`] — one trace per record batch across ingest, queue, score and notify, exported
//!   over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

pub mod job;
pub mod trace;

/// `tracing`, for [`step_span!`]'s callers.
pub use tracing;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use dd0c_ports::queue::Delivery;
use dd0c_ports::PortError;

/// Why a function failed a message or a batch.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    /// The message's body is not what the function reads (named: which message, what is wrong).
    #[error("message {message_id}: {why}")]
    Malformed {
        /// The message.
        message_id: String,
        /// What is wrong with it.
        why: String,
    },
    /// The message is well formed but its content is refused (an invalid record).
    #[error("{0}")]
    Invalid(String),
    /// A port failed (the database, a queue, the archive): the message is delivered again.
    #[error("{what}: {source}")]
    Port {
        /// What the function was doing.
        what: &'static str,
        /// The port's error.
        source: PortError,
    },
    /// Other workers kept changing what the work reads (a baseline race lost too often): the
    /// message is delivered again.
    #[error("{0}")]
    Contended(String),
    /// The batch could not be done as one (it overlaps earlier or concurrent work); each
    /// message is then handled on its own.
    #[error("{0}")]
    NotWhole(String),
}

impl FunctionError {
    /// `Malformed` for `delivery`.
    pub fn malformed(delivery: &Delivery, why: impl std::fmt::Display) -> Self {
        FunctionError::Malformed {
            message_id: delivery.message_id.clone(),
            why: why.to_string(),
        }
    }

    /// A port error while doing `what`.
    pub fn port(what: &'static str) -> impl FnOnce(PortError) -> FunctionError {
        move |source| FunctionError::Port { what, source }
    }
}

/// A delivery and the message it decoded into.
#[derive(Debug)]
pub struct Received<'a, M> {
    /// As the queue delivered it.
    pub delivery: &'a Delivery,
    /// Its body, decoded.
    pub message: M,
}

/// How a function left a message it handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Done: the runtime removes the message from its queue.
    Done,
    /// Done, and already removed from its queue in the function's own commit.
    Removed,
}

/// A function on queue messages. Handlers are idempotent: a message may come again after its
/// work was done (an acknowledgement lost, a visibility timeout passed).
#[async_trait]
pub trait QueueFunction: Send + Sync {
    /// What one message holds.
    type Message: Send + Sync;

    /// The function's name (metrics, logs).
    fn name(&self) -> &'static str;

    /// A delivery's message.
    fn decode(&self, delivery: &Delivery) -> Result<Self::Message, FunctionError>;

    /// Handles a whole receive, all or nothing, where that takes fewer round trips than message
    /// by message (each group's messages in order, as [`QueueFunction::handle`] would one by
    /// one). An error: nothing was done, and each message is then handled on its own, which
    /// isolates a failure. The default handles nothing whole.
    async fn handle_all(
        &self,
        _batch: &[Received<'_, Self::Message>],
    ) -> Result<Handled, FunctionError> {
        Err(FunctionError::NotWhole(format!(
            "{} handles one message at a time",
            self.name()
        )))
    }

    /// Handles one message; an error leaves it for redelivery (and, on its last allowed
    /// delivery, the dead letters).
    async fn handle(&self, message: &Received<'_, Self::Message>)
        -> Result<Handled, FunctionError>;
}

/// What became of a message in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Handled: [`Settle::done`] was told to remove it.
    Done,
    /// Handled and already removed by the function's own commit.
    Removed,
    /// Failed on its last allowed delivery and moved to the dead letters with its error.
    DeadLettered(String),
    /// Failed: it comes back after the visibility timeout (`error` says why).
    Retry(String),
    /// Not attempted: an earlier message of its group failed, and a group keeps its order.
    Held,
}

impl Outcome {
    /// Whether the runtime must have the message delivered again.
    pub fn redeliver(&self) -> bool {
        matches!(self, Outcome::Retry(_) | Outcome::Held)
    }
}

/// What a runtime does as messages are settled.
#[async_trait]
pub trait Settle: Send + Sync {
    /// These messages are done: remove them from their queue (a failure to do so only means
    /// they come again, and the idempotent function finds their work done).
    async fn done(&self, deliveries: &[&Delivery]);

    /// `delivery` failed on its last allowed delivery with `error`: move it to the dead
    /// letters. Whether it moved (if not, it is delivered again).
    async fn dead_letter(&self, delivery: &Delivery, error: &str) -> bool;

    /// `messages` were settled as `outcome` in `took` (metrics). The default counts nothing.
    fn observe(&self, _outcome: &Outcome, _messages: usize, _took: Duration) {}
}

/// Runs `function` on one receive by the policy (see the crate doc) and returns each delivery's
/// outcome, in the order given.
pub async fn run_batch<F: QueueFunction + ?Sized>(
    function: &F,
    deliveries: &[Delivery],
    max_receives: u32,
    settle: &dyn Settle,
) -> Vec<Outcome> {
    if deliveries.len() > 1 {
        if let Some(outcome) = try_whole(function, deliveries, settle).await {
            return vec![outcome; deliveries.len()];
        }
    }
    let mut outcomes = vec![Outcome::Held; deliveries.len()];
    let groups = futures_util::future::join_all(
        groups(deliveries)
            .into_iter()
            .map(|group| run_group(function, deliveries, group, max_receives, settle)),
    )
    .await;
    for (index, outcome) in groups.into_iter().flatten() {
        outcomes[index] = outcome;
    }
    outcomes
}

/// The batch path: the outcome of every delivery when the function did the batch whole.
async fn try_whole<F: QueueFunction + ?Sized>(
    function: &F,
    deliveries: &[Delivery],
    settle: &dyn Settle,
) -> Option<Outcome> {
    let started = Instant::now();
    let batch = deliveries
        .iter()
        .map(|delivery| {
            function
                .decode(delivery)
                .map(|message| Received { delivery, message })
        })
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    let handled = match function.handle_all(&batch).await {
        Ok(handled) => handled,
        Err(error) => {
            tracing::debug!(function = function.name(), %error, "batch not handled whole; one message at a time");
            return None;
        }
    };
    let outcome = settled(handled, deliveries.iter().collect(), settle).await;
    settle.observe(&outcome, deliveries.len(), started.elapsed());
    Some(outcome)
}

/// The indices of each group's deliveries, groups in order of first appearance.
fn groups(deliveries: &[Delivery]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (index, delivery) in deliveries.iter().enumerate() {
        match groups
            .iter_mut()
            .find(|g| deliveries[g[0]].group_key == delivery.group_key)
        {
            Some(group) => group.push(index),
            None => groups.push(vec![index]),
        }
    }
    groups
}

/// One group's messages in order, up to and including the first that is not done.
async fn run_group<F: QueueFunction + ?Sized>(
    function: &F,
    deliveries: &[Delivery],
    group: Vec<usize>,
    max_receives: u32,
    settle: &dyn Settle,
) -> Vec<(usize, Outcome)> {
    let mut outcomes = Vec::with_capacity(group.len());
    for index in group {
        let outcome = run_one(function, &deliveries[index], max_receives, settle).await;
        // A dead-lettered message is out of the way: the group goes on.
        let stop = outcome.redeliver();
        outcomes.push((index, outcome));
        if stop {
            break;
        }
    }
    outcomes
}

/// One message: handled, or failed and then kept for redelivery or dead-lettered.
async fn run_one<F: QueueFunction + ?Sized>(
    function: &F,
    delivery: &Delivery,
    max_receives: u32,
    settle: &dyn Settle,
) -> Outcome {
    let started = Instant::now();
    let handled = match function.decode(delivery) {
        Ok(message) => function.handle(&Received { delivery, message }).await,
        Err(error) => Err(error),
    };
    let outcome = match handled {
        Ok(handled) => settled(handled, vec![delivery], settle).await,
        Err(error) => failed(function.name(), delivery, error, max_receives, settle).await,
    };
    settle.observe(&outcome, 1, started.elapsed());
    outcome
}

/// A handled message's outcome, removing it where the function did not.
async fn settled(handled: Handled, deliveries: Vec<&Delivery>, settle: &dyn Settle) -> Outcome {
    match handled {
        Handled::Removed => Outcome::Removed,
        Handled::Done => {
            settle.done(&deliveries).await;
            Outcome::Done
        }
    }
}

/// A failed message: dead-lettered on its last allowed delivery, else kept for redelivery.
async fn failed(
    name: &'static str,
    delivery: &Delivery,
    error: FunctionError,
    max_receives: u32,
    settle: &dyn Settle,
) -> Outcome {
    let error = error.to_string();
    let (message, receives) = (&delivery.message_id, delivery.receive_count);
    if receives >= max_receives && settle.dead_letter(delivery, &error).await {
        tracing::error!(function = name, %message, receives, %error, "dead-lettered");
        return Outcome::DeadLettered(error);
    }
    tracing::warn!(function = name, %message, receives, %error, "failed; it will be delivered again, and its group's later messages after it");
    Outcome::Retry(error)
}

/// Any [`QueueFunction`] as one object type: what a runtime holds.
#[async_trait]
pub trait Batches: Send + Sync {
    /// The function's name.
    fn name(&self) -> &'static str;
    /// [`run_batch`] on this function.
    async fn run(
        &self,
        deliveries: &[Delivery],
        max_receives: u32,
        settle: &dyn Settle,
    ) -> Vec<Outcome>;
}

#[async_trait]
impl<F: QueueFunction> Batches for F {
    fn name(&self) -> &'static str {
        QueueFunction::name(self)
    }

    async fn run(
        &self,
        deliveries: &[Delivery],
        max_receives: u32,
        settle: &dyn Settle,
    ) -> Vec<Outcome> {
        run_batch(self, deliveries, max_receives, settle).await
    }
}
