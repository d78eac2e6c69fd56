//! `lambda-notify`: delivers the outbox to Slack and SES, woken by the scorer through the notify
//! queue (an SQS batch) or by an EventBridge schedule (any other event).

use dd0c_lambda::functions::{deliver_outbox, notifier};
use dd0c_lambda::sqs::BatchResponse;
use dd0c_lambda::{Failure, Settings};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

/// Rounds per invocation: each claims up to 100 messages.
const ROUNDS: usize = 20;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let settings = Settings::load().await?;
    let notifier = notifier(&settings)?;
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        // A wake-up carries nothing the outbox does not have: success deletes them all, and a
        // failure is an error, after which Lambda delivers the whole batch again.
        let delivered = deliver_outbox(&notifier, ROUNDS).await;
        settings.flush_traces().await;
        let completed = delivered.map_err(Failure)?;
        tracing::info!(completed, "outbox delivered");
        Ok::<_, Failure>(BatchResponse::default())
    }))
    .await
}
