//! `lambda-score`: SQS FIFO batches of cost events → baselines, anomalies and the outbox in one
//! DynamoDB transaction per batch, and a wake-up for the notifier (see dd0c-lambda's crate doc).

use dd0c_lambda::{functions::score, sqs, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let settings = Settings::load().await?;
    sqs::run(&settings, score(&settings)?).await
}
