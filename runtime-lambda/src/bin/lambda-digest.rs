//! `lambda-digest`: on an EventBridge schedule, sends each tenant's daily digest once it is due.

use dd0c_lambda::functions::{notifier, stores};
use dd0c_lambda::{Failure, Settings};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let settings = Settings::load().await?;
    let (notifier, stores) = (notifier(&settings)?, stores(&settings));
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (notifier, stores) = (&notifier, &stores);
        async move {
            let replica = event.context.request_id;
            let sent = notifier
                .send_due_digests(stores, &replica)
                .await
                .map_err(Failure)?;
            Ok::<_, Failure>(serde_json::json!({ "digests": sent.len() }))
        }
    }))
    .await
}
