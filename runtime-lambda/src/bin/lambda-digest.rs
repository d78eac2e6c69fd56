//! `lambda-digest`: on an EventBridge schedule, the digest job — each tenant's daily digest once
//! it is due.

use dd0c_function::job::Job;
use dd0c_lambda::functions::{notifier, stores};
use dd0c_lambda::{Failure, Settings};
use dd0c_notify::digest::DigestJob;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let settings = Settings::load().await?;
    let job = DigestJob {
        notifier: notifier(&settings)?,
        stores: stores(&settings),
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let job = &job;
        async move {
            let run = job
                .run(chrono::Utc::now(), &event.context.request_id)
                .await?;
            Ok::<_, Failure>(serde_json::json!({ "digests": run.done }))
        }
    }))
    .await
}
