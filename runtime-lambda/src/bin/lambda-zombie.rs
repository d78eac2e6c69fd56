//! `lambda-zombie`: on an EventBridge schedule, finds every tenant's zombies as of the event's
//! time (or one tenant's, on demand); see `dd0c_lambda::functions::hunt`.

use dd0c_lambda::{functions::hunt, Settings};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let settings = Settings::load().await?;
    let settings = &settings;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        hunt(settings, &event.payload).await
    }))
    .await
}
