//! `lambda-actions`: SQS FIFO batches of approved actions → each held, dry-run and run in its
//! customer's account through the remediation role, every step in the decision log (see
//! `dd0c_actions::run`).

use dd0c_lambda::{functions::actions, sqs, Settings};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let settings = Settings::load().await?;
    sqs::run(&settings, actions(&settings)?).await
}
