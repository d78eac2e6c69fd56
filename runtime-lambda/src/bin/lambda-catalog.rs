//! `lambda-catalog`: on an EventBridge schedule, builds the price catalog from AWS's Price List
//! into the archive bucket; see `dd0c_lambda::functions::update_catalog`.

use dd0c_lambda::{functions::update_catalog, Settings};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let settings = Settings::load().await?;
    let settings = &settings;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        update_catalog(settings, &event.payload).await
    }))
    .await
}
