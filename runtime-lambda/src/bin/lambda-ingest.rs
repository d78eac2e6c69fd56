//! `lambda-ingest`: SQS FIFO batches of EventBridge CloudTrail envelopes → raw archive in S3 and
//! cost events on the score queue (see dd0c-lambda's crate doc).

use dd0c_lambda::{functions::ingest, sqs, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let settings = Settings::load().await?;
    sqs::run(&settings, ingest(&settings)?).await
}
